"""A build in a child process, so the memory its model takes (PyTorch and the weights: about a gigabyte) goes back to
the system when it ends, while the calling process (the app) keeps serving its index. Progress comes back as the
child reports it; a failure comes back as its one-line message.
"""

from __future__ import annotations

import multiprocessing
import queue
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kzru_rag.errors import IndexBuildError, KzruRagError
from kzru_rag.index.progress import BuildProgress, Progress
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.stores.manifest import IndexManifest

POLL_SECONDS = 0.5


def build_in_child(
    sources: list[str],
    model_id: str,
    engine: str | None,
    path: Path,
    chunker: Chunker,
    retrieval: dict[str, Any] | None,
    progress: Progress | None = None,
) -> IndexManifest:
    """`build_index(sources, load_build_embedder(model_id, engine), path, chunker, retrieval)` run in a fresh
    (spawned) process; its reports go to `progress` here. IndexBuildError with the child's message when it fails."""
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    arguments = (reports, sources, model_id, engine, str(path), chunker.to_dict(), retrieval)
    child = context.Process(target=_build, args=arguments, name="kzru-rag-build", daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload = reports.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not child.is_alive():
                    raise IndexBuildError(
                        f"the build process stopped (exit code {child.exitcode}); the existing index was left as it was"
                    ) from None
                continue
            if kind == "progress" and progress:
                progress(BuildProgress(**payload))
            elif kind == "done":
                return IndexManifest.from_dict(payload)
            elif kind == "error":
                raise IndexBuildError(payload)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join()


def _build(
    reports: Any,
    sources: list[str],
    model_id: str,
    engine: str | None,
    path: str,
    chunker: dict[str, Any],
    retrieval: dict[str, Any] | None,
) -> None:
    """The child's work: build, reporting progress, then the manifest or the error's message."""
    from kzru_rag.embedding.engines import load_build_embedder
    from kzru_rag.index.build import build_index

    try:
        manifest = build_index(
            sources,
            load_build_embedder(model_id, engine),
            path,
            Chunker.from_dict(chunker),
            retrieval=retrieval,
            progress=lambda now: reports.put(("progress", asdict(now))),
        )
    except KzruRagError as exc:
        reports.put(("error", str(exc)))
    else:
        reports.put(("done", manifest.to_dict()))
