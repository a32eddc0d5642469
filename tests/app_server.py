"""The web app served in this test process on a free 127.0.0.1 port, over a copy of the committed index.

The embedding model is the session's (loaded once per process), so starting an app costs about a second.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kzru_rag.answering.llm import LLM
from kzru_rag.faces.mounts import beside_the_ui
from kzru_rag.faces.ui import build_app, launch_app
from kzru_rag.index.load import load_index
from kzru_rag.library import Library
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import default_index_path


def copy_index(folder: Path) -> Path:
    """A private copy of the committed index inside `folder` (its uploads go to `folder/documents`)."""
    target = folder / "index"
    shutil.copytree(default_index_path(), target)
    return target


NOTE = "# Заметка о заводе\n\nВ Павлодаре построят завод по выпуску аккумуляторов.\n"
"""A second document (named `note`): a collection of two, for tests of the document filter."""


def add_note(library: Library, folder: Path) -> str:
    """`NOTE` added to `library` as `folder/note.md` and indexed; its document name."""
    note = folder / "note.md"
    note.write_text(NOTE, encoding="utf-8")
    library.add(note)
    library.rebuild()
    return "note"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(
    index: Path, embedder, llm: LLM | None = None, auth: tuple[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, Library]]:
    """(URL, Library) of the app over `index` (on `port`, by default a free one; with the API and MCP beside it, as
    app.py serves it), stopped on exit."""
    library = Library(Retriever(load_index(index), embedder), llm=llm)
    demo = build_app(library)
    lifespan = beside_the_ui(library, auth[1] if auth else None)
    url = launch_app(demo, port=port or free_port(), auth=auth, prevent_thread_lock=True, quiet=True, lifespan=lifespan)
    try:
        yield url, library
    finally:
        demo.close()


@contextmanager
def serve_two_documents(folder: Path, embedder, auth: tuple[str, str] | None = None) -> Iterator[tuple[str, Library]]:
    """`serve` over a copy of the committed index in `folder` with `NOTE` added and indexed: a collection of two
    documents, for tests of the document filter."""
    with serve(copy_index(folder), embedder, auth=auth) as (url, library):
        add_note(library, folder)
        yield url, library
