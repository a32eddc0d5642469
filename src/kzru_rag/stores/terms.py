"""Term statistics an index keeps: which sentence units hold which word readings (`TermIndex`, with IDF and coverage),
and the embedded vocabulary of the word bridge (`WordVectors`); `TermStatistics` and `WordVocabulary` are what
retrieval needs of either, in memory or in Milvus.
"""

from __future__ import annotations

import bisect
import zipfile
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from kzru_rag.language.words import Readings, content_words, is_cyrillic_word


def idf(df: int | np.ndarray, size: int) -> float | np.ndarray:
    """BM25's inverse document frequency of a term found in `df` of `size` units."""
    return np.log1p((size - df + 0.5) / (df + 0.5))


class TermIndex:
    """An inverted index from word readings to the units (e.g. sentences) containing them.

    Held as a vocabulary plus CSR arrays, so it is saved and loaded without re-analysing the corpus.
    """

    def __init__(self, vocabulary: list[str], indptr: np.ndarray, unit_ids: np.ndarray, size: int) -> None:
        indptr = np.asarray(indptr, dtype=np.int64)
        unit_ids = np.asarray(unit_ids, dtype=np.int32)
        if len(indptr) != len(vocabulary) + 1 or indptr[0] != 0 or indptr[-1] != len(unit_ids):
            raise ValueError("term index arrays do not match its vocabulary")
        if len(unit_ids) and (unit_ids.min() < 0 or unit_ids.max() >= size):
            raise ValueError(f"term index refers to units outside 0..{size - 1}")
        self.vocabulary = vocabulary
        self.indptr = indptr
        self.unit_ids = unit_ids
        self.size = int(size)
        self._row = {term: row for row, term in enumerate(vocabulary)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> "TermIndex":
        """Index the content words of `texts`; unit i is texts[i]."""
        return cls.from_units(set().union(*content_words(text)) for text in texts)

    @classmethod
    def from_units(cls, units: Iterable[Iterable[str]]) -> "TermIndex":
        """The index of units given by their words (readings); unit i is units[i]."""
        postings: dict[str, list[int]] = {}
        size = 0
        for unit, words in enumerate(units):
            size += 1
            for reading in set(words):
                postings.setdefault(reading, []).append(unit)
        vocabulary = sorted(postings)
        lengths = np.fromiter((len(postings[term]) for term in vocabulary), dtype=np.int64, count=len(vocabulary))
        indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
        ids = np.fromiter((u for term in vocabulary for u in postings[term]), dtype=np.int32, count=int(indptr[-1]))
        return cls(vocabulary, indptr, ids, size)

    def save(self, file: Path) -> None:
        """Write the index as one `.npz` file (the vocabulary as UTF-8, one term a line)."""
        vocabulary = np.frombuffer("\n".join(self.vocabulary).encode("utf-8"), dtype=np.uint8)
        with open(file, "wb") as handle:
            np.savez(handle, vocabulary=vocabulary, indptr=self.indptr, unit_ids=self.unit_ids, size=self.size)

    @classmethod
    def load(cls, file: Path) -> "TermIndex":
        """Read a file written by `save`; ValueError (or OSError) when it is damaged."""
        try:
            with np.load(file, allow_pickle=False) as data:
                text = data["vocabulary"].tobytes().decode("utf-8")
                return cls(text.split("\n") if text else [], data["indptr"], data["unit_ids"], int(data["size"]))
        except (KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise ValueError(f"damaged term index ({exc})") from exc

    def unit_terms(self) -> list[list[str]]:
        """The words of each unit, in vocabulary order (`from_units` of them rebuilds this index)."""
        units: list[list[str]] = [[] for _ in range(self.size)]
        for row, term in enumerate(self.vocabulary):
            for unit in self.unit_ids[self.indptr[row] : self.indptr[row + 1]]:
                units[unit].append(term)
        return units

    def _rows(self, readings: Readings) -> list[np.ndarray]:
        """The sorted unit ids of each of `readings` that the index knows."""
        rows = (self._row[r] for r in readings if r in self._row)
        return [self.unit_ids[self.indptr[row] : self.indptr[row + 1]] for row in rows]

    def frequency(self, readings: Readings) -> int:
        """How many units contain the word (its most frequent reading)."""
        return max((len(row) for row in self._rows(readings)), default=0)

    def absent(self, words: list[Readings]) -> list[Readings]:
        """The words no unit contains."""
        return [readings for readings in words if not any(r in self._row for r in readings)]

    def has_prefix(self, stem: str) -> bool:
        """True when an indexed word starts with `stem`."""
        place = bisect.bisect_left(self.vocabulary, stem)
        return place < len(self.vocabulary) and self.vocabulary[place].startswith(stem)

    def coverage(self, words: list[Readings], units: np.ndarray, groups: np.ndarray, group_count: int) -> np.ndarray:
        """For each group, the IDF-weighted share of `words` that its units contain (0–1).

        `units` are unit ids and `groups[i]` the group (0..group_count-1) of units[i]; a group
        contains a word when any of its units does. A word's IDF is counted over all units from its
        most frequent reading (its lemma, as a rule, whose units include those of its other forms);
        a word found nowhere gets the largest IDF, so it counts fully against every group. The cost
        grows with the number of `units`, not with the corpus.
        """
        share = np.zeros(group_count, dtype=np.float64)
        total = 0.0
        for readings in words:
            rows = self._rows(readings)
            weight = float(idf(max((len(row) for row in rows), default=0), self.size))
            total += weight
            found = np.zeros(len(units), dtype=bool)
            for row in rows:
                place = np.minimum(np.searchsorted(row, units), len(row) - 1)
                found |= row[place] == units
            hit = np.zeros(group_count, dtype=bool)
            hit[groups[found]] = True
            share[hit] += weight
        return share / total if total else share


def bridge_words(terms: TermIndex) -> list[str]:
    """The terms a foreign word can be bridged to: Cyrillic words of three letters or more.

    Inflected forms too, not only lemmas: a Kazakh word is often nearer an inflected form («Аймақаралық» →
    «межрегионального») than its lemma, and bridging to lemmas only lost such words (docs/startup.md).
    """
    return [term for term in terms.vocabulary if is_bridge_word(term)]


def is_bridge_word(term: str) -> bool:
    """True for a term `bridge_words` keeps: a Cyrillic word of three letters or more."""
    return len(term) > 2 and is_cyrillic_word(term)


class WordVectors:
    """The word bridge's vocabulary held in memory: `words` (`bridge_words` of a term index) and their query
    embeddings `vectors`, row for row."""

    def __init__(self, words: list[str], vectors: np.ndarray) -> None:
        if len(vectors) != len(words):
            raise ValueError(f"{len(vectors)} word vectors for {len(words)} bridge words")
        self.words = words
        self.vectors = vectors
        self._rows = {word: row for row, word in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)

    def nearest(self, vectors: np.ndarray, count: int) -> list[list[tuple[str, float]]]:
        """For each of `vectors`, its `count` most similar words (inner product) with their similarity, in no
        particular order."""
        count = min(count, len(self.words))
        found = []
        for vector in vectors:
            similarity = self.vectors @ vector
            places = np.argpartition(-similarity, count - 1)[:count] if count else []
            found.append([(self.words[j], float(similarity[j])) for j in places])
        return found

    def vectors_of(self, words: set[str]) -> np.ndarray:
        """The vectors of those of `words` that are bridge words, one row each."""
        rows = sorted(self._rows[word] for word in words if word in self._rows)
        return self.vectors[rows]

    def vectors_by_word(self, words: set[str]) -> dict[str, np.ndarray]:
        """The vector of each of `words` that is a bridge word."""
        return {word: self.vectors[self._rows[word]] for word in words if word in self._rows}


class WordVocabulary(Protocol):
    """What the word bridge needs from its vocabulary (in memory: `WordVectors`; in Milvus: searched there)."""

    def __len__(self) -> int: ...

    def nearest(self, vectors: np.ndarray, count: int) -> list[list[tuple[str, float]]]: ...

    def vectors_of(self, words: set[str]) -> np.ndarray: ...

    def vectors_by_word(self, words: set[str]) -> dict[str, np.ndarray]: ...


class TermStatistics(Protocol):
    """What retrieval needs from the indexed words (in memory: `TermIndex`; in Milvus: queried there)."""

    size: int

    def frequency(self, readings: Readings) -> int: ...

    def absent(self, words: list[Readings]) -> list[Readings]: ...

    def has_prefix(self, stem: str) -> bool: ...

    def coverage(
        self, words: list[Readings], units: np.ndarray, groups: np.ndarray, group_count: int
    ) -> np.ndarray: ...
