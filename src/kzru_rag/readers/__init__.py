"""Readers: the text of a source file, one module per format.

`read_file` returns an `Extracted` text whose blank lines are paragraph boundaries (Word
paragraphs and headings, HTML blocks, PDF pages and paragraphs). Plain text is read in this
process; PDF, Word and HTML files are parsed by `sandbox.extract` in a child process with a time
and memory bound, so a hostile file cannot hang or exhaust the app.
"""

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


def read_file(path: Path, kind: str | None = None) -> Extracted:
    """The text of one supported file (of format `kind`, default: by its name), or SourceError (with a
    `reason`) saying what is wrong."""
    kind = kind or format_of(path)
    if kind == "text":
        from .text import read_text

        return read_text(path.read_bytes(), str(path))
    from .sandbox import extract

    return extract(path, str(kind))
