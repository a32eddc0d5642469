"""What a reader returns (`Extracted`) and which reader a file name takes (`format_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = {".txt": "text", ".md": "text", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}


SUPPORTED_SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True)
class Extracted:
    """A file's text as indexed.

    `pages`: start offset in `text` of each page (PDF only; page n starts at `pages[n - 1]`);
    `empty_pages`: 1-based numbers of pages that held no text (left out).
    """

    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()
    empty_pages: tuple[int, ...] = ()


def format_of(path: str | Path) -> str | None:
    """The reader for a file name ("text", "pdf", "docx", "html"), None when the type is not supported."""
    return FORMATS.get(Path(path).suffix.lower())
