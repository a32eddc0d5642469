"""How sure an extractive answer is: signals of a quote against its question, and a calibrated combiner.

`measure` computes `Signals` for the first quote of an answer; `ConfidenceModel` (logistic
regression over them, parameters stored in the index manifest's `confidence`) turns them into
the probability that the quote answers the question. An answer is presented as *answered* when
that probability reaches `ConfidenceModel.answer_from`, else as *uncertain* (the passages are
leads). `fit` trains a model on labelled signals; docs/trust.md gives each signal's effect.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from kzru_rag.answering.quotes import span_text
from kzru_rag.language.questions import holds_kind
from kzru_rag.language.words import content_words, word_readings, years
from kzru_rag.schema import SIGNAL_NAMES, Evidence, Hit, Query, Signals, Status


def measure(query: Query, hits: list[Hit], quote: Hit, evidence: Evidence, asked: Query | None = None) -> Signals:
    """The signals of `quote` (a hit whose `highlight` is the quoted sentence) as the answer to `query` (what was
    searched), given the `hits` in play for it and what the retriever tells of both (`evidence`, from
    `Retriever.evidence(query, hits)`); the kind of answer and the noun asked for are read from `asked` (default:
    `query`), the question as the user asked it; a follow-up when `query` is not the question as asked."""
    span = quote.highlight or (quote.start, quote.end)
    sentence = quoted_sentence(quote)
    cosine = max(
        (c for a, b, c in quote.sentences if span[0] <= a and b <= span[1]), default=quote.signals.get("sentence", 0.0)
    )
    words = query.words
    readings = frozenset().union(*content_words(sentence))
    overlap = sum(bool(w & readings) for w in words) / len(words) if words else 0.0
    asked = asked or query
    return Signals(
        score=hits[0].score,
        margin=hits[0].score - hits[1].score if len(hits) > 1 else 0.0,
        quote_cosine=float(cosine),
        agreement=float(quote.chunk_id == hits[0].chunk_id and quote.start == hits[0].start),
        quote_overlap=overlap,
        noun_match=_noun_match(query, evidence),
        kind_missing=float(asked.kind is not None and not holds_kind(sentence, asked.kind, asked)),
        russian_share=evidence.russian_share,
        asked_noun=_asked_noun_quoted(asked, readings),
        follow_up=float(asked.text != query.text),
        other_year=float(bool(other_year(asked, sentence))),
    )


def quoted_sentence(quote: Hit) -> str:
    """The sentence `quote` cites: its highlight (the whole passage without one)."""
    return span_text(quote, quote.highlight or (quote.start, quote.end))


def other_year(question: Query, sentence: str) -> tuple[str, str] | None:
    """(a year `question` names, a year `sentence` names instead) when the sentence lacks every year the question
    names and names another; None otherwise. Such a sentence speaks of another time than the one asked about."""
    quoted = years(sentence)
    missing, other = sorted(question.years - quoted), sorted(quoted - question.years)
    return (missing[0], other[0]) if missing and other and not question.years & quoted else None


def _asked_noun_quoted(question: Query, quoted: frozenset[str]) -> float:
    """1 when the noun `question` asks for is among the `quoted` sentence's readings, 0 when not; 0.5 without
    one, when it names a kind of answer («городе»: the answer names a city, not the word; `kind_missing` judges
    it), or when the question asks whose it is («Чьи *слова*…?»: the answer names the owner, not the thing owned)."""
    noun = question.asked_noun
    if noun is None or question.noun_kind is not None or question.whose:
        return 0.5
    return float(bool(word_readings(noun) & quoted))


def _noun_match(query: Query, evidence: Evidence) -> float:
    """The worst match of a key noun of `query` in the passages: 1 by lemma, else its best word cosine."""
    if not query.key_nouns:
        return 0.0
    return min((similarity for _, similarity in evidence.unmatched_nouns), default=1.0)


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression over standardised `Signals`: P(the first quote answers the question).

    `answer_from`: the probability from which an answer is presented as answered (below: uncertain). `names`: the
    signals it combines, any of `SIGNAL_NAMES` (a model fitted before a signal existed goes on without it).
    """

    weights: tuple[float, ...]
    bias: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    answer_from: float
    names: tuple[str, ...] = SIGNAL_NAMES

    def __post_init__(self) -> None:
        if unknown := [name for name in self.names if name not in SIGNAL_NAMES]:
            raise ValueError(
                f"the index's confidence model combines signals this kzru-rag does not compute ({', '.join(unknown)}): "
                "fit a new one with `kzru-rag calibrate QUESTION_SETS... --write`"
            )
        if not len(self.names) == len(self.weights) == len(self.means) == len(self.scales):
            raise ValueError(
                "the index's confidence model does not give a weight, a mean and a scale for each of its signals: "
                "fit a new one with `kzru-rag calibrate QUESTION_SETS... --write`"
            )

    def probability(self, signals: Signals) -> float:
        return float(self.probabilities(signals.vector(self.names)[None, :])[0])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(answers) for rows of this model's signals (`names`, in order)."""
        z = (x - np.array(self.means)) / np.array(self.scales)
        return 1 / (1 + np.exp(-(z @ np.array(self.weights) + self.bias)))

    def status(self, confidence: float) -> Status:
        return "answered" if confidence >= self.answer_from else "uncertain"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "logistic regression over standardised signals (kzru_rag.answering.confidence)",
            "signals": list(self.names),
            "weights": list(self.weights),
            "bias": self.bias,
            "means": list(self.means),
            "scales": list(self.scales),
            "answer_from": self.answer_from,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConfidenceModel":
        return cls(
            tuple(map(float, data["weights"])),
            float(data["bias"]),
            tuple(map(float, data["means"])),
            tuple(map(float, data["scales"])),
            float(data["answer_from"]),
            tuple(data["signals"]),
        )


def fit(
    x: np.ndarray,
    y: np.ndarray,
    answer_from: float,
    names: Sequence[str] = SIGNAL_NAMES,
    l2: float = 1.0,
    steps: int = 3000,
) -> ConfidenceModel:
    """A `ConfidenceModel` of the signals `names` fitted to their rows `x` and labels `y` (1: the quote answers) by
    gradient descent on the L2-penalised log loss."""
    means = x.mean(axis=0)
    scales = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    z = (x - means) / scales
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) / len(y) + l2 * w / len(y))
        b -= 0.5 * float(np.mean(p - y))
    return ConfidenceModel(
        tuple(map(float, w)), b, tuple(map(float, means)), tuple(map(float, scales)), answer_from, tuple(names)
    )


SHIPPED = "confidence.json"
"""The confidence model that comes with kzru-rag (package data), fitted across corpora and languages."""


@functools.cache
def shipped_model() -> ConfidenceModel:
    """The shipped confidence model: the judge of every index whose user has not calibrated one."""
    return ConfidenceModel.from_dict(
        json.loads(resources.files("kzru_rag").joinpath("data", SHIPPED).read_text("utf-8"))
    )
