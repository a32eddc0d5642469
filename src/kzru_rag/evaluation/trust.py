"""How the assistant presents its answers on a question set: answered, uncertain or abstained, the misleading rate
and coverage, overall and per language, the risk–coverage table and the confidence's calibration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kzru_rag.answering.assistant import Assistant
from kzru_rag.evaluation.datasets import Question, document_name
from kzru_rag.schema import Answer


@dataclass(frozen=True)
class Outcome:
    """How the assistant presented one question: its `status`, `confidence`, and whether its quote holds a
    gold string (`correct`; always False for a question the document cannot answer)."""

    id: str
    answerable: bool
    status: str
    confidence: float | None
    correct: bool
    lang: str = "?"
    other_document: bool = False
    """The first citation comes from another document than the question's `doc` (False when it names none)."""


@dataclass
class TrustReport:
    """How the assistant presents answers on a question set (issue 9, point 5).

    `misleading`: questions presented as answered whose text holds no gold, plus unanswerable ones
    presented as answered, over all questions; `coverage`: answerable questions presented as answered
    with a gold string, over answerable ones.
    """

    questions: int
    answerable: int
    answered: int
    uncertain: int
    abstained: int
    misleading: float
    coverage: float
    unanswerable_answered: list[str]
    answerable_abstained: list[str]
    misleading_ids: list[str]
    outcomes: list[Outcome]
    other_document: list[str] = field(default_factory=list)
    """Answerable questions presented as answered whose first citation is from another document than theirs."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RISK_THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CONFIDENCE_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def evaluate_trust(assistant: Assistant, questions: list[Question], answers: list[Answer] | None = None) -> TrustReport:
    """Score how the answers to `questions` are presented (`answers`: theirs, in order; default: asked here, no LLM)."""
    answers = answers if answers is not None else [assistant.ask(q.question, use_llm=False) for q in questions]
    return trust_report([outcome(question, answer) for question, answer in zip(questions, answers)])


def outcome(question: Question, answer: Answer) -> Outcome:
    """How `answer` presents `question`: its status and confidence, whether it quotes a gold string, and whether its
    first citation comes from another document than the question names."""
    correct = bool(question.gold) and any(g in answer.text for g in question.gold)
    first = answer.citations[0].metadata.get("source", "") if answer.citations else ""
    other = question.doc is not None and bool(answer.citations) and document_name(first) != question.doc
    return Outcome(question.id, bool(question.gold), answer.status, answer.confidence, correct, question.lang, other)


def trust_report(outcomes: list[Outcome]) -> TrustReport:
    """The counts and rates of `TrustReport` over `outcomes`."""
    n = len(outcomes)
    answerable = sum(o.answerable for o in outcomes)
    answered = [o for o in outcomes if o.status == "answered"]
    misleading = [o.id for o in answered if not o.correct]
    return TrustReport(
        questions=n,
        answerable=answerable,
        answered=len(answered),
        uncertain=sum(o.status == "uncertain" for o in outcomes),
        abstained=sum(o.status == "abstained" for o in outcomes),
        misleading=len(misleading) / n if n else 0.0,
        coverage=sum(o.correct for o in answered) / answerable if answerable else 0.0,
        unanswerable_answered=[o.id for o in answered if not o.answerable],
        answerable_abstained=[o.id for o in outcomes if o.answerable and o.status == "abstained"],
        misleading_ids=misleading,
        outcomes=outcomes,
        other_document=[o.id for o in answered if o.answerable and o.other_document],
    )


def by_language(report: TrustReport) -> dict[str, TrustReport]:
    """`report` recomputed for each language of its questions."""
    languages = sorted({o.lang for o in report.outcomes})
    return {lang: trust_report([o for o in report.outcomes if o.lang == lang]) for lang in languages}


def risk_coverage(outcomes: list[Outcome], thresholds: tuple[float, ...] = RISK_THRESHOLDS) -> list[dict[str, float]]:
    """For each confidence threshold: what presenting as answered every non-abstained answer whose
    confidence reaches it would give — share presented, coverage, risk (wrong among presented), misleading rate."""
    rows = []
    n, answerable = len(outcomes), sum(o.answerable for o in outcomes)
    for threshold in thresholds:
        shown = [
            o for o in outcomes if o.status != "abstained" and o.confidence is not None and o.confidence >= threshold
        ]
        wrong = sum(not o.correct for o in shown)
        rows.append(
            {
                "threshold": threshold,
                "presented": len(shown) / n if n else 0.0,
                "coverage": sum(o.correct for o in shown) / answerable if answerable else 0.0,
                "risk": wrong / len(shown) if shown else 0.0,
                "misleading": wrong / n if n else 0.0,
            }
        )
    return rows


def calibration_table(
    confidences: list[float], correct: list[bool], bands: tuple[float, ...] = CONFIDENCE_BANDS
) -> list[dict[str, float]]:
    """Per confidence band [low, high): how many answers fall in it, their mean confidence and observed accuracy."""
    rows = []
    for low, high in zip(bands, bands[1:]):
        inside = [
            (c, ok) for c, ok in zip(confidences, correct) if low <= c < high or (high == bands[-1] and c == high)
        ]
        rows.append(
            {
                "low": low,
                "high": high,
                "answers": len(inside),
                "mean_confidence": float(np.mean([c for c, _ in inside])) if inside else 0.0,
                "accuracy": sum(ok for _, ok in inside) / len(inside) if inside else 0.0,
            }
        )
    return rows


def format_trust(report: TrustReport) -> str:
    """The presentation counts and rates, then the risk–coverage table."""
    unanswerable = report.questions - report.answerable
    lines = [
        f"assistant, presentation: answered {report.answered}, uncertain {report.uncertain}, "
        f"abstained {report.abstained} of {report.questions}; misleading rate {report.misleading:.3f}; "
        f"coverage {report.coverage:.3f}; "
        f"unanswerable presented as answered {len(report.unanswerable_answered)}/{unanswerable}; "
        f"answerable abstained {len(report.answerable_abstained)}/{report.answerable}",
    ]
    if report.other_document:
        lines.append(f"  answered from another document than the question's: {len(report.other_document)}")
    if len(languages := by_language(report)) > 1:
        lines += [f"  {lang}: {_rates(part)}" for lang, part in languages.items()]
    if report.misleading_ids:
        lines.append(f"  misleading: {', '.join(report.misleading_ids)}")
    lines.append(format_risk_coverage(risk_coverage(report.outcomes)))
    return "\n".join(lines)


def format_risk_coverage(rows: list[dict[str, float]]) -> str:
    lines = [f"{'confidence >=':>14}{'presented':>11}{'coverage':>10}{'risk':>8}{'misleading':>12}"]
    lines += [
        f"{r['threshold']:>14.2f}{r['presented']:>11.3f}{r['coverage']:>10.3f}{r['risk']:>8.3f}{r['misleading']:>12.3f}"
        for r in rows
    ]
    return "\n".join(lines)


def format_calibration(rows: list[dict[str, float]]) -> str:
    lines = [f"{'confidence':>12}{'answers':>9}{'mean conf':>11}{'accuracy':>10}"]
    lines += [
        f"{r['low']:>5.1f}–{r['high']:<6.1f}{r['answers']:>9d}{r['mean_confidence']:>11.3f}{r['accuracy']:>10.3f}"
        for r in rows
    ]
    return "\n".join(lines)


def _rates(report: TrustReport) -> str:
    unanswerable = report.questions - report.answerable
    share = len(report.unanswerable_answered) / unanswerable if unanswerable else 0.0
    return (
        f"misleading {report.misleading:.3f}; coverage {report.coverage:.3f}; unanswerable presented as answered "
        f"{len(report.unanswerable_answered)}/{unanswerable} ({share:.3f}) of {report.questions}"
    )
