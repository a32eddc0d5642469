"""Hits as the retriever makes them: a chunk's hit with its metadata, a hit's key sentence, a hit re-scored or
ranked by learned weights."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kzru_rag.ingest.chunking import Chunk
from kzru_rag.schema import Hit
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.settings import RANK_PARTS


def with_soft(hit: Hit, match: float) -> Hit:
    """`hit` with its soft word `match` (`WordBridge.soft_match`) among its signals; its score stays the retrieval's."""
    return replace(hit, signals={**hit.signals, "soft_match": match})


def learned_rank(hit: Hit, weights: tuple[float, ...]) -> float:
    """What `hit` is ranked by under a learned ranking: `weights` (one per `RANK_PARTS`) times the parts of its score
    (`hit.signals`; a part the search did not compute counts 0)."""
    return sum(w * hit.signals.get(part, 0.0) for w, part in zip(weights, RANK_PARTS))


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
