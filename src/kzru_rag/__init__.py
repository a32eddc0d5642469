"""kzru-rag: cited answers about the Kazakhstan–Russia state visit analysis (Nov 2025)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Document": "ingest.documents",
    "Chunk": "ingest.chunking",
    "Chunker": "ingest.chunking",
    "Embedder": "embedding.sentence_transformers",
    "load_embedder": "embedding.sentence_transformers",
    "load_build_embedder": "embedding.engines",
    "IndexManifest": "stores.manifest",
    "build_index": "index.build",
    "load_index": "index.load",
    "Hit": "schema",
    "Answer": "schema",
    "Query": "schema",
    "Retriever": "retrieval.retriever",
    "Assistant": "answering.assistant",
    "LLM": "answering.llm",
    "Library": "library",
    "DocumentEntry": "library",
    "KzruRagError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import heavy modules (torch, faiss) only when their names are used."""
    if name == "Collection":  # the name before 0.2
        name = "Library"
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kzru_rag' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
