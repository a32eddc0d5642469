"""A build in a child process, so the memory its model takes (PyTorch and the weights: about a gigabyte) goes back to
the system when it ends, while the calling process (the app) keeps serving its index. The child is
`python -m kzru_rag.index.child`: it reads its request as JSON on stdin and answers in JSON lines on stdout
(progress reports, then the manifest or the error: its one-line message, its Russian wording and the refused source
behind it, if any); nothing of the caller's main module is run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from kzru_rag.errors import IndexBuildError, IndexLoadError, KzruRagError, ModelError, SourceError
from kzru_rag.index.progress import BuildProgress, Progress
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.stores.manifest import IndexManifest


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
    process; its reports go to `progress` here. When it fails, the child's error as a build here would raise it: of
    its class (IndexBuildError, IndexLoadError for a store that cannot be reached, …), its SourceError as its cause."""
    request = {
        "sources": sources,
        "model_id": model_id,
        "engine": engine,
        "path": str(path),
        "chunker": chunker.to_dict(),
        "retrieval": retrieval,
    }
    package = str(Path(__file__).resolve().parents[2])  # the child imports this same kzru_rag
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "kzru_rag.index.child"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True) as child:
        try:
            child.stdin.write(json.dumps(request))  # type: ignore[union-attr]
            child.stdin.close()  # type: ignore[union-attr]
            for line in child.stdout:  # type: ignore[union-attr]
                message = json.loads(line)
                if "progress" in message and progress:
                    progress(BuildProgress(**message["progress"]))
                elif "done" in message:
                    return IndexManifest.from_dict(message["done"])
                elif "error" in message:
                    raise _failure(message["error"])
        finally:
            if child.poll() is None:
                child.kill()
    raise IndexBuildError(
        f"the build process stopped (exit code {child.returncode}); the existing index was left as it was",
        f"процесс сборки остановился (код выхода {child.returncode}); прежний индекс не тронут",
    )


def _serve(request: dict[str, Any], answer: IO[str]) -> None:
    """The child's work: build, writing each progress report, then the manifest or the error, as JSON lines."""
    from kzru_rag.embedding.engines import load_build_embedder
    from kzru_rag.index.build import build_index

    def say(message: dict[str, Any]) -> None:
        answer.write(json.dumps(message, ensure_ascii=False) + "\n")
        answer.flush()

    say({"progress": asdict(BuildProgress("loading", "", 0, 0, 0, 0, 0.0, 0.0))})
    try:
        manifest = build_index(
            request["sources"],
            load_build_embedder(request["model_id"], request["engine"]),
            request["path"],
            Chunker.from_dict(request["chunker"]),
            retrieval=request["retrieval"],
            progress=lambda now: say({"progress": asdict(now)}),
        )
    except KzruRagError as exc:
        say({"error": _said(exc)})
    else:
        say({"done": manifest.to_dict()})


_KINDS: dict[str, type[KzruRagError]] = {kind.__name__: kind for kind in (IndexBuildError, IndexLoadError, ModelError)}
"""The errors a build raises that cross from the child as they are (any other: IndexBuildError)."""


def _said(exc: KzruRagError) -> dict[str, Any]:
    """A build's error as JSON: class, message, Russian wording, and the refused source behind it."""
    said: dict[str, Any] = {"kind": type(exc).__name__, "message": str(exc), "russian": exc.russian}
    cause = exc if isinstance(exc, SourceError) else exc.__cause__
    if isinstance(cause, SourceError):
        said["source"] = cause.to_dict()
    return said


def _failure(said: dict[str, Any]) -> KzruRagError:
    """The child's error (`_said`) to raise here, its refused source as its cause."""
    failure = _KINDS.get(said["kind"], IndexBuildError)(said["message"], said["russian"])
    if source := said.get("source"):
        failure.__cause__ = SourceError.from_dict(source)
    return failure


if __name__ == "__main__":
    protocol, sys.stdout = sys.stdout, sys.stderr  # whatever else prints goes to stderr, not into the answers
    _serve(json.load(sys.stdin), protocol)
