"""The Milvus store (`Store` for the kind "milvus"): the index's data in Milvus collections, only the manifest in
its folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kzru_rag.stores.layout import MANIFEST, file_signature
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest
from kzru_rag.stores.milvus.build import GenerationWriter, write
from kzru_rag.stores.milvus.load import read
from kzru_rag.stores.spec import StoreSpec


@dataclass(frozen=True)
class MilvusStore:
    """An index in Milvus Lite (a local file) or on a Milvus server, served under an alias named after its folder."""

    spec: StoreSpec

    def write(self, staging: Path, built: LoadedIndex, path: Path) -> IndexManifest:
        """Write a new generation and move the alias to it, then the manifest (the folder's only file)."""
        return write(self.spec, staging, built, path)

    def writer(self, path: Path, dim: int) -> GenerationWriter:
        """A new generation written as a build goes (`StreamingStore`)."""
        return GenerationWriter(self.spec, path, dim)

    def read(self, path: Path, manifest: IndexManifest, whole: bool = False) -> LoadedIndex:
        signature = file_signature(path / MANIFEST)
        loaded = read(self.spec, path, manifest.collection, whole)
        loaded.files = {MANIFEST: signature}
        return loaded
