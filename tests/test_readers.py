"""PDF, Word and web pages: extraction, page numbers in citations, bad input refused with the index untouched.

Every file is made by another tool than the product's readers (tests/made_files.py: reportlab, Pillow,
a hand-built .docx; tests/data/pages: saved web pages)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from app_server import copy_index
from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.llm import OpenAICompatibleLLM
from kzru_rag.errors import IndexBuildError, SourceError
from kzru_rag.faces import cli
from kzru_rag.faces.ui import add_report, render_sources
from kzru_rag.index.build import build_index, index_documents
from kzru_rag.index.load import load_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import collect_documents, read_document
from kzru_rag.ingest.readers import read_file
from kzru_rag.ingest.readers.sandbox import _PAGE_MARK, _run, extract
from kzru_rag.library import Library
from kzru_rag.retrieval.retriever import Retriever
from made_files import docx_file, pdf_file, zip_bomb_docx
from openai_stub import OpenAIStub, openai_stub_fixture  # noqa: F401  (provides the openai_stub fixture)

PAGES = Path(__file__).parent / "data" / "pages"
PAGE_1 = [
    "Государственный визит Президента Казахстана в Россию прошёл 11–12 ноября 2025 года. " * 3,
    "Стороны обсудили торговлю, энергетику и транспортные коридоры.",
]
PAGE_2 = [
    "Новый автомобильный мост через Иртыш в Семее построят к 2028 году; его длина составит 1,2 километра.",
    "Строительство возьмёт на себя совместное предприятие двух стран.",
]
QUESTION = "Когда построят мост через Иртыш в Семее?"


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _pdf_index(folder: Path, encoder) -> Path:
    """An index of a two-page PDF whose answer is on page 2."""
    build_index([pdf_file(folder / "визит.pdf", [PAGE_1, PAGE_2], hyphenate=True)], encoder, folder / "index")
    return folder / "index"


@pytest.fixture(scope="module")
def pdf_index(tmp_path_factory, encoder) -> Path:
    return _pdf_index(tmp_path_factory.mktemp("pdf"), encoder)


@pytest.fixture(scope="module")
def bundled_pdf_index(tmp_path_factory, embedder) -> Path:
    """The same index built with the bundled model: its answers are cited from page 2 (slow tests)."""
    return _pdf_index(tmp_path_factory.mktemp("pdf"), embedder)


# ---------------------------------------------------------------- extraction


def test_a_pdf_is_read_page_by_page_with_hyphenated_words_joined(tmp_path: Path) -> None:
    document = read_document(pdf_file(tmp_path / "визит.pdf", [PAGE_1, [], PAGE_2], hyphenate=True))

    assert "Государственный визит Президента Казахстана" in document.text and "-\n" not in document.text
    assert document.pages[0] == 0 and document.metadata["empty_pages"] == [2]
    assert document.page_at(document.text.index("мост через Иртыш")) == 3
    chunks = Chunker().run(document)
    assert {chunk.metadata["page"] for chunk in chunks} == {1, 3}
    for chunk in chunks:
        page = chunk.metadata["page"]
        assert document.page_at(chunk.end - 1) == page, "a chunk lies on one page"
    assert document.file_sha256 == hashlib.sha256((tmp_path / "визит.pdf").read_bytes()).hexdigest()


def test_word_headings_paragraphs_and_table_rows_become_paragraphs(tmp_path: Path) -> None:
    path = docx_file(
        tmp_path / "итоги.docx",
        "Итоги визита",
        [("Heading1", "Итоги визита"), ("", "Подписано более 80 документов."), ("", "Открыт филиал МГИМО в Астане.")],
        tables=[[["Город", "Проект"], ["Павлодар", "Завод аккумуляторов"]]],
    )

    document = read_document(path)

    assert document.text.split("\n\n") == [
        "Итоги визита",
        "Подписано более 80 документов.",
        "Открыт филиал МГИМО в Астане.",
        "Город: Павлодар | Проект: Завод аккумуляторов",
    ]
    assert document.metadata["title"] == "Итоги визита"


def test_word_footnotes_are_read_after_the_body(tmp_path: Path) -> None:
    """python-docx reads no footnotes: «не превышает 30 процентов оклада» was lost, and no question could find it."""
    notes = ["Размер премии не превышает 30 процентов оклада.", "Приказ № 5 от 3 марта 2025 года."]
    path = docx_file(tmp_path / "премии.docx", "Премии", [("", "Премия выплачивается ежеквартально.")], footnotes=notes)

    assert read_document(path).text.split("\n\n") == ["Премия выплачивается ежеквартально.", *notes]
    damaged = tmp_path / "damaged.docx"
    with zipfile.ZipFile(path) as package, zipfile.ZipFile(damaged, "w") as copy:
        for part in package.namelist():
            copy.writestr(part, b"<w:footnotes broken" if part == "word/footnotes.xml" else package.read(part))
    with pytest.raises(SourceError) as refused:
        read_document(damaged)
    assert refused.value.reason == "corrupt"


CARGO = [["Груз", "Предельная масса"], ["Паллета", "1500 кг"], ["Коробка", "30 кг"]]
CARGO_ROWS = ["Груз: Паллета | Предельная масса: 1500 кг", "Груз: Коробка | Предельная масса: 30 кг"]
LETTERHEAD = "ТОО «Склад», г. Павлодар, ул. Ленина, 1. Телефон приёмной: 8 (7182) 55-12-34"


def test_a_word_table_row_is_read_with_its_column_headings_unless_the_table_has_no_header_row(tmp_path: Path) -> None:
    tables = [
        CARGO,
        [["Директор склада", "А. С. Петрова"]],  # one row
        [[LETTERHEAD, "Директору ТОО «Грузы»"], ["Исх. № 15", "от 3 марта 2025 года"]],  # layout: no headings
        [["2024", "2025"], ["1500 кг", "1700 кг"]],  # numbers are no headings
    ]
    path = docx_file(tmp_path / "склад.docx", "Склад", [("", "Правила приёмки грузов.")], tables=tables)

    assert read_document(path).text.split("\n\n") == [
        "Правила приёмки грузов.",
        *CARGO_ROWS,
        "Директор склада | А. С. Петрова",
        f"{LETTERHEAD} | Директору ТОО «Грузы»",
        "Исх. № 15 | от 3 марта 2025 года",
        "2024 | 2025",
        "1500 кг | 1700 кг",
    ]


def test_a_word_row_marked_as_the_header_row_heads_its_table_however_long_its_headings(tmp_path: Path) -> None:
    heading = "Предельная масса одного места груза при приёмке на склад в летний период"
    table = [[heading, "Груз"], ["1500 кг", "Паллета"]]
    path = docx_file(tmp_path / "склад.docx", "Склад", [], tables=[table], repeated_header=True)

    assert read_document(path).text == f"{heading}: 1500 кг | Груз: Паллета"


def test_a_web_page_table_row_is_read_with_its_th_headings_unless_the_table_has_none(tmp_path: Path) -> None:
    article = "<p>На складе принимают грузы на паллетах и в коробках; каждый груз взвешивают при приёмке.</p>" * 2
    headed = "".join(f"<tr><td>{cargo}</td><td>{mass}</td></tr>" for cargo, mass in CARGO[1:])
    page = (
        f"<html><head><title>Склад</title></head><body><article><h1>Правила склада</h1>{article}"
        f"<table><caption>Нормы приёмки</caption><tr><th>Груз</th><th>Предельная масса</th></tr>{headed}</table>"
        f"<p>Сверх нормы грузы не принимаются.</p><table>{headed}</table></article></body></html>"
    )
    (tmp_path / "склад.html").write_text(page, encoding="utf-8")

    paragraphs = read_document(tmp_path / "склад.html").text.split("\n\n")

    assert paragraphs[paragraphs.index("Нормы приёмки") :] == [
        "Нормы приёмки",
        *CARGO_ROWS,
        "Сверх нормы грузы не принимаются.",
        "Паллета | 1500 кг",
        "Коробка | 30 кг",
    ]


def test_the_answer_from_a_word_table_quotes_its_row_with_the_column_headings(tmp_path: Path, encoder) -> None:
    blocks = [("Heading1", "Правила склада"), ("", "Грузы принимают на паллетах и в коробках; каждый груз взвешивают.")]
    path = docx_file(tmp_path / "склад.docx", "Правила склада", blocks, tables=[CARGO])
    build_index([path], encoder, tmp_path / "index")

    answer = Assistant(Retriever(load_index(tmp_path / "index"), encoder)).ask("Какая предельная масса паллеты?")

    assert answer.status == "answered" and answer.text.startswith(CARGO_ROWS[0])
    assert answer.citations[0].text == CARGO_ROWS[0]


@pytest.mark.parametrize("page", ["omsk-forum.html", "pavlodar-old-cms.html"])
def test_a_saved_web_page_gives_its_article_without_menus_scripts_and_footers(page: str) -> None:
    document = read_document(PAGES / page)

    assert document.metadata["title"].startswith(("Форум межрегионального", "Павлодар: завод"))
    for kept in ("XXI форум", "около 400 человек"):
        assert (kept in document.text) == (
            kept in (PAGES / page).read_bytes().decode("cp1251" if "old" in page else "utf-8")
        )
    for boilerplate in (
        "Политика",
        "Поиск по сайту",
        "Читайте также",
        "Все права защищены",
        "cookie",
        "gtag",
        "Курсы валют",
        "Комментарии",
        "Перепечатка",
        "_gaq",
    ):
        assert boilerplate not in document.text
    assert "\n\n" in document.text, "blocks are paragraphs"


def test_a_file_gone_before_it_is_read_is_refused_with_a_reason(tmp_path: Path) -> None:
    """A build reads its files one by one; one removed meanwhile raised FileNotFoundError, and the rebuild in the app
    ended as «процесс сборки остановился (код выхода 1)» with no word of the file."""
    with pytest.raises(SourceError) as gone:
        read_document(tmp_path / "обед копия.txt")

    assert gone.value.reason == "not_found" and "обед копия.txt: the file is gone" in str(gone.value)
    assert add_report(Library.open(copy_index(tmp_path)), tmp_path / "обед копия.txt") == (
        False,
        "«обед копия.txt» не добавлен: файла больше нет: его удалили или переместили",
    )


LEGACY_TEXTS = [
    ("cp1251", "Форум межрегионального сотрудничества прошёл в Уральске."),
    ("koi8_r", "Стороны обсудили торговлю и энергетику."),
    ("cp866", "Мост через Иртыш построят к 2028 году."),
    ("cp1252", "Café Qazaqstan opened in Astana."),
    ("utf-16", "Тоқаев Мәскеуге барады."),
    ("utf-16", "Plain English text."),
    ("utf-16-le", "Справка № 5 выдаётся за 2 500 ₸ — Тоқаев."),  # no byte-order mark
    ("utf-16-be", "Справка выдаётся бухгалтерией.\r\nPlain text."),
    ("utf-8-sig", "Тоқаев Мәскеуге барады."),
]


@pytest.mark.parametrize("encoding,text", LEGACY_TEXTS, ids=[f"{e}-{t[:6]}" for e, t in LEGACY_TEXTS])
def test_a_text_file_saved_in_another_encoding_is_read_as_written(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes(text.encode(encoding))

    assert read_file(path).text == text


def test_a_web_page_without_a_declared_charset_is_read_in_its_code_page(tmp_path: Path) -> None:
    page = tmp_path / "old.html"
    body = "<p>Форум межрегионального сотрудничества прошёл в Уральске; в нём участвовали около 400 человек.</p>"
    page.write_bytes(f"<html><head><title>Форум</title></head><body>{body * 3}</body></html>".encode("cp1251"))

    assert "около 400 человек" in read_document(page).text


# ---------------------------------------------------------------- page numbers in citations


@pytest.mark.slow
def test_the_answer_on_page_2_is_cited_as_page_2_in_search_ask_and_the_ui(
    bundled_pdf_index: Path, embedder, capsys
) -> None:
    hit = Retriever(load_index(bundled_pdf_index), embedder).search(QUESTION, k=1)[0]
    assert "мост через Иртыш" in hit.text and hit.metadata["page"] == 2

    assert cli.main(["search", QUESTION, "-k", "1", "--index", str(bundled_pdf_index)]) == 0
    assert "стр. 2" in capsys.readouterr().out
    assert cli.main(["ask", QUESTION, "--no-llm", "--index", str(bundled_pdf_index)]) == 0
    out = capsys.readouterr().out
    assert "2028" in out and "стр. 2" in out
    answer = Assistant(Retriever(load_index(bundled_pdf_index), embedder)).ask(QUESTION)
    assert answer.citations[0].metadata["page"] == 2 and "стр. 2" in render_sources(answer)


@pytest.mark.slow
def test_the_llm_prompt_names_the_page_of_each_passage(
    bundled_pdf_index: Path, embedder, openai_stub: OpenAIStub
) -> None:
    openai_stub.queue("К 2028 году [1].")
    llm = OpenAICompatibleLLM("stub-model", base_url=openai_stub.base_url, timeout=10)

    answer = Assistant(Retriever(load_index(bundled_pdf_index), embedder), llm=llm).ask(QUESTION)

    hit = answer.citations[0]
    assert hit.metadata["page"] == 2
    assert (
        f"(стр. 2, абзац {hit.metadata['paragraph']}) {hit.text}" in openai_stub.requests[0]["messages"][1]["content"]
    )


# ---------------------------------------------------------------- duplicates, staleness


def test_the_same_passage_in_two_documents_is_cited_once(tmp_path: Path, encoder) -> None:
    text = "В Омске открыт филиал МГИМО.\n\nФорум прошёл в Уральске.\n"
    (tmp_path / "заметка.md").write_text(text, encoding="utf-8")
    (tmp_path / "копия заметки.txt").write_text(text, encoding="utf-8")
    index = index_documents(collect_documents([tmp_path]), encoder)

    hits = Retriever(index, encoder).search("Где открыт филиал МГИМО?", k=4)

    assert [h.text for h in hits].count("В Омске открыт филиал МГИМО.") == 1
    assert len({" ".join(h.text.split()) for h in hits}) == len(hits)


def test_a_changed_pdf_makes_the_index_stale_and_an_unchanged_one_is_not_read_again(pdf_index: Path) -> None:
    index = load_index(pdf_index)
    (record,) = index.manifest.documents
    assert record.file_sha256 and not index.stale
    document = index.documents[record.doc_id]
    assert read_document(Path(record.source), {record.source: document}) is document

    source = Path(record.source)
    original = source.read_bytes()
    try:
        pdf_file(source, [PAGE_2])
        assert index.manifest.stale_sources() == [record.source]
    finally:
        source.write_bytes(original)
    assert index.manifest.stale_sources() == []


# ---------------------------------------------------------------- bad input


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name → (file, the SourceError reason it must get)."""
    corrupt = folder / "обрезанный.pdf"
    corrupt.write_bytes(pdf_file(folder / "целый.pdf", [PAGE_1]).read_bytes()[:300])
    not_docx = folder / "на-самом-деле-pdf.docx"
    not_docx.write_bytes((folder / "целый.pdf").read_bytes())
    plain_zip = folder / "архив.docx"
    shutil.make_archive(str(folder / "архив"), "zip", folder, "целый.pdf")
    (folder / "архив.zip").rename(plain_zip)
    old_doc = folder / "старый.docx"
    old_doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    empty_page = folder / "пустая.html"
    empty_page.write_text(
        "<html><head><title>Пусто</title><script>x()</script></head><body><nav>Меню</nav></body></html>"
    )
    return {
        "encrypted": (pdf_file(folder / "с-паролем.pdf", [PAGE_1], encrypt="пароль"), "encrypted"),
        "blank pages": (pdf_file(folder / "пустой.pdf", [[], []]), "no_text"),
        "corrupt": (corrupt, "corrupt"),
        "not docx": (not_docx, "not_docx"),
        "zip without a document": (plain_zip, "not_docx"),
        "old .doc": (old_doc, "not_docx"),
        "zip bomb": (zip_bomb_docx(folder / "бомба.docx"), "zip_bomb"),
        "page without text": (empty_page, "empty"),
    }


