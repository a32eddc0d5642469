"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.embedding.sentence_transformers import Embedder, load_embedder
from kzru_rag.index.load import load_index
from kzru_rag.stores.layout import default_index_path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled embedding model, loaded (and converted on first use) once per test session."""
    return load_embedder(DEFAULT_MODEL)


DEV_SET = Path(__file__).parent / "data" / "dev.jsonl"


@pytest.fixture(scope="session")
def retriever(embedder):
    """The committed index with the session's model."""
    from kzru_rag.retrieval.retriever import Retriever

    return Retriever(load_index(default_index_path()), embedder)
