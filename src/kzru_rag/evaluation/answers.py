"""Answers on a question set: how many quote the gold, per question."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kzru_rag.answering.assistant import Assistant
from kzru_rag.evaluation.datasets import Question
from kzru_rag.schema import Answer


@dataclass
class AnswerReport:
    """How often the assistant's extractive answer quotes an answerable question's gold."""

    answerable: int
    quoted: list[str] = field(default_factory=list)
    """Questions whose answer text holds a gold substring."""
    missed: list[str] = field(default_factory=list)
    abstained: list[str] = field(default_factory=list)
    """Answerable questions the assistant said the document does not answer (also in `missed`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_answers(
    assistant: Assistant, questions: list[Question], answers: list[Answer] | None = None
) -> AnswerReport:
    """Does the quoted answer to every answerable question hold the gold? (`answers`: theirs, in order; default: asked
    here, without an LLM)."""
    answers = answers if answers is not None else [assistant.ask(q.question, use_llm=False) for q in questions]
    report = AnswerReport(sum(bool(q.gold) for q in questions))
    for question, answer in zip(questions, answers):
        if not question.gold:
            continue
        (report.quoted if any(g in answer.text for g in question.gold) else report.missed).append(question.id)
        if answer.abstained:
            report.abstained.append(question.id)
    return report


def format_answers(report: AnswerReport) -> str:
    """One line: the share of answers that quote the gold, and the questions missed."""
    share = len(report.quoted) / report.answerable if report.answerable else 0.0
    line = (
        "assistant, extractive answers: the quoted text holds the answer for "
        f"{len(report.quoted)}/{report.answerable} ({share:.3f})"
    )
    return line + (f"; missed {', '.join(report.missed)}" if report.missed else "")


def presents_answer(answer: Answer) -> bool:
    """True when the assistant presents `answer` as the answer (neither uncertain nor abstained)."""
    return answer.status == "answered"
