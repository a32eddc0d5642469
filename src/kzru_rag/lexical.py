"""Lexical matching with Russian morphology: words, their readings (lemmas), BM25 and term coverage.

A word's *readings* are the forms under which it can match: its lower-cased surface form and every
lemma `pymorphy3` proposes (so «вузов» matches «вуз», and «Токаев» matches «Токаева» although
pymorphy3 reads the first as a form of «токай»). Abbreviations (МИФИ, КИСИ) and words with digits
or Latin letters (ГРЭС-2, 2025, XXI) stay as written; a hyphenated word also matches its parts
(«ГРЭС-2» → «грэс», «аль-Фараби» → «фараби»). Kazakh-only letters are folded to their Russian
look-alikes (қ → к, ә → а …) so Kazakh spellings of shared names meet the Russian ones.
"""

from __future__ import annotations

import bisect
import re
import zipfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

_WORD = re.compile(r"\w+(?:[-‐‑]\w+)*")
_HYPHENS = re.compile(r"[-‐‑]")
_LATIN = re.compile(r"[A-Za-z]")
_FUNCTION_WORDS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})
# Grammemes of words that carry no topic: pronouns, pronominal adjectives (какой, этот), question adverbs.
_NON_CONTENT = frozenset({"NPRO", "Apro", "Ques"})
_FOLD = str.maketrans("ёәғқңөұүһі", "еагкноуухи")
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
"""Letters Kazakh Cyrillic has and Russian lacks."""
# English and Kazakh function and question words (Kazakh folded as above): like Russian ones, they carry no topic,
# so they neither count as a question's words nor go through the word bridge.
_FOREIGN_FUNCTION_WORDS = frozenset(
    (
        "a an the and or but nor not no yes of to in on at by for from with within without about as into onto over "
        "under between among through during before after above below up down out off than then so such too very "
        "is are was were be been being am do does did done doing have has had having will would shall should can "
        "could may might must what which who whom whose when where why how whether if that this these those there "
        "here it its they them their theirs he she him his her hers we our ours us you your yours i me my mine "
        "all any some each every both either neither other another more most few own same just also only "
        "ал әлде және мен пен бен да де та те ма ме ба бе па пе ғой қой ше шы ші не кім кімнің кімге кімді қандай "
        "қай қайда қайдан қашан қалай қанша неше неге нешінші бұл осы сол ол олар оның оны мұнда сонда"
    )
    .translate(_FOLD)
    .split()
)

Readings = frozenset[str]


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def best_parse(word: str) -> tuple[str, str | None, frozenset[str]]:
    """pymorphy3's likeliest reading of a lower-cased word: (normal form, part of speech, grammemes)."""
    parse = _morph().parse(word)[0]
    return parse.normal_form, parse.tag.POS, frozenset(parse.tag.grammemes)


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


def content_words(text: str) -> list[Readings]:
    """The readings of each content word of `text`, in order (function words and pronouns left out)."""
    return [readings for match in _WORD.finditer(text) if (readings := word_readings(match.group()))]


@lru_cache(maxsize=200_000)
def word_readings(word: str) -> Readings:
    """Every form under which `word` can match (empty for function words and pronouns)."""
    folded = word.lower().translate(_FOLD)
    if folded in _FOREIGN_FUNCTION_WORDS and (KAZAKH_LETTERS & set(word.lower()) or not _morph().word_is_known(folded)):
        return frozenset()
    parts = [part for part in _HYPHENS.split(folded) if len(part) > 1 or part.isdigit()]
    if (len(word) > 1 and word.isupper()) or not _is_cyrillic_word(folded):
        return frozenset({folded, *parts})
    parses = _morph().parse(folded)
    tag = parses[0].tag
    if tag.POS in _FUNCTION_WORDS or _NON_CONTENT & tag.grammemes:
        return frozenset()
    readings = {folded, *(parse.normal_form.replace("ё", "е") for parse in parses)}
    if len(parts) > 1:
        readings.update(reading for part in parts for reading in word_readings(part))
    return frozenset(readings)


def idf(df: int | np.ndarray, size: int) -> float | np.ndarray:
    """BM25's inverse document frequency of a term found in `df` of `size` units."""
    return np.log1p((size - df + 0.5) / (df + 0.5))


def query_words(text: str) -> list[Readings]:
    """The distinct content words of a query: forms of one word («форум», «форума») count once."""
    words: list[Readings] = []
    for readings in content_words(text):
        same = [i for i, known in enumerate(words) if known & readings]
        if same:
            words[same[0]] |= readings
        else:
            words.append(readings)
    return words


