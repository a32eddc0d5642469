"""Reading an index: the manifest, then the rest from the store it names (`stores.base.Store`), checked."""

from __future__ import annotations

import warnings
from pathlib import Path

from kzru_rag.errors import IndexLoadError
from kzru_rag.ingest.documents import BUNDLED_SOURCE
from kzru_rag.stores.base import store_for
from kzru_rag.stores.layout import MANIFEST, REBUILD_HINT, default_index_path
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, read_manifest
from kzru_rag.stores.spec import StoreSpec, parse_store


class StaleIndexWarning(UserWarning):
    """A source document changed after the index was built."""


def load_index(path: str | Path | None = None, check_sources: bool = True, whole: bool = False) -> LoadedIndex:
    """Read and validate an index; raise IndexLoadError naming the broken file and the fix.

    An index in Milvus is queried per request; `whole` reads all of it into the process instead (a rebuild reuses
    its vectors). A FAISS index is always read whole."""
    path = Path(path) if path else default_index_path()
    if not path.is_dir():
        raise IndexLoadError(f"no index at {path}: {REBUILD_HINT}")
    if not (path / MANIFEST).is_file():
        raise IndexLoadError(f"index file {path / MANIFEST} is missing: {REBUILD_HINT}")
    manifest = read_manifest(path / MANIFEST)
    loaded = store_for(_spec_of(manifest, path)).read(path, manifest, whole)
    loaded.stale = loaded.manifest.stale_sources() if check_sources else []
    if loaded.stale:
        warnings.warn(stale_message(path, loaded.stale), StaleIndexWarning, stacklevel=2)
    return loaded


def stale_message(path: Path, stale: list[str]) -> str:
    """What happened to the `stale` sources of the index at `path` (removed, or changed) and the command that
    rebuilds it keeping every document."""
    removed = [source for source in stale if source != BUNDLED_SOURCE and not Path(source).is_file()]
    changed = [source for source in stale if source not in removed]
    what = [f"{', '.join(sources)} {verb}" for sources, verb in ((removed, "removed"), (changed, "changed")) if sources]
    command = "kzru-rag index build" + ("" if path.resolve() == default_index_path().resolve() else f" --index {path}")
    return (
        f"index at {path} is stale: {'; '.join(what)} since it was built; "
        f"`{command}` rebuilds it from all its documents (the added ones included)"
    )


def _spec_of(manifest: IndexManifest, path: Path) -> StoreSpec:
    """The store the manifest names; IndexLoadError when it names none kzru-rag knows."""
    try:
        return parse_store(manifest.store)
    except ValueError as exc:
        raise IndexLoadError(f"index file {path / MANIFEST} is corrupt ({exc}): {REBUILD_HINT}") from exc
