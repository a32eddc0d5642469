"""The data that crosses the stages: a question analysed once (`Query`, with its language and the `Kind` of answer it
asks for), a retrieved passage (`Hit`), what the index tells about a question beyond its hits (`Evidence`), why the
documents hold no answer (`AbstentionReason`), a conversation turn (`Message`), what an answer's confidence is computed
from (`Signals`) and an answer with its citations (`Answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

QUANTITY_HITS = 3
"""A question asking for a quantity is unanswered when none of this many top hits holds one."""


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: `document text[start:end] == text`."""

    text: str
    score: float
    doc_id: str
    start: int
    end: int
    chunk_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    highlight: tuple[int, int] | None = None
    """Document span of the sentence that best answers the query (None: the whole passage)."""
    signals: dict[str, float] = field(default_factory=dict)
    """The parts of `score`: cosine of the `sentence` and of its `passage`, `lexical` coverage (0–1), and
    `answer_type` (1 when the passage holds the kind of phrase the question asks for; only for such questions)."""
    sentences: tuple[tuple[int, int, float], ...] = ()
    """The passage's sentences: document start, end and cosine similarity to the query (empty: not known)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def place(self, paragraph: str = "абзац", chars: str | None = "символы") -> list[str]:
        """Where the passage is in its document, as parts for a face to join: «стр. N» when the document has
        pages, the paragraph (named by `paragraph`) and, when `chars` names them, the characters."""
        parts = [f"стр. {self.metadata['page']}"] if self.metadata.get("page") else []
        parts.append(f"{paragraph} {self.metadata.get('paragraph', '?')}")
        if chars:
            parts.append(f"{chars} {self.start}–{self.end}")
        return parts


@dataclass(frozen=True)
class AbstentionReason:
    """Why the retriever takes a question to have no answer in the documents.

    `kind`: "no_passages"; "low_score" (`detail`: best score and floor); "unknown_numbers" (`detail`:
    the numbers the documents never mention); "unknown_names" (`detail`: names, places, organisations,
    abbreviations or Roman numerals the documents never mention); "no_quantity" (a quantity question whose
    top passages hold none).
    """

    kind: Literal["no_passages", "low_score", "unknown_numbers", "unknown_names", "no_quantity"]
    detail: str = ""

    def __str__(self) -> str:
        return {
            "no_passages": "no passages were found",
            "low_score": f"the best passage scores below the floor for the question's language ({self.detail})",
            "unknown_numbers": f"the documents never mention {self.detail}",
            "unknown_names": f"the documents never mention {self.detail}",
            "no_quantity": f"it asks for a quantity and none of the top {QUANTITY_HITS} passages holds one",
        }[self.kind]


Language = Literal["ru", "en", "kk"]


Kind = Literal["person", "organisation", "place", "time", "number", "price", "duration", "reason", "role"]
"""The kind of phrase that answers a question: «Где…?» a place, «Когда…?» a time, «Сколько…?» a number, «Почему…?» a
reason, «Какой институт…?» an organisation, «Какую должность она занимает?» a person's role (post, title,
occupation, department)."""


@dataclass(frozen=True)
class Thing:
    """A phrase of a question that tells which thing it asks about (`language.subjects`): a noun with its adjective
    («горячей воды»), a name in quotes («Информационная безопасность»), or a year («2025»)."""

    written: str
    words: tuple[frozenset[str], ...]
    """The readings of each of its words (for a modified noun: the adjective's, then the noun's)."""
    shape: Literal["modified", "quoted", "year"]


@dataclass(frozen=True)
class Quoted:
    """A phrase of a question in quotes (`language.quoting.quoted`): its `text` as quoted names are compared
    (`language.quoting.plain`), and where it stands in the question, quotes included (`start`, `end`)."""

    text: str
    start: int
    end: int

    def within(self, other: "Quoted") -> bool:
        """True when this phrase is `other` or inside its quotes."""
        return other.start <= self.start and self.end <= other.end


@dataclass(frozen=True)
class Query:
    """A question analysed once (`language.questions.analyse`): what retrieval, answering and confidence read of it.

    Readings are the forms under which a word can match (`language.words.word_readings`).
    """

    text: str
    """The question, stripped and cut to `language.questions.MAX_QUERY_CHARS`."""
    language: Language
    written: tuple[str, ...]
    """Its words, lower-cased, as written."""
    lemmas: tuple[str, ...]
    """Its words as lemmas (Cyrillic), function words left out (`language.words.tokens`)."""
    words: tuple[frozenset[str], ...]
    """The readings of its distinct content words (`language.words.query_words`)."""
    numbers: tuple[frozenset[str], ...]
    """The readings of the numbers it gives (`language.words.specifics`)."""
    named: tuple[tuple[str, frozenset[str]], ...]
    """(as written, readings) of the words that name one particular thing (`language.entities.named_specifics`)."""
    key_nouns: tuple[tuple[str, frozenset[str]], ...]
    """(as written, readings) of its nouns (`language.questions.key_nouns`)."""
    kind: Kind | None
    """The kind of phrase it asks for (None: no telling)."""
    word_kind: Kind | None
    """`kind` when its question word names it («где», «сколько», "how long"; None otherwise): the kinds retrieval's
    answer-type bonus and the choice of the quote weigh."""
    asked_noun: str | None
    """The noun it asks for, as written («Какой *бюджет*…?»; Russian only)."""
    noun_kind: Kind | None
    """The kind of answer that noun (or, in English and Kazakh, a word after "which" / «қандай») names («городе»: a
    place)."""
    whose: bool
    """It asks whose («Чьи слова…?»)."""
    things: tuple[Thing, ...] = ()
    """The phrases that tell which thing it asks about (`language.subjects.question_things`)."""
    years: frozenset[str] = frozenset()
    """The years it names (`language.words.years`)."""
    described: tuple[frozenset[str], ...] = ()
    """The readings of each word of what it asks to describe («Кто такая *Жанар Тулиндинова*?», «Что такое
    *сепсис*?»: `language.subjects.described`); empty when it asks no description."""
    quoted: tuple[Quoted, ...] = ()
    """Its phrases in quotes, nested ones too, in the order they open (`language.quoting.quoted`)."""


@dataclass(frozen=True)
class Lead:
    """A follow-up's own words, `text` (the beginning of the query searched, before the earlier questions appended),
    whose meaning leads its search; `finds` False when they say too little of their own to find the passages by."""

    text: str
    finds: bool = True


@dataclass(frozen=True)
class Evidence:
    """What the index tells about a question and the passages in play beyond their scores (`Retriever.evidence`):
    the figures the confidence needs from retrieval."""

    russian_share: float
    """The share of the question's words (numbers aside) that are Russian (`Retriever.russian_share`)."""
    unmatched_nouns: tuple[tuple[str, float], ...]
    """(as written, best cosine to an indexed word of the passages; -1: none) of each key noun of the question that
    no passage holds by lemma."""


