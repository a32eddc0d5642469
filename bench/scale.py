"""Scale benchmark: query latency, memory and recall at 1k, 10k and 100k passages, FAISS flat and HNSW and Milvus.

Texts are synthetic news items recombined from the bundled document's sentences (1-3 sentences each, numbered so
every item is unique). Embedding 100k passages would take about 20 minutes here, so for the search part the
vectors are synthetic as well, derived from real ones: an item's vector is the normalised sum of the real
embeddings of its sentences plus Gaussian noise. Only 47 distinct sentences make a dense, tie-rich corpus, which
is a hard case for approximate search. The index folders are written by the product's own `build_index`, with
`SyntheticEncoder` standing in for the model during the build only. Queries are the dev-set questions, encoded by
the real model and answered by the product's `Retriever.search`, each index measured in a fresh process.

Prints embedding throughput on real text, per size and vector index (FAISS flat, FAISS HNSW, the index in
Milvus Lite with its HNSW embedded in the app process, `--store milvus:…`, and `server`: a real Milvus server, the
Milvus 2.3.5 standalone engine of the `server` extra (`milvus-server`, `stores.milvus.server.LocalMilvus`) in
processes of its own, which the app reaches by `--store http://127.0.0.1:PORT`): build time, size on disk, the app
process's RSS (and the server's), query p50/p95 and recall@5/@10 against flat; the ratio of the 100k p50 to the
one-document index's p50 (target <= 2x, recall >= 0.98); with HNSW and the server at one size, their p50s measured
side by side in one more process (each question asked of both in turn: rows measured minutes apart see different
machine load, which slows a client-server round trip far more than an in-process search), with the model encoding
the question and, beside them, with its vector computed beforehand (the search's own cost); and an incremental
rebuild (one document added to 50) against a full rebuild, real embeddings.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--rounds 3] [--kinds flat,hnsw,milvus,server]

With `--work DIR` the corpora, index folders and servers' data are kept there, and a later run with the same DIR
measures the indexes an earlier one built (printing that run's build figures) instead of building them again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import faiss
import numpy as np
import psutil

from kzru_rag.embedding.sentence_transformers import Embedder, load_embedder
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.index.progress import BuildProgress
from kzru_rag.ingest.chunking import paragraphs, sentences
from kzru_rag.ingest.documents import bundled_document
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores import milvus
from kzru_rag.stores.layout import default_index_path
from kzru_rag.stores.milvus.server import LocalMilvus
from kzru_rag.stores.spec import parse_store
from kzru_rag.stores.vectors import HNSW_EF_SEARCH
from retrieval import PrecomputedQueries  # bench/retrieval.py

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev.jsonl"
ITEMS_PER_DOCUMENT = 25
BUILT = "built.json"
"""Beside a kept index (`--work`): its build's seconds and peak RSS."""
MAX_ITEM_CHARS = 480  # one chunk per item with the default chunker (500)
NOISE = 0.3  # norm of the noise added to a unit vector
HELD_OUT = 200  # synthetic query vectors (not in the index) for recall, besides the dev questions


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def document_sentences() -> list[str]:
    document = bundled_document()
    text = document.text
    return [text[a:b] for span in paragraphs(text, document.body_start) for a, b in sentences(text, span)]


def synthetic_items(pool: list[str], count: int, seed: int, first_number: int = 1) -> list[str]:
    """`count` numbered news items of 1-3 sentences from `pool`, each at most MAX_ITEM_CHARS."""
    rng = random.Random(seed)
    items = []
    for number in range(first_number, first_number + count):
        chosen = [rng.choice(pool)]
        for _ in range(rng.randint(0, 2)):
            extra = rng.choice(pool)
            if len(" ".join([*chosen, extra])) + 8 <= MAX_ITEM_CHARS:
                chosen.append(extra)
        items.append(f"{number}. " + " ".join(chosen))
    return items


def write_corpus(folder: Path, items: list[str], prefix: str = "doc") -> None:
    """Items grouped ITEMS_PER_DOCUMENT to a .txt document, one paragraph each."""
    folder.mkdir(parents=True, exist_ok=True)
    for first in range(0, len(items), ITEMS_PER_DOCUMENT):
        name = f"{prefix}{first // ITEMS_PER_DOCUMENT:05d}.txt"
        (folder / name).write_text("\n\n".join(items[first : first + ITEMS_PER_DOCUMENT]) + "\n", encoding="utf-8")


