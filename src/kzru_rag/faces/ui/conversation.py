"""The conversation as the browser keeps it (`gr.BrowserState`), its chat messages, and its Markdown export.

A conversation is a list of `ChatTurn`s; in the browser it is stored as plain JSON (`to_state`), read back with
`from_state`, which raises ValueError on anything it cannot read (an older or tampered value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from kzru_rag.faces.ui.render import escape_markdown, place, render_answer, render_sources
from kzru_rag.ingest.documents import Document
from kzru_rag.schema import AbstentionReason, Answer, Hit, Message, Signals


@dataclass(frozen=True)
class ChatTurn:
    """One question and its answer."""

    question: str
    answer: Answer


def to_state(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """The conversation as JSON for the browser (without each answer's uncited passages, to keep it small)."""
    return [{"question": t.question, "answer": {**asdict(t.answer), "hits": []}} for t in turns]


def from_state(state: Any) -> list[ChatTurn]:
    """The conversation stored by `to_state`; ValueError when the stored value is not one."""
    try:
        return [ChatTurn(str(item["question"]), _answer(item["answer"])) for item in state or []]
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"the saved conversation cannot be read ({type(err).__name__}: {err})") from err


def _answer(data: dict[str, Any]) -> Answer:
    return Answer(
        **{
            **data,
            "citations": [_hit(h) for h in data["citations"]],
            "hits": [_hit(h) for h in data.get("hits", [])],
            "reasons": [AbstentionReason(**r) for r in data.get("reasons", [])],
            "signals": Signals(**data["signals"]) if data.get("signals") else None,
        }
    )


def _hit(data: dict[str, Any]) -> Hit:
    highlight = data.get("highlight")
    return Hit(
        **{
            **data,
            "highlight": tuple(highlight) if highlight else None,
            "sentences": tuple(tuple(s) for s in data.get("sentences", ())),
        }
    )


def history(turns: Sequence[ChatTurn]) -> list[Message]:
    """The earlier turns as the assistant takes them (for follow-up questions)."""
    messages: list[Message] = []
    for turn in turns:
        messages += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer.text}]
    return messages


def chat_messages(turns: Sequence[ChatTurn], documents: Mapping[str, Document]) -> list[dict[str, Any]]:
    """The chat's messages: each question, its answer, and its sources in a collapsible block."""
    messages: list[dict[str, Any]] = []
    for number, turn in enumerate(turns):
        messages.append({"role": "user", "content": escape_markdown(turn.question)})
        messages.append({"role": "assistant", "content": render_answer(turn.answer, turn.question, number)})
        if turn.answer.citations:
            messages.append(
                {
                    "role": "assistant",
                    "content": render_sources(turn.answer, documents),
                    "metadata": {"title": f"Источники ({len(turn.answer.citations)})"},
                }
            )
    return messages


def to_markdown(turns: Sequence[ChatTurn], now: datetime | None = None) -> str:
    """The conversation as a Markdown file: each question, answer, and cited passage with its document and place."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%d.%m.%Y %H:%M UTC")
    lines = ["# Диалог о документе (kzru-rag)", "", f"Сохранён {stamp}.", ""]
    for number, turn in enumerate(turns, start=1):
        lines += [f"## Вопрос {number}", "", turn.question, "", "**Ответ.** " + turn.answer.text, ""]
        if turn.answer.notice:
            lines += [f"_{turn.answer.notice}_", ""]
        if turn.answer.citations:
            lines += ["Источники:", ""]
        for cited, hit in enumerate(turn.answer.citations, start=1):
            title = hit.metadata.get("title", hit.doc_id)
            lines += [f"[{cited}] «{title}», {place(hit)}", "", *(f"> {line}" for line in hit.text.splitlines()), ""]
    return "\n".join(lines)
