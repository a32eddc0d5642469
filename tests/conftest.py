"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from kzru_rag.embedding import DEFAULT_MODEL, Embedder, load_embedder
from kzru_rag.index import default_index_path, load_index


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled embedding model, loaded (and converted on first use) once per test session."""
    return load_embedder(DEFAULT_MODEL)


DEV_SET = Path(__file__).parent / "data" / "dev.jsonl"


@pytest.fixture(scope="session")
def retriever(embedder):
    """The committed index with the session's model."""
    from kzru_rag.retriever import Retriever

    return Retriever(load_index(default_index_path()), embedder)
