"""Fitting the confidence model on question sets, with figures cross-validated across the sets.

`collect` asks every question of each set (no LLM) and keeps the signals of each answer that is
not abstained, labelled by whether its quote holds a gold string (unanswerable questions: never);
`collect_dialogues` does the same for every turn of each dialogue set, asked in order with the
assistant's own earlier answers as history, so follow-ups are judged on the signals they really get.
`calibrate` fits the combiner leaving one set out at a time, so every figure it reports comes
from a model that never saw that set; the presentation threshold is the lowest confidence at
which the pooled held-out misleading rate stays within `MAX_MISLEADING`; the final model is then
fitted on all sets with that threshold. `kzru-rag calibrate` runs it and can store the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.confidence import ConfidenceModel, fit
from kzru_rag.evaluation.datasets import Dialogue, Question
from kzru_rag.evaluation.dialogues import ask_turns
from kzru_rag.evaluation.trust import Outcome
from kzru_rag.schema import SIGNAL_NAMES, Answer, Signals

MAX_MISLEADING = 0.08
"""The highest misleading rate (issue 9) the presentation threshold may give on held-out sets."""
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.96, 0.01), 2))


@dataclass(frozen=True)
class Sample:
    """One asked question: its set (or corpus: what is held out together), its outcome before thresholding, and its
    answer's signals (None: abstained)."""

    set_name: str
    outcome: Outcome
    signals: Signals | None


@dataclass
class Calibration:
    """A fitted model and its held-out figures: `held_out[i]` is the confidence of samples[i] from the model
    that left its set out (None: abstained)."""

    model: ConfidenceModel
    samples: list[Sample]
    held_out: list[float | None]

    def outcomes(self, threshold: float | None = None) -> list[Outcome]:
        """Each sample's outcome with its held-out confidence, presented at `threshold` (default: the model's)."""
        threshold = self.model.answer_from if threshold is None else threshold
        return [presented(s.outcome, p, threshold) for s, p in zip(self.samples, self.held_out)]


DOCUMENT_FOLDS = 4
"""A question set that names its questions' documents is held out in this many parts, by document: each part is
judged by a model that saw none of its documents (and the set's other questions about other documents)."""


def by_document_folds(questions: list[Question], folds: int = DOCUMENT_FOLDS) -> dict[str, list[Question]]:
    """`questions` split by document into `folds` parts keyed «#1»…, documents taken in name order and dealt in turn;
    one part keyed "" when the questions name no documents."""
    documents = sorted({q.doc for q in questions if q.doc is not None})
    if len(documents) < folds:
        return {"": questions}
    part = {doc: i % folds for i, doc in enumerate(documents)}
    return {f"#{i + 1}": [q for q in questions if part.get(q.doc, 0) == i] for i in range(folds)}


def collect(assistant: Assistant, sets: dict[str, list[Question]]) -> list[Sample]:
    """Ask every question of every set (no LLM): its outcome as if answered, and its answer's signals."""
    return [
        _sample(name, question.id, question.gold, assistant.ask(question.question, use_llm=False), question.lang)
        for name, questions in sets.items()
        for question in questions
    ]


def collect_dialogues(assistant: Assistant, sets: dict[str, list[Dialogue]]) -> list[Sample]:
    """Ask every dialogue's turns in order (`evaluation.ask_turns`): a sample per turn, its id `DIALOGUE#TURN`."""
    return [
        _sample(name, f"{dialogue.id}#{number}", turn.gold, answer)
        for name, dialogues in sets.items()
        for dialogue in dialogues
        for number, turn, answer in ask_turns(assistant, dialogue)
    ]


def _sample(set_name: str, sample_id: str, gold: list[str], answer: Answer, lang: str | None = None) -> Sample:
    """One asked question's outcome as if answered (correct: its text holds a gold string) and its signals."""
    correct = bool(gold) and any(g in answer.text for g in gold)
    abstained = answer.status == "abstained"
    status = "abstained" if abstained else "answered"
    outcome = Outcome(sample_id, bool(gold), status, None, correct, lang or answer.language)
    signals = None if abstained else answer.signals
    return Sample(set_name, outcome, signals)


