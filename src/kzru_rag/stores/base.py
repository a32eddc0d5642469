"""What a store is: the `Store` protocol an index's storage implements (FAISS files, Milvus collections), and
`store_for`, which finds the implementation of a spec's kind by entry point (group `kzru_rag.stores`)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from kzru_rag.errors import KzruRagError
from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest
from kzru_rag.stores.spec import StoreSpec

ENTRY_POINT_GROUP = "kzru_rag.stores"


class Store(Protocol):
    """Where an index's data is kept: written for a built index, read back as a `LoadedIndex`.

    The index folder always holds the manifest; a store may keep the rest there too (FAISS) or elsewhere (Milvus).
    Either way a build's result must replace the old index in one step: the folder by `index.swap`, data held
    elsewhere by the store itself."""

    spec: StoreSpec

    def write(self, staging: Path, built: LoadedIndex, path: Path) -> IndexManifest:
        """Write `built` as the index at `path`: its files (the manifest last) into `staging`, which is then swapped
        in for `path`. Return the manifest written."""
        ...

    def read(self, path: Path, manifest: IndexManifest, whole: bool = False) -> LoadedIndex:
        """The index at `path` that `manifest` describes, checked; IndexLoadError naming what is broken and the fix.
        `whole` reads all of it into the process (a rebuild reuses its vectors), where a store could query it."""
        ...


class IndexPart(Protocol):
    """One document's share of an index as a build gives it (`index.pipeline.DocumentBatch`): its `chunks` with
    their passage vectors, and their sentence units (`SentenceIndex.units`) with their words and vectors."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    unit_words: list[set[str]]
    sentence_vectors: np.ndarray


class IndexWriter(Protocol):
    """A new index being written part by part (a context: leaving it without `finish` leaves the serving index as it
    was and drops what was written)."""

    def __enter__(self) -> IndexWriter: ...

    def __exit__(self, *failure: object) -> None: ...

    def add(self, part: IndexPart) -> None:
        """Write one document's part (parts come in the index's order)."""
        ...

    def vocabulary(self) -> list[str]:
        """The indexed words of the parts added, sorted."""
        ...

    def finish(
        self, staging: Path, manifest: IndexManifest, words: list[str], word_vectors: np.ndarray
    ) -> IndexManifest:
        """Write the bridge `words` with their vectors and the manifest (into `staging`, then swapped in for the index
        folder), and make the new index the one served. Return the manifest written."""
        ...


@runtime_checkable
class StreamingStore(Protocol):
    """A store a build writes as it goes (Milvus), so the build never holds the whole index in memory."""

    def writer(self, path: Path, dim: int) -> IndexWriter:
        """A writer of a new index for the folder `path`, its vectors of `dim`."""
        ...


def store_for(spec: StoreSpec) -> Store:
    """The store `spec` names, its implementation found by entry point (so a kind's libraries load only when used)."""
    found = tuple(entry_points(group=ENTRY_POINT_GROUP, name=spec.kind))
    if not found:
        known = ", ".join(sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})) or "none"
        raise KzruRagError(
            f"no store of kind {spec.kind!r} is installed (installed: {known}): reinstall kzru-rag (pip install -e .)"
        )
    return found[0].load()(spec)
