"""A build for the reliability tests to kill: `python killed_build.py SOURCE INDEX [--pause]`.

It embeds with `HashEncoder` (no model, so it starts in a second) and prints `embedding` once
the first batch is done; with `--pause` it then sleeps, so a test can SIGKILL it mid-embedding.
"""

from __future__ import annotations

import hashlib
import sys
import time

import numpy as np


class HashEncoder:
    """A real encoder without a model: a unit vector seeded by the text's hash (queries and passages alike)."""

    model_id = "test/hash-encoder"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)


def main(source: str, index: str, pause: bool) -> None:
    from kzru_rag.index.build import build_index

    announced = False

    def progress(report) -> None:
        nonlocal announced
        if report.embedded > 0 and not announced:
            announced = True
            print("embedding", flush=True)
            if pause:
                time.sleep(600)

    build_index([source], HashEncoder(), index, progress=progress)
    print("built", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--pause" in sys.argv[3:])
