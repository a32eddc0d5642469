"""A question's sentence units as the retriever walks them: each one's canonical unit, paragraph neighbours, span and
vector, read for all the candidate units at once."""

from __future__ import annotations

import numpy as np

from kzru_rag.stores.sentences import SentenceIndex


class Units:
    """The sentence units of one search: those of `units` (the candidates, their `vectors` already read) read with
    one read per column, so that an index in Milvus answers each column once instead of a unit at a time as a
    window grows; a unit beyond them (a window reaching past its passage) read when first asked for, then kept."""

    def __init__(self, sentences: SentenceIndex, units: np.ndarray, vectors: np.ndarray) -> None:
        self.sentences = sentences
        self.place = dict(zip(units.tolist(), range(len(units))))
        self.canonical: list[int] = np.asarray(sentences.canonical[units]).tolist()
        self.previous: list[int] = np.asarray(sentences.previous[units]).tolist()
        self.following: list[int] = np.asarray(sentences.following[units]).tolist()
        self.spans: list[list[int]] = np.asarray(sentences.spans[units]).tolist()
        self._vectors, self._more = vectors, dict[int, np.ndarray]()

    def _at(self, unit: int) -> int:
        """Where `unit`'s values are in the columns (read now when they are not)."""
        if (place := self.place.get(unit)) is not None:
            return place
        sentences, place = self.sentences, len(self.canonical)
        self.canonical.append(int(sentences.canonical[unit]))
        self.previous.append(int(sentences.previous[unit]))
        self.following.append(int(sentences.following[unit]))
        self.spans.append([int(edge) for edge in sentences.spans[unit]])
        self._more[place] = np.asarray(sentences.vectors[unit])
        self.place[unit] = place
        return place

    def previous_of(self, unit: int) -> int:
        """The canonical unit before `unit` in its paragraph; -1 at its start."""
        return self.previous[self._at(unit)]

    def following_of(self, unit: int) -> int:
        """The canonical unit after `unit` in its paragraph; -1 at its end."""
        return self.following[self._at(unit)]

    def span(self, unit: int) -> list[int]:
        """The document characters `unit` spans: [start, end]."""
        return self.spans[self._at(unit)]

    def vector(self, unit: int) -> np.ndarray:
        place = self._at(unit)
        return self._vectors[place] if place < len(self._vectors) else self._more[place]

    def similarities(self, units: list[int], query: np.ndarray) -> np.ndarray:
        """The cosine of each of `units`' vectors to `query`."""
        return np.stack([self.vector(unit) for unit in units]) @ query

    def chain(self, first: int, last: int) -> list[int]:
        """The units from `first` to `last` of one paragraph, in order."""
        units = [first]
        while units[-1] != last:
            units.append(self.following_of(units[-1]))
        return units

    def best(self, scores: np.ndarray) -> dict[int, float]:
        """The best of the candidate units' `scores` for each canonical unit."""
        best: dict[int, float] = {}
        for unit, score in zip(self.canonical, scores.tolist()):
            best[unit] = max(best.get(unit, score), score)
        return best