class SyntheticEncoder:
    """Passage vectors without the model: the sum of the real vectors of the known sentences in a text, plus
    noise seeded by the text (so a text always gets the same vector), normalised."""

    def __init__(self, model_id: str, pool: list[str], pool_vectors: np.ndarray) -> None:
        self.model_id = model_id
        self.dim = int(pool_vectors.shape[1])
        self._pool = list(zip(pool, pool_vectors))
        self.encoded = 0

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return np.stack([self.vector(text) for text in texts])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Word vectors for the cross-lingual bridge, made like passage vectors."""
        return self.encode_passages(texts)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        parts = [vector for sentence, vector in self._pool if sentence in text]
        base = np.sum(parts, axis=0) if parts else self._pool[seed % len(self._pool)][1]
        base = base / np.linalg.norm(base)
        noisy = base + NOISE * rng.standard_normal(self.dim).astype(np.float32) / np.sqrt(self.dim)
        return (noisy / np.linalg.norm(noisy)).astype(np.float32)


def dev_questions() -> list[str]:
    return [json.loads(line)["question"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]


def measure(path: Path, rounds: int) -> dict[str, Any]:
    """In this (fresh) process: load the index and the model, then time Retriever.search over the dev questions,
    alternating with the one-document index so both figures see the same machine load."""
    process = psutil.Process()
    reference = Retriever.load(default_index_path())
    rss_before = process.memory_info().rss
    start = time.perf_counter()
    retriever = Retriever.load(path)
    load_seconds = time.perf_counter() - start
    rss_index = process.memory_info().rss - rss_before
    questions = dev_questions()
    retriever.search(questions[0])
    precomputed = PrecomputedQueries([retriever, reference], questions)
    without_model = Retriever(retriever.index, precomputed)  # type: ignore[arg-type]
    reference_without_model = Retriever(reference.index, precomputed)  # type: ignore[arg-type]
    calls = {
        "search": lambda q: retriever.search(q, k=5),
        "reference": lambda q: reference.search(q, k=5),
        "encode": lambda q: retriever.embedder.encode_queries([q]),
        "search_only": lambda q: without_model.search(q, k=5),
        "reference_only": lambda q: reference_without_model.search(q, k=5),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for question in questions:
            for name, call in calls.items():
                start = time.perf_counter()
                call(question)
                times[name].append(time.perf_counter() - start)
    return {
        "load_s": load_seconds,
        **{f"{name}_p50_ms": percentile(values, 0.5) * 1e3 for name, values in times.items()},
        **{f"{name}_p95_ms": percentile(values, 0.95) * 1e3 for name, values in times.items()},
        "index_rss_mib": rss_index / 2**20,
        "rss_mib": process.memory_info().rss / 2**20,
        "peak_rss_mib": peak_rss_mib(),
        "queries": len(times["search"]),
        "hits": [[hit.score for hit in retriever.search(q, k=5)] for q in questions],
    }


def measure_in_subprocess(path: Path, rounds: int) -> dict[str, Any]:
    return _subprocess_json(["--measure", str(path), "--rounds", str(rounds)], f"measuring {path}")


def side_by_side(paths: list[Path], rounds: int) -> dict[str, dict[str, float]]:
    """In this (fresh) process: the indexes at `paths` loaded with the model, each question asked of each in turn
    (the order alternating), so that they see the same machine load (rows measured one after another need not);
    Retriever.search p50 and p95 per index, each question's first asking with cold caches as in `measure`. Beside
    them the same indexes loaded afresh (cold caches again) and asked with the question's vector computed
    beforehand: the search's own cost without the model's (`bare_p50_ms`)."""
    retrievers = [Retriever.load(path) for path in paths]
    questions = dev_questions()
    for retriever in retrievers:
        retriever.search(questions[0])
    precomputed = PrecomputedQueries(retrievers, questions)
    bare = [Retriever(load_index(path), precomputed) for path in paths]  # type: ignore[arg-type]
    for retriever in bare:
        retriever.search(questions[0])
    asked = [*retrievers, *bare]
    times: list[list[float]] = [[] for _ in asked]
    for _ in range(rounds):
        for i, question in enumerate(questions):
            for j in list(range(len(asked)))[:: 1 if i % 2 == 0 else -1]:
                start = time.perf_counter()
                asked[j].search(question, k=5)
                times[j].append(time.perf_counter() - start)
    return {
        str(path): {
            "p50_ms": percentile(values, 0.5) * 1e3,
            "p95_ms": percentile(values, 0.95) * 1e3,
            "bare_p50_ms": percentile(bare_values, 0.5) * 1e3,
        }
        for path, values, bare_values in zip(paths, times, times[len(paths) :])
    }


def side_by_side_in_subprocess(paths: list[Path], rounds: int) -> dict[str, dict[str, float]]:
    return _subprocess_json(["--beside", ",".join(map(str, paths)), "--rounds", str(rounds)], "side by side")


def _subprocess_json(arguments: list[str], what: str) -> Any:
    """The JSON this script prints last when run with `arguments` in a fresh process."""
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def recall(flat: faiss.Index, approximate: faiss.Index, queries: np.ndarray, k: int) -> float:
    _, exact = flat.search(queries, k)
    _, found = approximate.search(queries, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, found)]))


def ef_sweep(flat: faiss.Index, hnsw: faiss.Index, queries: np.ndarray, depths: list[int]) -> list[tuple]:
    """(efSearch, recall at each depth, p50 ms of one query) for a few efSearch values; the index is left as it was."""
    chosen, rows = hnsw.hnsw.efSearch, []
    for ef in (32, 64, 128, 256, 512):
        hnsw.hnsw.efSearch = ef
        times = []
        for query in queries:
            start = time.perf_counter()
            hnsw.search(query[None], 10)
            times.append(time.perf_counter() - start)
        rows.append((ef, [recall(flat, hnsw, queries, k) for k in depths], percentile(times, 0.5) * 1e3))
    hnsw.hnsw.efSearch = chosen
    return rows


def folder_mib(path: Path) -> float:
    """Size of the files under `path` (for an index in Milvus: the manifest folder plus the Milvus Lite data)."""
    lite = path.with_suffix(".db")
    return (
        sum(f.stat().st_size for root in (path, lite) if root.exists() for f in root.rglob("*") if f.is_file()) / 2**20
    )


def build(corpus: Path, encoder: "SyntheticEncoder", path: Path, kind: str, server_uri: str) -> float:
    """Build the index of `kind` (flat, hnsw, or HNSW in Milvus: milvus, Lite beside `path`, or server, the Milvus
    server at `server_uri`); its build seconds. A Milvus Lite file serves one process, so this process lets go of it
    for the measuring one."""
    store = {"milvus": f"milvus:{path.with_suffix('.db')}", "server": server_uri}.get(kind, "faiss")
    start = time.perf_counter()
    build_index([corpus], encoder, path, vector_index="flat" if kind == "flat" else "hnsw", store=store)
    seconds = time.perf_counter() - start
    if kind == "milvus":
        milvus.forget(parse_store(store))
    return seconds


def build_in_subprocess(
    corpus: Path, pool_file: Path, model_id: str, path: Path, kind: str, server_uri: str
) -> tuple[float, float]:
    """`build` in a fresh process (the synthetic vectors from `pool_file`, no model loaded): its seconds and the
    building process's peak RSS in MiB."""
    arguments = ["--build", str(path), "--corpus", str(corpus), "--pool", str(pool_file)]
    found = _subprocess_json(
        [*arguments, "--model-id", model_id, "--kinds", kind, "--store-uri", server_uri], f"building {path}"
    )
    return found["seconds"], found["peak_rss_mib"]


