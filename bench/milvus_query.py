"""Where a question's time goes with the index on a Milvus server: the Milvus calls one `Retriever.search` makes, by
kind, with their time, and the search p50 at the consistency level reads use (`MilvusIndex.consistency`) against
Strong (the collections' own level, which waits on every read for the server to have applied everything written
before it), measured alternately in one run; and with cold caches, each question asked of two indexes loaded
afresh, in turn: one reading a call at a time, one reading ahead (`LoadedIndex.read_ahead`: reads side by side).

The index is bench/scale.py's synthetic news corpus (SyntheticEncoder vectors) built into a `milvus-server` under
`--work`; a kept `--work` folder reuses the server's data and the built index. Questions are the dev set, their
vectors computed beforehand (the model's time is not the store's).

    .venv/bin/python bench/milvus_query.py [--size 10000] [--rounds 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from pymilvus import MilvusClient

from kzru_rag.embedding.sentence_transformers import load_embedder
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.milvus.generation import MilvusIndex
from kzru_rag.stores.milvus.server import LocalMilvus
from retrieval import PrecomputedQueries  # bench/retrieval.py
from scale import (
    SyntheticEncoder,
    dev_questions,
    document_sentences,
    kept_port,
    percentile,
    synthetic_items,
    write_corpus,
)

CALLS = ("search", "query", "list_aliases", "describe_alias", "load_collection")


class CallLog:
    """Counts and times the MilvusClient calls made (wrapping the class's methods in this process): searches and
    queries by collection (`chunks`, `sentences`, …); `calls` keeps each one's kind, start, end and rows returned."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: list[tuple[str, float, float, int]] = []
        for name in CALLS:
            setattr(MilvusClient, name, self._timed(name, getattr(MilvusClient, name)))

    def _timed(self, name: str, method: Callable) -> Callable:
        def call(client: MilvusClient, *args, **kwargs):
            start = time.perf_counter()
            result = None
            try:
                result = method(client, *args, **kwargs)
                return result
            finally:
                end = time.perf_counter()
                part = str(args[0] if args else kwargs.get("collection_name", "")).rsplit("_", 1)[-1]
                key = f"{name} {part}" if name in ("search", "query") else name
                self.count[key] += 1
                self.seconds[key] += end - start
                rows = len(result[0]) if name == "search" and result else len(result or [])
                self.calls.append((key, start, end, rows))

        return call

    def reset(self) -> None:
        self.count.clear()
        self.seconds.clear()
        self.calls.clear()


def built(server: LocalMilvus, work: Path, size: int, embedder) -> Path:
    """The synthetic index of `size` passages on `server` (built unless a kept --work folder has it)."""
    path = work / f"index-{size}"
    if not (path / "manifest.json").exists():
        pool = document_sentences()
        corpus = work / f"corpus-{size}"
        write_corpus(corpus, synthetic_items(pool, size, seed=size))
        encoder = SyntheticEncoder(embedder.model_id, pool, embedder.encode_passages(pool))
        start = time.perf_counter()
        build_index([corpus], encoder, path, vector_index="hnsw", store=server.uri)
        print(f"built {size:,} passages on the server in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def timed_searches(retriever: Retriever, questions: list[str]) -> list[float]:
    times = []
    for question in questions:
        start = time.perf_counter()
        retriever.search(question, k=5)
        times.append(time.perf_counter() - start)
    return times


ONE_BY_ONE, AHEAD = "one read at a time", "read ahead"


Timeline = list[tuple[str, float, float, int]]
"""A question's Milvus calls: kind, start and end (ms from the question's start), rows returned."""


def cold_compared(
    path: Path, encoder: PrecomputedQueries, questions: list[str], log: CallLog, timelines: list[Timeline]
) -> dict[str, tuple[Retriever, list[float], Counter[str], dict[str, float]]]:
    """Each question asked once of two indexes loaded afresh (cold caches), in turn, the first alternating: one
    reading what a question needs a call at a time (`LoadedIndex.ahead` off, as before read-ahead came), and one
    reading ahead in the background (reads side by side). Per mode: the retriever, times, calls and their seconds;
    the read-ahead mode's calls per question are added to `timelines`."""
    plain = load_index(path)
    plain.ahead = None
    retrievers = {ONE_BY_ONE: Retriever(plain, encoder), AHEAD: Retriever(load_index(path), encoder)}  # type: ignore[arg-type]
    times: dict[str, list[float]] = {mode: [] for mode in retrievers}
    calls: dict[str, Counter[str]] = {mode: Counter() for mode in retrievers}
    seconds: dict[str, Counter[str]] = {mode: Counter() for mode in retrievers}
    for i, question in enumerate(questions):
        for mode in list(retrievers)[:: 1 if i % 2 == 0 else -1]:
            log.reset()
            begun = time.perf_counter()
            times[mode] += timed_searches(retrievers[mode], [question])
            calls[mode].update(log.count)
            seconds[mode].update(log.seconds)
            if mode == AHEAD:
                timelines.append(
                    [(k, (a - begun) * 1e3, (b - begun) * 1e3, n) for k, a, b, n in log.calls if a >= begun]
                )
    return {mode: (retrievers[mode], times[mode], calls[mode], dict(seconds[mode])) for mode in retrievers}


def after_another(timeline: Timeline) -> int:
    """The longest chain of calls each started after the one before it ended: round trips one after another."""
    depth: list[int] = []
    for _, start, _, _ in timeline:
        depth.append(1 + max((d for d, (_, _, end, _) in zip(depth, timeline) if end <= start), default=0))
    return max(depth, default=0)


def stages(timelines: list[Timeline], times: list[float]) -> None:
    """Where a cold question's time goes, by kind of call (p50 over the questions that make it): when it starts and
    ends (ms from the question's start), the rows it returns; the round trips one after another; one question's
    calls in order (the one with the median time)."""
    print(f"  cold caches, read ahead, per stage ({len(timelines)} questions; ms from the question's start, p50):")
    for kind in sorted({call[0] for timeline in timelines for call in timeline}):
        made = [[c for c in timeline if c[0] == kind] for timeline in timelines]
        firsts = [calls[0] for calls in made if calls]
        start, took = statistics.median(c[1] for c in firsts), statistics.median(c[2] - c[1] for c in firsts)
        print(
            f"    {kind:16s} in {len(firsts):2d} questions, {sum(map(len, made)) / len(made):.2f} a question: "
            f"starts {start:6.1f}, takes {took:6.1f}, rows {statistics.median(c[3] for c in firsts):.0f}"
        )
    print(f"    round trips one after another: p50 {statistics.median(map(after_another, timelines)):.0f}")
    middle = sorted(range(len(times)), key=times.__getitem__)[len(times) // 2]
    print(f"    the median question ({times[middle] * 1e3:.1f} ms):")
    for kind, start, end, rows in sorted(timelines[middle], key=lambda call: call[1]):
        print(f"      {start:6.1f} - {end:6.1f} ms  {kind} ({rows} rows)")


def report(times: list[float], calls: Counter[str], seconds: dict[str, float], asked: int) -> None:
    per_call = ", ".join(
        f"{name} {calls[name] / asked:.2f} x {seconds[name] / calls[name] * 1e3:.1f} ms" for name in sorted(calls)
    )
    print(f"    p50 {percentile(times, 0.5) * 1e3:7.1f} ms  p95 {percentile(times, 0.95) * 1e3:7.1f} ms")
    print(f"    Milvus calls per question: {per_call or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="passages in the index (default 10000)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the dev questions per level (default 2)")
    parser.add_argument("--work", type=Path, help="folder for the server's data and the index (kept; default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kzru-milvus-query-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        with LocalMilvus(work / "server", port=kept_port(work / f"index-{args.size}")) as server:
            embedder = load_embedder()
            path = built(server, work, args.size, embedder)
            questions = dev_questions()
            encoder = PrecomputedQueries([Retriever(load_index(path), embedder)], questions)
            chosen = MilvusIndex.consistency
            log = CallLog()
            timelines: list[Timeline] = []
            cold = cold_compared(path, encoder, questions, log, timelines)
            retriever = cold[AHEAD][0]
            times: dict[str, list[float]] = {chosen: [], "Strong": []}
            calls: dict[str, Counter[str]] = {}
            seconds: dict[str, dict[str, float]] = {}
            for _ in range(args.rounds):
                for level in times:
                    MilvusIndex.consistency = level
                    log.reset()
                    times[level] += timed_searches(retriever, questions)
                    calls[level], seconds[level] = Counter(log.count), dict(log.seconds)
            MilvusIndex.consistency = chosen
    asked = len(questions)
    print(f"\n{args.size:,} passages on a Milvus server, {asked} dev questions; Retriever.search without encoding")
    for mode, (_, times_, calls_, seconds_) in cold.items():
        print(f"  cold caches ({chosen}, each question once), {mode}:")
        report(times_, calls_, seconds_, asked)
    stages(timelines, cold[AHEAD][1])
    sequential = statistics.median(cold[ONE_BY_ONE][1]) / statistics.median(cold[AHEAD][1])
    print(f"  cold p50, {ONE_BY_ONE} / {AHEAD}: {sequential:.2f}x")
    for level, values in times.items():
        print(f"  warm caches, {level} ({args.rounds} rounds):")
        report(values, calls[level], seconds[level], asked)
    ratio = statistics.median(times["Strong"]) / statistics.median(times[chosen])
    print(f"  Strong / {chosen} p50: {ratio:.2f}x")


if __name__ == "__main__":
    main()
