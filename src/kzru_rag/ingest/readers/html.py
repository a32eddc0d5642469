"""Saved web pages (`.html`/`.htm`): the main content found by trafilatura (chosen by bench/readers.py
over a plain block parser, see docs/readers.md), each of its blocks a paragraph; a table's row is one, read with
its column headings when the table's first row (after a caption) is of `<th>` cells (tables.py).

Scripts, styles, navigation, page headers and footers, sidebars, comments and hidden elements are
not indexed. The standard library's HTML parser first finds the page's visible blocks (the elements
above left out): a page without any is refused, and when trafilatura finds no main content (a very
short page) those blocks are the text.
The `<title>` (else the first heading) is the document's title.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted
from kzru_rag.ingest.readers.tables import table_paragraphs
from kzru_rag.ingest.readers.text import decode_legacy

SKIPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "svg",
        "iframe",
        "object",
        "canvas",
        "dialog",
        "head",
    }
)
SKIPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "menu"})
BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "tr",
        "caption",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "hr",
    }
)
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)


class _Blocks(HTMLParser):
    """Collects the visible text of a page as blocks (without the SKIPPED elements), its title and first heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.title = ""
        self.heading = ""
        self._current: list[str] = []
        self._skipping: list[str] = []  # open elements whose content is left out
        self._in_title = False
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            if tag == "br":
                self._current.append(" ")
            return
        values = dict(attrs)
        hidden = "hidden" in values or values.get("aria-hidden") == "true" or values.get("role") in SKIPPED_ROLES
        if self._skipping or tag in SKIPPED or hidden:
            self._skipping.append(tag)
        if tag == "title":
            self._in_title = True
        if tag in BLOCKS:
            self._flush()
        if tag in HEADINGS and not self.heading:
            self._in_heading = True
        if tag in ("td", "th"):
            self._current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in HEADINGS:
            self._in_heading = False
        if self._skipping:
            if tag in self._skipping:
                while self._skipping.pop() != tag:
                    pass
            return
        if tag in BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skipping:
            return
        if self._in_heading:
            self.heading += data
        self._current.append(data)

    def _flush(self) -> None:
        block = " ".join("".join(self._current).split())
        if block:
            self.blocks.append(block)
        self._current = []

    def close(self) -> None:
        super().close()
        self._flush()


def decode_html(data: bytes, name: str) -> str:
    """The page's characters: a byte-order mark or `<meta charset>` decides, else UTF-8 or a legacy code page
    (`text.decode_legacy`)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    match = _CHARSET.search(data[:4096])
    if not match:
        return decode_legacy(data, name)
    encoding = match[1].decode("ascii").lower()
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise SourceError(f"{name}: unknown character set {encoding!r} in <meta charset>", "encoding", byte=0) from exc
    except UnicodeDecodeError as exc:
        message = f"{name}: not valid {encoding} (byte {exc.start}); re-save the page as UTF-8"
        raise SourceError(message, "encoding", byte=exc.start) from exc


def read_html(path: Path, name: str) -> Extracted:
    """The main text of a saved page, blocks separated by blank lines; SourceError "empty" when none."""
    page = decode_html(path.read_bytes(), name)
    parser = _Blocks()
    parser.feed(page)
    parser.close()
    main = _main_text(page) if parser.blocks else None
    blocks = [" ".join(line.split()) for line in main.splitlines()] if main else parser.blocks
    text = "\n\n".join(block for block in blocks if block)
    if not text:
        raise SourceError(f"{name}: the page holds no text outside scripts, menus, headers and footers", "empty")
    title = " ".join(parser.title.split()) or " ".join(parser.heading.split()) or None
    return Extracted(text, title=title)


def _main_text(page: str) -> str | None:
    """The text trafilatura finds as the page's main content, each row of its tables a paragraph written by
    `table_paragraphs` (instead of trafilatura's « | a | b | » lines and « |---| » rule); None when it finds none."""
    import trafilatura
    from lxml.etree import SubElement
    from trafilatura.xml import xmltotxt

    found = trafilatura.bare_extraction(page, include_comments=False, include_tables=True, deduplicate=False)
    if found is None:
        return None
    for table in [table for table in found.body.iter("table") if next(table.iterancestors("table"), None) is None]:
        rows = [row.findall("cell") for row in table.findall("row")]
        paragraphs = table_paragraphs([[" ".join(cell.itertext()) for cell in row] for row in rows], _header(rows))
        table.clear(keep_tail=True)
        for paragraph in paragraphs:
            SubElement(table, "p").text = paragraph
    return unicodedata.normalize("NFC", xmltotxt(found.body, False))


def _header(rows: list[list]) -> int | None:
    """The index of a table's header row: the first row below its captions (rows whose only text is one `<th>`
    cell, as trafilatura writes a `<caption>`) when each of its cells with text is a `<th>` cell."""
    start = 0
    while start < len(rows) - 1 and _is_caption(rows[start]):
        start += 1
    heads = [cell.get("role") == "head" for cell in rows[start] if "".join(cell.itertext()).strip()] if rows else []
    return start if heads and all(heads) else None


def _is_caption(row: list) -> bool:
    """True for a row whose first cell is a `<th>` and the only one with text."""
    texts = ["".join(cell.itertext()).strip() for cell in row]
    return len(row) > 1 and row[0].get("role") == "head" and bool(texts[0]) and not any(texts[1:])
