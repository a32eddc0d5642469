"""PDF files with a text layer, read with pypdfium2 (PDFium; chosen by bench/readers.py, see docs/readers.md).

Each page's lines are joined into paragraphs: a line that stops short of the page's longest line
ends a paragraph (the last line of a paragraph, a heading); PDFium's marks of words hyphenated at
a line end are dropped, joining the word. Pages are separated by a blank line, so a page break is
always a paragraph boundary and no passage straddles two pages.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted

SHORT_LINE = 0.75
"""A line shorter than this share of the page's longest line ends a paragraph."""
_HYPHEN_MARKS = str.maketrans("", "", "\ufffe\x02")
NO_TEXT_LAYER = "the PDF has no text layer: it is a scan, and text recognition (OCR) is not supported"


def read_pdf(path: Path, name: str) -> Extracted:
    """The text of a PDF, pages separated by blank lines, and the title its properties give; SourceError
    "encrypted", "corrupt" or "no_text"."""
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
    finally:
        pdf.close()
    if not any(pages):
        raise SourceError(f"{name}: {NO_TEXT_LAYER}", "no_text")
    text, starts = "", []
    for page in pages:
        if text and page:
            text += "\n\n"
        starts.append(len(text))
        text += page
    return Extracted(
        text, title, pages=tuple(starts), empty_pages=tuple(n for n, page in enumerate(pages, 1) if not page)
    )


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
