"""The Milvus store (`Store` for the kind "milvus"): the index's data in Milvus collections, only the manifest in
its folder."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from kzru_rag.stores.layout import MANIFEST, file_signature
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, write_manifest
from kzru_rag.stores.milvus.build import write
from kzru_rag.stores.milvus.layout import collection_name
from kzru_rag.stores.milvus.load import read
from kzru_rag.stores.spec import StoreSpec


@dataclass(frozen=True)
class MilvusStore:
    """An index in Milvus Lite (a local file) or on a Milvus server, served under an alias named after its folder."""

    spec: StoreSpec

    def write(self, staging: Path, built: LoadedIndex, path: Path) -> IndexManifest:
        """Write a new generation and move the alias to it, then the manifest (the folder's only file)."""
        manifest = replace(built.manifest, store=str(self.spec), collection=collection_name(path))
        write(self.spec, manifest.collection, built, manifest)
        write_manifest(staging, manifest)
        return manifest

    def read(self, path: Path, manifest: IndexManifest, whole: bool = False) -> LoadedIndex:
        signature = file_signature(path / MANIFEST)
        loaded = read(self.spec, path, manifest.collection, whole)
        loaded.files = {MANIFEST: signature}
        return loaded
