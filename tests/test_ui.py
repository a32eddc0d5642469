"""The UI's parts without a browser: escaping and rendering, uploads, rebuilding and swapping the index,
app.py options."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from app_server import copy_index
from hashing_encoder import RETRIEVAL
from kzru_rag.answering.llm import OpenAICompatibleLLM
from kzru_rag.errors import KzruRagError
from kzru_rag.faces.ui import (
    MAX_PASSAGES,
    add_report,
    build_app,
    escape_html,
    escape_markdown,
    render_answer,
    render_document,
    render_sources,
    render_status,
)
from kzru_rag.faces.ui.app_data import UsersConversations
from kzru_rag.faces.ui.asking import question_problem
from kzru_rag.faces.ui.collection import BUNDLED_EXAMPLES, collection_view
from kzru_rag.faces.ui.conversation import Store
from kzru_rag.faces.ui.handlers import rebuild_index
from kzru_rag.faces.ui.render import passage_label
from kzru_rag.faces.ui.uploads import rebuild_progress, removal_report, size_problem
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.index.progress import BuildProgress
from kzru_rag.ingest.documents import BUNDLED_SOURCE
from kzru_rag.language.words import counted
from kzru_rag.library import MAX_UPLOAD_BYTES, Library
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Answer
from openai_stub import unused_base_url

ROOT = Path(__file__).resolve().parents[1]
XSS = "<img src=x onerror=alert(1)>"
NOTE = "# Заметка\n\nВ Павлодаре построят завод по выпуску аккумуляторов для электробусов.\n"


@pytest.fixture
def library(tmp_path: Path, small_index: Path, encoder) -> Library:
    """A Library over a private copy of the small test index; uploads go to tmp_path/documents."""
    shutil.copytree(small_index, tmp_path / "index")
    return Library(Retriever(load_index(tmp_path / "index"), encoder))


@pytest.fixture
def bundled_library(tmp_path: Path, embedder) -> Library:
    """A Library over a private copy of the committed index (a rebuild loads the bundled model: slow tests)."""
    return Library(Retriever(load_index(copy_index(tmp_path)), embedder))


def _file(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def cell(text: object) -> str:
    """A cell of the status table as `render_status` writes it."""
    return f'<td role="cell">{text}</td>'


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- escaping and rendering


def test_escaping_leaves_no_markup() -> None:
    assert escape_html(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    escaped = escape_markdown(
        f"{XSS} *жирный* [ссылка](javascript:alert(1)) `код` $$x$$ # заголовок\n1. пункт\n- пункт"
    )
    assert not re.search(r"[<>*\[\]()`$#]", re.sub(r"&#\d+;", "", escaped))
    assert "&#60;img src=x onerror=alert&#40;1&#41;&#62;" in escaped
    assert "\n1&#46; пункт\n&#45; пункт" in escaped, "no list markup at line starts"
    assert (
        unescape(escaped) == f"{XSS} *жирный* [ссылка](javascript:alert(1)) `код` $$x$$ # заголовок\n1. пункт\n- пункт"
    )


def test_render_answer_escapes_the_text_and_styles_only_real_markers(small_retriever) -> None:
    hit = small_retriever.search("Где открыт филиал МГИМО?", k=1)[0]
    answer = Answer(f"Текст {XSS} [1]", [hit], False, "Где открыт филиал?", [hit], notice=f"сбой {XSS}")

    html = render_answer(answer, "Где открыт филиал?")

    assert "<img" not in html
    assert len(re.findall(r'<sup class="kz-cite kz-cite-0-1"[^>]*>\[1\]</sup>', html)) == 1
    assert "kz-cite-3-1" in render_answer(answer, "Где открыт филиал?", turn=3), "a marker knows its answer"
    assert 'class="kz-notice"' in html and "Вопрос понят как" not in html
    assert "Вопрос понят как: А где" in render_answer(replace(answer, query_used="А где он? Где филиал?"), "А где он?")


def test_the_status_line_gives_status_and_confidence_in_the_questions_language(small_retriever) -> None:
    hit = small_retriever.search("Где открыт филиал МГИМО?", k=1)[0]
    answer = Answer("Текст [1]", [hit], False, "Где открыт филиал?", [hit], confidence=0.87)
    english = replace(answer, language="en", query_used="Where is it? Where is the branch?")

    assert "Ответ · уверенность 87%" in render_answer(answer, "Где открыт филиал?")
    assert "Ответ модели · уверенность 87%" in render_answer(replace(answer, mode="llm"), "Где открыт филиал?")
    shown = render_answer(replace(english, mode="llm", status="uncertain"), "Where is it?")
    assert "The model's answer; there may be no direct answer · confidence 87%" in shown
    assert "The question was taken as: Where is it? Where is the branch?" in shown
    assert "уверенност" not in shown and "Вопрос понят" not in shown
    kazakh = replace(answer, language="kk", status="uncertain", query_used="Филиал қайда ашылды?")
    shown = render_answer(kazakh, "Ол қайда?")
    assert "Тікелей жауап болмауы мүмкін · сенімділік 87%" in shown
    assert "Сұрақ былай түсінілді: Филиал қайда ашылды?" in shown
    assert "уверенност" not in shown and "Вопрос понят" not in shown


def test_numbers_agree_with_their_nouns() -> None:
    assert [counted(n, "фрагмент") for n in (1, 2, 5, 11, 21, 41)] == [
        "1 фрагмент",
        "2 фрагмента",
        "5 фрагментов",
        "11 фрагментов",
        "21 фрагмент",
        "41 фрагмент",
    ]
    assert counted(2001, "символ") == "2\u00a0001 символ" and counted(3, "документ") == "3 документа"
    assert "2\u00a0001 символ," in question_problem("в" * 2001), "the length limit's warning agrees too"


EXAMPLE_ANSWERS = {
    "Когда состоится государственный визит Токаева в Москву?": "11–12 ноября",
    "Где проходит XXI форум межрегионального сотрудничества?": "в Уральске",
    "Какую электростанцию планируют модернизировать?": "Экибастузской ГРЭС-2",
    "Филиал какого казахстанского университета открыт в Омске?": "аль-Фараби",
    "Which side events are planned at the forum?": "Молодежно-волонтерского форума",
    "Тоқаевтың Ресейге мемлекеттік сапары қашан болады?": "11–12 ноября",
}
"""What the answer to each of the app's examples must quote (the eval's rule: the answer's text holds it)."""


