"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashing_encoder import RETRIEVAL, HashingEncoder
from kzru_rag.answering.assistant import Assistant
from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.embedding.sentence_transformers import Embedder, load_embedder
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.stores.layout import default_index_path


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    """A small real encoder for tests of behaviour (hashed character n-grams, no model files): build small indexes
    with it in tmp folders. Tests of the bundled model's quality use `embedder` and are marked slow."""
    return HashingEncoder()


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, encoder) -> Path:
    """The bundled document indexed with `encoder` (about a second): tests of behaviour search it."""
    path = tmp_path_factory.mktemp("small") / "index"
    build_index(None, encoder, path, retrieval=RETRIEVAL)
    return path


@pytest.fixture(scope="session")
def small_retriever(small_index, encoder):
    """A Retriever over `small_index`: the pipeline's mechanics without the bundled model."""
    from kzru_rag.retrieval.retriever import Retriever

    return Retriever(load_index(small_index), encoder)


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


@pytest.fixture(scope="module")
def assistant(small_retriever) -> Assistant:
    """The assistant over the bundled document indexed with the small test encoder: the mechanics (wording,
    citations, errors, dialogue)."""
    return Assistant(small_retriever)


@pytest.fixture(scope="module")
def bundled_assistant(retriever) -> Assistant:
    """The assistant over the committed index, its calibrated confidence and the bundled model: the answers'
    quality (slow tests)."""
    return Assistant(retriever)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """A real Milvus server for the session (`milvus-server`, the Milvus 2.3 standalone engine) on a free 127.0.0.1
    port, asking for a token (`ROOT_TOKEN`, user root); stopped with its engine process at the end."""
    from kzru_rag.stores.milvus import forget
    from kzru_rag.stores.milvus.server import LocalMilvus
    from kzru_rag.stores.spec import parse_store

    server = LocalMilvus(tmp_path_factory.mktemp("milvus-server"), authorization=True).start()
    try:
        yield server
    finally:
        forget(parse_store(server.uri))
        server.stop(timeout=10)
