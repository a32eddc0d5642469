"""Text recognition (OCR) of page pictures with Tesseract in Russian, Kazakh and English.

pytesseract runs Debian's `tesseract` binary (`make ocr` installs it with the `rus` and `kaz` data; `eng` comes
with it). The PDF reader uses it for pages without a text layer, the image reader for .png/.jpg/.tiff files; both
run inside the readers' bounded child process (`sandbox`). Tesseract separates blocks of text by blank lines;
a block's lines are joined into one paragraph, a word hyphenated at a line end joined again, and a Roman
numeral read in Cyrillic letters («ХХІ») written in Latin ones, as the retriever matches numerals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from kzru_rag.errors import SourceError

if TYPE_CHECKING:
    from PIL.Image import Image

LANGUAGES = ("rus", "kaz", "eng")
PDF_DPI = 300
"""Resolution at which a scanned PDF page is drawn for Tesseract (its best range is about 300 dpi)."""
PAGE_SECONDS = 60
"""Tesseract is stopped when one page takes longer than this."""
INSTALL = "sudo apt-get install tesseract-ocr tesseract-ocr-rus tesseract-ocr-kaz (or `make ocr`)"

Progress = Callable[[int, int], None]
"""Called after each page read by OCR with (pages read, pages to read)."""

_HYPHENATED = re.compile(r"(\w)-\n(?=[a-zа-яёәғқңөұүһі])")
_ROMAN = re.compile(r"\b(?=\w*[ХІ])[IVXLХІ]{2,}\b")
"""A Roman numeral read with Cyrillic Х or Kazakh І (Tesseract's «ХХІ» for XXI): no Russian or Kazakh word."""
_LATIN = str.maketrans("ХІ", "XI")


def check_tesseract(name: str) -> None:
    """SourceError "no_ocr" when Tesseract or its Russian, Kazakh or English data is not installed."""
    import pytesseract

    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError):
        installed = set()
    missing = [language for language in LANGUAGES if language not in installed]
    if missing:
        raise SourceError(
            f"{name}: the file is a scan, and reading it needs Tesseract OCR with {'+'.join(missing)} data: "
            f"install it with {INSTALL}",
            "no_ocr",
        )


def recognize(image: "Image", name: str, dpi: int | None = None) -> str:
    """The text of a page picture of file `name`: paragraphs separated by blank lines ("" when there is none)."""
    import pytesseract

    config = f"--dpi {dpi}" if dpi else ""
    try:
        raw = pytesseract.image_to_string(image, lang="+".join(LANGUAGES), config=config, timeout=PAGE_SECONDS)
    except RuntimeError as exc:  # pytesseract's timeout
        raise SourceError(
            f"{name}: reading a page by OCR took over {PAGE_SECONDS} s and was stopped; split it or re-save it",
            "timeout",
        ) from exc
    return paragraphs(raw)


def paragraphs(raw: str) -> str:
    """Tesseract's output as paragraphs: blocks split at blank lines, each block's lines joined."""
    raw = _ROMAN.sub(lambda numeral: numeral[0].translate(_LATIN), _HYPHENATED.sub(r"\1", raw))
    blocks = re.split(r"\n\s*\n", raw)
    joined = (" ".join(block.split()) for block in blocks)
    return "\n\n".join(block for block in joined if block)