def built(corpus: Path, pool_file: Path, model_id: str, path: Path, kind: str, server_uri: str) -> tuple[float, float]:
    """`build_in_subprocess`, unless an earlier run with the same `--work` built `path`: then its build's figures
    (kept in `BUILT` beside it), and a note that it was kept."""
    record = path.with_name(f"{path.name}.{BUILT}")
    if record.exists() and (path / "manifest.json").exists():
        print(f"kept: {path} (built by an earlier run; its build figures)", flush=True)
        kept = json.loads(record.read_text())
        return kept["seconds"], kept["peak_rss_mib"]
    seconds, rss = build_in_subprocess(corpus, pool_file, model_id, path, kind, server_uri)
    record.write_text(json.dumps({"seconds": seconds, "peak_rss_mib": rss}))
    return seconds, rss


def kept_port(path: Path) -> int | None:
    """The port of the server a kept index was built on (its manifest names it), so that server serves it again."""
    manifest = path / "manifest.json"
    return urlsplit(json.loads(manifest.read_text())["store"]).port if manifest.exists() else None


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: `ru_maxrss` would report the parent's when it was larger, as Linux keeps it
    across exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def build_here(args: argparse.Namespace) -> dict[str, float]:
    """The `--build` mode: one index built in this process, which loads no model."""
    pool = document_sentences()
    encoder = SyntheticEncoder(args.model_id, pool, np.load(args.pool))
    seconds = build(Path(args.corpus), encoder, Path(args.build), args.kinds, args.store_uri)
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def embedding_throughput(embedder: Embedder, rounds: int) -> None:
    chunks = [chunk.text for chunk in load_index(default_index_path()).chunks]
    embedder.encode_passages(chunks[:4])
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        embedder.encode_passages(chunks)
        rates.append(len(chunks) / (time.perf_counter() - start))
    rate = statistics.median(rates)
    chars = sum(map(len, chunks)) / len(chunks)
    print(
        f"embedding (real text): {rate:.1f} passages/s on the document's {len(chunks)} chunks "
        f"(mean {chars:.0f} chars), median of {rounds}; 100k passages would take {100_000 / rate / 60:.0f} min"
    )


