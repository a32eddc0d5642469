"""PDF files, read with pypdfium2 (PDFium; chosen by bench/readers.py, see docs/readers.md).

Each page's lines are joined into paragraphs: a line that stops short of the page's longest line
ends a paragraph (the last line of a paragraph, a heading); PDFium's marks of words hyphenated at
a line end are dropped, joining the word. Pages are separated by a blank line, so a page break is
always a paragraph boundary and no passage straddles two pages. A page without a text layer that
draws anything (a scan, text turned into outlines) is drawn at `ocr.PDF_DPI` and read by OCR, so a
mixed PDF is read page by page and keeps its page numbers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted, join_pages
from kzru_rag.ingest.readers.ocr import PDF_DPI, Progress, check_tesseract, recognize

SHORT_LINE = 0.75
"""A line shorter than this share of the page's longest line ends a paragraph."""
_HYPHEN_MARKS = str.maketrans("", "", "\ufffe\x02")
NO_TEXT = "the PDF holds no text: no text layer, and none was recognized on its pages"


def read_pdf(path: Path, name: str, progress: Progress | None = None) -> Extracted:
    """The text of a PDF, pages separated by blank lines, scanned pages read by OCR (`progress` after each), and the
    title its properties give; SourceError "encrypted", "corrupt", "no_ocr" or "no_text"."""
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise SourceError(
                f"{name}: the PDF is password-protected; save a copy without a password", "encrypted"
            ) from exc
        raise SourceError(
            f"{name}: not a readable PDF ({exc}); re-save or re-export it", "corrupt", detail=str(exc)
        ) from exc
    try:
        pages = [_page_text(page.get_textpage().get_text_range()) for page in pdf]
        title = pdf.get_metadata_dict().get("Title") or None
        scanned = [n for n, text in enumerate(pages, 1) if not text and _draws_anything(pdf[n - 1])]
        if scanned:
            check_tesseract(name)
        for done, number in enumerate(scanned, 1):
            picture = pdf[number - 1].render(scale=PDF_DPI / 72, grayscale=True).to_pil()
            pages[number - 1] = recognize(picture, name, PDF_DPI)
            if progress:
                progress(done, len(scanned))
    finally:
        pdf.close()
    if not any(pages):
        raise SourceError(f"{name}: {NO_TEXT}", "no_text")
    return replace(join_pages(pages, scanned), title=title)


def _draws_anything(page: pdfium.PdfPage) -> bool:
    """Whether a page has any content (a picture, paths) that OCR could read."""
    return next(iter(page.get_objects(max_depth=1)), None) is not None


def _page_text(raw: str) -> str:
    """A page's text: lines joined into paragraphs, hyphenation marks removed."""
    lines = [" ".join(line.split()) for line in raw.translate(_HYPHEN_MARKS).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    longest = max(len(line) for line in lines)
    paragraphs, current = [], []
    for line in lines:
        current.append(line)
        if len(line) < SHORT_LINE * longest:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)
