"""The browser interface (Gradio, in Russian) over a `library.Library`: the «Чат» and «Индекс» tabs and the `/ask` API.

`build_app` lays the page out and wires each event to its handler in `handlers` and `dialogues`, bound to the library
with `functools.partial`. The conversations live in the browser (`gr.BrowserState`, encrypted with a key kept in the
app's data folder, so they outlive a restart of the app) and, with a login, also in that folder for the user
(`app_data`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from kzru_rag.faces.api import require_host
from kzru_rag.faces.replies import MAX_PASSAGES
from kzru_rag.faces.ui.app_data import UsersConversations, data_folder
from kzru_rag.faces.ui.asking import ChatAnswers
from kzru_rag.faces.ui.assets import CSS, I18N, PAGE_JS, SCROLL_TO_CITED, THEME
from kzru_rag.faces.ui.collection import CollectionView, collection_view
from kzru_rag.faces.ui.conversation import Store
from kzru_rag.faces.ui.dialogues import (
    CONFIRM_DELETE,
    browser_secret,
    delete_dialogue,
    new_dialogue,
    open_dialogue,
    rater,
    rename_dialogue,
)
from kzru_rag.faces.ui.handlers import (
    add_files,
    after_rebuild,
    ask_endpoint,
    ask_removal,
    loader,
    mode_line,
    open_marker,
    rebuild_index,
    refusal_log,
    remove_file,
    show_source,
)
from kzru_rag.faces.ui.render import answer_mode, render_document
from kzru_rag.ingest.documents import SUPPORTED_SUFFIXES
from kzru_rag.library import MAX_UPLOAD_BYTES, Library

NO_LLM = "Языковая модель не подключена: задайте KZRU_RAG_LLM_MODEL (см. README, «Подключение языковой модели»)."
PRIVATE = {"api_visibility": "private"}
"""The chat's and the index tab's events stay out of the public API (only `/ask` is in it)."""


@dataclass(frozen=True)
class ChatTab:
    """The «Чат» tab's components that events read or update."""

    dialogues: gr.Dropdown
    new: gr.Button
    delete: gr.Button
    download: gr.DownloadButton
    title: gr.Textbox
    rename: gr.Button
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    stop: gr.Button
    again: gr.Button
    within: gr.Dropdown
    mode: gr.Markdown
    examples: gr.Dataset
    passages: gr.Slider
    use_llm: gr.Checkbox
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
    rebuild_log: gr.HTML


def build_app(library: Library) -> gr.Blocks:
    """The Gradio interface over `library`: the «Чат» and «Индекс» tabs and the `/ask` API."""
    if not 1 <= library.k <= MAX_PASSAGES:
        raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
    model = _model_name(library)
    view = collection_view(library)
    with gr.Blocks(title="kzru-rag — вопросы по документам", analytics_enabled=False) as demo:
        users = UsersConversations(data_folder(library))
        saved = gr.BrowserState(
            Store().to_state(), storage_key="kzru-rag-conversations", secret=browser_secret(data_folder(library))
        )
        cited = gr.State([])
        header = gr.Markdown(view.header, elem_id="kz-header")
        with gr.Tabs():
            with gr.Tab("Чат", id="chat"):
                chat = _chat_tab(library, model)
            with gr.Tab("Индекс", id="index"):
                index = _index_tab()
        described = [header, chat.question, chat.examples, chat.within]
        _wire_chat(library, model, chat, saved, cited)
        _wire_index(library, index, described)
        shown = [chat.chatbot, cited, chat.pick, chat.document, chat.download, chat.dialogues]
        demo.load(
            loader(library, users),
            saved,
            [index.status, index.uploaded, index.rebuild, *described, *shown, saved],
            **PRIVATE,
        )
        saved.change(users.changed, saved, None, **PRIVATE)
        gr.api(ask_endpoint(library), api_name="ask")
    return demo


def _model_name(library: Library) -> str | None:
    return str(getattr(library.llm, "model", getattr(library.llm, "name", "LLM"))) if library.llm else None


def _chat_tab(library: Library, model: str | None) -> ChatTab:
    """The conversations above, the conversation and the question box with its settings on the left; the cited
    document on the right."""
    view = collection_view(library)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            dialogues, new, delete, download, title, rename = _dialogue_bar()
            chatbot = gr.Chatbot(
                label="Диалог",
                show_label=False,
                elem_id="kz-chat",
                height=560,
                buttons=["copy"],
                feedback_options=("Like", "Dislike"),
                placeholder="Задайте вопрос — например, один из примеров ниже.",
            )
            question, ask, stop, within, again = _question_bar(view)
            mode = gr.Markdown(answer_mode(model), elem_id="kz-mode")
            examples = gr.Dataset(
                components=[question],
                samples=[[q] for q in view.examples],
                label="Примеры вопросов",
                elem_id="kz-examples",
            )
            passages, use_llm = _settings(library, model)
            opener = gr.Textbox(visible="hidden", elem_id="kz-open")
        with gr.Column(scale=2):
            pick = gr.Radio(label="Показать в документе", choices=[], elem_id="kz-pick")
            document = gr.HTML(render_document(None, None), elem_id="kz-document", js_on_load=SCROLL_TO_CITED)
    return ChatTab(
        dialogues,
        new,
        delete,
        download,
        title,
        rename,
        chatbot,
        question,
        ask,
        stop,
        again,
        within,
        mode,
        examples,
        passages,
        use_llm,
        opener,
        pick,
        document,
    )