def in_dictionary(readings: Readings) -> bool:
    """True when pymorphy3's Russian dictionary knows one of the readings (a Russian word)."""
    return any(_morph().word_is_known(reading) for reading in readings)


def specifics(text: str) -> list[Readings]:
    """The numbers of `text` (2024, 11–12, ГРЭС-2), by their readings with digits: exact facts that
    no paraphrase replaces and that dense embeddings barely tell apart (2024 ≈ 2025), so a lexical
    check must."""
    numbers = (word_readings(m.group()) for m in _WORD.finditer(text) if any(c.isdigit() for c in m.group()))
    return list(dict.fromkeys(_with_roman(frozenset(r for r in readings if any(c.isdigit() for c in r))) for readings in numbers))


_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th|-?[а-яё]{1,3})?")
_ROMAN_DIGITS = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


def _with_roman(readings: Readings) -> Readings:
    """`readings` of a number plus the number alone and its Roman numeral: "21st", «21-й» also read as "21"
    and «xxi», as documents write forums and centuries («XXI форум»)."""
    extra = set()
    for reading in readings:
        if (match := _ORDINAL.fullmatch(reading)) and 0 < (value := int(match.group(1))) < 4000:
            roman = ""
            for amount, letters in _ROMAN_DIGITS:
                count, value = divmod(value, amount)
                roman += letters * count
            extra |= {match.group(1), roman}
    return readings | extra


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
    return [term for term in terms.vocabulary if len(term) > 2 and _is_cyrillic_word(term)]


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


class WordVocabulary(Protocol):
    """What the word bridge needs from its vocabulary (in memory: `WordVectors`; in Milvus: searched there)."""

    def __len__(self) -> int: ...

    def nearest(self, vectors: np.ndarray, count: int) -> list[list[tuple[str, float]]]: ...

    def vectors_of(self, words: set[str]) -> np.ndarray: ...


class TermStatistics(Protocol):
    """What retrieval needs from the indexed words (in memory: `TermIndex`; in Milvus: queried there)."""

    size: int

    def frequency(self, readings: Readings) -> int: ...

    def absent(self, words: list[Readings]) -> list[Readings]: ...

    def has_prefix(self, stem: str) -> bool: ...

    def coverage(self, words: list[Readings], units: np.ndarray, groups: np.ndarray, group_count: int) -> np.ndarray: ...


class WordBridge:
    """Lexical matching across languages through the embedding model.

    A query word that is neither Russian nor in the indexed documents («форумға», «ынтымақтастық»)
    also reads as the `neighbours` indexed words nearest to it (query-to-query cosine similarity
    of the words alone) that reach `min_similarity`: «форумға» → «форум»; «университеттің» →
    «университет». So Kazakh questions get a lexical signal too. `vocabulary` holds the embeddings of
    `bridge_words(terms)`, made at build time.

    Words in Latin script are bridged only with `latin`: with the bundled e5 model, English words
    that reach the threshold are mostly the frequent ones ("Kazakhstan" → «Казахстан», "expert" →
    «эксперт») while the distinctive ones rarely do ("allies", "quoted"), which pulled English
    questions towards generic passages (see README, Retrieval quality).
    """

    def __init__(
        self, terms: TermStatistics, vocabulary: WordVocabulary, min_similarity: float, neighbours: int, latin: bool = False
    ) -> None:
        if neighbours < 0:
            raise ValueError("neighbours must be 0 or more")
        self.terms = terms
        self.vocabulary = vocabulary
        self.min_similarity = min_similarity
        self.neighbours = neighbours
        self.latin = latin

    def foreign(self, query: str, words: list[Readings]) -> list[tuple[int, str]]:
        """(position in `words`, the word as written in `query`) of each word to bridge."""
        if not self.neighbours or not len(self.vocabulary):
            return []
        written = [(match.group(), word_readings(match.group())) for match in _WORD.finditer(query)]
        found = []
        for i, readings in enumerate(words):
            if in_dictionary(readings) or not self.terms.absent([readings]):
                continue
            surface = next((text for text, known in written if known & readings), None)
            if surface is not None and (self.latin or not _LATIN.search(surface)):
                found.append((i, surface))
        return found

    def translate(self, words: list[Readings], foreign: list[tuple[int, str]], vectors: np.ndarray) -> list[Readings]:
        """`words` with each foreign one (vectors[j] embeds foreign[j]) extended by its neighbours' readings."""
        out = list(words)
        if not foreign:
            return out
        for (i, _), nearest in zip(foreign, self.vocabulary.nearest(vectors, self.neighbours)):
            for word, similarity in nearest:
                if similarity >= self.min_similarity:
                    out[i] = out[i] | word_readings(word)
        return out


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
