"""Replacing an index folder in one step: a build writes into a staging folder beside it and swaps that in, so a
failed or interrupted build never leaves a half-written index."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from kzru_rag.errors import IndexBuildError

_STALE_STAGING_SECONDS = 3600  # a build's staging folder older than this was left by a killed build


BUSY = (
    "another build of {path} is running (the app's rebuild or another kzru-rag command); wait for it to end, "
    "then build again"
)
BUSY_RU = (
    "индекс уже перестраивается (кнопкой «Перестроить индекс» или командой `kzru-rag` в терминале); "
    "дождитесь, когда та сборка закончится, и повторите"
)


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold the build lock of the index at `path` (a file beside it) while a build runs: a second build of the same
    index, from this process or another, is refused at once (`IndexBuildError`) instead of both running and the one
    that ends last replacing what the other wrote. The lock goes with the process that holds it, even when killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.parent / f".{path.name}.lock", is_singleton=False, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBuildError(BUSY.format(path=path), BUSY_RU) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def staging_folder(path: Path) -> Iterator[Path]:
    """A new folder beside `path` for a build to write into, with the permissions a folder made here gets; removed
    afterwards unless swapped in. Leftovers of killed builds go first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(path)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.build-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_staging(path: Path) -> None:
    """Delete folders that builds killed while writing left beside `path` (older than an hour)."""
    for leftover in [*path.parent.glob(f".{path.name}.build-*"), *path.parent.glob(f".{path.name}.old-*")]:
        if time.time() - leftover.stat().st_mtime > _STALE_STAGING_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)


def swap_in(staging: Path, path: Path) -> None:
    """Make `staging` the index at `path` in one step; the old index goes away after."""
    if not path.exists():
        os.rename(staging, path)
        return
    if not path.is_dir():
        raise IndexBuildError(f"{path} exists and is not a folder; move it away or pass another --index path")
    if _exchange(staging, path):
        return
    retired = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.rename(path, retired)
    os.rename(staging, path)
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0
