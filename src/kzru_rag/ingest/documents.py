"""Source documents: the text of `.txt`/`.md`/`.pdf`/`.docx`/`.html` files and pictures of pages (see `readers`),
their metadata and checksums."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers import read_file
from kzru_rag.ingest.readers.base import READERS_VERSION, SUPPORTED_SUFFIXES, Extracted, format_of

BUNDLED_NAME = "kz-ru-state-visit-2025-11.txt"
BUNDLED_SOURCE = f"bundled:{BUNDLED_NAME}"
BUNDLED_ID = Path(BUNDLED_NAME).stem
MAX_SOURCE_BYTES = 50 * 1024 * 1024

_HEADER = re.compile(r"^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+(?P<credit>.*?))?\s*$")
_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<heading>.+?)[ \t#]*$")
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|unknown|document\s*\d*|microsoft \w+ - .*|.*\.(docx?|pdf|rtf|odt|txt))$", re.I
)
"""Titles that tools write for the user (ReportLab's «untitled», Word's «Microsoft Word - отчёт.docx»): no title."""


@dataclass(frozen=True)
class Document:
    """One source text. Passage offsets point into `text`, the file's text as extracted (`readers`).

    `sha256` is the text's checksum, `file_sha256` the source file's (staleness, incremental rebuilds);
    `pages` the start offset in `text` of each page of a PDF (page n starts at `pages[n - 1]`).
    """

    doc_id: str
    source: str
    text: str
    sha256: str
    body_start: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    file_sha256: str = ""
    pages: list[int] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding text offset `offset`; None when the document has no pages."""
        return bisect_right(self.pages, offset) if self.pages else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Document":
        return cls(**data)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_document(
    text: str, *, doc_id: str, source: str, file_sha256: str = "", file_name: str | None = None
) -> Document:
    """Make a Document of plain text; a first line `date YYYY-MM-DD [credit]` becomes metadata, not body.

    Its title (`title_of`): a first Markdown heading, else `file_name` (default: `doc_id`)."""
    metadata: dict[str, Any] = {}
    body_start = 0
    first_line, newline, _ = text.partition("\n")
    match = _HEADER.match(first_line)
    if match:
        metadata["date"] = match["date"]
        if match["credit"]:
            metadata["credit"] = match["credit"]
        body_start = len(first_line) + len(newline)
    metadata = {"title": title_of(None, text[body_start:], file_name or doc_id), **metadata}
    return Document(doc_id, source, text, sha256_text(text), body_start, metadata, file_sha256)


MAX_TITLE_CHARS = 150
"""A plain first line longer than this is a paragraph, not a title."""
_STOPS = (".", "!", "?", "…", ":", ";", ",")


def title_of(metadata_title: str | None, text: str, file_name: str) -> str:
    """A document's title, the same rule for every format: the title its file declares (HTML `<title>`, a Word or
    PDF file's properties; a tool's placeholder such as «untitled» is none), else its first heading (a Markdown `# …`
    line as its first line, or a first line that stands alone as a title: short, a blank line after it, no full stop;
    a Word file's reader gives its first heading as its title), else its file name."""
    declared = " ".join((metadata_title or "").split())
    if declared and not _PLACEHOLDER_TITLE.match(declared):
        return declared
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    if heading := _HEADING.match(first):
        return heading["heading"]
    if len(lines) > 2 and not lines[1].strip() and len(first) <= MAX_TITLE_CHARS and not first.endswith(_STOPS):
        return " ".join(first.split())
    return file_name


def bundled_document() -> Document:
    """The document shipped with the package (the default corpus). It declares no title and opens with no heading, so
    it is titled by its name, as the committed index titles it («kz-ru-state-visit-2025-11»), not by its file name."""
    data = (resources.files("kzru_rag") / "data" / BUNDLED_NAME).read_bytes()
    return parse_document(
        data.decode("utf-8"),
        doc_id=BUNDLED_ID,
        source=BUNDLED_SOURCE,
        file_sha256=sha256_bytes(data),
    )


def source_sha256(source: str, *, of_text: bool = False) -> str | None:
    """The current sha256 of a manifest's source file (bundled or a path), or of its text when `of_text`
    (plain-text sources only); None when it cannot be read."""
    try:
        if source == BUNDLED_SOURCE:
            document = bundled_document()
            return document.sha256 if of_text else document.file_sha256
        data = Path(source).read_bytes()
        return sha256_text(data.decode("utf-8-sig")) if of_text else sha256_bytes(data)
    except (OSError, UnicodeDecodeError):
        return None


def check_file(path: Path, max_bytes: int = MAX_SOURCE_BYTES, name: str | None = None) -> None:
    """SourceError "unsupported", "too_large" or "not_found" when file `path` (called `name`, default its own) cannot
    be indexed for its type or size, or is gone."""
    name = name or str(path)
    if format_of(name) is None:
        raise SourceError(
            f"{name}: unsupported file type {Path(name).suffix or '(none)'}; "
            f"{', '.join(SUPPORTED_SUFFIXES)} files are indexed",
            "unsupported",
        )
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:  # removed or moved since it was listed (a build reads its files one by one)
        raise SourceError(f"{name}: the file is gone (removed or moved); build the index again", "not_found") from exc
    if size > max_bytes:
        raise SourceError(
            f"{name}: {size / 2**20:.1f} MB is larger than the {max_bytes // 2**20} MB limit; "
            "split it into smaller files",
            "too_large",
            size=size,
            limit=max_bytes,
        )


