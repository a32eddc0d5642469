"""Lexical search: BM25 over word forms, optionally reduced to lemmas with Russian morphology."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable

import numpy as np

_WORD = re.compile(r"\w+(?:[-‐‑]\w+)*")
_FUNCTION_WORDS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def _lemma(word: str) -> str | None:
    """Lemma of a lower-cased Cyrillic word; None for function words (prepositions, conjunctions…)."""
    parse = _morph().parse(word)[0]
    if parse.tag.POS in _FUNCTION_WORDS:
        return None
    return parse.normal_form.replace("ё", "е")


def tokens(text: str, lemmas: bool = True) -> list[str]:
    """Lower-cased words; with `lemmas`, Cyrillic words become lemmas and function words are dropped.

    Abbreviations (МИФИ, РФ) and words with digits or Latin letters (ГРЭС-2, 2025) stay as written.
    """
    out = []
    for match in _WORD.finditer(text):
        word = match.group()
        lower = word.lower()
        if not lemmas or (len(word) > 1 and word.isupper()) or not _is_cyrillic_word(lower):
            out.append(lower)
        elif lemma := _lemma(lower):
            out.append(lemma)
    return out


def _is_cyrillic_word(word: str) -> bool:
    return all("а" <= ch <= "я" or ch in "ё-" for ch in word)


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
            idf = math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))
            self._postings[term] = (ids, idf * tf * (k1 + 1) / (tf + norm[ids]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (0 where no term matches)."""
        result = np.zeros(self.size, dtype=np.float64)
        for term in set(tokens(query, self.lemmas)):
            if term in self._postings:
                ids, weights = self._postings[term]
                result[ids] += weights
        return result
