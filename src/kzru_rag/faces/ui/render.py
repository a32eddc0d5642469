"""HTML for the chat, the document view and the «Индекс» tab.

All document and user text is escaped here before it is rendered (`escape_html`, `escape_markdown`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

from kzru_rag.errors import IndexLoadError
from kzru_rag.index.load import load_index
from kzru_rag.ingest.documents import Document
from kzru_rag.library import Library
from kzru_rag.schema import Answer, Hit
from kzru_rag.stores.loaded import LoadedIndex

_MARKER = re.compile(r"\[(\d+)\]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+!|~$<>&\"']")
_LIST_START = re.compile(r"^(\s*)(\d+\.|-)", re.MULTILINE)
CONTEXT_PARAGRAPHS = 1
"""Paragraphs shown on each side of a passage in its inline document view."""


def escape_html(text: str) -> str:
    """Text made safe to place inside HTML."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """Text made safe for the chat, which renders Markdown and HTML: special characters become entities."""
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", text)
    return _LIST_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}&#{ord(m.group(2)[-1])};", escaped)


# ---------------------------------------------------------------- the chat


def answer_mode(model: str | None) -> str:
    """How answers are made, for the line under the question box."""
    if model:
        return f"Отвечает модель {escape_markdown(model)}; каждое утверждение ссылается на фрагмент документа [n]."
    return "Ответы — цитаты из документов; [n] ведёт к цитируемому фрагменту."


def render_answer(answer: Answer, question: str, turn: int = 0) -> str:
    """The answer for the chat: its notice, escaped text with clickable [n] markers, its status and confidence,
    and the search query when rewritten. `turn` (the answer's place in the conversation) lets a marker open its
    source."""
    parts = []
    if answer.notice:
        parts.append(f'<div class="kz-notice">⚠ {escape_markdown(answer.notice)}</div>')
    parts.append(_with_markers(answer.text, turn))
    if line := status_line(answer):
        parts.append(f'<div class="kz-confidence kz-{answer.status}">{line}</div>')
    if answer.query_used != question.strip():
        understood = _status_words(answer)["understood"]
        parts.append(f'<div class="kz-query">{understood}: {escape_markdown(answer.query_used)}</div>')
    return "\n\n".join(parts)


STATUS_WORDS: dict[str, dict[str, str]] = {
    "ru": {
        "answered": "Ответ",
        "uncertain": "Прямого ответа может не быть",
        "llm answered": "Ответ модели",
        "llm uncertain": "Ответ модели; прямого ответа может не быть",
        "confidence": "уверенность",
        "understood": "Вопрос понят как",
    },
    "en": {
        "answered": "Answer",
        "uncertain": "There may be no direct answer",
        "llm answered": "The model's answer",
        "llm uncertain": "The model's answer; there may be no direct answer",
        "confidence": "confidence",
        "understood": "The question was taken as",
    },
    "kk": {
        "answered": "Жауап",
        "uncertain": "Тікелей жауап болмауы мүмкін",
        "llm answered": "Модельдің жауабы",
        "llm uncertain": "Модельдің жауабы; тікелей жауап болмауы мүмкін",
        "confidence": "сенімділік",
        "understood": "Сұрақ былай түсінілді",
    },
}
"""The lines under an answer, in the question's language, as the answer's own words are (wording.py): a Kazakh
answer's line was Russian under Kazakh text."""


def _status_words(answer: Answer) -> dict[str, str]:
    return STATUS_WORDS.get(answer.language, STATUS_WORDS["ru"])


def status_line(answer: Answer) -> str | None:
    """How sure the answer is: its status and, when computed, its confidence (none for a refusal)."""
    if answer.status == "abstained":
        return None
    words = _status_words(answer)
    label = words[f"llm {answer.status}" if answer.mode == "llm" else answer.status]
    if answer.confidence is not None:
        return f"{label} · {words['confidence']} {answer.confidence:.0%}"
    return label


def document_title(doc_id: str, document: Document | None, hit: Hit | None = None) -> str:
    """What a document is called: its title (metadata), else the passage's, else its id."""
    if document is not None and document.metadata.get("title"):
        return str(document.metadata["title"])
    if hit is not None and hit.metadata.get("title"):
        return str(hit.metadata["title"])
    return doc_id


def passage_label(number: int, hit: Hit, documents: Mapping[str, Document]) -> str:
    """A cited passage in the picker: «[1] Title · стр. 3 · абзац 19» (plain text)."""
    title = document_title(hit.doc_id, documents.get(hit.doc_id), hit)
    return " · ".join([f"[{number}] {title}", *hit.place(chars=None)])


def _with_markers(text: str, turn: int | None) -> str:
    """Escaped text with each [n] marker as a superscript (a button opening source n of `turn` when given)."""
    pieces = _MARKER.split(text)
    return "".join(_marker(p, turn) if i % 2 else escape_markdown(p) for i, p in enumerate(pieces))


def _marker(number: str, turn: int | None) -> str:
    if turn is None:
        return f'<sup class="kz-cite">[{number}]</sup>'
    return (
        f'<sup class="kz-cite kz-cite-{turn}-{number}" role="button" tabindex="0" '
        f'title="Открыть фрагмент {number} в документе">[{number}]</sup>'
    )


def render_streaming(text: str) -> str:
    """Partial answer text while it streams."""
    return _with_markers(text, None) + " ▍"


def place(hit: Hit) -> str:
    """Where a passage is: page (when the document has pages), paragraph, characters, date."""
    parts = hit.place()
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


def render_sources(answer: Answer, documents: Mapping[str, Document] | None = None) -> str:
    """The cited passages: number, position, date (and the document's title when there are several), the quoted
    text with the answering sentence highlighted, and an expandable view of the passage in its document."""
    documents = documents or {}
    blocks = []
    for number, hit in enumerate(answer.citations, start=1):
        name = document_title(hit.doc_id, documents.get(hit.doc_id), hit)
        title = f"{escape_markdown(name)} · " if len(documents) > 1 else ""
        quote = _marked(hit.text, hit.start, hit.highlight, escape_markdown).replace("\n", " ")
        document = documents.get(hit.doc_id)
        context = (
            f'<details class="kz-context"><summary>Показать в тексте документа</summary>'
            f'<div class="kz-context-text">{_context(document, hit)}</div></details>'
            if document
            else ""
        )
        blocks.append(
            f'<div class="kz-source"><div class="kz-source-head"><span class="kz-num">[{number}]</span> '
            f"{title}{escape_markdown(place(hit))}</div>"
            f'<div class="kz-quote">{quote}</div>{context}</div>'
        )
    return "\n".join(blocks)


def _context(document: Document, hit: Hit) -> str:
    """The passage in its paragraph, with CONTEXT_PARAGRAPHS paragraphs around it, the passage marked."""
    text = document.text
    start = max(hit.start, document.body_start)
    for _ in range(CONTEXT_PARAGRAPHS + 1):
        start = max(text.rfind("\n\n", document.body_start, max(start - 1, document.body_start)), document.body_start)
    end = hit.end
    for step in range(CONTEXT_PARAGRAPHS + 1):
        found = text.find("\n\n", end + 2 if step else end)
        end = len(text) if found < 0 else found
    passage = _marked(text[hit.start : hit.end], hit.start, hit.highlight, escape_markdown)
    around = (escape_markdown(text[start : hit.start].strip()), escape_markdown(text[hit.end : end].strip()))
    return f'{around[0]} <mark class="kz-passage">{passage}</mark> {around[1]}'.replace("\n", "<br>")


def render_document(document: Document | None, hit: Hit | None) -> str:
    """The whole document, with the cited passage highlighted and its answering sentence marked; what happened when
    the cited document was removed or changed after the answer."""
    if document is None:
        if hit is not None:
            title = escape_html(str(hit.metadata.get("title") or hit.doc_id))
            return (
                f'<div class="kz-doc-empty" role="status">Документа «{title}» больше нет в индексе: его удалили после '
                "этого ответа. Процитированный фрагмент остался в ответе.</div>"
            )
        return (
            '<div class="kz-doc-empty">Здесь появится документ с выделенным фрагментом, на который ссылается ответ.'
            "</div>"
        )
    if hit is not None and hit.doc_id == document.doc_id and document.text[hit.start : hit.end] != hit.text:
        changed = "Документ изменился после этого ответа: фрагмент не выделен."
        return f'<div class="kz-notice" role="status">{changed}</div>' + render_document(document, None)
    meta = [escape_html(document_title(document.doc_id, document))]
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
            f'{escape_html(text[start : hit.start])}<mark class="kz-passage" id="kz-cited">{passage}</mark>'
            f"{escape_html(text[hit.end :])}"
        )
    return (
        f'<div class="kz-doc-meta">{" · ".join(meta)}</div>'
        f'<div class="kz-doc" tabindex="0" role="region" aria-label="Текст документа">{body}</div>'
    )


