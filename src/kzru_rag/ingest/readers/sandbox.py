"""Extraction in a child process with a time and memory bound.

`extract` runs `python -m kzru_rag.ingest.readers.sandbox KIND PATH MEMORY SECONDS`; the child caps its own
address space and CPU time (setrlimit) before it imports a parser, and the parent kills it after
`seconds` of wall time. The child prints the `Extracted` text, or the SourceError, as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted

MAX_SECONDS = 60
MAX_MEMORY = 2 * 2**30


def extract(path: Path, kind: str, seconds: float = MAX_SECONDS, memory: int = MAX_MEMORY) -> Extracted:
    """The text of a PDF, Word or HTML file read in a bounded child process; SourceError on failure."""
    name = str(path)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "kzru_rag.ingest.readers.sandbox", kind, str(path), str(memory), str(seconds)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=seconds, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise SourceError(
            f"{name}: reading the file took over {seconds:g} s and was stopped; split it or re-save it", "timeout"
        ) from exc
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    if done.returncode != 0 or not isinstance(result, dict):
        stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(
            f"{name}: the reader stopped (exit {done.returncode}: {stderr[-1] if stderr else 'no message'}); "
            "the file is damaged or needs more memory than allowed",
            "crashed",
        )
    if "error" in result:
        raise SourceError(result["error"], result["reason"], **result["details"])
    return Extracted(result["text"], result["title"], tuple(result["pages"]), tuple(result["empty_pages"]))


def _read(kind: str, path: Path) -> Extracted:
    name = str(path)
    if kind == "pdf":
        from kzru_rag.ingest.readers.pdf import read_pdf

        return read_pdf(path, name)
    if kind == "docx":
        from kzru_rag.ingest.readers.docx import read_docx

        return read_docx(path, name)
    if kind == "html":
        from kzru_rag.ingest.readers.html import read_html

        return read_html(path, name)
    raise SourceError(f"{name}: no reader for {kind!r} files", "unsupported")


def _main(kind: str, path: str, memory: str, seconds: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    cpu = int(float(seconds)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        output = asdict(_read(kind, Path(path)))
    except SourceError as err:
        output = {"error": str(err), "reason": err.reason, "details": err.details}
    except MemoryError:
        output = {
            "error": f"{path}: reading the file needs more than {int(memory) // 2**20} MB of memory",
            "reason": "memory",
            "details": {},
        }
    json.dump(output, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    _main(*sys.argv[1:5])
