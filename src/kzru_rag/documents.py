"""Source documents: reading `.txt`/`.md` files and their metadata header."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SourceError

SUPPORTED_SUFFIXES = (".txt", ".md")
BUNDLED_NAME = "kz-ru-state-visit-2025-11.txt"
BUNDLED_SOURCE = f"bundled:{BUNDLED_NAME}"
MAX_SOURCE_BYTES = 50 * 1024 * 1024

_HEADER = re.compile(r"^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+(?P<credit>.*?))?\s*$")


@dataclass(frozen=True)
class Document:
    """One source text. Passage offsets point into `text`, the file's full content."""

    doc_id: str
    source: str
    text: str
    sha256: str
    body_start: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Document":
        return cls(**data)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_document(text: str, *, doc_id: str, source: str) -> Document:
    """Make a Document; a first line `date YYYY-MM-DD [credit]` becomes metadata, not body."""
    metadata: dict[str, Any] = {"title": doc_id}
    body_start = 0
    first_line, newline, _ = text.partition("\n")
    match = _HEADER.match(first_line)
    if match:
        metadata["date"] = match["date"]
        if match["credit"]:
            metadata["credit"] = match["credit"]
        body_start = len(first_line) + len(newline)
    return Document(doc_id, source, text, sha256_text(text), body_start, metadata)


def bundled_document() -> Document:
    """The document shipped with the package (the default corpus)."""
    text = (resources.files("kzru_rag") / "data" / BUNDLED_NAME).read_text(encoding="utf-8")
    return parse_document(text, doc_id=Path(BUNDLED_NAME).stem, source=BUNDLED_SOURCE)


def read_source_text(source: str) -> str:
    """Current text of a source as recorded in a manifest (bundled or a file path)."""
    if source == BUNDLED_SOURCE:
        return bundled_document().text
    return Path(source).read_text(encoding="utf-8-sig")


def read_document(path: Path) -> Document:
    """Read one UTF-8 `.txt`/`.md` file, or raise SourceError saying what is wrong."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise SourceError(f"{path}: unsupported file type {path.suffix or '(none)'}; only .txt and .md are indexed")
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise SourceError(f"{path}: {size / 1e6:.0f} MB is larger than the {MAX_SOURCE_BYTES // 2**20} MB limit; split it into smaller files")
    text = decode_source(path.read_bytes(), str(path))
    return parse_document(text, doc_id=path.stem, source=str(path.resolve()))


def decode_source(data: bytes, name: str) -> str:
    """The text of a source file's bytes (UTF-8, a byte-order mark dropped), or SourceError with a `reason`."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SourceError(f"{name}: UTF-16 text; re-save the file as UTF-8", "utf16")
    if b"\x00" in data:
        raise SourceError(f"{name}: looks like a binary file, not text; index .txt or .md files only", "binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"{name}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8"
        raise SourceError(message, "encoding", byte=exc.start) from exc
    if not text.strip():
        raise SourceError(f"{name}: the file is empty; remove it or add text", "empty")
    return text


def collect_documents(sources: list[str | Path] | None) -> list[Document]:
    """Documents from files and folders (recursively, `.txt`/`.md`); None means the bundled document."""
    if not sources:
        return [bundled_document()]
    documents: list[Document] = []
    for source in sources:
        path = Path(source)
        if str(source) == BUNDLED_SOURCE:
            documents.append(bundled_document())
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not files:
                raise SourceError(f"{path}: no .txt or .md files in this folder")
            documents.extend(read_document(p) for p in files)
        elif path.is_file():
            documents.append(read_document(path))
        else:
            raise SourceError(f"{path}: no such file or folder")
    _unique_ids(documents)
    return documents


def _unique_ids(documents: list[Document]) -> None:
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.doc_id in seen and seen[doc.doc_id] != doc.source:
            raise SourceError(
                f"two documents share the name {doc.doc_id!r} ({seen[doc.doc_id]} and {doc.source}); rename one of them"
            )
        seen[doc.doc_id] = doc.source
