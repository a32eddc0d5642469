# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install browser eval bench index screenshots clean

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

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# dev: the shared dev set; holdout, holdout2: questions written blind (see docs/retrieval.md).
eval: $(STAMP)
	$(BIN)/kzru-rag eval tests/data/dev.jsonl --baselines --ablation --answers
	$(BIN)/kzru-rag eval tests/data/holdout.jsonl --baselines --ablation --answers
	$(BIN)/kzru-rag eval tests/data/holdout2.jsonl --baselines --ablation --answers

bench: $(STAMP)
	$(BIN)/python bench/retrieval.py

# The README's pictures, taken by the browser tests (small PNGs, committed).
screenshots: $(STAMP) browser
	KZRU_RAG_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_browser.py \
	  -k "russian_question or markers_open or index_tab"

index: $(STAMP)
	$(BIN)/kzru-rag index build

clean:
	rm -rf $(VENV) .pytest_cache