@pytest.mark.slow
def test_the_apps_own_examples_are_answered_with_confidence(bundled_assistant) -> None:
    """The examples under the chat are answered, none refused or uncertain (the Kazakh one was «Тоқаев Мәскеуге
    қашан барады?»: uncertain at 0.55, though its quote holds «11–12 ноября»), and each answer quotes what answers
    it; one of them is Kazakh, one English."""
    assert set(BUNDLED_EXAMPLES) == set(EXAMPLE_ANSWERS), "a changed example needs what its answer must quote"
    answers = {question: bundled_assistant.ask(question) for question in BUNDLED_EXAMPLES}
    assert {q: a.status for q, a in answers.items() if a.status != "answered"} == {}
    assert [q for q, a in answers.items() if EXAMPLE_ANSWERS[q] not in a.text] == []
    assert any(re.search("[әғқңөұүһі]", q) for q in answers) and any(q.isascii() for q in answers)


@pytest.mark.slow
def test_the_chat_describes_the_collection_and_labels_passages_by_title_and_page(
    bundled_library: Library, tmp_path: Path
) -> None:
    one = collection_view(bundled_library)
    bundled_library.add(_file(tmp_path, "note.md", NOTE))
    bundled_library.rebuild()
    two = collection_view(bundled_library)

    assert one.placeholder == "Ваш вопрос о документе…" and "## Вопросы по документу\n" in one.header
    assert two.placeholder == "Ваш вопрос по документам…"
    assert "2 документа: " in two.header and "«Заметка»" in two.header
    assert two.examples[0] == "О чём документ «Заметка»?" and len(two.examples) > 1
    assert ("Заметка", "note") in two.choices
    hit = bundled_library.retriever.search("Где построят завод аккумуляторов?", k=1, documents=["note"])[0]
    paged = replace(hit, metadata={**hit.metadata, "page": 2})
    label = passage_label(1, paged, bundled_library.retriever.index.documents)
    assert label == f"[1] Заметка · стр. 2 · абзац {hit.metadata['paragraph']}"


