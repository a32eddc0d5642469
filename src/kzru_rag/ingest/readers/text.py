"""Plain `.txt`/`.md` files: UTF-8 text (a byte-order mark dropped)."""

from __future__ import annotations

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted


def read_text(data: bytes, name: str) -> Extracted:
    """The text of a text file's bytes, or SourceError with a `reason`."""
    return Extracted(decode_text(data, name))


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text of `data`, or SourceError: "utf16", "binary", "encoding" (with `byte`), "empty"."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SourceError(f"{name}: UTF-16 text; re-save the file as UTF-8", "utf16")
    if b"\x00" in data:
        raise SourceError(f"{name}: looks like a binary file, not text; save it as .txt or .md", "binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"{name}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8"
        raise SourceError(message, "encoding", byte=exc.start) from exc
    if not text.strip():
        raise SourceError(f"{name}: the file is empty; remove it or add text", "empty")
    return text