def calibrate(samples: list[Sample], max_misleading: float = MAX_MISLEADING) -> Calibration:
    """Leave-one-set-out confidences, the threshold they support, and the model fitted on every set."""
    held_out = _held_out(samples, SIGNAL_NAMES)
    judged = [i for i, s in enumerate(samples) if s.signals is not None]
    x = np.array([samples[i].signals.vector() for i in judged])  # type: ignore[union-attr]
    y = np.array([samples[i].outcome.correct for i in judged], dtype=np.float64)
    threshold = _threshold(samples, held_out, max_misleading)
    return Calibration(fit(x, y, threshold), samples, held_out)


def signal_effects(
    samples: list[Sample], max_misleading: float = MAX_MISLEADING
) -> dict[str, tuple[float, float, float]]:
    """Each signal's effect, held out across sets: (ROC AUC, threshold, coverage at that threshold) with all
    signals ("all"), with each one left out ("without NAME"), and with the retrieval score alone."""
    variants = {"all": SIGNAL_NAMES}
    variants |= {f"without {name}": tuple(n for n in SIGNAL_NAMES if n != name) for name in SIGNAL_NAMES}
    variants["score alone"] = ("score",)
    effects = {}
    for name, names in variants.items():
        held_out = _held_out(samples, names)
        threshold = _threshold(samples, held_out, max_misleading)
        outcomes = [presented(s.outcome, p, threshold) for s, p in zip(samples, held_out)]
        answerable = sum(o.answerable for o in outcomes)
        coverage = sum(o.status == "answered" and o.correct for o in outcomes) / answerable if answerable else 0.0
        judged = [(p, s.outcome.correct) for s, p in zip(samples, held_out) if p is not None]
        effects[name] = (_auc([p for p, _ in judged], [ok for _, ok in judged]), threshold, coverage)
    return effects


def corpus_of(sample: Sample) -> str:
    """The corpus a sample was asked of: its set name up to the first «/» (`CORPUS/SET`), else the set name."""
    return sample.set_name.split("/", 1)[0]


def held_out_by_corpus(samples: list[Sample]) -> list[float | None]:
    """Leave-one-corpus-out confidences: each corpus scored by the model fitted on the others alone (the figures
    for documents of a kind the model never saw)."""
    return _held_out(samples, SIGNAL_NAMES, corpus_of)


def _held_out(
    samples: list[Sample], names: Sequence[str], group: Callable[[Sample], str] = lambda s: s.set_name
) -> list[float | None]:
    """Held-out confidences from the signals `names`: each group (default: each set) scored by the model fitted on
    the other groups."""
    judged = [i for i, s in enumerate(samples) if s.signals is not None]
    x = np.array([samples[i].signals.vector(names) for i in judged])  # type: ignore[union-attr]
    y = np.array([samples[i].outcome.correct for i in judged], dtype=np.float64)
    groups = np.array([group(samples[i]) for i in judged])
    held_out: list[float | None] = [None] * len(samples)
    for name in sorted(set(groups)):
        train = groups != name
        if len(set(y[train])) < 2:
            raise ValueError(f"leaving out {name} leaves only one kind of label: add question sets")
        for i, p in zip(np.array(judged)[~train], fit(x[train], y[train], 0.5, names).probabilities(x[~train])):
            held_out[int(i)] = float(p)
    return held_out


def _auc(scores: list[float], labels: list[bool]) -> float:
    """ROC AUC: the chance that a right answer scores above a wrong one (ties count half)."""
    right = np.array([s for s, ok in zip(scores, labels) if ok])
    wrong = np.array([s for s, ok in zip(scores, labels) if not ok])
    if not len(right) or not len(wrong):
        return 0.0
    return float(np.mean((right[:, None] > wrong[None, :]) + 0.5 * (right[:, None] == wrong[None, :])))


def _threshold(samples: list[Sample], held_out: list[float | None], max_misleading: float) -> float:
    """The lowest threshold whose pooled held-out misleading rate is at most `max_misleading`."""
    for threshold in THRESHOLDS:
        shown = [presented(s.outcome, p, threshold) for s, p in zip(samples, held_out)]
        if sum(o.status == "answered" and not o.correct for o in shown) / len(shown) <= max_misleading:
            return float(threshold)
    return float(THRESHOLDS[-1])


def presented(outcome: Outcome, confidence: float | None, threshold: float) -> Outcome:
    if outcome.status == "abstained" or confidence is None:
        return outcome
    return replace(outcome, confidence=confidence, status="answered" if confidence >= threshold else "uncertain")
