"""Plain `.txt`/`.md` files: UTF-8 text (a byte-order mark dropped), UTF-16 (with its byte-order mark, or without one
when the text reads as letters, digits and punctuation), or a legacy
code page that Russian, Kazakh and English files are still saved in (Windows-1251, KOI8-R, DOS 866, Mac Cyrillic,
Windows-1252), recognised by `charset_normalizer`."""

from __future__ import annotations

import logging

from charset_normalizer import from_bytes

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted

LEGACY_ENCODINGS = ("cp1251", "koi8_r", "cp866", "mac_cyrillic", "cp1252")
"""The code pages a file that is not UTF-8 may be in; the one whose text reads most naturally wins."""

log = logging.getLogger(__name__)


def read_text(data: bytes, name: str) -> Extracted:
    """The text of a text file's bytes, or SourceError with a `reason`."""
    return Extracted(decode_text(data, name))


def decode_text(data: bytes, name: str) -> str:
    """The text of `data`, or SourceError: "binary", "encoding" (with `byte`), "empty"."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            message = f"{name}: broken UTF-16 text (byte {exc.start}); re-save the file as UTF-8"
            raise SourceError(message, "encoding", byte=exc.start) from exc
    elif b"\x00" in data:
        if (text := _utf16_without_mark(data)) is not None:
            log.info("%s: no byte-order mark, read as UTF-16", name)
            return _not_empty(text, name)
        raise SourceError(f"{name}: looks like a binary file, not text; save it as .txt or .md", "binary")
    else:
        text = decode_legacy(data, name)
    return _not_empty(text, name)


def _not_empty(text: str, name: str) -> str:
    if not text.strip():
        raise SourceError(f"{name}: the file is empty; remove it or add text", "empty")
    return text


UTF16_READABLE = 0.95
"""The share of characters a text must read as (letters, digits, punctuation, spaces of the scripts a document
here is written in) for bytes without a byte-order mark to be taken as UTF-16; bytes of a binary file decoded
as UTF-16 scatter over the whole of Unicode."""


def _utf16_without_mark(data: bytes) -> str | None:
    """`data` as UTF-16 without a byte-order mark (little- or big-endian; some editors and exports write none), or
    None when neither reads as text."""
    if len(data) % 2:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        readable = sum(1 for char in text if _readable(char))
        if readable >= UTF16_READABLE * len(text):
            return text
    return None


def _readable(char: str) -> bool:
    """A character of Latin or Cyrillic text, a digit, punctuation (also «–», «№», «₸») or white space."""
    if char in "\t\n\r":
        return True
    return char.isprintable() and (char < "\u0250" or "\u0400" <= char < "\u0530" or "\u2000" <= char < "\u2200")


def decode_legacy(data: bytes, name: str) -> str:
    """`data` as UTF-8 (a byte-order mark dropped), else in the `LEGACY_ENCODINGS` code page it reads naturally in,
    else SourceError "encoding" naming the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        best = from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)).best()
        if best is None:
            message = (
                f"{name}: not valid UTF-8 (byte {exc.start}) nor a Cyrillic or Western code page; re-save it as UTF-8"
            )
            raise SourceError(message, "encoding", byte=exc.start) from exc
        log.info("%s: not UTF-8, read as %s", name, best.encoding)
        return str(best)
