"""Embedding a build's passages and bridge words, each distinct text once, reusing vectors the current index holds."""

from __future__ import annotations

import hashlib
from typing import Callable, Protocol

import numpy as np

from kzru_rag.stores.loaded import LoadedIndex

Progress = Callable[[int, int], None]


class PassageEncoder(Protocol):
    """What a build needs from an embedding model (see `kzru_rag.embedding.sentence_transformers.Embedder`)."""

    model_id: str
    dim: int

    def encode_passages(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False
    ) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def embed(
    passages: list[str],
    words: list[str],
    embedder: PassageEncoder,
    known: dict[str, np.ndarray],
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Passage vectors of `passages` and query vectors of `words`, each distinct text not in `known` embedded once."""
    texts = passages + words
    keys = [_content_key(text) for text in passages] + [_word_key(word) for word in words]
    first_seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in known:
            first_seen.setdefault(key, i)
    # Longest first, so each batch holds texts of similar length and little padding; passages and words apart.
    missing = sorted(first_seen.values(), key=lambda i: -len(texts[i]))
    jobs = (
        ([i for i in missing if i < len(passages)], embedder.encode_passages),
        ([i for i in missing if i >= len(passages)], embedder.encode_queries),
    )
    total, done, batch = len(missing), 0, 32
    if progress:
        progress(0, total)
    for todo, encode in jobs:
        for first in range(0, len(todo), batch):
            ids = todo[first : first + batch]
            known.update({keys[i]: vector for i, vector in zip(ids, encode([texts[i] for i in ids]))})
            done += len(ids)
            if progress:
                progress(done, total)
    vectors = [known[key] for key in keys]
    return _stack(vectors[: len(passages)], embedder.dim), _stack(vectors[len(passages) :], embedder.dim)


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
