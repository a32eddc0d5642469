"""Word `.docx` files, read with python-docx after checking the ZIP package (not another format, not a zip bomb).

Every paragraph, heading and table row becomes a paragraph of the text; a row under a header row is read with its
column headings (tables.py), a row of a table without one has its cells joined by « | ». Footnotes and endnotes
follow the body, one paragraph each.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted
from kzru_rag.ingest.readers.tables import table_paragraphs

MAX_UNZIPPED_BYTES = 200 * 2**20
MAX_RATIO = 100
"""A member that unpacks to more than this many times its packed size (and over 1 MB) marks a zip bomb."""
MAX_HEADING_CHARS = 60
"""A cell of a longer text is not a column heading: a first row holding one is not a header row."""
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
    from lxml import etree

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many types (KeyError, ValueError, lxml errors) on a damaged package
        raise SourceError(
            f"{name}: the .docx cannot be read ({exc}); re-save it from Word", "corrupt", detail=str(exc)
        ) from exc
    blocks = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(table_paragraphs([[cell.text for cell in row.cells] for row in item.rows], _header(item)))
        else:
            blocks.append(" ".join(item.text.split()))
    try:
        blocks.extend(_notes(document))
    except etree.XMLSyntaxError as exc:
        raise SourceError(
            f"{name}: the .docx footnotes cannot be read ({exc}); re-save it from Word", "corrupt"
        ) from exc
    text = "\n\n".join(block for block in blocks if block.strip(" |"))
    if not text:
        raise SourceError(f"{name}: the document holds no text", "empty")
    heading = next((p.text for p in document.paragraphs if _is_heading(p) and p.text.strip()), None)
    return Extracted(text, title=document.core_properties.title or heading)


_SEPARATORS = ("separator", "continuationSeparator", "continuationNotice")
"""Word's own notes that draw the line above the notes, not text."""


def _notes(document: Any) -> list[str]:
    """The text of each footnote, then each endnote (python-docx reads neither: their text was lost)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml.ns import qn
    from docx.oxml.parser import parse_xml

    rels = [rel for rel in document.part.rels.values() if not rel.is_external]
    notes = []
    for kind in (RELATIONSHIP_TYPE.FOOTNOTES, RELATIONSHIP_TYPE.ENDNOTES):
        for rel in (rel for rel in rels if rel.reltype == kind):
            for note in parse_xml(rel.target_part.blob):
                if note.get(qn("w:type")) not in _SEPARATORS:
                    lines = ("".join(t.text or "" for t in line.iter(qn("w:t"))) for line in note.iter(qn("w:p")))
                    notes.append(" ".join(" ".join(lines).split()))
    return notes


def _is_heading(paragraph: Any) -> bool:
    """True for a paragraph styled as Word's Title or a Heading."""
    name = paragraph.style.name if paragraph.style is not None else ""
    return name == "Title" or name.startswith("Heading")


def _header(table: Any) -> int | None:
    """0 when a table of two rows or more has a header row: its first row is marked to repeat on each page, or it
    has two cells or more and each is a heading (one line of at most MAX_HEADING_CHARS characters, with a letter);
    else None (a layout table, a one-row table)."""
    rows = table.rows
    if len(rows) < 2:
        return None
    from docx.oxml.ns import qn

    first = rows[0]
    marks = first._tr.xpath("./w:trPr/w:tblHeader")
    if marks and marks[0].get(qn("w:val"), "true") not in ("0", "false", "off"):
        return 0
    cells = first.cells
    headings = len({cell._tc for cell in cells}) >= 2 and all(_is_label(cell.text) for cell in cells)
    return 0 if headings else None


def _is_label(text: str) -> bool:
    """True for a column heading's text: one line of at most MAX_HEADING_CHARS characters holding a letter."""
    text = text.strip()
    return "\n" not in text and len(text) <= MAX_HEADING_CHARS and any(char.isalpha() for char in text)