def same_hits(a: list[list[float]], b: list[list[float]]) -> float:
    """Share of top-5 hits with the same score under both indexes (passages sharing a sentence tie)."""
    return float(np.mean([np.mean(np.isclose(x, y, atol=1e-5)) if len(x) == len(y) else 0.0 for x, y in zip(a, b)]))


def table_header(depths: list[int]) -> str:
    return (
        f"{'passages':>9} {'chunks':>7} {'index':>6} {'build s':>7} {'build RSS':>9} {'disk MiB':>8} {'load s':>6} "
        f"{'index RSS':>9} {'RSS MiB':>7} {'server':>6} {'p50 ms':>6} {'p95 ms':>6} {'1-doc p50':>9} {'ratio':>5} "
        f"{'no-enc p50':>10} {'1-doc':>5} " + " ".join(f"{'R@' + str(k):>5}" for k in depths) + f" {'hits':>5}"
    )


def table_row(row: tuple, depths: list[int]) -> str:
    """One measured index as a line of the table under `table_header`."""
    size, chunks, kind, build_seconds, disk, f, recalls = row
    ratio = f["search_p50_ms"] / f["reference_p50_ms"]
    quality = (
        " ".join(f"{recalls[k]:5.3f}" for k in depths) + f" {recalls['hits']:5.3f}"
        if recalls
        else " ".join(f"{'exact' if kind == 'flat' else '-':>5}" for _ in [*depths, 0])
    )
    return (
        f"{size:9,d} {chunks:7d} {kind:>6} {build_seconds:7.1f} {f['build_rss_mib']:9.0f} {disk:8.1f} "
        f"{f['load_s']:6.1f} {f['index_rss_mib']:9.0f} {f['rss_mib']:7.0f} {f['server_rss_mib']:6.0f} "
        f"{f['search_p50_ms']:6.1f} {f['search_p95_ms']:6.1f} {f['reference_p50_ms']:9.1f} {ratio:5.2f} "
        f"{f['search_only_p50_ms']:10.1f} {f['reference_only_p50_ms']:5.1f} {quality}"
    )