# ---------------------------------------------------------------- the «Индекс» tab


_ORIGINS = {"bundled": "встроенный документ", "added": "загружен"}
_STATES = {
    "indexed": '<span class="kz-fresh">в индексе</span>',
    "changed": '<span class="kz-stale">изменился после сборки</span>',
    "removed": '<span class="kz-stale">удалён — уйдёт при перестройке</span>',
    "replaced": '<span class="kz-stale">заменён — ждёт перестройки</span>',
    "pending": '<span class="kz-stale">ждёт перестройки</span>',
}
_UNREADABLE = '<span class="kz-stale">не читается: удалите или замените файл, иначе индекс не перестроится</span>'
"""The state of a file in the documents folder that cannot be read (a rebuild stops at it)."""


def render_status(collection: Library) -> str:
    """What is indexed: documents, chunks, model, build time, fresh or stale; uploads waiting for a rebuild
    (one row per document: a replaced upload shows as its indexed row, marked as waiting)."""
    index = collection.retriever.index
    manifest = index.manifest
    entries = collection.entries()
    on_disk = _on_disk_problem(index)
    fresh = all(entry.state == "indexed" for entry in entries) and not on_disk
    state = '<span class="kz-fresh">актуален</span>' if fresh else '<span class="kz-stale">требует перестройки</span>'
    if collection.rebuilding:
        state = '<span class="kz-stale">перестраивается…</span>'
    rows = [
        _row(
            entry.name,
            _ORIGINS.get(entry.origin) or escape_html(entry.source),
            "—" if entry.chars is None else _count(entry.chars),
            _UNREADABLE if entry.chars is None else _STATES[entry.state],
        )
        for entry in entries
    ]
    warning = f'<p class="kz-notice">⚠ {escape_html(on_disk)}</p>' if on_disk else ""
    return (
        f'<div class="kz-status">{warning}<p>Индекс: <b>{state}</b> · фрагментов: <b>{manifest.chunk_count}</b> · '
        f"модель: <code>{escape_html(manifest.model_id)}</code> · собран: {escape_html(_built(manifest.built_at))}</p>"
        '<table class="kz-table" role="table"><thead><tr role="row">'  # roles: a phone shows the rows as blocks
        + "".join(f'<th role="columnheader">{name}</th>' for name in ("Документ", "Источник", "Символов", "Состояние"))
        + "</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="kz-hint">Загруженные документы хранятся в <code>{escape_html(str(collection.documents_dir))}'
        "</code>.</p></div>"
    )


def _row(name: str, origin: str, size: str, state: str) -> str:
    """A row of the documents table; `name` is escaped here, the other cells are HTML already."""
    cells = "".join(f'<td role="cell">{cell}</td>' for cell in (escape_html(name), origin, size, state))
    return f'<tr role="row">{cells}</tr>'


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


def mark(ok: bool) -> str:
    """✓ or ✗, coloured."""
    return '<span class="kz-fresh">✓</span>' if ok else '<span class="kz-stale">✗</span>'


def _built(stamp: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}).*?([+-]\d{2}:\d{2}|Z)?", stamp)
    if not match:
        return stamp
    year, month, day, hour, minute, zone = match.groups()
    return f"{day}.{month}.{year} {hour}:{minute}" + (" UTC" if zone in ("+00:00", "Z") else f" {zone or ''}".rstrip())
