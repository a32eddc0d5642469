"""The FAISS store (`Store` for the kind "faiss"): the index's files beside its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kzru_rag.stores.faiss.files import load_files, write_files
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest
from kzru_rag.stores.spec import StoreSpec


@dataclass(frozen=True)
class FaissStore:
    """An index as FAISS and data files in its folder, checked by the manifest's checksums."""

    spec: StoreSpec

    def write(self, staging: Path, built: LoadedIndex, path: Path) -> IndexManifest:
        return write_files(staging, built)

    def read(self, path: Path, manifest: IndexManifest, whole: bool = False) -> LoadedIndex:
        return load_files(path, manifest)
