"""Encoding with a sentence-transformers model (PyTorch): any model by name, the bundled one converted on first use."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from kzru_rag.embedding.base import DEFAULT_MODEL, MODEL_ENV, model_or_default, passive_openmp
from kzru_rag.embedding.conversion import NO_POOLER, bundled_model_path
from kzru_rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder:
    """A loaded sentence-transformers model with query/passage encoding."""

    def __init__(self, model_id: str, model: SentenceTransformer) -> None:
        self.model_id = model_id
        self._model = model
        self.dim: int = model.get_embedding_dimension()
        self.max_seq_length: int = model.max_seq_length
        # The first non-empty passage prompt: hub e5 models keep theirs under "passage" only.
        self._passage_prompt = next(
            (name for name in ("document", "passage", "corpus") if model.prompts.get(name)), None
        )
        self._lock = threading.Lock()  # the fast tokenizer is not safe to reconfigure from two threads at once

    @property
    def model(self) -> SentenceTransformer:
        """The underlying SentenceTransformer."""
        return self._model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for search queries."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_query(texts, convert_to_numpy=True)
        return _as_unit_rows(vectors)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for passages to be searched."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_document(
                texts,
                prompt_name=self._passage_prompt,
                batch_size=batch_size,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
            )
        return _as_unit_rows(vectors)

    def token_count(self, text: str) -> int:
        """Tokens the model sees for `text` as a passage (prompt and special tokens included), before truncation."""
        prompt = self._model.prompts.get(self._passage_prompt) if self._passage_prompt else None
        with self._lock:
            features = self._model.preprocess(
                [text], prompt=prompt, processing_kwargs={"text": {"truncation": False, "verbose": False}}
            )
        return int(features["input_ids"].shape[-1])


def _as_unit_rows(vectors: Any) -> np.ndarray:
    """Float32, C-contiguous rows of unit length (models without a Normalize module included)."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


_embedders: dict[str, Embedder] = {}


_lock = threading.Lock()


def load_embedder(model_id: str | None = None) -> Embedder:
    """The process-wide sentence-transformers embedder for `model_id` (default: $KZRU_RAG_MODEL, else the bundled
    model)."""
    model_id = model_or_default(model_id)
    with _lock:
        if model_id not in _embedders:
            _embedders[model_id] = Embedder(model_id, _load_model(model_id))
        return _embedders[model_id]


def _load_model(model_id: str) -> SentenceTransformer:
    with passive_openmp():  # torch's OpenMP runtime is loaded by this import
        from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if model_id == DEFAULT_MODEL:
        return SentenceTransformer(str(bundled_model_path()), local_files_only=True, model_kwargs=NO_POOLER)
    try:
        return SentenceTransformer(model_id)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        fallback = f"unset {MODEL_ENV}" if os.environ.get(MODEL_ENV) == model_id else "name no model"
        raise ModelError(
            f"cannot load embedding model {model_id!r}: {reason}; pass a local sentence-transformers folder "
            f"or a name your machine can download, or {fallback} to use the bundled model"
        ) from exc
