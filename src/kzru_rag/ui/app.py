"""The browser UI (Gradio, in Russian): chat with cited answers, the document view, index management.

`Library` owns what the app serves: the working `Assistant` over the index, the folder of
uploaded documents, and rebuilding the index from the indexed sources plus the uploads (the
new index is swapped in without a restart; a failed rebuild leaves the working one in place).
`build_app` lays out the interface over a `Library`; `launch_app` starts the server.

Uploaded documents are kept in a `documents/` folder next to the index folder (for the
project's `index/` that is `documents/` at the top of the checkout, which git ignores).

All document and user text is escaped before it is rendered (`escape_html`, `escape_markdown`).
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .assistant import Answer, Assistant
from .chunking import Chunker
from .documents import BUNDLED_SOURCE, SUPPORTED_SUFFIXES, Document, decode_source, read_source_text, sha256_text
from .errors import IndexLoadError, KzruRagError, SourceError
from .index import LoadedIndex, build_index, default_index_path, load_index
from .llm import LLM, Message
from .retriever import Hit, Retriever

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 2**20
_SOURCE_PROBLEMS = {
    "utf16": "текст в кодировке UTF-16; пересохраните файл в UTF-8",
    "binary": "это двоичный файл, а не текст; сохраните документ как .txt или .md",
    "encoding": "текст не в кодировке UTF-8 (байт {byte}); пересохраните файл в UTF-8",
    "empty": "файл пустой",
}
MAX_PASSAGES = 10
EXAMPLES = [
    "Когда состоится государственный визит Токаева в Москву?",
    "Где проходит XXI форум межрегионального сотрудничества?",
    "Какую электростанцию планируют модернизировать?",
    "Филиал какого казахстанского университета открыт в Омске?",
    "Which side events are planned at the forum?",
    "Тоқаев Мәскеуге қашан барады?",
]
_MARKER = re.compile(r"\[(\d+)\]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+!|~$<>&\"']")
_LIST_START = re.compile(r"^(\s*)(\d+\.|-)", re.MULTILINE)


def escape_html(text: str) -> str:
    """Text made safe to place inside HTML."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """Text made safe for the chat, which renders Markdown and HTML: special characters become entities."""
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", text)
    return _LIST_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}&#{ord(m.group(2)[-1])};", escaped)


@dataclass(frozen=True)
class UploadResult:
    """What happened to one uploaded file: accepted (saved) or rejected, with a message for the user."""

    name: str
    accepted: bool
    message: str


class Library:
    """The working assistant, the uploaded documents, and rebuilding the index they come from."""

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM | None = None,
        k: int = 5,
        documents_dir: str | Path | None = None,
    ) -> None:
        if not 1 <= k <= MAX_PASSAGES:
            raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
        self.index_path = Path(retriever.index.path)
        self.documents_dir = (Path(documents_dir) if documents_dir else self.index_path.parent / "documents").resolve()
        self.llm = llm
        self.k = k
        self.assistant = Assistant(retriever, llm=llm, k=k)
        self._rebuilding = threading.Lock()

    @classmethod
    def open(cls, index: str | Path | None = None, llm: LLM | None = None, **options: Any) -> "Library":
        """Load the index (default: $KZRU_RAG_INDEX or the project's index/) and its model, once."""
        return cls(Retriever.load(index or default_index_path()), llm=llm, **options)

    @property
    def retriever(self) -> Retriever:
        return self.assistant.retriever

    def uploads(self) -> list[Path]:
        """Uploaded documents, by name."""
        if not self.documents_dir.is_dir():
            return []
        return sorted(p for p in self.documents_dir.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)

    def add_upload(self, path: str | Path, name: str | None = None) -> UploadResult:
        """Check one uploaded file and keep it in the documents folder (indexed at the next rebuild)."""
        path = Path(path)
        name = Path(name or path.name).name
        problem = self._upload_problem(path, name)
        if problem:
            return UploadResult(name, False, f"«{name}» не добавлен: {problem}")
        self.documents_dir.mkdir(parents=True, exist_ok=True)
        target = self.documents_dir / name
        replaced = target.exists()
        partial = self.documents_dir / f".{name}.part"
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # a rebuild reading the folder sees the old file or the new one, never half
        verb = "заменён" if replaced else "добавлен"
        return UploadResult(name, True, f"«{name}» {verb}; нажмите «Перестроить индекс», чтобы искать и по нему.")

    def _upload_problem(self, path: Path, name: str) -> str | None:
        """Why an uploaded file cannot be indexed, in Russian; None when it can."""
        if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            return "можно добавлять только текстовые файлы .txt и .md"
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            return f"файл больше {MAX_UPLOAD_BYTES // 2**20} МБ ({size / 2**20:.1f} МБ); разделите его на части"
        try:
            decode_source(path.read_bytes(), name)
        except SourceError as err:
            return _SOURCE_PROBLEMS[err.reason].format(**err.details)
        stem = Path(name).stem
        taken = [r.source for r in self.retriever.index.manifest.documents if r.doc_id == stem]
        taken += [str(p) for p in self.uploads() if p.stem == stem]
        if any(Path(source) != self.documents_dir / name for source in taken):
            return f"документ с именем «{stem}» уже есть; переименуйте файл"
        return None

    def remove_upload(self, name: str) -> str:
        """Delete an uploaded document (it leaves the index at the next rebuild)."""
        target = self.documents_dir / Path(name).name
        if target not in self.uploads():
            return f"Документа «{name}» нет среди загруженных."
        target.unlink()
        return f"«{name}» удалён; нажмите «Перестроить индекс», чтобы убрать его из поиска."

    def sources(self) -> list[str]:
        """What a rebuild indexes: the indexed sources that still exist, plus every upload."""
        kept = [
            record.source
            for record in self.retriever.index.manifest.documents
            if record.source == BUNDLED_SOURCE
            or (Path(record.source).is_file() and Path(record.source).parent != self.documents_dir)
        ]
        return kept + [str(p.resolve()) for p in self.uploads()]

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> str:
        """Rebuild the index and swap in a new assistant; raise KzruRagError (index untouched) on failure."""
        if not self._rebuilding.acquire(blocking=False):
            raise KzruRagError("индекс уже перестраивается; дождитесь конца")
        try:
            current = self.retriever.index.manifest
            manifest = build_index(
                self.sources(),
                self.retriever.embedder,
                self.index_path,
                Chunker.from_dict(current.chunker),
                retrieval=current.retrieval,
                progress=progress,
            )
            self.assistant = Assistant(Retriever.load(self.index_path), llm=self.llm, k=self.k)
        finally:
            self._rebuilding.release()
        return f"Индекс перестроен: {len(manifest.documents)} док., {manifest.chunk_count} фрагментов."

    def pending_uploads(self) -> list[Path]:
        """Uploads that are not in the index as they are now (new or changed)."""
        indexed = {record.source: record.sha256 for record in self.retriever.index.manifest.documents}
        pending = []
        for path in self.uploads():
            try:
                current = sha256_text(read_source_text(str(path)))
            except (OSError, UnicodeDecodeError):
                current = None
            if indexed.get(str(path.resolve())) != current:
                pending.append(path)
        return pending


# ---------------------------------------------------------------- rendering


def render_answer(answer: Answer, question: str) -> str:
    """The answer for the chat: its notice, escaped text with styled [n] markers, and the search query when rewritten."""
    parts = []
    if answer.notice:
        parts.append(f'<div class="kz-notice">⚠ {escape_markdown(answer.notice)}</div>')
    parts.append(_with_markers(answer.text))
    if answer.query_used != question.strip():
        parts.append(f'<div class="kz-query">Вопрос понят как: {escape_markdown(answer.query_used)}</div>')
    return "\n\n".join(parts)


def _with_markers(text: str) -> str:
    """Escaped text with each [n] marker as a superscript."""
    pieces = _MARKER.split(text)
    return "".join(f'<sup class="kz-cite">[{p}]</sup>' if i % 2 else escape_markdown(p) for i, p in enumerate(pieces))


def render_streaming(text: str) -> str:
    """Partial answer text while it streams."""
    return _with_markers(text) + " ▍"


def _place(hit: Hit) -> str:
    """Where a passage is: paragraph, characters (offsets in the document text), date."""
    parts = [f"абзац {hit.metadata.get('paragraph', '?')}", f"символы {hit.start}–{hit.end}"]
    if date := hit.metadata.get("date"):
        parts.append(_date(str(date)))
    return " · ".join(parts)


def _date(iso: str) -> str:
    """YYYY-MM-DD as DD.MM.YYYY (other text as it is)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso)
    return f"{match[3]}.{match[2]}.{match[1]}" if match else iso


def _marked(text: str, offset: int, span: tuple[int, int] | None, escape: Callable[[str], str]) -> str:
    """`text` (starting at document offset `offset`) with the document span `span` in <mark>."""
    if span is None:
        return escape(text)
    a, b = max(span[0] - offset, 0), min(span[1] - offset, len(text))
    if a >= b:
        return escape(text)
    return f'{escape(text[:a])}<mark class="kz-answer">{escape(text[a:b])}</mark>{escape(text[b:])}'


def render_sources(answer: Answer, several_documents: bool = False) -> str:
    """The cited passages: number, quoted text with the answering sentence highlighted, position, date
    (and the document's title when the index holds several)."""
    blocks = []
    for number, hit in enumerate(answer.citations, start=1):
        title = f"{escape_markdown(str(hit.metadata.get('title', hit.doc_id)))} · " if several_documents else ""
        quote = _marked(hit.text, hit.start, hit.highlight, escape_markdown).replace("\n", " ")
        blocks.append(
            f'<div class="kz-source"><div class="kz-source-head"><span class="kz-num">[{number}]</span> '
            f"{title}{escape_markdown(_place(hit))}</div>"
            f'<div class="kz-quote">{quote}</div></div>'
        )
    return "\n".join(blocks)


def render_document(document: Document | None, hit: Hit | None) -> str:
    """The whole document, with the cited passage highlighted and its answering sentence marked."""
    if document is None:
        return '<div class="kz-doc-empty">Здесь появится документ с выделенным фрагментом, на который ссылается ответ.</div>'
    meta = [escape_html(str(document.metadata.get("title", document.doc_id)))]
    if date := document.metadata.get("date"):
        meta.append(escape_html(_date(str(date))))
    if credit := document.metadata.get("credit"):
        meta.append(escape_html(str(credit)))
    start = document.body_start
    text = document.text
    if hit is None or hit.doc_id != document.doc_id:
        body = escape_html(text[start:])
    else:
        passage = _marked(text[hit.start : hit.end], hit.start, hit.highlight, escape_html)
        body = (
            f"{escape_html(text[start:hit.start])}<mark class=\"kz-passage\" id=\"kz-cited\">{passage}</mark>"
            f"{escape_html(text[hit.end:])}"
        )
    return f'<div class="kz-doc-meta">{" · ".join(meta)}</div><div class="kz-doc">{body}</div>'


def render_status(library: Library) -> str:
    """What is indexed: documents, chunks, model, build time, fresh or stale; uploads waiting for a rebuild."""
    index = library.retriever.index
    manifest = index.manifest
    pending = library.pending_uploads()
    removed = [r for r in manifest.documents if r.source != BUNDLED_SOURCE and not Path(r.source).is_file()]
    on_disk = _on_disk_problem(index)
    fresh = not index.stale and not pending and not removed and not on_disk
    state = (
        '<span class="kz-fresh">актуален</span>'
        if fresh
        else '<span class="kz-stale">требует перестройки</span>'
    )
    rows = []
    for record in manifest.documents:
        if record.source == BUNDLED_SOURCE:
            origin = "встроенный документ"
        elif Path(record.source).parent == library.documents_dir:
            origin = "загружен"
        else:
            origin = escape_html(record.source)
        if record in removed:
            record_state = '<span class="kz-stale">удалён — уйдёт при перестройке</span>'
        elif record.source in index.stale:
            record_state = '<span class="kz-stale">изменился после сборки</span>'
        else:
            record_state = '<span class="kz-fresh">в индексе</span>'
        rows.append(_row(record.doc_id, origin, _count(record.chars), record_state))
    for path in pending:
        rows.append(_row(path.stem, "загружен", f"{_count(path.stat().st_size)} байт", '<span class="kz-stale">ждёт перестройки</span>'))
    warning = f'<p class="kz-notice">⚠ {escape_html(on_disk)}</p>' if on_disk else ""
    return (
        f'<div class="kz-status">{warning}<p>Индекс: <b>{state}</b> · фрагментов: <b>{manifest.chunk_count}</b> · '
        f"модель: <code>{escape_html(manifest.model_id)}</code> · собран: {escape_html(_built(manifest.built_at))}</p>"
        '<table class="kz-table"><thead><tr><th>Документ</th><th>Источник</th><th>Символов</th><th>Состояние</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="kz-hint">Загруженные документы хранятся в <code>{escape_html(str(library.documents_dir))}</code>.</p></div>'
    )


def _row(name: str, origin: str, size: str, state: str) -> str:
    """A row of the documents table; `name` is escaped here, the other cells are HTML already."""
    return f"<tr><td>{escape_html(name)}</td><td>{origin}</td><td>{size}</td><td>{state}</td></tr>"


def _count(number: int) -> str:
    """12345 as «12 345»."""
    return f"{number:,}".replace(",", "\u00a0")


def _on_disk_problem(index: LoadedIndex) -> str | None:
    """Why the index folder no longer matches the index in memory (damaged or rebuilt elsewhere); None if it does."""
    changed = index.changed_on_disk()
    if not changed:
        return None
    try:
        load_index(index.path, check_sources=False)
    except IndexLoadError as err:
        what = f"Файлы индекса на диске повреждены ({err})"
    else:
        what = f"Индекс на диске изменён после запуска ({', '.join(changed)})"
    return f"{what}. Ответы идут из копии в памяти; нажмите «Перестроить индекс», чтобы собрать его заново."


def _mark(ok: bool) -> str:
    return '<span class="kz-fresh">✓</span>' if ok else '<span class="kz-stale">✗</span>'


def _built(stamp: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}).*?([+-]\d{2}:\d{2}|Z)?", stamp)
    if not match:
        return stamp
    year, month, day, hour, minute, zone = match.groups()
    return f"{day}.{month}.{year} {hour}:{minute}" + (" UTC" if zone in ("+00:00", "Z") else f" {zone or ''}".rstrip())


# ---------------------------------------------------------------- the app

CSS = """
.kz-cite { color: var(--color-accent); font-weight: 600; font-size: 0.75em; margin-left: 1px; }
.kz-notice { background: #fff4e5; color: #7c2d12; border-left: 4px solid #f59e0b; padding: 6px 10px; border-radius: 4px; font-size: 0.88em; }
.kz-query { color: var(--body-text-color-subdued); font-size: 0.88em; }
.kz-source { border-left: 3px solid var(--color-accent); padding: 2px 10px; margin: 4px 0 10px; }
.kz-source-head { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 2px; }
.kz-num { font-weight: 700; color: var(--color-accent); }
.kz-quote { line-height: 1.5; color: var(--body-text-color); font-size: 0.95em; }
mark.kz-answer { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 3px; }
mark.kz-passage { background: #dbeafe; color: #1f2937; border-radius: 3px; }
.kz-doc { white-space: pre-wrap; max-height: 620px; overflow-y: auto; position: relative; line-height: 1.6;
          padding: 12px 14px; border: 1px solid var(--border-color-primary); border-radius: 8px; font-size: 0.95em; }
.kz-doc-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin: 0 0 6px 2px; }
.kz-doc-empty { color: var(--body-text-color-subdued); padding: 24px 8px; }
.kz-fresh { color: #15803d; }
.kz-stale { color: #b45309; }
.kz-table { width: 100%; border-collapse: collapse; margin: 8px 0; }
.kz-table th, .kz-table td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.kz-hint { color: var(--body-text-color-subdued); font-size: 0.85em; }
"""

THEME = gr.themes.Default(
    primary_hue="blue",
    neutral_hue="slate",
    font=["system-ui", "Segoe UI", "Roboto", "Noto Sans", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

# Keeps the cited passage in view inside the document panel (without scrolling the page).
SCROLL_TO_CITED = """
const show = () => {
  const box = element.querySelector('.kz-doc');
  const mark = element.querySelector('#kz-cited');
  if (box && mark) box.scrollTop = Math.max(mark.offsetTop - box.clientHeight / 3, 0);
};
watch('value', show);
show();
"""

HEADER = (
    "## Вопросы по документу\n"
    "Анализ государственного визита Президента Казахстана в Россию (11–12 ноября 2025 г.). "
    "Ответ составляется только из документа; у каждого утверждения — ссылка [n] на фрагмент, "
    "который можно открыть в документе справа."
)


def build_app(library: Library) -> gr.Blocks:
    """The Gradio interface over `library`: the «Чат» and «Индекс» tabs and the `/ask` API."""
    llm_label = f"Ответ языковой модели ({getattr(library.llm, 'model', getattr(library.llm, 'name', 'LLM'))})"
    with gr.Blocks(title="kzru-rag — вопросы по документу", analytics_enabled=False) as demo:
        turns = gr.State([])
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
                            buttons=[],
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
                                max_length=2000,
                                autofocus=True,
                            )
                            ask = gr.Button("Спросить", variant="primary", scale=1, min_width=120, elem_id="kz-ask")
                        gr.Examples([[q] for q in EXAMPLES], inputs=question, label="Примеры вопросов")
                        with gr.Row():
                            with gr.Accordion("Настройки", open=False):
                                passages = gr.Slider(1, MAX_PASSAGES, value=library.k, step=1, label="Сколько фрагментов искать")
                                use_llm = gr.Checkbox(value=library.llm is not None, label=llm_label, visible=library.llm is not None)
                            clear = gr.Button("Новый диалог", size="sm", scale=0, min_width=140)
                    with gr.Column(scale=2):
                        pick = gr.Radio(label="Показать в документе", choices=[], elem_id="kz-pick")
                        document = gr.HTML(render_document(None, None), elem_id="kz-document", js_on_load=SCROLL_TO_CITED)
            with gr.Tab("Индекс", id="index"):
                status = gr.HTML(elem_id="kz-status")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(
                            label=f"Добавить документы (.txt, .md в UTF-8, до {MAX_UPLOAD_BYTES // 2**20} МБ)",
                            file_count="multiple",
                            file_types=list(SUPPORTED_SUFFIXES),
                            elem_id="kz-upload",
                        )
                        upload_log = gr.Markdown(elem_id="kz-upload-log")
                    with gr.Column():
                        uploaded = gr.Dropdown(label="Загруженные документы", choices=[], elem_id="kz-uploaded")
                        remove = gr.Button("Удалить выбранный документ", size="sm")
                        rebuild = gr.Button("Перестроить индекс", variant="primary", elem_id="kz-rebuild")
                        rebuild_log = gr.Markdown(elem_id="kz-rebuild-log")

        def upload_choices() -> dict[str, Any]:
            return gr.update(choices=[p.name for p in library.uploads()], value=None)

        def respond(text: str, history: list[Message], messages: list[dict[str, Any]], k: float, llm_on: bool) -> Iterator[tuple[Any, ...]]:
            text = (text or "").strip()
            if not text:
                gr.Warning("Введите вопрос о документе.")
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            messages = [*messages, {"role": "user", "content": escape_markdown(text)}, {"role": "assistant", "content": "…"}]
            yield messages, gr.skip(), "", gr.skip(), gr.skip(), gr.skip()
            assistant = library.assistant
            streamed = ""
            answer: Answer | None = None
            try:
                for item in assistant.stream(text, history, k=int(k), use_llm=bool(llm_on)):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        streamed += item
                        messages[-1] = {"role": "assistant", "content": render_streaming(streamed)}
                        yield messages, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            except (KzruRagError, ValueError) as err:
                messages[-1] = {"role": "assistant", "content": f'<div class="kz-notice">⚠ {escape_markdown(str(err))}</div>'}
                yield messages, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            assert answer is not None
            messages[-1] = {"role": "assistant", "content": render_answer(answer, text)}
            if answer.citations:
                messages.append(
                    {
                        "role": "assistant",
                        "content": render_sources(answer, len(assistant.retriever.index.documents) > 1),
                        "metadata": {"title": f"Источники ({len(answer.citations)})"},
                    }
                )
            history = [*history, {"role": "user", "content": text}, {"role": "assistant", "content": answer.text}]
            choices = [(f"[{n}] абзац {hit.metadata.get('paragraph', '?')}", n - 1) for n, hit in enumerate(answer.citations, 1)]
            first = answer.citations[0] if answer.citations else None
            view = render_document(assistant.retriever.index.documents.get(first.doc_id), first) if first else gr.skip()
            yield messages, history, gr.skip(), answer.citations, gr.update(choices=choices, value=0 if first else None), view

        def show_source(position: int | None, hits: list[Hit]) -> str:
            if position is None or not 0 <= position < len(hits):
                return render_document(None, None)
            hit = hits[position]
            return render_document(library.retriever.index.documents.get(hit.doc_id), hit)

        def reset() -> tuple[Any, ...]:
            return [], [], [], gr.update(choices=[], value=None), render_document(None, None)

        def add_files(files: list[str] | None) -> tuple[Any, ...]:
            results = [library.add_upload(path) for path in files or []]
            report = "\n".join(f"- {_mark(r.accepted)} {escape_markdown(r.message)}" for r in results)
            return report, render_status(library), upload_choices(), None

        def remove_file(name: str | None) -> tuple[Any, ...]:
            message = library.remove_upload(name) if name else "Выберите загруженный документ."
            return escape_markdown(message), render_status(library), upload_choices()

        def rebuild_index(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            progress(0, desc="Чтение документов…")

            def report(done: int, total: int) -> None:
                if total:
                    progress((done, total), desc="Векторизация фрагментов и словаря", unit="текст.")

            try:
                message = f"{_mark(True)} {escape_markdown(library.rebuild(report))}"
            except KzruRagError as err:
                log.warning("index rebuild failed: %s", err)
                message = f"{_mark(False)} Индекс не перестроен, работает прежний. Причина: {escape_markdown(str(err))}"
            return message, render_status(library), upload_choices()

        chat_inputs = [question, turns, chatbot, passages, use_llm]
        chat_outputs = [chatbot, turns, question, cited, pick, document]
        for trigger in (question.submit, ask.click):
            trigger(respond, chat_inputs, chat_outputs, api_visibility="private")
        pick.input(show_source, [pick, cited], document, api_visibility="private")
        for trigger in (clear.click, chatbot.clear):
            trigger(reset, None, [chatbot, turns, cited, pick, document], api_visibility="private")
        upload.upload(add_files, upload, [upload_log, status, uploaded, upload], api_visibility="private")
        remove.click(remove_file, uploaded, [upload_log, status, uploaded], api_visibility="private")
        rebuild.click(
            rebuild_index, None, [rebuild_log, status, uploaded], api_visibility="private", concurrency_limit=1, show_progress_on=status
        )
        demo.load(lambda: (render_status(library), upload_choices()), None, [status, uploaded], api_visibility="private")

        def ask_api(question: str, k: int = library.k, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
            """Answer a question about the document: text with [n] markers, citations (passages), abstained."""
            try:
                return library.assistant.ask(question, history or [], k=int(k)).to_dict()
            except (KzruRagError, ValueError) as err:
                raise gr.Error(str(err)) from err

        gr.api(ask_api, api_name="ask")
    return demo


def launch_app(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> str:
    """Serve the app; return its local URL (when `prevent_thread_lock`, the server runs in the background)."""
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
        max_file_size=2 * MAX_UPLOAD_BYTES,
        theme=THEME,
        css=CSS,
    )
    return url
