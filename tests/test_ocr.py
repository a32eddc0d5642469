"""Scanned PDFs and pictures of pages read by OCR (Tesseract, `make ocr`), pages drawn here with Pillow in DejaVu Sans.

Every page is drawn by the test (tests/made_files.py) at several type sizes and slightly askew, in Russian and
Kazakh; the text read back is scored by character accuracy (1 − edit distance / length) against what was drawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app_server import copy_index
from kzru_rag.answering.assistant import Assistant
from kzru_rag.errors import SourceError
from kzru_rag.faces import cli
from kzru_rag.faces.ui import add_report
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.ingest.documents import read_document
from kzru_rag.ingest.readers import read_file
from kzru_rag.ingest.readers.ocr import paragraphs
from kzru_rag.library import Library
from kzru_rag.retrieval.retriever import Retriever
from made_files import character_accuracy, page_picture, pdf_file

RUSSIAN = [
    ("Итоги государственного визита", 20),
    (
        "Новый автомобильный мост через Иртыш в Семее построят к 2028 году; его длина составит 1,2 километра. "
        "Строительство возьмёт на себя совместное предприятие двух стран.",
        12,
    ),
    ("Стороны договорились расширить прямое авиасообщение между Алматы, Новосибирском и Екатеринбургом.", 14),
]
KAZAKH = [
    ("Мемлекеттік сапардың қорытындылары", 18),
    (
        "Қазақстан мен Ресей көлік, энергетика және білім беру салаларындағы ынтымақтастықты нығайтуға келісті. "
        "Екі ел басшылары өңірлер арасындағы сауданы дамыту жөніндегі құжаттарға қол қойды.",
        13,
    ),
    ("Өскемен мен Барнаул арасында жаңа теміржол қатынасы ашылады.", 16),
]
TEXT_PAGE = ["Государственный визит Президента Казахстана в Россию прошёл 11–12 ноября 2025 года."]
QUESTION = "Когда построят мост через Иртыш в Семее?"

pytestmark = pytest.mark.slow  # Tesseract reads each page in one to a few seconds


def drawn(lines: list[tuple[str, int]]) -> str:
    return " ".join(text for text, _ in lines)


def page_text(extracted, number: int) -> str:
    starts = [*extracted.pages, len(extracted.text)]
    return extracted.text[starts[number - 1] : starts[number]]


@pytest.fixture(scope="module")
def scans() -> list:
    """The Russian page turned 0.8° one way, the Kazakh one 1° the other."""
    return [page_picture(RUSSIAN, angle=0.8), page_picture(KAZAKH, angle=-1.0)]


def test_a_scanned_pdf_in_russian_and_kazakh_is_read_page_by_page(tmp_path: Path, scans) -> None:
    heard = []

    extracted = read_file(
        pdf_file(tmp_path / "скан.pdf", scans), progress=lambda done, total: heard.append((done, total))
    )

    assert heard == [(1, 2), (2, 2)], "progress after each page"
    copy = tmp_path / "копия скана.pdf"
    copy.write_bytes((tmp_path / "скан.pdf").read_bytes())
    assert read_file(copy, progress=lambda *page: heard.append(page)) == extracted and len(heard) == 2, (
        "the same bytes are not read by OCR again (adding, counting and indexing a scan)"
    )
    assert extracted.scanned_pages == (1, 2) and extracted.empty_pages == ()
    for number, lines in ((1, RUSSIAN), (2, KAZAKH)):
        accuracy = character_accuracy(page_text(extracted, number), drawn(lines))
        assert accuracy >= 0.97, (number, accuracy, page_text(extracted, number))
    assert "\n\n" in page_text(extracted, 1).strip(), "blocks of text are paragraphs"


def test_a_mixed_pdf_is_read_page_by_page_and_the_scanned_answer_cites_its_page(
    tmp_path: Path, scans, embedder
) -> None:
    path = pdf_file(tmp_path / "смешанный.pdf", [TEXT_PAGE, scans[1], [], scans[0]])

    document = read_document(path)

    assert document.metadata["scanned_pages"] == [2, 4] and document.metadata["empty_pages"] == [3]
    assert document.page_at(document.text.index("Государственный визит")) == 1
    assert document.page_at(document.text.index("теміржол")) == 2
    assert document.page_at(document.text.index("мост через Иртыш")) == 4
    build_index([path], embedder, tmp_path / "index")
    answer = Assistant(Retriever(load_index(tmp_path / "index"), embedder)).ask(QUESTION)
    assert "2028" in answer.text and answer.citations[0].metadata["page"] == 4


def test_pictures_of_pages_are_read_and_a_multipage_tiff_keeps_its_pages(tmp_path: Path, scans) -> None:
    png = tmp_path / "страница.png"
    scans[1].save(png, dpi=(200, 200))
    tiff = tmp_path / "страницы.tiff"
    # copies: saving a picture as PNG leaves encoder settings on it that a TIFF writer trips on
    scans[0].copy().save(tiff, dpi=(200, 200), save_all=True, append_images=[scans[1].copy()])

    assert character_accuracy(read_file(png).text, drawn(KAZAKH)) >= 0.97
    extracted = read_file(tiff)
    assert extracted.scanned_pages == (1, 2) and len(extracted.pages) == 2
    assert character_accuracy(page_text(extracted, 2), drawn(KAZAKH)) >= 0.97


def test_without_tesseract_a_scan_is_refused_in_one_russian_line_saying_what_to_install(
    tmp_path: Path, scans, embedder, monkeypatch
) -> None:
    path = pdf_file(tmp_path / "скан.pdf", [scans[0]])
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract here

    with pytest.raises(SourceError) as caught:
        read_file(path)
    assert caught.value.reason == "no_ocr" and "tesseract-ocr-kaz" in str(caught.value)
    library = Library(Retriever(load_index(copy_index(tmp_path)), embedder))
    accepted, message = add_report(library, path)
    assert not accepted and "\n" not in message
    assert (
        "Tesseract не установлена" in message
        and "apt-get install tesseract-ocr tesseract-ocr-rus tesseract-ocr-kaz" in message
    )


def test_a_scanned_page_added_in_the_ui_or_the_terminal_is_named(tmp_path: Path, scans, embedder, capsys) -> None:
    index = copy_index(tmp_path)
    library = Library(Retriever(load_index(index), embedder))
    mixed = pdf_file(tmp_path / "смешанный.pdf", [TEXT_PAGE, scans[0]])

    accepted, message = add_report(library, mixed)

    assert accepted and "Распознаны со сканов (OCR) страницы: 2." in message
    assert cli.main(["documents", "add", str(mixed), "--index", str(index)]) == 0
    assert "(pages read by OCR: 2)" in capsys.readouterr().out


def test_tesseract_output_becomes_paragraphs_with_words_and_roman_numerals_mended() -> None:
    raw = "В ХХІ веке форум\nпро-\nшёл в Омске.\nСеверо-\nВосток\n\n\nІс ІІ этапа\n"

    assert paragraphs(raw) == "В XXI веке форум прошёл в Омске. Северо- Восток\n\nІс II этапа"
