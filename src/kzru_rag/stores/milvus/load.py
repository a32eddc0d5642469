"""Reading the index a Milvus alias serves: the manifest and counts, the rest queried when used (or, for a
rebuild, everything at once)."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from kzru_rag.errors import IndexLoadError
from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, manifest_from_json
from kzru_rag.stores.milvus.cache import Rows
from kzru_rag.stores.milvus.client import connect, guarded
from kzru_rag.stores.milvus.generation import MilvusIndex
from kzru_rag.stores.milvus.layout import PARTS, UNIT_FIELDS, serving_generation, stacked
from kzru_rag.stores.milvus.views import (
    ChunkRows,
    Chunks,
    Cited,
    Column,
    Documents,
    PassageVectors,
    ReadAhead,
    Starts,
    Terms,
    Words,
)
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.spec import StoreSpec
from kzru_rag.stores.terms import TermIndex

CACHE_UNITS, CACHE_CHUNKS = 20_000, 10_000
"""Sentence units (about 40 queries' worth, ~40 MiB at 384 dimensions) and chunks (~20 MiB) kept in process."""
NEIGHBOURS = (2, 2)
"""Sentence units fetched around each one asked for: a citation window grows into them."""


def read(spec: StoreSpec, folder: Path, name: str, whole: bool = False) -> LoadedIndex:
    """The index `name` serves, checked; IndexLoadError naming the URI and the fix when it cannot be read.

    It reads only the manifest and counts: the rest is queried when used. `whole` reads everything into the
    process instead (a rebuild takes the vectors it can reuse from it)."""
    client = connect(spec)
    hint = f"rebuild it with `kzru-rag index build --index {folder} --store {spec}`"
    with guarded(spec):
        store = _served(client, spec, name, hint)
        manifest = store.record("manifest", 0, manifest_from_json)
        chunks, units, words = (store.count(part) for part in ("chunks", "sentences", "words"))
        if chunks != manifest.chunk_count or not units:
            raise IndexLoadError(
                f"the index {name} in Milvus at {spec.uri} is inconsistent ({chunks} chunks and {units} sentences, "
                f"the manifest says {manifest.chunk_count} chunks): {hint}"
            )
        if whole:
            return _whole(
                store, folder, manifest, PassageVectors(store, chunks, manifest.dim, manifest.vector_index), hint
            )
    loaded = _queried(store, folder, manifest, chunks, units, words)
    _release_free_heap()
    return loaded


def _release_free_heap() -> None:
    """Return to the system the heap that reading the manifest freed (its JSON pieces and text, the folder's copy):
    glibc keeps it, about 1 KiB a document, 40 MiB at 40,000 (docs/scaling.md); a no-op without glibc."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _served(client: MilvusClient, spec: StoreSpec, name: str, hint: str) -> MilvusIndex:
    """The generation the alias `name` serves, its collections loaded; IndexLoadError when one is missing."""
    generation = serving_generation(client, name)
    if generation is None or not all(client.has_collection(f"{generation}_{part}") for part in PARTS):
        raise IndexLoadError(f"Milvus at {spec.uri} holds no index named {name}: {hint}")
    if not _has_fields(client, f"{generation}_sentences", {"packed", "text"}) or not _has_fields(
        client, f"{generation}_chunks", {"units", "cites", "end"}
    ):
        raise IndexLoadError(f"the index {name} in Milvus at {spec.uri} was written by an older kzru-rag: {hint}")
    for part in PARTS:
        client.load_collection(f"{generation}_{part}")
    return MilvusIndex(client, spec, name, generation)


def _has_fields(client: MilvusClient, collection: str, names: set[str]) -> bool:
    return names <= {field["name"] for field in client.describe_collection(collection)["fields"]}


def _queried(
    store: MilvusIndex, folder: Path, manifest: IndexManifest, chunks: int, units: int, words: int
) -> LoadedIndex:
    """The index as objects that query Milvus for what is read, keeping recent rows in LRU caches."""
    unit_rows = Rows(store, "sentences", list(UNIT_FIELDS), NEIGHBOURS, CACHE_UNITS)
    # The retriever reads where each candidate passage's units start and end, all candidates at once, then the
    # records of the few it cites: the search brings both, with their units and their documents' facts.
    cited = Cited(unit_rows, units)
    chunk_rows = ChunkRows(store, unit_rows, cited, CACHE_CHUNKS)
    vectors = PassageVectors(store, chunks, manifest.dim, manifest.vector_index, chunk_rows)
    sentences = SentenceIndex(
        spans=Column(unit_rows, units, ("start", "end")),
        chunk_of=Column(unit_rows, units, ("chunk",)),
        first=Starts(chunk_rows, chunks, units),
        vectors=Column(unit_rows, units, ("vector",), np.float32),
        terms=Terms(store, unit_rows, units),
        words=Words(store, words),
        canonical=Column(unit_rows, units, ("canonical",)),
        previous=Column(unit_rows, units, ("previous",)),
        following=Column(unit_rows, units, ("following",)),
    )
    documents = Documents(store, manifest.documents)  # type: ignore[arg-type]
    ahead = ReadAhead(sentences.terms, chunk_rows, unit_rows, (chunks, units))  # type: ignore[arg-type]
    return LoadedIndex(
        folder,
        manifest,
        vectors,
        Chunks(chunk_rows, chunks),
        documents,
        sentences=sentences,
        store=store,
        ahead=ahead,
        cited=cited,
    )  # type: ignore[arg-type]


def _whole(
    store: MilvusIndex, folder: Path, manifest: IndexManifest, vectors: PassageVectors, hint: str
) -> LoadedIndex:
    """The index read into the process: records, unit words and vectors, bridge words."""
    chunks = [Chunk.from_dict(json.loads(row["record"])) for row in store.rows("chunks", ["record"])]
    documents = {
        d.doc_id: d for d in (Document.from_dict(store.record("document", i)) for i in range(len(manifest.documents)))
    }
    if missing := {chunk.doc_id for chunk in chunks} - documents.keys():
        raise IndexLoadError(
            f"the index {store.name} in Milvus at {store.spec.uri} lacks documents {sorted(missing)}: {hint}"
        )
    unit_rows = store.rows("sentences", ["packed", "terms"])
    terms = TermIndex.from_units(row["terms"].split("\n") if row["terms"] else [] for row in unit_rows)
    unit_vectors = stacked(unit_rows, 0, len(unit_rows), manifest.dim)
    word_rows = store.rows("words", ["vector"])
    sentences = SentenceIndex.in_memory(
        chunks, unit_vectors, terms, stacked(word_rows, 0, len(word_rows), manifest.dim)
    )
    return LoadedIndex(folder, manifest, vectors, chunks, documents, sentences=sentences, store=store)
