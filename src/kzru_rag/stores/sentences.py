"""The sentences of every chunk as search units: spans, vectors, words, and their order in each paragraph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kzru_rag.ingest.chunking import Chunk
from kzru_rag.stores.terms import TermIndex, TermStatistics, WordVectors, WordVocabulary, bridge_words


@dataclass(frozen=True)
class SentenceIndex:
    """The sentences of every chunk as search units, in chunk order.

    Units of chunk c are `first[c]:first[c + 1]`; unit u spans document text `spans[u]` of
    chunk `chunk_of[u]`. `vectors` holds their embeddings, `terms` their words, and
    `words` the word bridge's vocabulary: the query embeddings of `bridge_words(terms)` (see `lexical.WordBridge`).
    Overlapping chunks repeat sentences: `canonical[u]` is the unit that stands for u's sentence, and `previous[u]`
    and `following[u]` the canonical units before and after it in its paragraph (-1 at the paragraph's ends).

    In memory these are arrays, a `TermIndex` and `WordVectors`; an index in Milvus gives objects indexed the same
    way that fetch what a query reads (`stores.milvus`).
    """

    spans: Any
    chunk_of: Any
    first: Any
    vectors: Any
    terms: TermStatistics
    words: WordVocabulary
    canonical: Any
    previous: Any
    following: Any

    @classmethod
    def in_memory(
        cls, chunks: list[Chunk], vectors: np.ndarray, terms: TermIndex, word_vectors: np.ndarray
    ) -> "SentenceIndex":
        """The units of `chunks` with their `vectors`, `terms` and the `word_vectors` of `bridge_words(terms)`."""
        spans, chunk_of, first = cls.units(chunks)
        order = paragraph_order(chunks, spans, chunk_of)
        return cls(spans, chunk_of, first, vectors, terms, WordVectors(bridge_words(terms), word_vectors), *order)

    @staticmethod
    def units(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(spans, chunk_of, first) of the chunks' sentences; a chunk without sentence spans is one unit."""
        spans = [span for chunk in chunks for span in (chunk.sentences or ((chunk.start, chunk.end),))]
        counts = np.fromiter((len(chunk.sentences) or 1 for chunk in chunks), dtype=np.int64, count=len(chunks))
        first = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts)])
        chunk_of = np.repeat(np.arange(len(chunks), dtype=np.int32), counts)
        return np.array(spans, dtype=np.int64).reshape(-1, 2), chunk_of, first


def paragraph_order(
    chunks: list[Chunk], spans: np.ndarray, chunk_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each sentence unit: its canonical unit (overlapping chunks repeat sentences), and the
    canonical units before and after it in its paragraph (-1 at the paragraph's ends)."""
    keys = [(chunk.doc_id, chunk.paragraph) for chunk in chunks]
    paragraph_of_chunk = np.cumsum([i == 0 or keys[i] != keys[i - 1] for i in range(len(keys))])
    paragraph = paragraph_of_chunk[chunk_of]
    starts = spans[:, 0]
    order = np.lexsort((starts, paragraph))
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = (paragraph[order][1:] != paragraph[order][:-1]) | (starts[order][1:] != starts[order][:-1])
    canonical = np.empty(len(order), dtype=np.int64)
    canonical[order] = order[fresh][np.cumsum(fresh) - 1]
    unique = order[fresh]
    previous = np.full(len(order), -1, dtype=np.int64)
    following = np.full(len(order), -1, dtype=np.int64)
    same = paragraph[unique][1:] == paragraph[unique][:-1]
    previous[unique[1:][same]] = unique[:-1][same]
    following[unique[:-1][same]] = unique[1:][same]
    return canonical, previous, following
