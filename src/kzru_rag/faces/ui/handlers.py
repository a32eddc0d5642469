"""What the page's events do: module-level handlers, each given the `Library` it works on (bound by `app.build_app`
with `functools.partial`) and returning the updates of the components it is wired to, in their order."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.ui.conversation import ChatTurn, chat_messages, from_state, history, to_markdown, to_state
from kzru_rag.faces.ui.render import (
    answer_mode,
    escape_markdown,
    mark,
    render_document,
    render_status,
    render_streaming,
)
from kzru_rag.faces.ui.uploads import TYPE_PROBLEM, add_report, removal_report, size_problem
from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES, Document
from kzru_rag.library import Library
from kzru_rag.schema import Answer, Hit

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
"""The longest question the chat sends; a longer one is refused with a warning."""
CHOOSE_UPLOAD = "Выберите загруженный документ."


# ---------------------------------------------------------------- the chat


def documents(library: Library) -> dict[str, Document]:
    return library.retriever.index.documents  # read at each call: a rebuild swaps the index


def restored(state: Any) -> list[ChatTurn]:
    """The conversation kept in the browser; an unreadable one starts a new conversation."""
    try:
        return from_state(state)
    except ValueError as err:
        log.warning("starting a new conversation: %s", err)
        return []


def shown(library: Library, turns: list[ChatTurn]) -> tuple[Any, ...]:
    """The chat, the cited hits, the source picker, the document view and the download for `turns`."""
    hits = turns[-1].answer.citations if turns else []
    first = hits[0] if hits else None
    view = render_document(documents(library).get(first.doc_id), first) if first else render_document(None, None)
    path = _export(turns)
    return (
        chat_messages(turns, documents(library)),
        hits,
        gr.update(choices=_choices(hits), value=0 if first else None),
        view,
        gr.update(value=path, interactive=path is not None),
    )


def respond(library: Library, text: str, state: Any, k: float, llm_on: bool) -> Iterator[tuple[Any, ...]]:
    """Ask the question, streaming the answer into the chat: chat, saved state, question box, cited hits, picker,
    document view, download."""
    text = (text or "").strip()
    skip = (gr.skip(),) * 7
    if problem := _question_problem(text):
        gr.Warning(problem)
        yield skip
        return
    turns = restored(state)
    messages = [*chat_messages(turns, documents(library)), {"role": "user", "content": escape_markdown(text)}]
    messages.append({"role": "assistant", "content": "…"})
    yield messages, gr.skip(), "", *skip[:4]
    streamed = ""
    answer: Answer | None = None
    try:
        for item in library.assistant.stream(text, history(turns), k=int(k), use_llm=bool(llm_on)):
            if isinstance(item, Answer):
                answer = item
            else:
                streamed += item
                messages[-1] = {"role": "assistant", "content": render_streaming(streamed)}
                yield messages, *skip[:6]
    except (KzruRagError, ValueError) as err:
        notice = f'<div class="kz-notice">⚠ {escape_markdown(str(err))}</div>'
        messages[-1] = {"role": "assistant", "content": notice}
        yield messages, *skip[:6]
        return
    assert answer is not None
    turns.append(ChatTurn(text, answer))
    chat, hits, choices, view, path = shown(library, turns)
    yield chat, to_state(turns), gr.skip(), hits, choices, view, path


def _question_problem(text: str) -> str | None:
    """Why the question is not sent, in Russian; None when it is fine."""
    if not text:
        return "Введите вопрос о документе."
    if len(text) > MAX_QUESTION_CHARS:
        return (
            f"Вопрос слишком длинный: {len(text)} символов, можно до {MAX_QUESTION_CHARS}. "
            "Сократите его — он не отправлен."
        )
    return None


def open_marker(library: Library, ref: str, state: Any) -> tuple[Any, ...]:
    """Source n of answer t (`ref` is "t:n:click-stamp", sent by a click on a marker)."""
    turns = restored(state)
    try:
        turn, number = (int(part) for part in ref.split(":")[:2])
        hits = turns[turn].answer.citations
        hit = hits[number - 1]
    except (ValueError, IndexError):
        log.warning("a citation marker points at no source: %r", ref)
        return gr.skip(), gr.skip(), gr.skip()
    view = render_document(documents(library).get(hit.doc_id), hit)
    return hits, gr.update(choices=_choices(hits), value=number - 1), view


def show_source(library: Library, position: int | None, hits: list[Hit]) -> str:
    """The document view of the cited passage picked in «Показать в документе»."""
    if position is None or not 0 <= position < len(hits):
        return render_document(None, None)
    hit = hits[position]
    return render_document(documents(library).get(hit.doc_id), hit)


def reset(library: Library) -> tuple[Any, ...]:
    """«Новый диалог»: an empty saved state and everything shown for no turns."""
    return [], *shown(library, [])


def mode_line(model: str | None, llm_on: bool) -> str:
    """The line under the question box as the LLM checkbox is ticked or not."""
    return answer_mode(model if llm_on else None)


def _export(turns: list[ChatTurn]) -> str | None:
    """The conversation written to a Markdown file for «Скачать диалог» (None when it is empty)."""
    if not turns:
        return None
    text = to_markdown(turns)
    folder = Path(tempfile.gettempdir()) / "kzru-rag-dialogues" / hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dialog.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _choices(hits: list[Hit]) -> list[tuple[str, int]]:
    return [(f"[{n}] абзац {hit.metadata.get('paragraph', '?')}", n - 1) for n, hit in enumerate(hits, 1)]


# ---------------------------------------------------------------- the «Индекс» tab


def upload_choices(library: Library) -> dict[str, Any]:
    return gr.update(choices=[p.name for p in library.uploads()], value=None)


def refusals(value: str) -> list[str]:
    """This batch's files kept from uploading by the page (too big or of another type), as log lines."""
    try:
        files = json.loads(value or "{}").get("files", [])
    except (json.JSONDecodeError, AttributeError):
        log.warning("unreadable list of refused uploads: %r", value)
        return []
    lines = []
    for file in files:
        name = str(file.get("name", "?"))
        if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
            problem = size_problem(int(file.get("size", 0)))
        else:
            problem = TYPE_PROBLEM
        lines.append(f"- {mark(False)} {escape_markdown(f'«{name}» не добавлен: {problem}')}")
    return lines


