"""Word `.docx` files, read with python-docx after checking the ZIP package (not another format, not a zip bomb).

Every paragraph, heading and table row becomes a paragraph of the text (rows: cells joined by « | »).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted

MAX_UNZIPPED_BYTES = 200 * 2**20
MAX_RATIO = 100
"""A member that unpacks to more than this many times its packed size (and over 1 MB) marks a zip bomb."""
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_package(path: Path, name: str) -> None:
    """SourceError "not_docx" unless `path` is a Word ZIP package; "zip_bomb" when it unpacks to too much."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head == _OLE:
        raise SourceError(
            f"{name}: an old Word .doc file or a password-protected document; save it as .docx without a password",
            "not_docx",
        )
    if not zipfile.is_zipfile(path):
        raise SourceError(f"{name}: not a Word .docx file (not a ZIP package); save the document as .docx", "not_docx")
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{name}: the .docx package is damaged ({exc}); re-save it from Word", "corrupt") from exc
    if "word/document.xml" not in {member.filename for member in members}:
        raise SourceError(
            f"{name}: a ZIP file, but not a Word document (no word/document.xml); save it as .docx", "not_docx"
        )
    total = sum(member.file_size for member in members)
    swollen = any(m.file_size > 2**20 and m.file_size > MAX_RATIO * max(m.compress_size, 1) for m in members)
    if total > MAX_UNZIPPED_BYTES or swollen:
        raise SourceError(
            f"{name}: the .docx unpacks to {total / 2**20:.0f} MB (a zip bomb?); it was not opened", "zip_bomb"
        )


def read_docx(path: Path, name: str) -> Extracted:
    """The text of a .docx: paragraphs, headings and table rows separated by blank lines; title from its properties,
    else its first heading."""
    check_package(path, name)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many types (KeyError, ValueError, lxml errors) on a damaged package
        raise SourceError(
            f"{name}: the .docx cannot be read ({exc}); re-save it from Word", "corrupt", detail=str(exc)
        ) from exc
    blocks = []
    for item in document.iter_inner_content():
        rows = [[cell.text for cell in row.cells] for row in item.rows] if isinstance(item, Table) else [[item.text]]
        blocks.extend(" | ".join(" ".join(cell.split()) for cell in row) for row in rows)
    text = "\n\n".join(block for block in blocks if block.strip(" |"))
    if not text:
        raise SourceError(f"{name}: the document holds no text", "empty")
    heading = next((p.text for p in document.paragraphs if _is_heading(p) and p.text.strip()), None)
    return Extracted(text, title=document.core_properties.title or heading)


def _is_heading(paragraph: Any) -> bool:
    """True for a paragraph styled as Word's Title or a Heading."""
    name = paragraph.style.name if paragraph.style is not None else ""
    return name == "Title" or name.startswith("Heading")
