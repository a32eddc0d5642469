# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install browser fonts eval bench index screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python app.py

# Debian's chromium for the browser test (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium (sudo apt-get install chromium) for the browser test"; fi; }

# DejaVu Sans (Cyrillic) for the PDFs the reader tests draw with reportlab.
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; \
	  else echo "DejaVu Sans is missing: install Debian's fonts-dejavu-core (sudo apt-get install fonts-dejavu-core) for the reader tests"; fi; }

test: $(STAMP) browser fonts
	$(BIN)/python -m pytest -q

# dev, dev2: the shared dev sets; holdout, holdout2, blind3-8: questions written blind (docs/retrieval.md, docs/trust.md);
# dialogues: the shared follow-up conversations, dialogues_blind*: ones written blind, scored turn by turn (docs/dialogue.md).
# calibrate: the confidence model's leave-one-set-out figures (docs/trust.md).
SETS := tests/data/dev.jsonl tests/data/dev2.jsonl tests/data/holdout.jsonl tests/data/holdout2.jsonl tests/data/blind3.jsonl
eval: $(STAMP)
	$(BIN)/kzru-rag eval tests/data/dev.jsonl --baselines --ablation --answers
	$(BIN)/kzru-rag eval tests/data/dev2.jsonl --answers
	$(BIN)/kzru-rag eval tests/data/holdout.jsonl --baselines --ablation --answers
	$(BIN)/kzru-rag eval tests/data/holdout2.jsonl --baselines --ablation --answers
	for set in blind3 blind4 blind5 blind7 blind8; do $(BIN)/kzru-rag eval tests/data/$$set.jsonl --answers || exit 1; done
	for set in dialogues dialogues_blind dialogues_blind2 dialogues_blind3 dialogues_blind4 dialogues_blind5 dialogues_blind6; do \
	  $(BIN)/kzru-rag eval --dialogues tests/data/$$set.jsonl || exit 1; done
	$(BIN)/kzru-rag calibrate $(SETS)

bench: $(STAMP)
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/readers.py

# The README's pictures, taken by the browser tests (small PNGs, committed).
screenshots: $(STAMP) browser
	KZRU_RAG_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_browser.py \
	  -k "russian_question or markers_open or index_tab"

# A local Milvus server on 127.0.0.1:19530, its data in milvus-data/ (README: scaling out); Ctrl-C stops it.
.PHONY: milvus
milvus: $(STAMP)
	$(BIN)/python -m kzru_rag.stores.milvus.server --data milvus-data --port 19530

index: $(STAMP)
	$(BIN)/kzru-rag index build

clean:
	rm -rf $(VENV) .pytest_cache
