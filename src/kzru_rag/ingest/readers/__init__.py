"""Readers: the text of a source file, one module per format.

`read_file` returns an `Extracted` text whose blank lines are paragraph boundaries (Word
paragraphs and headings, HTML blocks, PDF pages and paragraphs). Plain text is read in this
process; PDF, Word, HTML and picture files are parsed by `sandbox.extract` in a child process with a
time and memory bound, so a hostile file cannot hang or exhaust the app. Scanned PDF pages and
pictures (.png, .jpg, .tiff) are read by OCR (`ocr`: Tesseract, Russian, Kazakh and English).

What the child read is kept for the last CACHED files by their bytes: adding a scan, counting its characters
and indexing it (the same bytes, copied into the documents folder) then run OCR once, not three times.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
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

    key = (hashlib.sha256(path.read_bytes()).hexdigest(), str(kind))
    with _lock:
        if key in _read:
            _read.move_to_end(key)
            return _read[key]
    extracted = extract(path, str(kind), progress=progress)
    with _lock:
        _read[key] = extracted
        while len(_read) > CACHED:
            _read.popitem(last=False)
    return extracted


CACHED = 32
_read: OrderedDict[tuple[str, str], Extracted] = OrderedDict()
_lock = threading.Lock()