@pytest.mark.slow
def test_every_bad_file_gets_its_reason_and_leaves_the_working_index_untouched(tmp_path: Path, embedder) -> None:
    working = copy_index(tmp_path)
    before = fingerprint(working)
    folder = tmp_path / "bad"
    folder.mkdir()
    for case, (path, reason) in _bad_files(folder).items():
        with pytest.raises(SourceError) as caught:
            read_file(path)
        assert caught.value.reason == reason, case
        assert path.name in str(caught.value) and "Traceback" not in str(caught.value)
        with pytest.raises(IndexBuildError, match="the existing index was left as it was"):
            build_index([path], embedder, working)
    assert fingerprint(working) == before


@pytest.mark.slow
def test_the_ui_says_in_russian_why_a_file_is_refused(tmp_path: Path, embedder) -> None:
    collection = Library(Retriever(load_index(copy_index(tmp_path)), embedder), max_bytes=2**20)
    folder = tmp_path / "bad"
    folder.mkdir()
    bad = _bad_files(folder)

    accepted, message = add_report(collection, bad["blank pages"][0])
    assert not accepted and "в файле нет текста: ни текстового слоя, ни распознаваемого текста на страницах" in message
    assert "защищён паролем" in add_report(collection, bad["encrypted"][0])[1]
    assert "zip-бомбу" in add_report(collection, bad["zip bomb"][0])[1]
    big = folder / "большой.html"
    big.write_bytes(b"<p>" + "текст ".encode() * 200_000 + b"</p>")
    assert "файл больше 1 МБ" in add_report(collection, big)[1]
    assert collection.uploads() == []

    accepted, message = add_report(collection, pdf_file(folder / "с-пустой.pdf", [PAGE_1, [], PAGE_2]))
    assert accepted and "Страницы без текста пропущены: 2" in message