def test_documents_sharing_a_title_are_told_apart_by_name_in_the_header_filter_and_examples(
    tmp_path: Path, encoder
) -> None:
    """A copy of a file added under another name has the same title: the header listed «Регламент столовой» twice,
    the filter offered two identical choices and the examples asked the same question twice."""
    canteen = "# Регламент столовой\n\nСтоловая работает с 12:00 до 15:00. Обед стоит 2500 тенге.\n"
    sources = [_file(tmp_path, name, canteen) for name in ("canteen.md", "canteen copy.md")]
    sources.append(_file(tmp_path, "parking.md", "# Правила парковки\n\nПарковка во дворе здания.\n"))
    build_index(sources, encoder, tmp_path / "index", retrieval=RETRIEVAL)

    view = collection_view(Library(Retriever(load_index(tmp_path / "index"), encoder)))

    assert view.choices == [
        ("Правила парковки", "parking"),
        ("Регламент столовой (canteen copy)", "canteen copy"),
        ("Регламент столовой (canteen)", "canteen"),
    ]
    listed = "«Правила парковки», «Регламент столовой (canteen copy)», «Регламент столовой (canteen)»"
    assert f"3 документа: {listed}." in unescape(view.header)
    assert sorted(view.examples) == ["О чём документ «Правила парковки»?", "О чём документ «Регламент столовой»?"]


def test_render_sources_quote_the_passage_with_the_answering_sentence_marked(small_retriever) -> None:
    hit = small_retriever.search("Где открыт филиал МГИМО?", k=1)[0]
    start, end = hit.highlight
    answer = Answer("…", [hit], False, "q", [hit])

    html = render_sources(answer, small_retriever.index.documents)

    assert html.startswith('<div class="kz-source">') and '<span class="kz-num">[1]</span>' in html
    assert f"абзац {hit.metadata['paragraph']} · символы {hit.start}–{hit.end} · 11.11.2025" in unescape(html)
    marked = re.search(r'<mark class="kz-answer">(.*?)</mark>', html).group(1)
    assert marked == escape_markdown(hit.text[start - hit.start : end - hit.start])
    context = re.search(r'<details class="kz-context">.*?</details>', html).group()
    assert "\n" not in context and '<mark class="kz-passage">' in context, "the passage, in its document, inline"
    assert len(unescape(re.sub(r"<[^>]+>", "", context))) > len(hit.text), "with the text around it"
    paged = replace(hit, metadata={**hit.metadata, "page": 3})
    assert "стр. 3 · абзац" in unescape(render_sources(replace(answer, citations=[paged])))


def test_render_document_highlights_the_passage_and_escapes_everything(small_retriever) -> None:
    hit = small_retriever.search("Где открыт филиал МГИМО?", k=1)[0]
    document = small_retriever.index.documents[hit.doc_id]
    evil = replace(document, text=document.text + f"\n\n{XSS}")

    html = render_document(evil, hit)

    assert html.count('<mark class="kz-passage" id="kz-cited">') == 1
    assert "<img" not in html and escape_html(XSS) in html
    assert "11.11.2025 · фото с сайта gov.kz" in html
    assert "date 2025-11-11" not in html, "the metadata line is shown as metadata, not as text"
    assert "Здесь появится документ" in render_document(None, None)


