"""Hits as the retriever makes them: a chunk's hit with its metadata, a hit's key sentence, a hit re-scored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kzru_rag.ingest.chunking import Chunk
from kzru_rag.schema import Hit
from kzru_rag.stores.loaded import LoadedIndex


def with_soft(hit: Hit, match: float) -> Hit:
    """`hit` with its soft word `match` (`WordBridge.soft_match`) among its signals; its score stays the retrieval's."""
    return replace(hit, signals={**hit.signals, "soft_match": match})


def sentence_key(hit: Hit) -> str:
    """The hit's best sentence with its spacing normalised: equal keys are the same passage."""
    start, end = hit.highlight or (hit.start, hit.end)
    return " ".join(hit.text[start - hit.start : end - hit.start].split())


def metadata_of(index: LoadedIndex, chunk: Chunk) -> dict[str, Any]:
    """Document metadata plus the chunk's (its page in a PDF), its paragraph number and the document's source."""
    document = index.facts_of(chunk.doc_id)
    return {**document.metadata, **chunk.metadata, "paragraph": chunk.paragraph, "source": document.source}


def make_hit(index: LoadedIndex, position: int, score: float) -> Hit:
    """The Hit for the whole chunk at `position` of `index`, with its document's metadata."""
    chunk = index.chunks[position]
    return Hit(chunk.text, score, chunk.doc_id, chunk.start, chunk.end, chunk.chunk_id, metadata_of(index, chunk))