def refusal_log(value: str) -> str:
    return "\n".join(refusals(value))


def add_files(library: Library, files: list[str] | None, value: str) -> tuple[Any, ...]:
    """Add the uploaded files: the upload log, the status, the uploads list, an emptied upload box."""
    results = [add_report(library, path) for path in files or []]
    lines = refusals(value) + [f"- {mark(accepted)} {escape_markdown(message)}" for accepted, message in results]
    return "\n".join(lines), render_status(library), upload_choices(library), None


def ask_removal(name: str | None) -> tuple[Any, ...]:
    """The upload log, the confirmation box and its question for removing `name`."""
    if not name:
        return CHOOSE_UPLOAD, gr.update(visible=False), ""
    question = escape_markdown(f"Удалить «{name}»? После перестройки индекса он уйдёт из поиска.")
    return "", gr.update(visible=True), question


def remove_file(library: Library, name: str | None) -> tuple[Any, ...]:
    message = removal_report(library, name) if name else CHOOSE_UPLOAD
    return escape_markdown(message), render_status(library), upload_choices(library), gr.update(visible=False)


def rebuild_index(library: Library, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    """Rebuild the index, reporting progress: the rebuild log, the status, the uploads list, the rebuild button."""
    if library.rebuilding:
        message = f"{mark(False)} Перестройка уже идёт (в этой или другой вкладке); дождитесь её окончания."
        return message, render_status(library), upload_choices(library), gr.update(interactive=True)
    progress(0, desc="Чтение документов…")

    def report(done: int, total: int) -> None:
        if total:
            progress((done, total), desc="Векторизация фрагментов и словаря", unit="текст.")

    try:
        manifest = library.rebuild(report)
        counts = f"{len(manifest.documents)} док., {manifest.chunk_count} фрагментов"
        message = f"{mark(True)} Индекс перестроен: {counts}."
    except KzruRagError as err:
        log.warning("index rebuild failed: %s", err)
        message = f"{mark(False)} Индекс не перестроен, работает прежний. Причина: {escape_markdown(str(err))}"
    return message, render_status(library), upload_choices(library), gr.update(interactive=True)


# ---------------------------------------------------------------- the page and the API


def on_load(library: Library, state: Any) -> tuple[Any, ...]:
    """A page (re)load: the status, the uploads list, the rebuild button, and the saved conversation shown."""
    ready = gr.update(interactive=not library.rebuilding)
    return render_status(library), upload_choices(library), ready, *shown(library, restored(state))


def ask_endpoint(library: Library) -> Callable[..., dict[str, Any]]:
    """The `/ask` API function over `library` (its `k` the default)."""

    def ask_api(question: str, k: int = library.k, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer a question about the document: text with [n] markers, citations (passages), abstained."""
        try:
            return library.assistant.ask(question, history or [], k=int(k)).to_dict()
        except (KzruRagError, ValueError) as err:
            log.warning("/ask refused: %s", err)
            raise gr.Error(str(err), print_exception=False) from err

    return ask_api