def test_a_marker_citing_a_removed_or_changed_document_says_what_happened(small_retriever) -> None:
    """An old answer's [n] opens its document: when the document was removed since, the view says so (it kept its
    placeholder); when its text changed, the view says the passage cannot be marked (it marked other words)."""
    hit = small_retriever.search("Где открыт филиал МГИМО?", k=1)[0]
    document = small_retriever.index.documents[hit.doc_id]
    hit = replace(hit, metadata={**hit.metadata, "title": "Визит <b>2025</b>"})

    gone = render_document(None, hit)
    assert "Документа «Визит &lt;b&gt;2025&lt;/b&gt;» больше нет в индексе" in gone
    changed = render_document(replace(document, text="Новая редакция. " + document.text), hit)
    assert "Документ изменился после этого ответа" in changed and 'id="kz-cited"' not in changed
    assert "Документ изменился" not in render_document(document, hit)


def test_the_llm_switch_says_why_it_is_off_and_the_page_says_how_answers_are_made(library: Library) -> None:
    def props(app, kind: str) -> list[dict]:
        return [c["props"] for c in app.get_config_file()["components"] if c["type"] == kind]

    app = build_app(library)
    (switch,) = props(app, "checkbox")
    assert switch["interactive"] is False and switch["value"] is False and "KZRU_RAG_LLM_MODEL" in switch["info"]
    assert any("Ответы — цитаты из документов" in p["value"] for p in props(app, "markdown"))
    library.llm = OpenAICompatibleLLM("stub-model", base_url=unused_base_url())
    app = build_app(library)
    (switch,) = props(app, "checkbox")
    assert switch["interactive"] is True and switch["label"] == "Ответ языковой модели (stub-model)"
    assert any("Отвечает модель stub-model" in p["value"] for p in props(app, "markdown"))


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    "name, data, complaint",
    [
        (
            "report.rtf",
            "{\\rtf1 Привет}",
            "только файлы .txt, .md, .pdf, .docx, .html, .htm и сканы .png, .jpg, .jpeg, .tif, .tiff",
        ),
        ("report.pdf", "%PDF-1.4", "файл повреждён"),
        ("binary.txt", b"abc\x00def", "двоичный файл"),
        ("garbled.txt", bytes(range(128, 256)) * 3, "кодировка текста не распознана"),
        ("empty.md", " \n\n ", "в файле нет текста"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(
    library: Library, tmp_path: Path, name: str, data, complaint: str
) -> None:
    accepted, message = add_report(library, _file(tmp_path, name, data))

    assert not accepted and complaint in message and f"«{name}»" in message
    assert library.uploads() == []


def test_an_upload_over_the_size_limit_is_refused(library: Library, tmp_path: Path) -> None:
    big = _file(tmp_path, "big.txt", "а" * (MAX_UPLOAD_BYTES // 2 + 1))

    accepted, message = add_report(library, big)

    assert not accepted and "больше 10 МБ (10,0 МБ)" in message, "a Russian decimal comma"
    assert size_problem(int(14.2 * 2**20)) == "файл больше 10 МБ (14,2 МБ); разделите его на части"


def test_an_upload_is_kept_in_the_documents_folder_next_to_the_index(library: Library, tmp_path: Path) -> None:
    accepted, message = add_report(library, _file(tmp_path, "note.md", NOTE))

    assert accepted and "Перестроить индекс" in message
    assert library.documents_dir == (tmp_path / "documents").resolve()
    assert [p.name for p in library.uploads()] == ["note.md"]
    assert library.pending() == library.uploads()
    assert "ждёт перестройки" in render_status(library)
    assert add_report(library, _file(tmp_path, "note.md", NOTE + "ещё"))[1].startswith("«note.md» заменён")
    assert add_report(library, _file(tmp_path, "note.txt", NOTE))[0], "note.txt is a document beside note.md"
    assert cell("note.md") in render_status(library) and cell("note.txt") in render_status(library)
    assert add_report(library, _file(tmp_path, "итоги, <b>.txt", NOTE))[0]
    status = render_status(library)
    assert cell("итоги, &lt;b&gt;") in status and cell("8\u00a0408") in status
    assert cell(len(NOTE)) in status, "characters, not bytes, for files waiting for a rebuild too"


def test_an_upload_with_the_same_content_as_another_says_it_is_a_copy(library: Library, tmp_path: Path) -> None:
    """A copy under another name is a second document of the same text: it is added, and the page says so."""
    first = add_report(library, _file(tmp_path, "note.md", NOTE))
    copy = add_report(library, _file(tmp_path, "note (копия).md", NOTE))
    other = add_report(library, _file(tmp_path, "other.md", NOTE + "ещё"))

    assert first[0] and copy[0] and other[0]
    assert "совпадает" not in first[1] and "совпадает" not in other[1]
    assert "Его содержимое совпадает с «note.md»: если это копия, удалите лишний документ" in copy[1]
    assert [p.name for p in library.uploads()] == ["note (копия).md", "note.md", "other.md"]


@pytest.mark.slow
def test_a_replaced_upload_is_one_row_of_the_status_table(bundled_library: Library, tmp_path: Path) -> None:
    bundled_library.add(_file(tmp_path, "note.md", NOTE))
    bundled_library.rebuild()
    bundled_library.add(_file(tmp_path, "note.md", NOTE + "Ещё абзац.\n"))

    status = render_status(bundled_library)

    assert status.count(cell("note")) == 1
    assert "заменён — ждёт перестройки" in status and cell(len(NOTE) + 11) in status


# ---------------------------------------------------------------- rebuilding


@pytest.mark.slow
def test_rebuild_indexes_the_uploads_and_swaps_in_the_new_index(bundled_library: Library, tmp_path: Path) -> None:
    before = bundled_library.assistant
    bundled_library.add(_file(tmp_path, "note.md", NOTE))
    reports: list[BuildProgress] = []

    manifest = bundled_library.rebuild(reports.append)

    assert len(manifest.documents) == 2
    assert bundled_library.assistant is not before
    assert bundled_library.retriever.embedder is before.retriever.embedder, "the model is not loaded again"
    assert reports[-1].stage == "done" and reports[-1].share == 1.0, "progress reaches the end"
    assert [r.share for r in reports] == sorted(r.share for r in reports), "progress only moves forward"
    assert reports[-1].embedded < bundled_library.retriever.index.manifest.chunk_count, (
        "only the new texts are embedded"
    )
    answer = bundled_library.assistant.ask("Какой завод построят в Павлодаре?")
    assert "аккумуляторов" in answer.text and answer.citations[0].doc_id == "note"
    assert bundled_library.pending() == []
    status = render_status(bundled_library)
    assert "актуален" in status and "загружен" in status and "встроенный документ" in status
    assert bundled_library.retriever.index.manifest.retrieval == before.retriever.index.manifest.retrieval

    assert bundled_library.remove("note.md") == bundled_library.documents_dir / "note.md"
    bundled_library.rebuild()
    assert [r.source for r in bundled_library.retriever.index.manifest.documents] == [BUNDLED_SOURCE]


@pytest.mark.slow
def test_a_failed_rebuild_leaves_the_working_index_in_place(bundled_library: Library) -> None:
    before, files = bundled_library.assistant, _digest(bundled_library.index_path)
    bundled_library.documents_dir.mkdir()
    _file(bundled_library.documents_dir, "broken.txt", bytes(range(128, 256)) * 3)  # put there by hand, not uploaded

    with pytest.raises(KzruRagError, match="not valid UTF-8"):
        bundled_library.rebuild()
    *_, said = rebuild_index(bundled_library)  # the «Индекс» tab: the same rebuild, said in Russian

    assert "Индекс не перестроен, работает прежний. Причина: «" in said and "broken.txt»: кодировка текста" in said
    assert "UTF-8" in said and "not valid" not in said
    assert cell("не читается: удалите или замените файл, иначе индекс не перестроится") in unescape(
        re.sub(r"<span[^>]*>|</span>", "", render_status(bundled_library))
    ), "the status table says which file stops the rebuild"
    assert said.endswith(
        "Удалите «broken.txt» в списке «Загруженные документы» или загрузите исправленный файл с тем же именем, "
        "затем перестройте индекс снова."
    ), "the page cannot re-save a file of the documents folder: it says what the page can do"
    assert bundled_library.assistant is before
    assert _digest(bundled_library.index_path) == files
    assert "Астане" in bundled_library.assistant.ask("Где открыт филиал МГИМО?").text


@pytest.mark.slow
def test_only_one_rebuild_runs_at_a_time(bundled_library: Library) -> None:
    inner: list[str] = []

    def progress(report: BuildProgress) -> None:
        if not inner:
            assert bundled_library.rebuilding and "перестраивается" in render_status(bundled_library)
            with pytest.raises(KzruRagError, match="already being rebuilt") as refused:
                bundled_library.rebuild()
            inner.append(str(refused.value))
            said = removal_report(bundled_library, "note.md")  # the rebuild reads note.md after this
            assert said == "Идёт перестройка индекса: «note.md» можно будет удалить, когда она закончится."

    bundled_library.documents_dir.mkdir()
    _file(bundled_library.documents_dir, "note.md", NOTE)
    bundled_library.rebuild(progress)

    assert inner and not bundled_library.rebuilding
    assert [p.name for p in bundled_library.uploads()] == ["note.md"]


def test_rebuild_progress_shows_the_share_once_texts_are_read_and_a_moving_bar_before() -> None:
    loading = rebuild_progress(BuildProgress("loading", "", 0, 0, 0, 0, 0.0, 0.0), 7.4)
    assert "Загрузка модели (в отдельном процессе) · прошло 7 с" in loading
    assert "<progress" in loading and "value=" not in loading, "no share while the model loads: a moving bar"
    embedding = rebuild_progress(BuildProgress("embedding", f"{XSS}.md", 1, 2, 28, 3, 65.0, 0.5), 65.2)
    assert 'value="0.500" max="1"' in embedding and "50 % · Векторизация" in embedding
    assert "(файл 2 из 2)" in embedding and "прошло 1 мин 5 с" in embedding
    assert XSS not in embedding and escape_html(XSS) in embedding, "a file's name is text"
    said = re.search(r'aria-valuetext="([^"]*)"', embedding)
    assert said and unescape(said[1]) in unescape(embedding), "a screen reader hears what the page shows"
    assert 'aria-label="Перестройка индекса"' in embedding


@pytest.mark.slow
def test_the_rebuild_log_moves_while_the_model_loads_in_silence(bundled_library: Library, tmp_path: Path) -> None:
    """The app's rebuild loads the model in a child process, which says «loading» and then nothing until PyTorch
    and the model are loaded: the log still renews at each tick, its time growing, and ends with the outcome."""
    bundled_library.add(_file(tmp_path, "note.md", NOTE))
    loaded = threading.Event()
    rebuild = bundled_library.rebuild

    def silent_while_loading(progress: Callable[[BuildProgress], None], engine: str | None = None) -> Any:
        progress(BuildProgress("loading", "", 0, 0, 0, 0, 0.0, 0.0))  # the child's first report
        loaded.wait(60)
        return rebuild(progress, engine)

    bundled_library.rebuild = silent_while_loading  # type: ignore[method-assign]
    logs: list[str] = []
    for log in rebuild_index(bundled_library):
        logs.append(log)
        if sum("Загрузка модели" in entry for entry in logs) == 6:
            loaded.set()

    silent = [entry for entry in logs if "Загрузка модели" in entry]
    seconds = [int(re.search(r"прошло (\d+) с", entry)[1]) for entry in silent]  # type: ignore[index]
    assert len(silent) >= 6 and seconds == sorted(seconds) and seconds[-1] >= 2, seconds
    assert all("value=" not in entry for entry in silent)
    assert "Индекс перестроен: 2 документа" in logs[-1]


def test_library_rejects_a_bad_k_and_the_page_one_over_its_slider(library: Library) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Library(library.retriever, k=0)
    with pytest.raises(ValueError, match=f"between 1 and {MAX_PASSAGES}"):
        build_app(Library(library.retriever, k=MAX_PASSAGES + 1))


# ---------------------------------------------------------------- app.py


def _app_module():
    spec = importlib.util.spec_from_file_location("kzru_rag_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_options_default_to_this_machine_only() -> None:
    args = _app_module().parse_args([])

    assert (args.host, args.port, args.index, args.k) == ("127.0.0.1", 7860, None, 5)
    assert _app_module().parse_args(["--host", "0.0.0.0", "--port", "8080", "--index", "x"]).port == 8080


def test_app_login_comes_from_kzru_rag_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app_module()
    monkeypatch.delenv("KZRU_RAG_AUTH", raising=False)
    assert app.auth_from_env() is None
    monkeypatch.setenv("KZRU_RAG_AUTH", "анна:секрет:с-двоеточием")
    assert app.auth_from_env() == ("анна", "секрет:с-двоеточием")
    monkeypatch.setenv("KZRU_RAG_AUTH", "no-password")
    with pytest.raises(KzruRagError, match="user:password"):
        app.auth_from_env()


def test_app_reports_a_missing_index_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _app_module().main(["--index", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no index at") and "Traceback" not in err


@pytest.mark.slow
def test_importing_the_ui_skips_gradios_stub_writer_and_gradio_still_works() -> None:
    """Gradio rewrites a .pyi stub per component class as it is imported (about half of `import gradio`); the UI's
    import replaces the writer first. Fails when Gradio renames it, so the saving is not lost unnoticed."""
    code = (
        "import kzru_rag.faces.ui, gradio, gradio.blocks_events, gradio.component_meta as meta\n"
        "from kzru_rag.faces.ui.gradio_stubs import no_stubs\n"
        "print(meta.create_or_modify_pyi is no_stubs, gradio.blocks_events.create_or_modify_pyi is no_stubs,"
        " gradio.Textbox(label='вопрос').label, type(gradio.Blocks()).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True", "вопрос", "Blocks"]


def test_a_users_conversations_are_kept_only_after_the_page_opened_and_never_from_a_stale_browser(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    users, kept = UsersConversations(tmp_path), tmp_path / "conversations"
    first, second = gr.Request(username="анна", session_hash="one"), gr.Request(username="анна", session_hash="two")
    mine = {"current": "a", "conversations": [{"id": "a", "title": "Где открыт филиал МГИМО?", "turns": []}]}
    empty = Store().to_state()

    users.changed(mine, first)  # the browser's own value, before its page opened
    assert not kept.exists()
    assert users.opened(mine, first) == mine  # no copy yet: the browser's conversations, kept from now on
    users.changed(mine, first)
    assert [json.loads(f.read_text(encoding="utf-8")) for f in kept.iterdir()] == [mine]

    assert users.opened(empty, second) == mine  # another browser starts from the copy
    users.changed(empty, second)  # and its stale value, reported after it opened, is not a change
    assert [json.loads(f.read_text(encoding="utf-8")) for f in kept.iterdir()] == [mine]
    users.changed(empty, second)  # the same value again: still not one
    assert [json.loads(f.read_text(encoding="utf-8")) for f in kept.iterdir()] == [mine]

    none = gr.Request(session_hash="three")  # without a login nothing is kept on the server
    assert users.opened(empty, none) == empty
    users.changed(mine | {"current": None}, none)
    assert [json.loads(f.read_text(encoding="utf-8")) for f in kept.iterdir()] == [mine]

    next(kept.iterdir()).write_text("{damaged", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert users.opened(empty, gr.Request(username="анна", session_hash="four")) == empty
    assert "cannot be read" in caplog.text
