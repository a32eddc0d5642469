"""Retrieval quality on a question set: hit@k, MRR, passage length and abstention, per language;
dialogue sets scored turn by turn."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kzru_rag.answering.assistant import Assistant
from kzru_rag.evaluation.datasets import Question

# ---------------------------------------------------------------- dialogues


@dataclass(frozen=True)
class Outcome:
    """How the assistant presented one question: its `status`, `confidence`, and whether its quote holds a
    gold string (`correct`; always False for a question the document cannot answer)."""

    id: str
    answerable: bool
    status: str
    confidence: float | None
    correct: bool


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RISK_THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CONFIDENCE_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def evaluate_trust(assistant: Assistant, questions: list[Question]) -> TrustReport:
    """Ask every question without an LLM and score how the answers are presented."""
    outcomes = []
    for question in questions:
        answer = assistant.ask(question.question, use_llm=False)
        correct = bool(question.gold) and any(g in answer.text for g in question.gold)
        outcomes.append(Outcome(question.id, bool(question.gold), answer.status, answer.confidence, correct))
    return trust_report(outcomes)


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
    )


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