def _question_bar(view: CollectionView) -> tuple[gr.Textbox, gr.Button, gr.Button, gr.Dropdown, gr.Button]:
    """The question box with «Спросить» and «Остановить»; the document filter and «Ответить заново» under it."""
    with gr.Row():
        question = gr.Textbox(
            placeholder=view.placeholder,
            label="Вопрос",
            show_label=False,
            container=False,
            scale=6,
            elem_id="kz-question",
            autofocus=True,
        )
        ask = gr.Button("Спросить", variant="primary", scale=1, min_width=110, elem_id="kz-ask")
        stop = gr.Button("Остановить", variant="stop", scale=0, min_width=110, elem_id="kz-stop")
    with gr.Row(equal_height=True):
        within = gr.Dropdown(
            label="Искать в документах (пусто — во всех)",
            choices=view.choices,
            value=[],
            multiselect=True,
            scale=4,
            elem_id="kz-within",
        )
        again = gr.Button("Ответить заново", size="sm", scale=0, min_width=150, elem_id="kz-again")
    return question, ask, stop, within, again


def _dialogue_bar() -> tuple[gr.Dropdown, gr.Button, gr.Button, gr.DownloadButton, gr.Textbox, gr.Button]:
    """«Мои диалоги» with new, delete and download; renaming the open conversation under it."""
    with gr.Row(equal_height=True):
        dialogues = gr.Dropdown(label="Мои диалоги", choices=[], scale=4, elem_id="kz-dialogues")
        new = gr.Button("Новый диалог", size="sm", scale=0, min_width=130, elem_id="kz-new")
        delete = gr.Button("Удалить диалог", size="sm", scale=0, min_width=130, elem_id="kz-delete")
        download = gr.DownloadButton(
            "Скачать диалог", size="sm", scale=0, min_width=130, interactive=False, elem_id="kz-download"
        )
    with gr.Accordion("Переименовать диалог", open=False, elem_id="kz-rename-box"):
        with gr.Row():
            title = gr.Textbox(label="Новое название открытого диалога", scale=4, elem_id="kz-title")
            rename = gr.Button("Переименовать", size="sm", scale=0, min_width=130, elem_id="kz-rename")
    return dialogues, new, delete, download, title, rename


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
                label=f"Добавить документы ({suffixes}; до {MAX_UPLOAD_BYTES // 2**20} МБ каждый)",
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
            rebuild_log = gr.HTML(elem_id="kz-rebuild-log")
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
    """Asking (and stopping, asking again, rating), opening a cited passage, the conversation list, and switching
    the LLM on or off."""
    shown = [chat.chatbot, cited, chat.pick, chat.document, chat.download, chat.dialogues]
    outputs = [chat.chatbot, saved, chat.question, *shown[1:]]
    settings = [saved, chat.passages, chat.use_llm, chat.within]
    answers = ChatAnswers(library)
    # A question sent while an answer is still ending (just stopped) waits for it instead of being dropped.
    waits = {"trigger_mode": "always_last", **PRIVATE}
    for trigger in (chat.question.submit, chat.ask.click):
        trigger(answers.respond, [chat.question, *settings], outputs, **waits)
    chat.again.click(answers.regenerate, settings, outputs, **waits)
    chat.stop.click(answers.stop, chat.chatbot, None, queue=False, **PRIVATE)
    chat.chatbot.like(rater(library), saved, None, **PRIVATE)
    chat.examples.click(lambda sample: sample[0], chat.examples, chat.question, queue=False, **PRIVATE)
    chat.opener.change(
        partial(open_marker, library), [chat.opener, saved], [cited, chat.pick, chat.document], **PRIVATE
    )
    chat.pick.input(partial(show_source, library), [chat.pick, cited], chat.document, **PRIVATE)
    for trigger in (chat.new.click, chat.chatbot.clear):
        trigger(partial(new_dialogue, library), saved, [saved, *shown], **PRIVATE)
    chat.dialogues.input(partial(open_dialogue, library), [chat.dialogues, saved], [saved, *shown], **PRIVATE)
    chat.delete.click(partial(delete_dialogue, library), saved, [saved, *shown], js=CONFIRM_DELETE, **PRIVATE)
    for trigger in (chat.rename.click, chat.title.submit):
        trigger(partial(rename_dialogue, library), [chat.title, saved], [saved, *shown, chat.title], **PRIVATE)
    chat.use_llm.change(partial(mode_line, model), chat.use_llm, chat.mode, **PRIVATE)


def _wire_index(library: Library, index: IndexTab, described: list[gr.components.Component]) -> None:
    """Uploading (and the page's refusals), removing an upload after a confirmation, and rebuilding (which also
    renews the chat's words about the collection: `described`)."""
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
        index.rebuild_log,
        concurrency_limit=None,
        show_progress="hidden",
        **PRIVATE,
    ).then(
        partial(after_rebuild, library),
        None,
        [index.status, index.uploaded, index.rebuild, *described],
        show_progress="hidden",
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

    `lifespan` runs with the server (`faces.mounts.beside_the_ui` mounts the API and MCP on it). Listening on loopback,
    every route answers only requests addressed to 127.0.0.1, localhost or [::1] (`api.require_host`), so that no web
    page reads the documents through the page's own name pointed at this machine (DNS rebinding)."""
    _, url, _ = demo.queue(default_concurrency_limit=2).launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="Войдите, чтобы задавать вопросы по документу." if auth else None,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        ssr_mode=False,
        footer_links=[],
        max_file_size=MAX_UPLOAD_BYTES,
        theme=THEME,
        css=CSS,
        i18n=I18N,
        js=PAGE_JS,
        app_kwargs={
            "middleware": [Middleware(require_host, host=host)],
            **({"lifespan": lifespan} if lifespan else {}),
        },
    )
    return url