def scale(embedder: Embedder, sizes: list[int], rounds: int, work: Path, kinds: list[str], keep: bool) -> None:
    pool = document_sentences()
    pool_vectors = embedder.encode_passages(pool)
    pool_file = work / "pool.npy"
    np.save(pool_file, pool_vectors)
    query_vectors = embedder.encode_queries(dev_questions())
    candidates = int(load_index(default_index_path()).manifest.retrieval.get("candidates", 10))
    depths = sorted({5, 10, candidates})
    rows = []
    sweep: list[tuple] = []
    beside: dict[int, list[dict[str, float]]] = {}  # HNSW's and the server's p50s measured side by side, by size
    for size in sizes:
        corpus = work / f"corpus-{size}"
        if not corpus.exists():
            write_corpus(corpus, synthetic_items(pool, size, seed=size))
        encoder = SyntheticEncoder(embedder.model_id, pool, pool_vectors)
        held_out = np.stack(
            [encoder.vector(item) for item in synthetic_items(pool, HELD_OUT, seed=size + 1, first_number=10**7)]
        )
        queries = np.vstack([query_vectors, held_out])
        found: dict[str, Any] = {}
        for kind in kinds:
            path = work / f"index-{size}-{kind}"
            server = LocalMilvus(work / f"server-{size}", port=kept_port(path)).start() if kind == "server" else None
            uri = server.uri if server else ""
            build_seconds, build_rss = built(corpus, pool_file, embedder.model_id, path, kind, uri)
            figures = measure_in_subprocess(path, rounds)
            figures["build_rss_mib"] = build_rss
            figures["server_rss_mib"] = server.rss_mib() if server else 0.0
            vectors = load_index(path, check_sources=False).vectors
            found[kind] = (vectors, figures["hits"])
            recalls = None
            if kind != "flat" and "flat" in found:  # without flat (a server row alone at a large size): no recall
                flat, flat_hits = found["flat"]
                recalls = {k: recall(flat, vectors, queries, min(k, size)) for k in depths}
                recalls["hits"] = same_hits(flat_hits, figures["hits"])
                if size == max(sizes) and kind == "hnsw":
                    sweep = ef_sweep(flat, vectors, queries, depths)
            rows.append((size, vectors.ntotal, kind, build_seconds, folder_mib(path), figures, recalls))
            print(f"measured: {table_row(rows[-1], depths)}", flush=True)
            if kind == "milvus":
                milvus.forget(parse_store(f"milvus:{path.with_suffix('.db')}"))
            if server and "hnsw" in found:
                paths = [work / f"index-{size}-hnsw", path]
                beside[size] = list(side_by_side_in_subprocess(paths, rounds).values())
                hnsw, served = (f"{f['p50_ms']:.1f} ms ({f['bare_p50_ms']:.1f} without encoding)" for f in beside[size])
                print(f"side by side: hnsw p50 {hnsw}, server p50 {served}", flush=True)
            if server:
                server.stop()
        if not keep:
            shutil.rmtree(corpus)

    print(
        f"\nqueries: {rows[0][5]['queries']} per index ({len(query_vectors)} dev questions x {rounds} rounds), "
        f"Retriever.search k=5, each index in a fresh process alternating with the 1-document index; "
        f"faiss threads {faiss.omp_get_max_threads()}"
    )
    print(table_header(depths))
    for row in rows:
        print(table_row(row, depths))
    print(
        f"query encoding alone: p50 {statistics.median(r[5]['encode_p50_ms'] for r in rows):.1f} ms (median over runs)"
    )
    for size, _, kind, _, _, f, recalls in rows:
        if size == max(sizes):
            extra = f", recall@10 {recalls[10]:.3f} (target >= 0.98)" if recalls else ""
            print(
                f"{size:,} passages, {kind}: p50 {f['search_p50_ms'] / f['reference_p50_ms']:.2f}x the 1-document p50 "
                f"(target <= 2x){extra}; without encoding {f['search_only_p50_ms']:.1f} ms vs "
                f"{f['reference_only_p50_ms']:.1f} ms, encoding {f['encode_p50_ms']:.1f} ms"
            )
    print(
        f"R@k: recall of an approximate index's top k against flat over {len(queries)} query vectors "
        f"({len(query_vectors)} dev questions, {HELD_OUT} held-out items); {candidates} = the retriever's candidate "
        f"passages; hits: share of Retriever.search top-5 hits scored as with flat. build s: chunking, synthetic "
        f"vectors, term index, FAISS or Milvus, writing; build RSS: the building process's peak (a fresh one, no "
        f"model loaded). index RSS: memory the loaded index adds to the app process "
        f"(milvus: Milvus Lite runs its engine inside it; server: the engine runs in the server process, whose RSS is "
        f"the server column). no-enc: Retriever.search with the question's vector computed beforehand (what the corpus "
        f"size changes), and the same for the 1-document index."
    )
    for size, (hnsw, server) in beside.items():
        print(
            f"{size:,} passages side by side in one process (each question asked of HNSW and the server in turn, the "
            f"server's caches cold at its first asking): server p50 {server['p50_ms']:.1f} ms, HNSW "
            f"{hnsw['p50_ms']:.1f} ms: {server['p50_ms'] / hnsw['p50_ms']:.2f}x HNSW's (target <= 2x); without "
            f"encoding (the vectors computed beforehand, the indexes loaded afresh) server {server['bare_p50_ms']:.1f} "
            f"ms, HNSW {hnsw['bare_p50_ms']:.1f} ms"
        )
    extrapolate(rows)
    if sweep:  # HNSW measured with flat at the largest size
        print(
            f"\nefSearch sweep at {max(sizes):,} passages "
            f"(FAISS alone, one query at a time; the index uses {HNSW_EF_SEARCH}):"
        )
        for ef, recalls_at, p50 in sweep:
            print(
                f"  efSearch {ef:4d}: "
                + "  ".join(f"R@{k} {r:.3f}" for k, r in zip(depths, recalls_at))
                + f"  p50 {p50:.2f} ms"
            )