Status = Literal["answered", "uncertain", "abstained"]


Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class Signals:
    """What is known about an answer's first quote, each a number (the confidence model's features).

    - `score`: the best passage's retrieval score; `margin`: its lead over the second passage.
    - `quote_cosine`: cosine similarity of the quoted sentence and the question.
    - `agreement`: 1 when the quote comes from the best-scored passage, else 0.
    - `quote_overlap`: share of the question's content words the quoted sentence contains.
    - `noun_match`: how well the question's least-matched key noun meets a word of the passages:
      1 for the same lemma, else the highest cosine of the word embeddings (0 when it has no nouns).
    - `kind_missing`: 1 when the question asks for a kind of phrase (a person, an organisation, a date, a
      reason…) and the quote holds none, else 0.
    - `russian_share`: share of the question's words that are Russian (the documents' language); it also
      tells the combiner how far the lexical signals (`quote_overlap`) can speak for the question.
    - `asked_noun`: 1 when the noun the question asks for («Какой *бюджет*…?», «Сколько *студентов*…?») is
      in the quoted sentence (by lemma), 0 when it is not, 0.5 when the question has none.
    - `follow_up`: 1 when the question was searched with the conversation added (a follow-up: its referent or the
      earlier questions), else 0; such a search meets the passages with lower similarity and word overlap.
    - `other_year`: 1 when the question names a year the quoted sentence does not and the sentence names another
      («…по переписи 1959 года?» → «По переписи 2021 года…»), else 0.
    """

    score: float
    margin: float
    quote_cosine: float
    agreement: float
    quote_overlap: float
    noun_match: float
    kind_missing: float
    russian_share: float
    asked_noun: float
    follow_up: float = 0.0
    other_year: float = 0.0

    def vector(self, names: Sequence[str] | None = None) -> np.ndarray:
        """The signals named (default: all, in `SIGNAL_NAMES` order) as a row."""
        return np.array([getattr(self, name) for name in names or SIGNAL_NAMES], dtype=np.float64)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


SIGNAL_NAMES = tuple(f.name for f in fields(Signals))


@dataclass(frozen=True)
class Answer:
    """An answer and the passages it cites: marker [n] in `text` is `citations[n - 1]`.

    `hits` are all passages retrieved for `query_used`, best first; a citation's `highlight` is
    the document span of its answering sentence (None: the whole passage).
    """

    text: str
    citations: list[Hit]
    abstained: bool
    query_used: str
    hits: list[Hit] = field(default_factory=list)
    mode: Literal["extractive", "llm"] = "extractive"
    language: Language = "ru"
    notice: str | None = None
    """A message for the user (in Russian): why the LLM answer was replaced or corrected."""
    flagged: bool = False
    """True when the LLM's citations had to be corrected (markers without a passage, or none at all)."""
    reasons: list[AbstentionReason] = field(default_factory=list)
    """Why the retriever took the documents to have no answer (empty when it did not)."""
    confidence: float | None = None
    """Calibrated probability that the first quote answers the question; for an LLM answer, that the passages it
    cites hold the answer (their sentence that would be quoted first, judged alike). None: abstained, or no model."""
    status: Status = "answered"
    """"answered" (presented as the answer), "uncertain" (passages given as leads) or "abstained"."""
    signals: Signals | None = None
    """What the confidence is computed from (the `Signals` of the first quote, or of an LLM answer's judged sentence;
    None: abstained)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
