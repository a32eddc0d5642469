"""Readers: the text of a source file, one module per format.

`read_file` returns an `Extracted` text whose blank lines are paragraph boundaries (Word
paragraphs and headings, HTML blocks, PDF pages and paragraphs). Plain text is read in this
process; PDF, Word, HTML and picture files are parsed by `sandbox.extract` in a child process with a
time and memory bound, so a hostile file cannot hang or exhaust the app. Scanned PDF pages and
pictures (.png, .jpg, .tiff) are read by OCR (`ocr`: Tesseract, Russian, Kazakh and English).
"""

from __future__ import annotations

from pathlib import Path

from kzru_rag.ingest.readers.base import Extracted, format_of
from kzru_rag.ingest.readers.ocr import Progress


def read_file(path: Path, kind: str | None = None, progress: Progress | None = None) -> Extracted:
    """The text of one supported file (of format `kind`, default: by its name), or SourceError (with a
    `reason`) saying what is wrong; `progress` hears of each page read by OCR (pages read, pages to read)."""
    kind = kind or format_of(path)
    if kind == "text":
        from kzru_rag.ingest.readers.text import read_text

        return read_text(path.read_bytes(), str(path))
    from kzru_rag.ingest.readers.sandbox import extract

    return extract(path, str(kind), progress=progress)
