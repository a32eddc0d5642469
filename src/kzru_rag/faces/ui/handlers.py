"""What the page's events do: module-level handlers, each given the `Library` it works on (bound by `app.build_app`
with `functools.partial`) and returning the updates of the components it is wired to, in their order."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

import gradio as gr

from kzru_rag.errors import KzruRagError, SourceError
from kzru_rag.faces.ui.app_data import UsersConversations
from kzru_rag.faces.ui.collection import collection_view
from kzru_rag.faces.ui.conversation import Store, chat_messages, to_markdown
from kzru_rag.faces.ui.failures import file_named, in_russian
from kzru_rag.faces.ui.render import (
    answer_mode,
    escape_markdown,
    mark,
    passage_label,
    render_document,
    render_status,
)
from kzru_rag.faces.ui.uploads import (
    TYPE_PROBLEM,
    add_report,
    rebuild_progress,
    removal_report,
    size_problem,
    uploaded_name,
)
from kzru_rag.index.progress import BuildProgress
from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES, Document
from kzru_rag.language.words import counted
from kzru_rag.library import Library
from kzru_rag.schema import Hit
from kzru_rag.stores.manifest import IndexManifest

log = logging.getLogger(__name__)

CHOOSE_UPLOAD = "Выберите загруженный документ."


# ---------------------------------------------------------------- the chat


def documents(library: Library) -> dict[str, Document]:
    return library.retriever.index.documents  # read at each call: a rebuild swaps the index


def dialogue_list(store: Store) -> dict[str, Any]:
    """«Мои диалоги»: the saved conversations by title, the open one chosen."""
    return gr.update(choices=[(c.title, c.id) for c in store.conversations], value=store.current)


def restored(state: Any) -> Store:
    """The conversations kept in the browser; an unreadable value starts afresh."""
    try:
        return Store.from_state(state)
    except ValueError as err:
        log.warning("starting without saved conversations: %s", err)
        return Store()


def shown(library: Library, store: Store) -> tuple[Any, ...]:
    """For the open conversation: the chat, the cited hits, the source picker, the document view, the download;
    and the list of conversations."""
    turns = store.turns()
    hits = turns[-1].answer.citations if turns else []
    first = hits[0] if hits else None
    view = render_document(documents(library).get(first.doc_id), first) if first else render_document(None, None)
    path = _export(library, store)
    return (
        chat_messages(turns, documents(library)),
        hits,
        gr.update(choices=_choices(library, hits), value=0 if first else None),
        view,
        gr.update(value=path, interactive=path is not None),
        dialogue_list(store),
    )


def open_marker(library: Library, ref: str, state: Any) -> tuple[Any, ...]:
    """Source n of answer t (`ref` is "t:n:click-stamp", sent by a click on a marker)."""
    turns = restored(state).turns()
    try:
        turn, number = (int(part) for part in ref.split(":")[:2])
        hits = turns[turn].answer.citations
        hit = hits[number - 1]
    except (ValueError, IndexError):
        log.warning("a citation marker points at no source: %r", ref)
        return gr.skip(), gr.skip(), gr.skip()
    view = render_document(documents(library).get(hit.doc_id), hit)
    return hits, gr.update(choices=_choices(library, hits), value=number - 1), view


def show_source(library: Library, position: int | None, hits: list[Hit]) -> str:
    """The document view of the cited passage picked in «Показать в документе»."""
    if position is None or not 0 <= position < len(hits):
        return render_document(None, None)
    hit = hits[position]
    return render_document(documents(library).get(hit.doc_id), hit)


def mode_line(model: str | None, llm_on: bool) -> str:
    """The line under the question box as the LLM checkbox is ticked or not."""
    return answer_mode(model if llm_on else None)


def _export(library: Library, store: Store) -> str | None:
    """The open conversation written to a Markdown file for «Скачать диалог» (None when it is empty)."""
    conversation = store.open()
    if conversation is None or not conversation.turns:
        return None
    text = to_markdown(conversation.turns, conversation.title, documents(library))
    folder = Path(tempfile.gettempdir()) / "kzru-rag-dialogues" / hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dialog.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _choices(library: Library, hits: list[Hit]) -> list[tuple[str, int]]:
    return [(passage_label(n, hit, documents(library)), n - 1) for n, hit in enumerate(hits, 1)]


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
    results = [add_report(library, path, uploaded_name(path)) for path in files or []]
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


REBUILD_TICK_SECONDS = 0.5
"""How often the rebuild log is renewed while a rebuild runs (its time moves even when the build says nothing)."""


def rebuild_index(library: Library) -> Iterator[str]:
    """Rebuild the index: the rebuild log, its progress renewed every `REBUILD_TICK_SECONDS`, then the outcome
    (`after_rebuild` renews the rest of the page)."""
    if library.rebuilding:
        yield f"{mark(False)} Перестройка уже идёт (в этой или другой вкладке); дождитесь её окончания."
        return
    start = time.monotonic()
    reports: list[BuildProgress] = []
    built: Future[IndexManifest] = Future()
    threading.Thread(
        target=_rebuild, args=(library, reports.append, built), name="kzru-rag-rebuild", daemon=True
    ).start()
    while not built.done():
        yield rebuild_progress(reports[-1] if reports else None, time.monotonic() - start)
        wait([built], timeout=REBUILD_TICK_SECONDS)
    try:
        manifest = built.result()
    except KzruRagError as err:
        log.warning("index rebuild failed: %s", err)
        said = f"Индекс не перестроен, работает прежний. Причина: {in_russian(err)}{_remedy(library, err)}"
        yield f"{mark(False)} {escape_markdown(said)}"
        return
    counts = f"{counted(len(manifest.documents), 'документ')}, {counted(manifest.chunk_count, 'фрагмент')}"
    yield f"{mark(True)} Индекс перестроен: {counts}."


def _remedy(library: Library, err: KzruRagError) -> str:
    """What to do when the rebuild failed on a file of the documents folder (a broken file put there by hand, or one
    spoilt since its upload): re-saving it, as the reason says, cannot be done from the page."""
    source = err if isinstance(err, SourceError) else err.__cause__
    if not isinstance(source, SourceError) or (named := file_named(source)) is None:
        return ""
    upload = next((path for path in library.uploads() if path.resolve() == Path(named).resolve()), None)
    if upload is None:
        return ""
    return (
        f". Удалите «{upload.name}» в списке «Загруженные документы» или загрузите исправленный файл с тем же "
        "именем, затем перестройте индекс снова."
    )


def _rebuild(library: Library, progress: Callable[[BuildProgress], None], built: Future[IndexManifest]) -> None:
    """`library.rebuild(progress)`, its outcome (manifest or error) set on `built`."""
    try:
        built.set_result(library.rebuild(progress))
    except BaseException as err:  # handed to the handler, which words it
        built.set_exception(err)


def after_rebuild(library: Library) -> tuple[Any, ...]:
    """After a rebuild (or a refused one): the status, the uploads list, the rebuild button (enabled again) and the
    collection's words."""
    return render_status(library), upload_choices(library), gr.update(interactive=True), *described(library)


# ---------------------------------------------------------------- the page and the API


def loader(library: Library, users: UsersConversations) -> Callable[[Any, gr.Request], tuple[Any, ...]]:
    """The page (re)load handler over `library` (a plain function: Gradio hands `gr.Request` to a parameter it can
    see annotated, which a `functools.partial` hides)."""

    def loaded(state: Any, request: gr.Request) -> tuple[Any, ...]:
        return on_load(library, users.opened(state, request))

    return loaded


def on_load(library: Library, state: Any) -> tuple[Any, ...]:
    """A page (re)load: the status, the uploads list, the rebuild button; the collection's words; the saved
    conversation shown, and the conversations (with a login, the user's kept on the server)."""
    ready = gr.update(interactive=not library.rebuilding)
    status = render_status(library), upload_choices(library), ready
    return *status, *described(library), *shown(library, restored(state)), state


def described(library: Library) -> tuple[Any, ...]:
    """The collection's words: the header, the question box, the chat's placeholder, the examples, the filter."""
    view = collection_view(library)
    return (
        view.header,
        gr.update(placeholder=view.placeholder),
        gr.update(samples=[[q] for q in view.examples]),
        gr.update(choices=view.choices, value=[]),
    )


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