def extrapolate(rows: list[tuple]) -> None:
    """Per kind measured at two sizes or more: the cost of one more passage between the two largest (build time,
    the app's index RSS, the server's RSS), and what that slope gives at 1M and 10M passages."""
    for kind in dict.fromkeys(row[2] for row in rows):
        measured = sorted((row for row in rows if row[2] == kind), key=lambda row: row[0])
        if len(measured) < 2:
            continue
        (small, _, _, small_build, _, small_f, _), (large, _, _, large_build, _, large_f, _) = measured[-2:]
        slopes = {
            "build s": (large_build - small_build) / (large - small),
            "build RSS MiB": (large_f["build_rss_mib"] - small_f["build_rss_mib"]) / (large - small),
            "index RSS MiB": (large_f["index_rss_mib"] - small_f["index_rss_mib"]) / (large - small),
            "server RSS MiB": (large_f["server_rss_mib"] - small_f["server_rss_mib"]) / (large - small),
        }
        at = {
            "build s": large_build,
            "build RSS MiB": large_f["build_rss_mib"],
            "index RSS MiB": large_f["index_rss_mib"],
        }
        at["server RSS MiB"] = large_f["server_rss_mib"]
        print(f"\n{kind}: per passage from {small:,} to {large:,} (linear from {large:,}):")
        for name, slope in slopes.items():
            scaled = "  ".join(f"{n:,}: {at[name] + slope * (n - large):,.0f}" for n in (1_000_000, 10_000_000))
            print(f"  {name:15s} {slope * 1e3:9.3f} per 1,000 passages   {scaled}")


def incremental(embedder: Embedder, work: Path) -> None:
    pool = document_sentences()
    corpus, index = work / "news", work / "news-index"
    items = synthetic_items(pool, 50 * ITEMS_PER_DOCUMENT, seed=50)
    write_corpus(corpus, items)
    embedded: list[int] = []

    def note(report: BuildProgress) -> None:
        embedded[:] = [report.embedded]

    start = time.perf_counter()
    full = build_index([corpus], embedder, index, progress=note)
    full_seconds, full_embedded = time.perf_counter() - start, embedded[0]
    write_corpus(corpus, synthetic_items(pool, ITEMS_PER_DOCUMENT, seed=51, first_number=len(items) + 1), prefix="new")
    start = time.perf_counter()
    grown = build_index([corpus], embedder, index, progress=note)
    incremental_seconds, incremental_embedded = time.perf_counter() - start, embedded[0]
    print(f"\nincremental rebuild (real embeddings): 50 documents, {full.chunk_count} chunks")
    print(f"full build              {full_seconds:7.1f} s   embedded {full_embedded} chunks")
    print(
        f"add 1 document, rebuild {incremental_seconds:7.1f} s   embedded {incremental_embedded} chunks "
        f"(index now {grown.chunk_count} chunks)"
    )
    print(f"ratio incremental/full  {incremental_seconds / full_seconds:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="corpus sizes in passages (default 1000,10000,100000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev questions per index (default 3)")
    parser.add_argument(
        "--kinds",
        default="flat,hnsw,milvus,server",
        help="indexes to compare, flat first (recall is against flat; default flat,hnsw,milvus,server)",
    )
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the incremental rebuild (real embeddings, minutes)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="folder for the corpora, indexes and servers' data, kept: a later run reuses what an earlier one built "
        "(rebuild by removing it after a change to what a build writes; default: a temporary folder)",
    )
    parser.add_argument("--measure", metavar="INDEX", help=argparse.SUPPRESS)
    parser.add_argument("--beside", metavar="INDEX,INDEX", help=argparse.SUPPRESS)
    for hidden in ("--build", "--corpus", "--pool", "--model-id", "--store-uri"):  # the `--build` mode's
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.rounds)))
        return
    if args.beside:
        print(json.dumps(side_by_side([Path(path) for path in args.beside.split(",")], args.rounds)))
        return
    if args.build:
        print(json.dumps(build_here(args)))
        return
    embedder = load_embedder()
    embedding_throughput(embedder, args.rounds)
    with tempfile.TemporaryDirectory(prefix="kzru-scale-") as folder:
        work = args.work or Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        sizes = [int(s) for s in args.sizes.split(",")]
        scale(embedder, sizes, args.rounds, work, args.kinds.split(","), keep=args.work is not None)
        if not args.no_incremental:
            incremental(embedder, Path(folder))


if __name__ == "__main__":
    main()
