"""Pictures of pages (.png, .jpg/.jpeg, .tif/.tiff), read by OCR (`ocr`); each frame of a multi-page TIFF is a page.

Pages are separated by a blank line, as in a PDF, so a page break is always a paragraph boundary.
"""

from __future__ import annotations

from pathlib import Path

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted, join_pages
from kzru_rag.ingest.readers.ocr import Progress, check_tesseract, recognize


def read_image(path: Path, name: str, progress: Progress | None = None) -> Extracted:
    """The text of a picture of pages; SourceError "corrupt", "memory", "no_ocr" or "no_text"."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    check_tesseract(name)
    try:
        picture = Image.open(path)
        frames = picture.n_frames if hasattr(picture, "n_frames") else 1
        pages = []
        for number, frame in enumerate(ImageSequence.Iterator(picture), 1):
            pages.append(recognize(frame.convert("RGB") if frame.mode not in ("1", "L", "RGB") else frame, name))
            if progress:
                progress(number, frames)
    except UnidentifiedImageError as exc:
        raise SourceError(f"{name}: not a readable picture; re-save it as PNG or JPEG", "corrupt") from exc
    except Image.DecompressionBombError as exc:
        raise SourceError(f"{name}: the picture is too large to read ({exc})", "memory") from exc
    except OSError as exc:
        raise SourceError(f"{name}: the picture is damaged ({exc}); re-save it", "corrupt", detail=str(exc)) from exc
    if not any(pages):
        raise SourceError(f"{name}: no text was recognized in the picture", "no_text")
    return join_pages(pages, scanned=range(1, len(pages) + 1))