def read_document(path: Path, known: dict[str, Document] | None = None) -> Document:
    """Read one supported file, or raise SourceError saying what is wrong.

    A document in `known` (by source) whose file checksum is unchanged is returned as it is, not read again.
    """
    check_file(path)
    source = str(path.resolve())
    file_sha256 = sha256_bytes(path.read_bytes())
    previous = (known or {}).get(source)
    if previous is not None and previous.file_sha256 == file_sha256 and _read_alike(previous, path):
        return _retitled(previous, path.name)
    extracted = read_file(path)
    if format_of(path) == "text":
        return parse_document(
            extracted.text, doc_id=path.stem, source=source, file_sha256=file_sha256, file_name=path.name
        )
    return from_extracted(extracted, doc_id=path.stem, source=source, file_sha256=file_sha256, file_name=path.name)


def _read_alike(document: Document, path: Path) -> bool:
    """True when reading `path` again would give `document`'s text: a plain text file, or one the readers of today's
    `READERS_VERSION` read."""
    return format_of(path) == "text" or document.metadata.get("readers") == READERS_VERSION


def _retitled(document: Document, file_name: str) -> Document:
    """A document read by an earlier build, with its title by `title_of` (earlier builds used the document's name
    where the file declared no title)."""
    old = document.metadata.get("title")
    declared = None if old == document.doc_id else old
    title = title_of(declared, document.text[document.body_start :], file_name)
    return document if title == old else replace(document, metadata={**document.metadata, "title": title})


def from_extracted(
    extracted: Extracted, *, doc_id: str, source: str, file_sha256: str = "", file_name: str | None = None
) -> Document:
    """A Document of a PDF, Word, HTML or picture file's extracted text (title: `title_of`; `file_name` defaults
    to `doc_id`)."""
    metadata: dict[str, Any] = {
        "title": title_of(extracted.title, extracted.text, file_name or doc_id),
        "readers": READERS_VERSION,
    }
    if extracted.empty_pages:
        metadata["empty_pages"] = list(extracted.empty_pages)
    if extracted.scanned_pages:
        metadata["scanned_pages"] = list(extracted.scanned_pages)
    text = extracted.text
    return Document(doc_id, source, text, sha256_text(text), 0, metadata, file_sha256, list(extracted.pages))


@dataclass(frozen=True)
class SourceFile:
    """One document a build reads, known before it is read: its `source` (a resolved path, or BUNDLED_SOURCE),
    its `name` (the document's doc_id, see `document_names`) and its `size` in bytes (for progress)."""

    source: str
    name: str
    size: int


def source_files(sources: list[str | Path] | None) -> list[SourceFile]:
    """The documents `sources` name (files and folders, recursively, supported types; None means the bundled
    document), in reading order, without reading them; SourceError for a missing path, an empty folder or two
    documents of one name."""
    found: list[str] = []
    for source in sources or [BUNDLED_SOURCE]:
        path = Path(source)
        if str(source) == BUNDLED_SOURCE:
            found.append(BUNDLED_SOURCE)
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and format_of(p) is not None)
            if not files:
                raise SourceError(f"{path}: no {', '.join(SUPPORTED_SUFFIXES)} files in this folder")
            found.extend(str(p.resolve()) for p in files)
        elif path.is_file():
            found.append(str(path.resolve()))
        else:
            raise SourceError(f"{path}: no such file or folder")
    names = document_names(found)
    listed = [SourceFile(source, names[source], _size(source)) for source in found]
    _unique_names(listed)
    return listed


def read_source(file: SourceFile, known: dict[str, Document] | None = None) -> Document:
    """The document of `file` (`read_document`; `known`: documents of the current index by source, reused when
    their file is unchanged), named `file.name`."""
    document = bundled_document() if file.source == BUNDLED_SOURCE else read_document(Path(file.source), known)
    return document if document.doc_id == file.name else replace(document, doc_id=file.name)


def collect_documents(sources: list[str | Path] | None, known: dict[str, Document] | None = None) -> list[Document]:
    """Documents from files and folders (`source_files`), read one after another (see `read_source`)."""
    return [read_source(file, known) for file in source_files(sources)]


def _size(source: str) -> int:
    if source == BUNDLED_SOURCE:
        return len((resources.files("kzru_rag") / "data" / BUNDLED_NAME).read_bytes())
    return Path(source).stat().st_size


def document_names(sources: list[str]) -> dict[str, str]:
    """The name (doc_id) of the document of each source: its file's stem, or its whole file name when another
    source has the same stem (`inj.txt` beside `inj.html`); the bundled document keeps its stem."""
    stems = {source: BUNDLED_ID if source == BUNDLED_SOURCE else Path(source).stem for source in set(sources)}
    shared = Counter(stems.values())
    return {
        source: stem if shared[stem] == 1 or source == BUNDLED_SOURCE else Path(source).name
        for source, stem in stems.items()
    }


def _unique_names(files: list[SourceFile]) -> None:
    seen: dict[str, str] = {}
    for file in files:
        if file.name in seen and seen[file.name] != file.source:
            raise SourceError(
                f"two documents share the name {file.name!r} ({seen[file.name]} and {file.source}); rename one of them"
            )
        seen[file.name] = file.source
