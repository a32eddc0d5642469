"""The bundled model on ONNX Runtime: the build's engine. The same weights and computation as the converted
sentence-transformers model (vectors at cosine >= 0.999, tests/test_build_engine.py), without PyTorch: it loads in
about a second, takes a fraction of the memory, and on this project's CPUs embeds faster (bench/build.py).

Texts are tokenized (`unigram`; truncated at the model's 512 tokens, as sentence-transformers does), their word
embeddings looked up from the 4-bit table and dequantized per batch, run through the encoder graph (`onnx_export`)
in groups of similar length, mean-pooled over their tokens and normalised.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from kzru_rag.embedding.base import DEFAULT_MODEL, PROMPTS
from kzru_rag.embedding.conversion import dequantize
from kzru_rag.embedding.onnx_export import (
    CONFIG,
    GRAPH,
    PIECES,
    POSITIONS,
    SCORES,
    TOKENIZER,
    WORDS,
    bundled_onnx_path,
)
from kzru_rag.embedding.unigram import UnigramTokenizer

GROUP_CELLS = 1 << 16
"""Texts run together at most: their count times their padded length squared stays under this, so a text of 512
tokens goes alone, passages of 128 four at a time, words in hundreds. Memory stays bounded whatever the batch (the
attention scores of a group take 12 heads x 4 bytes a cell: 3 MiB), and on 2 cores this took less CPU time than
groups of 16 times the cells (3.5-4.4 s against 9.3-9.9 s for 48 of the test folder's paragraphs)."""


PADDING_SHARE = 8
"""A group's texts are at least 1 - 1/PADDING_SHARE of its longest text's length: little padding is computed (on the
test folder, padding had added a third to the bridge words' tokens), yet passages still go several at a time."""


class OnnxEmbedder:
    """The `TextEncoder` interface (model_id, dim, encode_queries, encode_passages, token_count) for the bundled
    model, on ONNX Runtime."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime

        self.model_id = DEFAULT_MODEL
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        # Threads that spin at each operator's end waste the shared cores (see base.passive_openmp).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_mem_pattern = False  # every batch has another shape
        self._session = onnxruntime.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])
        self._tokenizer = UnigramTokenizer(folder, TOKENIZER, PIECES, SCORES)
        self._words = np.load(folder / WORDS, mmap_mode="r")
        self._positions = np.load(folder / POSITIONS)
        config = json.loads((folder / CONFIG).read_text())
        self._pad, self._max_tokens = int(config["pad"]), int(config["max_positions"])
        self.dim: int = int(self._positions.shape[1])
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for search queries ("query: " prompt)."""
        return self._encode([PROMPTS["query"] + text for text in texts])

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for passages ("passage: " prompt); texts are grouped by length."""
        return self._encode([PROMPTS["passage"] + text for text in texts])

    def token_count(self, text: str) -> int:
        """Tokens the model sees for `text` as a passage (prompt and special tokens included), before truncation."""
        return len(self._tokenizer.encode(PROMPTS["passage"] + text))

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [self._truncated(self._tokenizer.encode(text)) for text in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        with self._lock:
            first = 0
            while first < len(order):
                length = len(ids[order[first]])
                last, room = first + 1, min(len(order), first + GROUP_CELLS // (length * length))
                while last < room and len(ids[order[last]]) * PADDING_SHARE >= length * (PADDING_SHARE - 1):
                    last += 1
                group = order[first:last]
                out[group] = self._run([ids[i] for i in group], length)
                first = last
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def _truncated(self, ids: list[int]) -> list[int]:
        """`ids` cut to the model's length, keeping the closing special token (sentence-transformers' truncation)."""
        return ids if len(ids) <= self._max_tokens else ids[: self._max_tokens - 1] + ids[-1:]

    def _run(self, rows: list[list[int]], length: int) -> np.ndarray:
        """The mean-pooled last states of token rows `rows` (the longest `length` tokens), padded to that length."""
        ids = np.full((len(rows), length), self._pad, dtype=np.int64)
        mask = np.zeros((len(rows), length), dtype=np.int32)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        distinct, where = np.unique(ids, return_inverse=True)
        words = dequantize(self._words[distinct]).reshape(len(distinct), self.dim)
        embeddings = words[where.reshape(ids.shape)] + self._positions[:length]
        (hidden,) = self._session.run(None, {"embeddings": embeddings, "mask": mask})
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1)


_engine: OnnxEmbedder | None = None
_lock = threading.Lock()


def load_onnx_embedder() -> OnnxEmbedder:
    """The process-wide ONNX Runtime engine of the bundled model (its folder made on first use)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = OnnxEmbedder(bundled_onnx_path())
        return _engine


def onnx_loaded() -> bool:
    """True once this process holds the engine."""
    return _engine is not None
