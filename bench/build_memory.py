"""Build memory: the peak memory of a streaming build into Milvus Lite at a few corpus sizes (issue 24, point 3).

Each size's corpus is `scale.py`'s synthetic news items (25 a document, one passage each), built by the product's
`build_index` into a fresh Milvus Lite file, in a fresh process with `scale.SyntheticEncoder` standing in for the
model (random unit vectors for the bundled document's sentences: memory does not depend on the values). Two builds
a size: one gives the process's peak RSS (VmHWM), which includes Milvus Lite's engine (embedded in the process,
growing with what it stores); the other the peak of the Python and NumPy allocations (tracemalloc), which is the
build's own memory without that engine (and slower). Prints both and their growth per 1,000 passages.

    cd bench && ../.venv/bin/python build_memory.py [--sizes 10000,50000] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

from scale import SyntheticEncoder, build, document_sentences, peak_rss_mib, synthetic_items, write_corpus

MODES = ("rss", "python")


def build_once(corpus: Path, pool: Path, index: Path, mode: str) -> dict[str, float]:
    """The `--build` mode: one streaming build in this process; its seconds and peak (MiB) in `mode`."""
    encoder = SyntheticEncoder("synthetic", document_sentences(), np.load(pool))
    if mode == "python":
        tracemalloc.start()
    seconds = build(corpus, encoder, index, "milvus", "")
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if mode == "python" else peak_rss_mib()
    return {"seconds": seconds, "peak_mib": peak}


def measured(corpus: Path, pool: Path, index: Path, mode: str) -> dict[str, float]:
    """`build_once` in a fresh process."""
    command = [sys.executable, __file__, "--build", str(index), "--corpus", str(corpus), "--pool", str(pool)]
    result = subprocess.run([*command, "--mode", mode], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"building {index} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="corpus sizes in passages (default 10000,50000)")
    parser.add_argument("--dim", type=int, default=384, help="vector dimensions (default 384, the bundled model's)")
    for hidden in ("--build", "--corpus", "--pool", "--mode"):  # the `--build` mode's
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build_once(Path(args.corpus), Path(args.pool), Path(args.build), args.mode)))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    pool = document_sentences()
    vectors = np.random.default_rng(0).standard_normal((len(pool), args.dim)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kzru-build-memory-") as folder:
        work = Path(folder)
        np.save(work / "pool.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        print(f"{'passages':>9} {'build s':>8} {'peak RSS MiB':>13} {'Python peak MiB':>16}")
        for size in sizes:
            corpus = work / f"corpus-{size}"
            write_corpus(corpus, synthetic_items(pool, size, seed=size))
            found = {mode: measured(corpus, work / "pool.npy", work / f"index-{size}-{mode}", mode) for mode in MODES}
            rows.append((size, found["rss"]["peak_mib"], found["python"]["peak_mib"]))
            print(f"{size:>9,} {found['rss']['seconds']:>8.1f} {rows[-1][1]:>13.0f} {rows[-1][2]:>16.1f}", flush=True)
    if len(rows) > 1:
        (first, rss_a, python_a), (last, rss_b, python_b) = rows[0], rows[-1]
        per = 1000 / (last - first)
        growth = f"peak RSS {(rss_b - rss_a) * per:.3f} MiB, Python peak {(python_b - python_a) * per:.3f} MiB"
        print(f"per 1,000 passages: {growth}")


if __name__ == "__main__":
    main()
