"""kzru-rag: cited answers about the Kazakhstan–Russia state visit analysis (Nov 2025)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Document": "documents",
    "Collection": "collection",
    "DocumentEntry": "collection",
    "Chunk": "chunking",
    "Chunker": "chunking",
    "Embedder": "embedding",
    "load_embedder": "embedding",
    "load_build_embedder": "embedding",
    "IndexManifest": "index",
    "build_index": "index",
    "load_index": "index",
    "Hit": "retriever",
    "Retriever": "retriever",
    "Answer": "assistant",
    "Assistant": "assistant",
    "LLM": "llm",
    "KzruRagError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import heavy modules (torch, faiss) only when their names are used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kzru_rag' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