def test_extraction_is_bounded_in_time_and_memory(tmp_path: Path) -> None:
    path = pdf_file(tmp_path / "визит.pdf", [PAGE_1])

    with pytest.raises(SourceError) as slow:
        extract(path, "pdf", seconds=0.01)
    assert slow.value.reason == "timeout" and "was stopped" in str(slow.value)
    with pytest.raises(SourceError) as hungry:
        extract(path, "pdf", memory=8 * 2**20)
    assert hungry.value.reason in ("memory", "crashed") and "memory" in str(hungry.value)


@pytest.mark.slow
def test_each_page_read_by_ocr_gives_the_child_more_time_and_silence_stops_it() -> None:
    """A real child that reports a page every 1.5 s runs past a 3 s bound (4.5 s in all); one that reports
    nothing is stopped."""
    pages = []
    reporting = (
        "import sys, time\n"
        "for n in (1, 2, 3):\n"
        "    time.sleep(1.5)\n"
        "    print('{mark}', n, 3, file=sys.stderr, flush=True)\n"
        "print('{{}}')"
    )

    code, out, messages = _run(
        [sys.executable, "-c", reporting.format(mark=_PAGE_MARK)],
        dict(os.environ),
        3.0,
        lambda *p: pages.append(p),
        "скан.pdf",
    )

    assert (code, out.strip(), messages, pages) == (0, b"{}", [], [(1, 3), (2, 3), (3, 3)])
    with pytest.raises(SourceError) as stopped:
        _run([sys.executable, "-c", reporting.format(mark="silent")], dict(os.environ), 3.0, pages.append, "скан.pdf")
    assert stopped.value.reason == "timeout" and "скан.pdf" in str(stopped.value)


