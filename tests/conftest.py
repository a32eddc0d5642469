"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from kzru_rag.embedding import DEFAULT_MODEL, Embedder, load_embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled embedding model, loaded (and converted on first use) once per test session."""
    return load_embedder(DEFAULT_MODEL)
