"""Extraction in a child process with a time and memory bound.

`extract` runs `python -m kzru_rag.ingest.readers.sandbox KIND PATH MEMORY SECONDS` in a session of its own;
the child caps its own address space and CPU time (setrlimit, inherited by the Tesseract it runs for scans)
before it imports a parser, and the parent kills the session after `seconds` of wall time without progress:
the child reports each page it reads by OCR on stderr, and each report gives it `seconds` more (never more
than MAX_OCR_SECONDS in all). The child prints the `Extracted` text, or the SourceError, as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from kzru_rag.errors import SourceError
from kzru_rag.ingest.readers.base import Extracted
from kzru_rag.ingest.readers.ocr import Progress

log = logging.getLogger(__name__)

MAX_SECONDS = 60
MAX_OCR_SECONDS = 30 * 60
MAX_MEMORY = 2 * 2**30
_PAGE_MARK = "kzru-rag-ocr-page"


def extract(
    path: Path, kind: str, seconds: float = MAX_SECONDS, memory: int = MAX_MEMORY, progress: Progress | None = None
) -> Extracted:
    """The text of a PDF, Word, HTML or picture file read in a bounded child process; SourceError on failure.

    Each page read by OCR is logged (INFO) and passed to `progress` as (pages read, pages to read)."""
    name = str(path)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        "OMP_THREAD_LIMIT": "1",  # one core per Tesseract: the machine is shared
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "kzru_rag.ingest.readers.sandbox", kind, str(path), str(memory), str(seconds)]

    def page_read(done: int, total: int) -> None:
        log.info("%s: OCR read %d of %d scanned pages", name, done, total)
        if progress:
            progress(done, total)

    returncode, stdout, messages = _run(command, env, seconds, page_read, name)
    try:
        result = json.loads(stdout)
    except ValueError:
        result = None
    if returncode != 0 or not isinstance(result, dict):
        raise SourceError(
            f"{name}: the reader stopped (exit {returncode}: {messages[-1] if messages else 'no message'}); "
            "the file is damaged or needs more memory than allowed",
            "crashed",
        )
    if "error" in result:
        raise SourceError.from_dict(result)
    return Extracted(
        result["text"],
        result["title"],
        tuple(result["pages"]),
        tuple(result["empty_pages"]),
        tuple(result["scanned_pages"]),
    )


def _run(
    command: list[str], env: dict[str, str], seconds: float, page_read: Progress, name: str
) -> tuple[int, bytes, list[str]]:
    """Run the child: (exit code, its stdout, its stderr lines other than page reports); SourceError "timeout"
    when it goes `seconds` without finishing or reporting a page (or MAX_OCR_SECONDS in all)."""
    stdout: list[bytes] = []
    lines: queue.Queue[bytes | None] = queue.Queue()
    messages: list[str] = []
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    ) as child:
        readers = [
            threading.Thread(target=lambda: stdout.append(child.stdout.read()), daemon=True),
            threading.Thread(target=lambda: [*map(lines.put, child.stderr), lines.put(None)], daemon=True),
        ]
        for reader in readers:
            reader.start()
        start = time.monotonic()
        deadline, ceiling = start + seconds, start + max(seconds, MAX_OCR_SECONDS)
        try:
            while (line := lines.get(timeout=max(0.0, min(deadline, ceiling) - time.monotonic()))) is not None:
                mark, _, counts = line.decode("utf-8", "replace").strip().partition(" ")
                if mark == _PAGE_MARK:
                    deadline = time.monotonic() + seconds
                    page_read(*map(int, counts.split()))
                elif mark:
                    messages.append(f"{mark} {counts}".strip())
            child.wait(timeout=max(0.0, min(deadline, ceiling) - time.monotonic()))
        except (queue.Empty, subprocess.TimeoutExpired) as exc:
            os.killpg(child.pid, signal.SIGKILL)  # the child and the Tesseract it runs
            child.wait()
            raise SourceError(
                f"{name}: reading the file took over {seconds:g} s and was stopped; split it or re-save it", "timeout"
            ) from exc
        finally:
            for reader in readers:
                reader.join(timeout=5)
    return child.returncode, stdout[0] if stdout else b"", messages


def _report_page(done: int, total: int) -> None:
    print(_PAGE_MARK, done, total, file=sys.stderr, flush=True)


def _read(kind: str, path: Path) -> Extracted:
    name = str(path)
    if kind == "pdf":
        from kzru_rag.ingest.readers.pdf import read_pdf

        return read_pdf(path, name, _report_page)
    if kind == "image":
        from kzru_rag.ingest.readers.image import read_image

        return read_image(path, name, _report_page)
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
        output = err.to_dict()
    except MemoryError:
        output = SourceError(
            f"{path}: reading the file needs more than {int(memory) // 2**20} MB of memory", "memory"
        ).to_dict()
    json.dump(output, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    _main(*sys.argv[1:5])