# ---------------------------------------------------------------- the collection and its command


def test_documents_add_list_remove_from_the_terminal(tmp_path: Path, encoder, capsys) -> None:
    index = copy_index(tmp_path)
    folder = tmp_path / "папка"
    (folder / "старое").mkdir(parents=True)
    path = docx_file(folder / "итоги.docx", "Итоги", [("", "В Семее построят мост через Иртыш к 2028 году.")])
    shutil.copy(path, folder / "итоги (копия).docx")
    (folder / "старое" / "таблица.xlsx").write_bytes(b"PK")
    (folder / ".hidden.xlsx").write_bytes(b"PK")

    assert cli.main(["documents", "add", str(folder), "--index", str(index)]) == 0
    added = capsys.readouterr().out.splitlines()
    assert (
        added[0] == f"left out of {folder}: старое/таблица.xlsx (not .txt/.md/.pdf/.docx/.html or a picture of a page)"
    )
    assert added[1].startswith("added") and "the same file as" not in added[1]
    assert "(the same file as итоги (копия).docx: remove one with `kzru-rag documents remove NAME`)" in added[2]
    assert cli.main(["documents", "list", "--index", str(index)]) == 0
    listing = capsys.readouterr().out
    assert "итоги [indexed] added" in listing and "[indexed] bundled" in listing
    assert cli.main(["documents", "remove", "итоги", "итоги (копия)", "--index", str(index)]) == 0
    assert cli.main(["documents", "list", "--index", str(index), "--json"]) == 0
    assert '"origin": "added"' not in capsys.readouterr().out
    assert cli.main(["documents", "remove", "нет-такого", "--index", str(index)]) == 2
    assert "no such added document" in capsys.readouterr().err
