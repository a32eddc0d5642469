"""How well and how fast scanned pages are read: the measurement behind `kzru_rag.ingest.readers.ocr` (docs/readers.md).

Pages are drawn with Pillow in DejaVu Sans at 200 dpi (tests/made_files.py `page_picture`): Russian paragraphs of
the bundled document and Kazakh ones, at 10, 12 and 16 pt, straight and turned ±1.5° (a sheet askew on a
scanner). They are put in one PDF as pictures (no text layer) and read by the product (`readers.read_file`: the
bounded child process, each page drawn at 300 dpi and read by Tesseract rus+kaz+eng). Per page: character
accuracy (1 − edit distance / length, spaces normalised) against the drawn text. Then the pages per second of
the whole read, and the same pages set as text (a PDF with a text layer) read for comparison.

    PYTHONPATH=src .venv/bin/python bench/ocr.py [--pages N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

KAZAKH = [
    "Қазақстан мен Ресей көлік, энергетика және білім беру салаларындағы ынтымақтастықты нығайтуға келісті.",
    "Екі ел басшылары өңірлер арасындағы сауданы дамыту жөніндегі құжаттарға қол қойды.",
    "Өскемен мен Барнаул арасында жаңа теміржол қатынасы ашылады, ал Семейде Ертіс арқылы көпір салынады.",
    "Мемлекеттік сапар аясында өңіраралық ынтымақтастық форумы өтіп, жүзге жуық келісім жасалды.",
]
LAYOUTS = [(language, size, angle) for size in (10, 12, 16) for angle in (0.0, 1.5, -1.5) for language in ("ru", "kk")]


def page_texts(count: int) -> list[tuple[str, int, float, list[str]]]:
    """(language, size, skew, paragraphs) of each page to draw."""
    from kzru_rag.ingest.chunking import paragraphs
    from kzru_rag.ingest.documents import bundled_document

    document = bundled_document()
    russian = [document.text[a:b] for a, b in paragraphs(document.text, document.body_start)]
    pages = []
    for number in range(count):
        language, size, angle = LAYOUTS[number % len(LAYOUTS)]
        if language == "ru":
            chosen = [russian[(number + i) % len(russian)][:400] for i in range(2)]
        else:
            chosen = [KAZAKH[(number + i) % len(KAZAKH)] for i in range(3)]
        pages.append((language, size, angle, chosen))
    return pages


def main() -> None:
    from kzru_rag.ingest.readers import read_file
    from made_files import character_accuracy, page_picture, pdf_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=len(LAYOUTS), help=f"pages to draw (default {len(LAYOUTS)})")
    args = parser.parse_args()
    pages = page_texts(args.pages)
    with tempfile.TemporaryDirectory() as folder:
        pictures = [page_picture([(p, size) for p in text], angle=angle) for _, size, angle, text in pages]
        scan = pdf_file(Path(folder) / "scan.pdf", pictures)
        typed = pdf_file(Path(folder) / "typed.pdf", [text for *_, text in pages])
        started = time.perf_counter()
        extracted = read_file(scan)
        ocr_seconds = time.perf_counter() - started
        started = time.perf_counter()
        read_file(typed)
        text_seconds = time.perf_counter() - started
    starts = [*extracted.pages, len(extracted.text)]
    print(f"{'page':>4} {'lang':>4} {'pt':>3} {'skew°':>6} {'chars':>6} {'accuracy':>8}")
    scores = []
    for number, (language, size, angle, text) in enumerate(pages, 1):
        truth = " ".join(text)
        score = character_accuracy(extracted.text[starts[number - 1] : starts[number]], truth)
        scores.append(score)
        print(f"{number:4d} {language:>4} {size:3d} {angle:6.1f} {len(truth):6d} {score:8.3f}")
    for language in ("ru", "kk"):
        mine = [s for s, page in zip(scores, pages) if page[0] == language]
        if mine:
            print(f"character accuracy {language}: mean {sum(mine) / len(mine):.3f}, lowest {min(mine):.3f}")
    print(f"character accuracy all: mean {sum(scores) / len(scores):.3f}, lowest {min(scores):.3f}")
    print(f"OCR: {len(pages)} pages in {ocr_seconds:.1f} s = {len(pages) / ocr_seconds:.2f} pages/s")
    print(f"text layer: {len(pages)} pages in {text_seconds:.2f} s = {len(pages) / text_seconds:.1f} pages/s")
    print(f"ratio OCR/text-layer time per page: {ocr_seconds / text_seconds:.1f}")


if __name__ == "__main__":
    main()
