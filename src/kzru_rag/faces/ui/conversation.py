"""The conversations as the browser keeps them (`gr.BrowserState`), their chat messages, and their Markdown export.

All conversations of a browser profile are one `Store`: a list of `Conversation`s (titled by their first question,
or as the user renamed them) and the one open. In the browser it is plain JSON (`Store.to_state`), read back with
`Store.from_state`, which raises ValueError on anything it cannot read (a tampered value).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from kzru_rag.faces.ui.render import (
    document_title,
    escape_markdown,
    place,
    render_answer,
    render_sources,
    status_line,
)
from kzru_rag.ingest.documents import Document
from kzru_rag.schema import AbstentionReason, Answer, Hit, Message, Signals

MAX_CONVERSATIONS = 50
"""The most conversations a browser keeps (the oldest go first): local storage holds a few megabytes."""
TITLE_CHARS = 60
"""A conversation's title: its first question, cut to this many characters."""


@dataclass(frozen=True)
class ChatTurn:
    """One question and its answer."""

    question: str
    answer: Answer


@dataclass
class Conversation:
    """One conversation: its id, its title and its turns."""

    id: str
    title: str
    turns: list[ChatTurn] = field(default_factory=list)


@dataclass
class Store:
    """A browser's conversations, newest first, and the id of the one open (None: a new, empty one)."""

    conversations: list[Conversation] = field(default_factory=list)
    current: str | None = None

    def open(self) -> Conversation | None:
        return next((c for c in self.conversations if c.id == self.current), None)

    def turns(self) -> list[ChatTurn]:
        conversation = self.open()
        return list(conversation.turns) if conversation else []

    def record(self, turns: list[ChatTurn]) -> None:
        """Keep `turns` as the open conversation's (starting a conversation titled by its first question)."""
        conversation = self.open()
        if conversation is None:
            conversation = Conversation(uuid.uuid4().hex[:12], title_of(turns[0].question))
            self.current = conversation.id
        self.conversations = [conversation, *(c for c in self.conversations if c.id != conversation.id)]
        del self.conversations[MAX_CONVERSATIONS:]
        conversation.turns = list(turns)

    def to_state(self) -> dict[str, Any]:
        """The store as JSON for the browser (without each answer's uncited passages, to keep it small)."""
        return {
            "current": self.current,
            "conversations": [
                {"id": c.id, "title": c.title, "turns": [_turn_state(t) for t in c.turns]} for c in self.conversations
            ],
        }

    @classmethod
    def from_state(cls, state: Any) -> "Store":
        """The store saved by `to_state` (a list: one conversation saved by an earlier version); ValueError when
        the value is not one."""
        try:
            if isinstance(state, list):
                turns = [_turn(item) for item in state]
                return cls([Conversation("saved", title_of(turns[0].question), turns)], "saved") if turns else cls()
            state = state or {}
            conversations = [
                Conversation(str(c["id"]), str(c["title"]), [_turn(t) for t in c["turns"]])
                for c in state.get("conversations", [])
            ]
            current = state.get("current")
            return cls(conversations, str(current) if current is not None else None)
        except (KeyError, TypeError, AttributeError, IndexError) as err:
            raise ValueError(f"the saved conversations cannot be read ({type(err).__name__}: {err})") from err


def title_of(question: str) -> str:
    """A conversation's title from its first question: one line, at most TITLE_CHARS characters."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _turn_state(turn: ChatTurn) -> dict[str, Any]:
    return {"question": turn.question, "answer": {**asdict(turn.answer), "hits": []}}


def _turn(item: dict[str, Any]) -> ChatTurn:
    return ChatTurn(str(item["question"]), _answer(item["answer"]))


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


def turn_of_message(turns: Sequence[ChatTurn], index: int) -> int | None:
    """The turn that chat message `index` (as `chat_messages` lays them out) belongs to; None past the end."""
    start = 0
    for number, turn in enumerate(turns):
        start += 3 if turn.answer.citations else 2
        if index < start:
            return number
    return None


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#!|<>~&$])")
_LINE_START = re.compile(r"^(\s*)(\d+\.|[-+=])", re.MULTILINE)


def markdown_text(text: str) -> str:
    """Text made literal in a Markdown file: every character Markdown or HTML would read is backslash-escaped
    (list and heading marks only at a line's start)."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: f"{m[1]}{m[2][:-1]}\\{m[2][-1]}", escaped)


def to_markdown(
    turns: Sequence[ChatTurn],
    title: str = "",
    documents: Mapping[str, Document] | None = None,
    now: datetime | None = None,
) -> str:
    """The conversation as a Markdown file: each question, answer (with its status and confidence, as under it in the
    chat), and cited passage with its document and place; every piece of user and document text escaped
    (`markdown_text`)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%d.%m.%Y %H:%M UTC")
    heading = f"# {markdown_text(title)}" if title else "# Диалог о документах"
    lines = [heading, "", f"Сохранён {stamp} (kzru-rag).", ""]
    for number, turn in enumerate(turns, start=1):
        answer = markdown_text(turn.answer.text)
        lines += [f"## Вопрос {number}", "", markdown_text(turn.question), "", f"**Ответ.** {answer}", ""]
        if sure := status_line(turn.answer):
            lines += [f"_{markdown_text(sure)}_", ""]
        if turn.answer.notice:
            lines += [f"_{markdown_text(turn.answer.notice)}_", ""]
        if turn.answer.citations:
            lines += ["Источники:", ""]
        for cited, hit in enumerate(turn.answer.citations, start=1):
            name = markdown_text(document_title(hit.doc_id, (documents or {}).get(hit.doc_id), hit))
            quote = [f"> {markdown_text(line)}" for line in hit.text.splitlines()]
            lines += [f"\\[{cited}\\] «{name}», {markdown_text(place(hit))}", "", *quote, ""]
    return "\n".join(lines)
