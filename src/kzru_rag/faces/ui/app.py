"""The browser interface (Gradio, in Russian) over a `library.Library`: the «Чат» and «Индекс» tabs and the `/ask` API.

`build_app` lays the page out and wires each event to its handler in `handlers`, bound to the library with
`functools.partial`. The conversation lives in the browser (`gr.BrowserState`), so a reload keeps it until
«Новый диалог».
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from kzru_rag.faces.replies import MAX_PASSAGES
from kzru_rag.faces.ui.assets import CSS, I18N, PAGE_JS, SCROLL_TO_CITED, THEME
from kzru_rag.faces.ui.handlers import (
    add_files,
    ask_endpoint,
    ask_removal,
    mode_line,
    on_load,
    open_marker,
    rebuild_index,
    refusal_log,
    remove_file,
    reset,
    respond,
    show_source,
)
from kzru_rag.faces.ui.render import answer_mode, render_document
from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES
from kzru_rag.library import MAX_UPLOAD_BYTES, Library

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
PRIVATE = {"api_visibility": "private"}
"""The chat's and the index tab's events stay out of the public API (only `/ask` is in it)."""


@dataclass(frozen=True)
class ChatTab:
    """The «Чат» tab's components that events read or update."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    mode: gr.Markdown
    passages: gr.Slider
    use_llm: gr.Checkbox
    clear: gr.Button
    download: gr.DownloadButton
    opener: gr.Textbox
    pick: gr.Radio
    document: gr.HTML


@dataclass(frozen=True)
class IndexTab:
    """The «Индекс» tab's components that events read or update."""

    status: gr.HTML
    upload: gr.File
    refused: gr.Textbox
    upload_log: gr.Markdown
    uploaded: gr.Dropdown
    remove: gr.Button
    confirm: gr.Group
    confirm_text: gr.Markdown
    confirm_yes: gr.Button
    confirm_no: gr.Button
    rebuild: gr.Button
    rebuild_log: gr.Markdown


def build_app(library: Library) -> gr.Blocks:
    """The Gradio interface over `library`: the «Чат» and «Индекс» tabs and the `/ask` API."""
    if not 1 <= library.k <= MAX_PASSAGES:
        raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
    model = _model_name(library)
    with gr.Blocks(title="kzru-rag — вопросы по документу", analytics_enabled=False) as demo:
        saved = gr.BrowserState([], storage_key="kzru-rag-dialogue")
        cited = gr.State([])
        gr.Markdown(HEADER)
        with gr.Tabs():
            with gr.Tab("Чат", id="chat"):
                chat = _chat_tab(library, model)
            with gr.Tab("Индекс", id="index"):
                index = _index_tab()
        _wire_chat(library, model, chat, saved, cited)
        _wire_index(library, index)
        demo.load(
            partial(on_load, library),
            saved,
            [index.status, index.uploaded, index.rebuild, chat.chatbot, cited, chat.pick, chat.document, chat.download],
            **PRIVATE,
        )
        gr.api(ask_endpoint(library), api_name="ask")
    return demo


def _model_name(library: Library) -> str | None:
    return str(getattr(library.llm, "model", getattr(library.llm, "name", "LLM"))) if library.llm else None


def _chat_tab(library: Library, model: str | None) -> ChatTab:
    """The conversation, the question box and its settings on the left; the cited document on the right."""
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
                passages, use_llm = _settings(library, model)
                clear = gr.Button("Новый диалог", size="sm", scale=0, min_width=140)
                download = gr.DownloadButton(
                    "Скачать диалог", size="sm", scale=0, min_width=140, interactive=False, elem_id="kz-download"
                )
            opener = gr.Textbox(visible="hidden", elem_id="kz-open")
        with gr.Column(scale=2):
            pick = gr.Radio(label="Показать в документе", choices=[], elem_id="kz-pick")
            document = gr.HTML(render_document(None, None), elem_id="kz-document", js_on_load=SCROLL_TO_CITED)
    return ChatTab(chatbot, question, ask, mode, passages, use_llm, clear, download, opener, pick, document)


