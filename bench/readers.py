"""Which library reads Russian PDFs and web pages best: the measurement behind `kzru_rag.ingest.readers`
(docs/readers.md).

PDF: the bundled document set by reportlab (DejaVu Sans) in one column with words hyphenated at line
ends, and in two columns; read by pypdf and by pypdfium2, each page's lines joined by the product's
rule (`readers.pdf._page_text`). Per library: share of the source's words found, words split
(a fragment that is no source word, e.g. «Рос-» + «сийскую») and glued (two source words run
together), reading order (share of consecutive source sentences found in order), time per page,
and peak memory of a fresh process reading the file.
HTML: two saved pages (tests/data/pages), read by a plain html.parser block extraction (the
product's fallback) and by trafilatura: share of the article's sentences kept, boilerplate
phrases (menus, sidebars, comments, footers) leaked, time and peak memory.

    PYTHONPATH=src .venv/bin/python bench/readers.py
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
PAGES = ROOT / "tests" / "data" / "pages"
WORD = re.compile(r"\w+(?:-\w+)*")
HTML_GOLD = {
    "omsk-forum.html": (
        [
            "завершился XXI форум межрегионального сотрудничества",
            "подготовка кадров рабочих профессий",
            "модернизации Экибастузской ГРЭС-2",
            "основа нашей торговли",
            "филиал Евразийского национального университета",
        ],
        [
            "Мы используем файлы cookie",
            "Политика",
            "Поиск по сайту",
            "Хлебные крошки",
            "Читайте также",
            "Курс тенге укрепился",
            "Все права защищены",
            "ВКонтакте",
            "loadWidget",
        ],
    ),
    "pavlodar-old-cms.html": (
        [
            "построят завод по выпуску аккумуляторов",
            "подписали во время государственного визита",
            "5 тысяч комплектов батарей",
            "около 400 человек",
        ],
        [
            "Городской портал",
            "Афиша",
            "Курсы валют",
            "Опрос дня",
            "Комментарии",
            "Наконец-то",
            "Перепечатка материалов",
            "_gaq",
        ],
    ),
}


def extract_pdf(library: str, path: Path) -> list[str]:
    """Each page's text as the product's reader would make it, but with `library` drawing the text."""
    from kzru_rag.ingest.readers.pdf import _page_text

    if library == "pypdf":
        import pypdf

        return [_page_text(page.extract_text() or "") for page in pypdf.PdfReader(str(path)).pages]
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    return [_page_text(page.get_textpage().get_text_range()) for page in pdf]


def extract_html(library: str, path: Path) -> str:
    from kzru_rag.ingest.readers.html import _Blocks, decode_html

    page = decode_html(path.read_bytes(), path.name)
    if library == "trafilatura":
        import trafilatura

        return trafilatura.extract(page, include_comments=False, include_tables=True, deduplicate=False) or ""
    parser = _Blocks()
    parser.feed(page)
    parser.close()
    return "\n\n".join(parser.blocks)


def child(kind: str, library: str, path: str) -> None:
    """Run one extraction twice in this fresh process (the first imports the library); print the text,
    the seconds of each run and the peak memory as JSON."""
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        text = "\n\n".join(extract_pdf(library, Path(path))) if kind == "pdf" else extract_html(library, Path(path))
        seconds.append(time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"text": text, "cold": seconds[0], "warm": seconds[1], "rss_mb": rss_mb}))


def run_child(kind: str, library: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, library, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def pdf_scores(source: str, text: str) -> dict[str, float]:
    vocabulary = set(words(source))
    wanted, got = words(source), words(text)
    found = sum(min(wanted.count(w), got.count(w)) for w in set(wanted))
    foreign = [w for w in got if w not in vocabulary]
    glued = [w for w in foreign if any(w[:i] in vocabulary and w[i:] in vocabulary for i in range(1, len(w)))]
    sentences = [" ".join(s.split())[:40] for s in re.split(r"(?<=[.!?])\s+", source) if len(s) > 40]
    flat = " ".join(text.split())
    places = [flat.find(s) for s in sentences]
    seen = [p for p in places if p >= 0]
    in_order = sum(1 for a, b in zip(seen, seen[1:]) if a < b) / max(len(seen) - 1, 1)
    return {
        "words found": found / len(wanted),
        "split": len(foreign) - len(glued),
        "glued": len(glued),
        "sentences found": len(seen) / len(sentences),
        "in order": in_order,
    }


def bench_pdf(folder: Path) -> None:
    from kzru_rag.ingest.chunking import paragraphs
    from kzru_rag.ingest.documents import bundled_document
    from made_files import pdf_file

    document = bundled_document()
    source = [document.text[a:b] for a, b in paragraphs(document.text, document.body_start)]
    layouts = {
        "1 column, hyphenated": pdf_file(
            folder / "one.pdf", [source[i : i + 6] for i in range(0, len(source), 6)], hyphenate=True
        ),
        "2 columns": pdf_file(folder / "two.pdf", [source[i : i + 6] for i in range(0, len(source), 6)], columns=2),
    }
    pages = len(range(0, len(source), 6))
    print(f"PDF: the bundled document ({len(document.text)} characters) on {pages} pages, by reportlab")
    header = (
        f"{'layout':22} {'library':10} {'words found':>11} {'split':>6} {'glued':>6} {'sentences':>9} "
        f"{'in order':>8} {'ms/page':>8} {'cold ms':>8} {'peak MB':>8}"
    )
    print(header)
    for layout, path in layouts.items():
        for library in ("pypdf", "pypdfium2"):
            result = run_child("pdf", library, path)
            s = pdf_scores("\n\n".join(source), result["text"])
            print(
                f"{layout:22} {library:10} {s['words found']:11.3f} {s['split']:6d} {s['glued']:6d} "
                f"{s['sentences found']:9.3f} {s['in order']:8.3f} {1000 * result['warm'] / pages:8.1f} "
                f"{1000 * result['cold']:8.0f} {result['rss_mb']:8.0f}"
            )


def bench_html() -> None:
    print("\nHTML: saved pages (tests/data/pages)")
    print(
        f"{'page':24} {'library':12} {'article kept':>12} {'boilerplate leaked':>18} "
        f"{'ms':>6} {'cold ms':>8} {'peak MB':>8}"
    )
    for name, (gold, boilerplate) in HTML_GOLD.items():
        for library in ("html.parser", "trafilatura"):
            result = run_child("html", library, PAGES / name)
            flat = " ".join(result["text"].split())
            kept = sum(1 for phrase in gold if phrase in flat)
            leaked = sum(1 for phrase in boilerplate if phrase in flat)
            print(
                f"{name:24} {library:12} {kept:>7}/{len(gold):<4} {leaked:>13}/{len(boilerplate):<4} "
                f"{1000 * result['warm']:6.1f} {1000 * result['cold']:8.0f} {result['rss_mb']:8.0f}"
            )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    with tempfile.TemporaryDirectory() as folder:
        bench_pdf(Path(folder))
    bench_html()


if __name__ == "__main__":
    main()
