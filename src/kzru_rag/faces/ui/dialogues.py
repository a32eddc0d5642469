"""The conversation list (open, new, rename, delete), the browser key that outlives the app, and 👍/👎 ratings.

Ratings go to `feedback.jsonl` in the app's data folder (`app-data/` beside the index folder), one question a line
with the fields of a `kzru-rag eval` question set (id, question, lang, gold) and what was rated (docs/everyday.md).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gradio as gr

from kzru_rag.faces.ui.app_data import data_folder
from kzru_rag.faces.ui.conversation import ChatTurn, title_of, turn_of_message
from kzru_rag.faces.ui.handlers import restored, shown
from kzru_rag.library import Library

log = logging.getLogger(__name__)
_WRITING = threading.Lock()


def browser_secret(folder: Path) -> str:
    """The key the browser's copy of the conversations is encrypted with, kept in `folder` (readable by its owner
    alone) so that the conversations outlive a restart of the app."""
    path = folder / "browser-key"
    if path.is_file() and (kept := path.read_text(encoding="ascii").strip()):
        return kept
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key)
    return key


def new_dialogue(library: Library, state: Any) -> tuple[Any, ...]:
    """«Новый диалог»: the saved conversations stay; an empty one is open."""
    store = restored(state)
    store.current = None
    return store.to_state(), *shown(library, store)


def open_dialogue(library: Library, chosen: str | None, state: Any) -> tuple[Any, ...]:
    """The conversation picked in «Мои диалоги», shown."""
    store = restored(state)
    if chosen and any(c.id == chosen for c in store.conversations):
        store.current = chosen
    return store.to_state(), *shown(library, store)


def rename_dialogue(library: Library, title: str, state: Any) -> tuple[Any, ...]:
    """The open conversation under a new title (one line, cut like a question's); the rename box emptied."""
    store = restored(state)
    conversation = store.open()
    if conversation is None or not (title or "").strip():
        missing = "введите новое название" if conversation else "откройте диалог в списке «Мои диалоги»"
        gr.Info(f"Диалог не переименован: {missing}.", title="Нечего переименовать")
        return gr.skip(), *(gr.skip(),) * 6, gr.skip()
    conversation.title = title_of(title)
    return store.to_state(), *shown(library, store), ""


CANCELLED = "kz-cancelled"
CONFIRM_DELETE = (
    f"(state) => window.confirm('Удалить открытый диалог? Вернуть его будет нельзя.') ? state : '{CANCELLED}'"
)
"""Asks the user before «Удалить диалог» deletes (the browser's own dialog); a refusal reaches the handler as
CANCELLED in place of the conversations."""


def delete_dialogue(library: Library, state: Any) -> tuple[Any, ...]:
    """The open conversation deleted from the browser, once the user confirmed (`CONFIRM_DELETE`); an empty one is
    open. Without an open conversation, says so."""
    if state == CANCELLED:
        return gr.skip(), *(gr.skip(),) * 6
    store = restored(state)
    if store.open() is None:
        gr.Info("Откройте диалог в списке «Мои диалоги», затем удалите его.", title="Нечего удалять")
        return gr.skip(), *(gr.skip(),) * 6
    store.conversations = [c for c in store.conversations if c.id != store.current]
    store.current = None
    return store.to_state(), *shown(library, store)


def rater(library: Library) -> Callable[[Any, gr.LikeData], None]:
    """The 👍/👎 handler over `library` (a plain function: Gradio hands `gr.LikeData` to a parameter it can see
    annotated, which a `functools.partial` hides)."""

    def rated(state: Any, data: gr.LikeData) -> None:
        rate(library, state, data)

    return rated


def rate(library: Library, state: Any, data: gr.LikeData) -> None:
    """A 👍 or 👎 on an answer, kept in the ratings file (an undone rating is removed from it)."""
    store = restored(state)
    conversation = store.open()
    index = data.index if isinstance(data.index, int) else data.index[0]
    number = turn_of_message(conversation.turns, index) if conversation else None
    if conversation is None or number is None:
        log.warning("a rating points at no answer: %r", data.index)
        return
    record_id = f"{conversation.id}-{number + 1}"
    liked = data.liked if isinstance(data.liked, bool) else None
    record = feedback_record(record_id, conversation.turns[number], liked) if liked is not None else None
    path = data_folder(library) / "feedback.jsonl"
    keep_feedback(path, record_id, record)
    if record is not None:
        gr.Info(f"Оценка сохранена в {path}.", title="Спасибо", duration=4)


def feedback_record(record_id: str, turn: ChatTurn, liked: bool) -> dict[str, Any]:
    """A rated answer as an eval question: 👍 takes the answer's quotes as gold (none when it said the documents
    have no answer: the question should be refused); 👎 has empty gold and `"review": true` — a question to look at,
    whose gold a person writes before the set is scored."""
    answer = turn.answer
    gold = _quotes(turn) if liked else []
    return {
        "id": record_id,
        "question": turn.question,
        "lang": answer.language,
        "gold": gold,
        "rating": "up" if liked else "down",
        "review": not liked,
        "answer": answer.text,
        "status": answer.status,
        "mode": answer.mode,
        "documents": sorted({hit.doc_id for hit in answer.citations}),
        "rated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _quotes(turn: ChatTurn) -> list[str]:
    """The cited sentences of an answer (each passage's highlighted span, else the passage), as they stand."""
    if turn.answer.status == "abstained":
        return []
    quotes = []
    for hit in turn.answer.citations:
        span = hit.highlight or (hit.start, hit.end)
        text = hit.text[max(span[0] - hit.start, 0) : span[1] - hit.start].strip()
        if text and text not in quotes:
            quotes.append(text)
    return quotes


def keep_feedback(path: Path, record_id: str, record: dict[str, Any] | None) -> None:
    """Write `record` into the ratings file in place of any earlier one with its id (None: remove that one)."""
    with _WRITING:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        kept = [line for line in lines if line.strip() and json.loads(line).get("id") != record_id]
        if record is not None:
            kept.append(json.dumps(record, ensure_ascii=False))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        partial.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        partial.replace(path)