def _settings(library: Library, model: str | None) -> tuple[gr.Slider, gr.Checkbox]:
    """«Настройки»: how many passages to search, and whether the LLM answers."""
    with gr.Accordion("Настройки", open=False):
        passages = gr.Slider(1, MAX_PASSAGES, value=library.k, step=1, label="Сколько фрагментов искать")
        use_llm = gr.Checkbox(
            value=model is not None,
            label=f"Ответ языковой модели ({model})" if model else "Ответ языковой модели",
            info=None if model else NO_LLM,
            interactive=model is not None,
            elem_id="kz-use-llm",
        )
    return passages, use_llm


def _index_tab() -> IndexTab:
    """The status table; uploading on the left; removing uploads and rebuilding on the right."""
    status = gr.HTML(elem_id="kz-status")
    with gr.Row():
        with gr.Column():
            suffixes = ", ".join(sorted(SUPPORTED_SUFFIXES))
            upload = gr.File(
                label=f"Добавить документы ({suffixes} в UTF-8, до {MAX_UPLOAD_BYTES // 2**20} МБ каждый)",
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
                    confirm_yes = gr.Button("Да, удалить", variant="stop", size="sm", elem_id="kz-remove-yes")
                    confirm_no = gr.Button("Отмена", size="sm", elem_id="kz-remove-no")
            rebuild = gr.Button("Перестроить индекс", variant="primary", elem_id="kz-rebuild")
            rebuild_log = gr.Markdown(elem_id="kz-rebuild-log")
    return IndexTab(
        status,
        upload,
        refused,
        upload_log,
        uploaded,
        remove,
        confirm,
        confirm_text,
        confirm_yes,
        confirm_no,
        rebuild,
        rebuild_log,
    )


def _wire_chat(library: Library, model: str | None, chat: ChatTab, saved: gr.BrowserState, cited: gr.State) -> None:
    """Asking, opening a cited passage, starting over and switching the LLM on or off."""
    outputs = [chat.chatbot, saved, chat.question, cited, chat.pick, chat.document, chat.download]
    inputs = [chat.question, saved, chat.passages, chat.use_llm]
    for trigger in (chat.question.submit, chat.ask.click):
        trigger(partial(respond, library), inputs, outputs, **PRIVATE)
    chat.opener.change(
        partial(open_marker, library), [chat.opener, saved], [cited, chat.pick, chat.document], **PRIVATE
    )
    chat.pick.input(partial(show_source, library), [chat.pick, cited], chat.document, **PRIVATE)
    cleared = [saved, chat.chatbot, cited, chat.pick, chat.document, chat.download]
    for trigger in (chat.clear.click, chat.chatbot.clear):
        trigger(partial(reset, library), None, cleared, **PRIVATE)
    chat.use_llm.change(partial(mode_line, model), chat.use_llm, chat.mode, **PRIVATE)


def _wire_index(library: Library, index: IndexTab) -> None:
    """Uploading (and the page's refusals), removing an upload after a confirmation, and rebuilding."""
    index.refused.change(refusal_log, index.refused, index.upload_log, queue=False, **PRIVATE)
    index.upload.upload(
        partial(add_files, library),
        [index.upload, index.refused],
        [index.upload_log, index.status, index.uploaded, index.upload],
        **PRIVATE,
    )
    index.remove.click(ask_removal, index.uploaded, [index.upload_log, index.confirm, index.confirm_text], **PRIVATE)
    index.confirm_no.click(lambda: gr.update(visible=False), None, index.confirm, **PRIVATE)
    index.confirm_yes.click(
        partial(remove_file, library),
        index.uploaded,
        [index.upload_log, index.status, index.uploaded, index.confirm],
        **PRIVATE,
    )
    index.rebuild.click(lambda: gr.update(interactive=False), None, index.rebuild, queue=False, **PRIVATE).then(
        partial(rebuild_index, library),
        None,
        [index.rebuild_log, index.status, index.uploaded, index.rebuild],
        concurrency_limit=None,
        show_progress_on=index.rebuild_log,
        **PRIVATE,
    )


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
