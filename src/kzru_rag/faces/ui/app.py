"""The browser interface (Gradio, in Russian) over a `collection.Library`: the «Чат» and «Индекс» tabs and the `/ask` API.

The conversation lives in the browser (`gr.BrowserState`), so a reload keeps it until «Новый диалог».
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import gradio as gr

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.ui.assets import CSS, I18N, PAGE_JS, SCROLL_TO_CITED, THEME
from kzru_rag.faces.ui.conversation import Turn, chat_messages, from_state, history, to_markdown, to_state
from kzru_rag.faces.ui.render import (
    answer_mode,
    escape_markdown,
    mark,
    render_document,
    render_status,
    render_streaming,
)
from kzru_rag.faces.ui.uploads import TYPE_PROBLEM, add_report, removal_report, size_problem
from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES
from kzru_rag.library import MAX_PASSAGES, MAX_UPLOAD_BYTES, Library
from kzru_rag.schema import Answer, Hit

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
EXAMPLES = [
    "Когда состоится государственный визит Токаева в Москву?",
    "Где проходит XXI форум межрегионального сотрудничества?",
    "Какую электростанцию планируют модернизировать?",
    "Филиал какого казахстанского университета открыт в Омске?",
    "Which side events are planned at the forum?",
    "Тоқаев Мәскеуге қашан барады?",
]
HEADER = (
    "## Вопросы по документу\n"
    "Анализ государственного визита Президента Казахстана в Россию (11–12 ноября 2025 г.). "
    "Ответ составляется только из документа; у каждого утверждения — ссылка [n] на фрагмент: "
    "нажмите на неё, чтобы открыть фрагмент в документе."
)
NO_LLM = "Языковая модель не подключена: задайте KZRU_RAG_LLM_MODEL (см. README, «Подключение языковой модели»)."


def _model_name(library: Library) -> str | None:
    return str(getattr(library.llm, "model", getattr(library.llm, "name", "LLM"))) if library.llm else None


def _export(turns: list[Turn]) -> str | None:
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


def build_app(library: Library) -> gr.Blocks:
    """The Gradio interface over `library`: the «Чат» and «Индекс» tabs and the `/ask` API."""
    model = _model_name(library)
    with gr.Blocks(title="kzru-rag — вопросы по документу", analytics_enabled=False) as demo:
        saved = gr.BrowserState([], storage_key="kzru-rag-dialogue")
        cited = gr.State([])
        gr.Markdown(HEADER)
        with gr.Tabs():
            with gr.Tab("Чат", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="Диалог",
                            show_label=False,
                            elem_id="kz-chat",
                            height=560,
                            buttons=["copy"],
                            feedback_options=None,
                            placeholder="Задайте вопрос о документе — например, один из примеров ниже.",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="Ваш вопрос о документе…",
                                show_label=False,
                                container=False,
                                scale=6,
                                elem_id="kz-question",
                                autofocus=True,
                            )
                            ask = gr.Button("Спросить", variant="primary", scale=1, min_width=120, elem_id="kz-ask")
                        mode = gr.Markdown(answer_mode(model), elem_id="kz-mode")
                        gr.Examples([[q] for q in EXAMPLES], inputs=question, label="Примеры вопросов")
                        with gr.Row():
                            with gr.Accordion("Настройки", open=False):
                                passages = gr.Slider(
                                    1, MAX_PASSAGES, value=library.k, step=1, label="Сколько фрагментов искать"
                                )
                                use_llm = gr.Checkbox(
                                    value=model is not None,
                                    label=f"Ответ языковой модели ({model})" if model else "Ответ языковой модели",
                                    info=None if model else NO_LLM,
                                    interactive=model is not None,
                                    elem_id="kz-use-llm",
                                )
                            clear = gr.Button("Новый диалог", size="sm", scale=0, min_width=140)
                            download = gr.DownloadButton(
                                "Скачать диалог",
                                size="sm",
                                scale=0,
                                min_width=140,
                                interactive=False,
                                elem_id="kz-download",
                            )
                        opener = gr.Textbox(visible="hidden", elem_id="kz-open")
                    with gr.Column(scale=2):
                        pick = gr.Radio(label="Показать в документе", choices=[], elem_id="kz-pick")
                        document = gr.HTML(
                            render_document(None, None), elem_id="kz-document", js_on_load=SCROLL_TO_CITED
                        )
            with gr.Tab("Индекс", id="index"):
                status = gr.HTML(elem_id="kz-status")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(
                            label=f"Добавить документы ({', '.join(sorted(SUPPORTED_SUFFIXES))} в UTF-8, до {MAX_UPLOAD_BYTES // 2**20} МБ каждый)",
                            file_count="multiple",
                            file_types=sorted(SUPPORTED_SUFFIXES),
                            elem_id="kz-upload",
                        )
                        refused = gr.Textbox(visible="hidden", elem_id="kz-refused")
                        upload_log = gr.Markdown(elem_id="kz-upload-log")
                    with gr.Column():
                        uploaded = gr.Dropdown(label="Загруженные документы", choices=[], elem_id="kz-uploaded")
                        remove = gr.Button("Удалить выбранный документ", size="sm", elem_id="kz-remove")
                        with gr.Group(visible=False, elem_id="kz-confirm") as confirm:
                            confirm_text = gr.Markdown()
                            with gr.Row():
                                confirm_yes = gr.Button(
                                    "Да, удалить", variant="stop", size="sm", elem_id="kz-remove-yes"
                                )
                                confirm_no = gr.Button("Отмена", size="sm", elem_id="kz-remove-no")
                        rebuild = gr.Button("Перестроить индекс", variant="primary", elem_id="kz-rebuild")
                        rebuild_log = gr.Markdown(elem_id="kz-rebuild-log")

        def documents() -> dict[str, Any]:
            return library.retriever.index.documents  # read at each call: a rebuild swaps the index

        def upload_choices() -> dict[str, Any]:
            return gr.update(choices=[p.name for p in library.uploads()], value=None)

        def restored(state: Any) -> list[Turn]:
            try:
                return from_state(state)
            except ValueError as err:
                log.warning("starting a new conversation: %s", err)
                return []

        def shown(turns: list[Turn]) -> tuple[Any, ...]:
            """The chat, the cited hits, the source picker, the document view and the download for `turns`."""
            hits = turns[-1].answer.citations if turns else []
            first = hits[0] if hits else None
            view = render_document(documents().get(first.doc_id), first) if first else render_document(None, None)
            path = _export(turns)
            return (
                chat_messages(turns, documents()),
                hits,
                gr.update(choices=_choices(hits), value=0 if first else None),
                view,
                gr.update(value=path, interactive=path is not None),
            )

        def respond(text: str, state: Any, k: float, llm_on: bool) -> Iterator[tuple[Any, ...]]:
            text = (text or "").strip()
            skip = (gr.skip(),) * 7
            if not text:
                gr.Warning("Введите вопрос о документе.")
                yield skip
                return
            if len(text) > MAX_QUESTION_CHARS:
                gr.Warning(
                    f"Вопрос слишком длинный: {len(text)} символов, можно до {MAX_QUESTION_CHARS}. Сократите его — он не отправлен."
                )
                yield skip
                return
            turns = restored(state)
            messages = [*chat_messages(turns, documents()), {"role": "user", "content": escape_markdown(text)}]
            messages.append({"role": "assistant", "content": "…"})
            yield messages, gr.skip(), "", *skip[:4]
            assistant = library.assistant
            streamed = ""
            answer: Answer | None = None
            try:
                for item in assistant.stream(text, history(turns), k=int(k), use_llm=bool(llm_on)):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        streamed += item
                        messages[-1] = {"role": "assistant", "content": render_streaming(streamed)}
                        yield messages, *skip[:6]
            except (KzruRagError, ValueError) as err:
                messages[-1] = {
                    "role": "assistant",
                    "content": f'<div class="kz-notice">⚠ {escape_markdown(str(err))}</div>',
                }
                yield messages, *skip[:6]
                return
            assert answer is not None
            turns.append(Turn(text, answer))
            chat, hits, choices, view, path = shown(turns)
            yield chat, to_state(turns), gr.skip(), hits, choices, view, path

        def open_marker(ref: str, state: Any) -> tuple[Any, ...]:
            """Source n of answer t (`ref` is "t:n:click-stamp", sent by a click on a marker)."""
            turns = restored(state)
            try:
                turn, number = (int(part) for part in ref.split(":")[:2])
                hits = turns[turn].answer.citations
                hit = hits[number - 1]
            except (ValueError, IndexError):
                log.warning("a citation marker points at no source: %r", ref)
                return gr.skip(), gr.skip(), gr.skip()
            view = render_document(documents().get(hit.doc_id), hit)
            return hits, gr.update(choices=_choices(hits), value=number - 1), view

        def show_source(position: int | None, hits: list[Hit]) -> str:
            if position is None or not 0 <= position < len(hits):
                return render_document(None, None)
            hit = hits[position]
            return render_document(documents().get(hit.doc_id), hit)

        def reset() -> tuple[Any, ...]:
            return [], *shown([])

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
                problem = (
                    size_problem(int(file.get("size", 0)))
                    if Path(name).suffix.lower() in SUPPORTED_SUFFIXES
                    else TYPE_PROBLEM
                )
                lines.append(f"- {mark(False)} {escape_markdown(f'«{name}» не добавлен: {problem}')}")
            return lines

        def add_files(files: list[str] | None, value: str) -> tuple[Any, ...]:
            results = [add_report(library, path) for path in files or []]
            lines = refusals(value) + [
                f"- {mark(accepted)} {escape_markdown(message)}" for accepted, message in results
            ]
            return "\n".join(lines), render_status(library), upload_choices(), None

        def ask_removal(name: str | None) -> tuple[Any, ...]:
            if not name:
                return "Выберите загруженный документ.", gr.update(visible=False), ""
            return (
                "",
                gr.update(visible=True),
                escape_markdown(f"Удалить «{name}»? После перестройки индекса он уйдёт из поиска."),
            )

        def remove_file(name: str | None) -> tuple[Any, ...]:
            message = removal_report(library, name) if name else "Выберите загруженный документ."
            return escape_markdown(message), render_status(library), upload_choices(), gr.update(visible=False)

        def rebuild_index(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            if library.rebuilding:
                message = f"{mark(False)} Перестройка уже идёт (в этой или другой вкладке); дождитесь её окончания."
                return message, render_status(library), upload_choices(), gr.update(interactive=True)
            progress(0, desc="Чтение документов…")

            def report(done: int, total: int) -> None:
                if total:
                    progress((done, total), desc="Векторизация фрагментов и словаря", unit="текст.")

            try:
                manifest = library.rebuild(report)
                message = f"{mark(True)} Индекс перестроен: {len(manifest.documents)} док., {manifest.chunk_count} фрагментов."
            except KzruRagError as err:
                log.warning("index rebuild failed: %s", err)
                message = f"{mark(False)} Индекс не перестроен, работает прежний. Причина: {escape_markdown(str(err))}"
            return message, render_status(library), upload_choices(), gr.update(interactive=True)

        private = {"api_visibility": "private"}
        chat_outputs = [chatbot, saved, question, cited, pick, document, download]
        for trigger in (question.submit, ask.click):
            trigger(respond, [question, saved, passages, use_llm], chat_outputs, **private)
        opener.change(open_marker, [opener, saved], [cited, pick, document], **private)
        pick.input(show_source, [pick, cited], document, **private)
        for trigger in (clear.click, chatbot.clear):
            trigger(reset, None, [saved, chatbot, cited, pick, document, download], **private)
        use_llm.change(lambda on: answer_mode(model if on else None), use_llm, mode, **private)
        refused.change(lambda value: "\n".join(refusals(value)), refused, upload_log, queue=False, **private)
        upload.upload(add_files, [upload, refused], [upload_log, status, uploaded, upload], **private)
        remove.click(ask_removal, uploaded, [upload_log, confirm, confirm_text], **private)
        confirm_no.click(lambda: gr.update(visible=False), None, confirm, **private)
        confirm_yes.click(remove_file, uploaded, [upload_log, status, uploaded, confirm], **private)
        rebuild.click(lambda: gr.update(interactive=False), None, rebuild, queue=False, **private).then(
            rebuild_index,
            None,
            [rebuild_log, status, uploaded, rebuild],
            concurrency_limit=None,
            show_progress_on=rebuild_log,
            **private,
        )
        demo.load(
            lambda state: (
                render_status(library),
                upload_choices(),
                gr.update(interactive=not library.rebuilding),
                *shown(restored(state)),
            ),
            saved,
            [status, uploaded, rebuild, chatbot, cited, pick, document, download],
            **private,
        )

        def ask_api(question: str, k: int = library.k, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
            """Answer a question about the document: text with [n] markers, citations (passages), abstained."""
            try:
                return library.assistant.ask(question, history or [], k=int(k)).to_dict()
            except (KzruRagError, ValueError) as err:
                log.warning("/ask refused: %s", err)
                raise gr.Error(str(err), print_exception=False) from err

        gr.api(ask_api, api_name="ask")
    return demo


def launch_app(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]] | None = None,
) -> str:
    """Serve the app; return its local URL (when `prevent_thread_lock`, the server runs in the background).

    `lifespan` runs with the server (`faces.mounts.beside_the_ui` mounts the API and MCP on it)."""
    _, url, _ = demo.queue(default_concurrency_limit=2).launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="Войдите, чтобы задавать вопросы по документу." if auth else None,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        ssr_mode=False,
        footer_links=["api"],
        max_file_size=MAX_UPLOAD_BYTES,
        theme=THEME,
        css=CSS,
        i18n=I18N,
        js=PAGE_JS,
        app_kwargs={"lifespan": lifespan} if lifespan else None,
    )
    return url
