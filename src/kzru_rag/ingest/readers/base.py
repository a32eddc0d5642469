"""What a reader returns (`Extracted`) and which reader a file name takes (`format_of`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FORMATS = {
    ".txt": "text",
    ".md": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff"), "image"),
}


SUPPORTED_SUFFIXES = tuple(FORMATS)
READERS_VERSION = 3
"""Raised whenever the readers of PDF, Word, HTML or picture files give another text for the same file (2: a table's
rows read with their column headings; 3: Word footnotes and endnotes), so that a rebuild reads such files again
rather than keep their old text."""


@dataclass(frozen=True)
class Extracted:
    """A file's text as indexed.

    `pages`: start offset in `text` of each page (PDF and pictures only; page n starts at `pages[n - 1]`);
    `empty_pages`: 1-based numbers of pages that held no text (left out);
    `scanned_pages`: 1-based numbers of pages read by OCR (pictures of text).
    """

    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()
    empty_pages: tuple[int, ...] = ()
    scanned_pages: tuple[int, ...] = ()


def join_pages(pages: list[str], scanned: Iterable[int] = ()) -> Extracted:
    """One text of pages' texts, separated by blank lines (an empty page adds nothing but keeps its number);
    `scanned`: the 1-based numbers of the pages read by OCR."""
    text, starts = "", []
    for page in pages:
        if text and page:
            text += "\n\n"
        starts.append(len(text))
        text += page
    empty = tuple(n for n, page in enumerate(pages, 1) if not page)
    return Extracted(text, pages=tuple(starts), empty_pages=empty, scanned_pages=tuple(scanned))


def format_of(path: str | Path) -> str | None:
    """The reader for a file name ("text", "pdf", "docx", "html", "image"), None when the type is not supported."""
    return FORMATS.get(Path(path).suffix.lower())
