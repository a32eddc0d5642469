"""The chat's answering events: ask a question, answer the last one again, stop the answer being written.

`ChatAnswers` holds them for one `Library` (bound methods, so Gradio sees their `gr.Request` parameter). An answer
streams through `pacing.paced`, so it looks at least every `pacing.PAUSE_SECONDS` whether «Остановить» was pressed in
its page, even while the LLM is silent, and then ends as any answer ends: the page is free for the next question at
once (Gradio's own cancelling of an event waits for the silent LLM, and the page dropped a question sent meanwhile).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import gradio as gr

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.ui.conversation import ChatTurn, Store, chat_messages, history
from kzru_rag.faces.ui.failures import in_russian
from kzru_rag.faces.ui.handlers import documents, restored, shown
from kzru_rag.faces.ui.pacing import paced
from kzru_rag.faces.ui.render import escape_markdown, render_streaming
from kzru_rag.language.words import counted
from kzru_rag.library import Library
from kzru_rag.schema import Answer, Message

MAX_QUESTION_CHARS = 2000
"""The longest question the chat sends; a longer one is refused with a warning."""
WAITING = "…"
"""The answer's place in the chat until its first piece comes."""
STOPPED = '<div class="kz-notice">Ответ остановлен и не сохранён в диалоге.</div>'

Updates = tuple[Any, ...]
"""chat, saved state, question box, cited hits, picker, document view, download, conversation list"""


class ChatAnswers:
    """Asking, answering again and stopping in the chat over `library`."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._stopping: set[str] = set()
        self._lock = threading.Lock()

    def respond(
        self, text: str, state: Any, k: float, llm_on: bool, chosen: list[str] | None, request: gr.Request
    ) -> Iterator[Updates]:
        """Ask the question, streaming the answer into the chat."""
        text = (text or "").strip()
        if problem := question_problem(text):
            gr.Warning(problem, title="Вопрос не отправлен")
            yield (gr.skip(),) * 8
            return
        yield from self._answer_turn(restored(state), text, k, llm_on, chosen, _session(request))

    def regenerate(
        self, state: Any, k: float, llm_on: bool, chosen: list[str] | None, request: gr.Request
    ) -> Iterator[Updates]:
        """«Ответить заново»: the open conversation's last question asked again, its answer replacing the last one."""
        store = restored(state)
        turns = store.turns()
        if not turns:
            gr.Info("В этом диалоге ещё нет ответа, который можно получить заново.", title="Нечего повторять")
            yield (gr.skip(),) * 8
            return
        conversation = store.open()
        assert conversation is not None
        conversation.turns = turns[:-1]
        yield from self._answer_turn(store, turns[-1].question, k, llm_on, chosen, _session(request))

    def stop(self, messages: list[dict[str, Any]] | None, request: gr.Request) -> None:
        """«Остановить»: the answer being written in this page ends with what it has written, marked as stopped and
        not kept in the conversation; nothing happens when no answer is being written."""
        last = messages[-1] if messages else None
        content = _text_of(last.get("content")) if isinstance(last, dict) else ""
        if isinstance(last, dict) and last.get("role") == "assistant" and (content == WAITING or content.endswith("▍")):
            with self._lock:
                self._stopping.add(_session(request))

    def _stopped(self, session: str) -> bool:
        """Whether «Остановить» was pressed for this page's answer (the request is taken)."""
        with self._lock:
            asked = session in self._stopping
            self._stopping.discard(session)
        return asked

    def _answer_turn(
        self, store: Store, text: str, k: float, llm_on: bool, chosen: list[str] | None, session: str
    ) -> Iterator[Updates]:
        """Stream the answer to `text` after the open conversation's turns; keep the turn when it is complete."""
        skip = (gr.skip(),) * 8
        turns = store.turns()
        messages = [*chat_messages(turns, documents(self.library)), {"role": "user", "content": escape_markdown(text)}]
        messages.append({"role": "assistant", "content": WAITING})
        self._stopped(session)  # a stop pressed before this answer began is not for it
        yield messages, gr.skip(), "", *skip[:5]
        streamed = ""
        answer: Answer | None = None
        try:
            for item in paced(ask_stream(self.library, text, history(turns), int(k), bool(llm_on), chosen)):
                if self._stopped(session):
                    written = render_streaming(streamed).removesuffix(" ▍") if streamed else ""
                    messages[-1] = {"role": "assistant", "content": f"{written}\n\n{STOPPED}".strip()}
                    yield messages, *skip[:7]
                    return
                if isinstance(item, Answer):
                    answer = item
                elif item is not None:
                    streamed += item
                    messages[-1] = {"role": "assistant", "content": render_streaming(streamed)}
                    yield messages, *skip[:7]
        except (KzruRagError, ValueError) as err:
            said = in_russian(err)
            notice = f'<div class="kz-notice">⚠ {escape_markdown(said[:1].upper() + said[1:])}</div>'
            messages[-1] = {"role": "assistant", "content": notice}
            yield messages, *skip[:7]
            return
        assert answer is not None
        store.record([*turns, ChatTurn(text, answer)])
        chat, hits, choices, view, path, listed = shown(self.library, store)
        yield chat, store.to_state(), gr.skip(), hits, choices, view, path, listed


def ask_stream(
    library: Library, text: str, turns: list[Message], k: int, llm_on: bool, chosen: list[str] | None
) -> Iterator[str | Answer]:
    """The one call of the assistant from the chat. `chosen`: the documents picked in «Искать в документах»
    (empty: all)."""
    return library.assistant.stream(text, turns, k=k, use_llm=llm_on, documents=list(chosen) if chosen else None)


def question_problem(text: str) -> str | None:
    """Why the question is not sent, in Russian; None when it is fine."""
    if not text:
        return "Введите вопрос."
    if len(text) > MAX_QUESTION_CHARS:
        return (
            f"Вопрос слишком длинный: {counted(len(text), 'символ')}, можно до {MAX_QUESTION_CHARS}. "
            "Сократите его — он не отправлен."
        )
    return None


def _session(request: gr.Request | None) -> str:
    """The page (browser tab) an event comes from."""
    return str(getattr(request, "session_hash", None) or "")


def _text_of(content: Any) -> str:
    """A chat message's text (Gradio hands it back as a string or as a list of typed parts)."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")
