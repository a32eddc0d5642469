"""Baselines and ablations the hybrid retriever is measured against: BM25 over passages, plain dense search, and the
retriever with one part of its score switched off.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Iterable

import numpy as np

from kzru_rag.embedding.base import TextEncoder
from kzru_rag.evaluation.retrieval import Searcher
from kzru_rag.index.build import index_documents
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.language.questions import validate_query
from kzru_rag.language.words import tokens
from kzru_rag.retrieval.hits import make_hit
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Hit
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.terms import idf


class BM25:
    """Okapi BM25 over a fixed list of texts, with an inverted index."""

    def __init__(self, texts: Iterable[str], lemmas: bool = True, k1: float = 1.2, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")
        self.lemmas = lemmas
        docs = [Counter(tokens(text, lemmas)) for text in texts]
        self.size = len(docs)
        lengths = np.array([sum(doc.values()) for doc in docs], dtype=np.float64)
        norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()) if self.size else 1.0, 1.0))
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                postings.setdefault(term, []).append((i, tf))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, entries in postings.items():
            ids = np.array([i for i, _ in entries], dtype=np.int64)
            tf = np.array([f for _, f in entries], dtype=np.float64)
            weight = idf(len(ids), self.size)
            self._postings[term] = (ids, weight * tf * (k1 + 1) / (tf + norm[ids]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (0 where no term matches)."""
        result = np.zeros(self.size, dtype=np.float64)
        for term in set(tokens(query, self.lemmas)):
            if term in self._postings:
                ids, weights = self._postings[term]
                result[ids] += weights
        return result


class BM25Searcher:
    """Baseline: BM25 over the index's passages, on word forms or (`lemmas`) on lemmas."""

    def __init__(self, index: LoadedIndex, lemmas: bool = False) -> None:
        self.index = index
        self.bm25 = BM25([chunk.text for chunk in index.chunks], lemmas=lemmas)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        scores = self.bm25.scores(validate_query(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [make_hit(self.index, int(i), float(scores[i])) for i in order]


class DenseSearcher:
    """Baseline: the passages (chunks) nearest to the query vector, whole; no sentences, no lexical part."""

    def __init__(self, index: LoadedIndex, embedder: TextEncoder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, query: str, k: int = 5) -> list[Hit]:
        vector = self.embedder.encode_queries([validate_query(query)])
        scores, ids = self.index.vectors.search(vector, min(k, self.index.vectors.ntotal))
        return [make_hit(self.index, int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def baselines(retriever: Retriever) -> dict[str, Searcher]:
    """Single-signal baselines over the retriever's documents: dense on its chunks and on whole
    paragraphs, and BM25 on paragraphs (word forms, and lemmas)."""
    paragraphs = index_documents(
        list(retriever.index.documents.values()), retriever.embedder, Chunker(max_chars=1_000_000)
    )
    return {
        "dense, chunks": DenseSearcher(retriever.index, retriever.embedder),
        "dense, paragraphs": DenseSearcher(paragraphs, retriever.embedder),
        "BM25, paragraphs": BM25Searcher(paragraphs),
        "BM25+lemmas, paragraphs": BM25Searcher(paragraphs, lemmas=True),
    }


def ablations(retriever: Retriever) -> dict[str, Searcher]:
    """The retriever with parts of its scoring switched off, one step at a time (same index)."""
    settings = retriever.settings
    dense = settings.sentence_weight + settings.passage_weight  # kept, so scores stay on one scale
    untyped = replace(settings, answer_type_weight=0.0)
    steps = {
        "sentence cosine only": replace(untyped, sentence_weight=dense, passage_weight=0.0, lexical_weight=0.0),
        "+ passage cosine": replace(untyped, lexical_weight=0.0),
        "+ lexical, no word bridge": replace(untyped, bridge_words=0),
        "+ word bridge": untyped,
        "+ answer type (= hybrid)": settings,
        "hybrid, English bridged too": replace(settings, bridge_latin=True),
        "hybrid, no window": replace(settings, window_chars=0),
        "hybrid, no sentence cosine": replace(settings, sentence_weight=0.0, passage_weight=dense),
    }
    return {name: Retriever(retriever.index, retriever.embedder, step) for name, step in steps.items()}
