"""Conversations scored turn by turn, each turn asked with the assistant's own earlier answers as history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from kzru_rag.answering.assistant import Assistant
from kzru_rag.evaluation.answers import presents_answer
from kzru_rag.evaluation.datasets import Dialogue, Turn
from kzru_rag.schema import Answer


@dataclass
class TurnResult:
    """How the assistant did on one turn: `right` when it presents an answer holding a gold string
    (with empty gold: when it presents none)."""

    dialogue: str
    turn: int
    question: str
    query_used: str
    right: bool
    text: str


@dataclass
class DialogueReport:
    """Turns right over all turns of a dialogue set, and every turn."""

    turns: list[TurnResult]

    @property
    def right(self) -> int:
        return sum(result.right for result in self.turns)

    def to_dict(self) -> dict[str, Any]:
        return {"right": self.right, "total": len(self.turns), "turns": [asdict(result) for result in self.turns]}


def ask_turns(assistant: Assistant, dialogue: Dialogue) -> Iterator[tuple[int, Turn, Answer]]:
    """(turn number from 1, turn, answer) for each turn of `dialogue`, asked in order without an LLM, each with
    the assistant's own earlier answers as history."""
    history: list[dict[str, str]] = []
    for number, turn in enumerate(dialogue.turns, start=1):
        answer = assistant.ask(turn.question, history, use_llm=False)
        yield number, turn, answer
        history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": answer.text}]


def evaluate_dialogues(assistant: Assistant, dialogues: list[Dialogue]) -> DialogueReport:
    """Ask every dialogue's turns (`ask_turns`) and score each turn."""
    results = []
    for dialogue in dialogues:
        for number, turn, answer in ask_turns(assistant, dialogue):
            presented = presents_answer(answer)
            right = presented and any(g in answer.text for g in turn.gold) if turn.gold else not presented
            results.append(TurnResult(dialogue.id, number, turn.question, answer.query_used, right, answer.text))
    return DialogueReport(results)


def format_dialogues(report: DialogueReport) -> str:
    """A line per turn (right or wrong, the question, what was searched), then the turns right over all."""
    rows = [
        f"{result.dialogue} turn {result.turn}: {'right' if result.right else 'WRONG'}  {result.question}"
        + ("" if result.query_used == result.question else f"  (searched: {result.query_used})")
        for result in report.turns
    ]
    total = len(report.turns)
    share = report.right / total if total else 0.0
    rows.append(f"dialogue turns right: {report.right}/{total} ({share:.3f})")
    return "\n".join(rows)
