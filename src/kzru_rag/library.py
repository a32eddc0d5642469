"""The document collection: the indexed documents, the folder of added ones, and rebuilding the index from them.

A `Library` owns the working `Assistant` over an index. Documents are added to (or removed
from) a `documents/` folder next to the index folder (for the project's `index/` that is
`documents/` at the top of the checkout, which git ignores); a rebuild indexes the sources of
the current index that still exist plus that folder and swaps the new index in without a
restart. A failed rebuild leaves the working index and assistant in place. The UI and the
`kzru-rag documents` command are thin faces over this class.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.llm import LLM
from kzru_rag.embedding.engines import load_build_embedder
from kzru_rag.errors import KzruRagError, SourceError
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import BUNDLED_SOURCE, check_file, format_of
from kzru_rag.ingest.readers import read_file
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import default_index_path
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 2**20
MAX_PASSAGES = 10
FOLLOW_SECONDS = 2.0
"""How often the working assistant asks a shared store (a Milvus server) whether another process rebuilt the index."""


@dataclass(frozen=True)
class Added:
    """A document added to the folder: where it is, whether it replaced one of the same name, and the
    1-based numbers of its pages that held no text (a PDF's blank or scanned pages, left out)."""

    path: Path
    replaced: bool
    empty_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class DocumentEntry:
    """One row of the collection: a document of the index, or an added one waiting for a rebuild.

    `origin`: "bundled", "added" (in the documents folder) or "file" (indexed from elsewhere);
    `state`: "indexed", "changed" (its file changed since the build), "removed" (its file is gone),
    "replaced" (added again since the build) or "pending" (added since the build); one row per document.
    `chars`: characters of its text (indexed, or as the next rebuild will read it; None: unreadable).
    """

    name: str
    source: str
    origin: Literal["bundled", "added", "file"]
    state: Literal["indexed", "changed", "removed", "replaced", "pending"]
    chars: int | None


class Library:
    """The working assistant, the added documents, and rebuilding the index they come from."""

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM | None = None,
        k: int = 5,
        documents_dir: str | Path | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        if not 1 <= k <= MAX_PASSAGES:
            raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
        self.index_path = Path(retriever.index.path)
        self.documents_dir = documents_folder(self.index_path, documents_dir)
        self.llm = llm
        self.k = k
        self.max_bytes = max_bytes
        self._assistant = Assistant(retriever, llm=llm, k=k)
        self._checked = time.monotonic()
        self._rebuilding = threading.Lock()

    @classmethod
    def open(cls, index: str | Path | None = None, llm: LLM | None = None, **options: Any) -> "Library":
        """Load the index (default: $KZRU_RAG_INDEX or the project's index/) and its model, once."""
        return cls(Retriever.load(index or default_index_path()), llm=llm, **options)

    @property
    def assistant(self) -> Assistant:
        """The working assistant. Over an index a store shares between processes (Milvus), it follows a rebuild
        another process made: the next question after it (checked every FOLLOW_SECONDS) is answered from the new
        index; when that cannot be read, from the one in use."""
        if time.monotonic() - self._checked >= FOLLOW_SECONDS and not self.rebuilding:
            self._checked = time.monotonic()
            if self._assistant.retriever.index.superseded():
                try:
                    retriever = Retriever(load_index(self.index_path), self._assistant.retriever.embedder)
                except KzruRagError as err:
                    log.warning("the index was rebuilt elsewhere and cannot be read (%s); answering from the old", err)
                else:
                    self._assistant = Assistant(retriever, llm=self.llm, k=self.k)
        return self._assistant

    @property
    def retriever(self) -> Retriever:
        return self._assistant.retriever

    def uploads(self) -> list[Path]:
        """Documents in the documents folder, by name."""
        return uploads(self.documents_dir)

    def add(self, path: str | Path, name: str | None = None) -> Added:
        """Check a file (type, size, readable text, a name no other document has) and keep it in the documents
        folder, indexed at the next rebuild; SourceError (with a `reason`) says why it cannot be added."""
        path = Path(path)
        name = Path(name or path.name).name
        if name.startswith("."):
            raise SourceError(f"{name}: a hidden file; rename it", "unsupported")
        check_file(path, self.max_bytes, name)
        extracted = read_file(path, format_of(name))
        stem = Path(name).stem
        taken = [r.source for r in self.retriever.index.manifest.documents if r.doc_id == stem]
        taken += [str(p) for p in self.uploads() if p.stem == stem]
        if any(Path(source) != self.documents_dir / name for source in taken):
            raise SourceError(
                f"{name}: a document named {stem!r} is already there; rename the file", "name_taken", stem=stem
            )
        self.documents_dir.mkdir(parents=True, exist_ok=True)
        target = self.documents_dir / name
        replaced = target.exists()
        partial = self.documents_dir / f".{name}.part"
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # a rebuild reading the folder sees the old file or the new one, never half
        return Added(target, replaced, extracted.empty_pages)

    def remove(self, name: str) -> Path:
        """Delete an added document by file name or document name (it leaves the index at the next rebuild);
        SourceError "not_found" when there is none."""
        for path in self.uploads():
            if name in (path.name, path.stem):
                path.unlink()
                return path
        raise SourceError(f"{name}: no such added document; `kzru-rag documents list` shows them", "not_found")

    def sources(self) -> list[str]:
        """What a rebuild indexes: the indexed sources that still exist, plus every added document."""
        kept = [
            record.source
            for record in self.retriever.index.manifest.documents
            if record.source == BUNDLED_SOURCE
            or (Path(record.source).is_file() and Path(record.source).parent != self.documents_dir)
        ]
        return kept + [str(p.resolve()) for p in self.uploads()]

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> IndexManifest:
        """Rebuild the index and swap in a new assistant; raise KzruRagError (index untouched) on failure."""
        if not self._rebuilding.acquire(blocking=False):
            raise KzruRagError("the index is already being rebuilt; wait for that rebuild to finish")
        try:
            current = self.retriever.index.manifest
            manifest = build_index(
                self.sources(),
                load_build_embedder(current.model_id),  # engine: $KZRU_RAG_BUILD_ENGINE
                self.index_path,
                Chunker.from_dict(current.chunker),
                retrieval=current.retrieval,
                progress=progress,
            )
            # the same question encoder (engine) as before: the model is the same
            self._assistant = Assistant(
                Retriever(load_index(self.index_path), self.retriever.embedder), llm=self.llm, k=self.k
            )
        finally:
            self._rebuilding.release()
        return manifest

    @property
    def rebuilding(self) -> bool:
        """True while a rebuild runs."""
        return self._rebuilding.locked()

    def pending(self) -> list[Path]:
        """Added documents that are not in the index as they are now (new or changed)."""
        return pending(self.retriever.index, self.documents_dir)

    def entries(self) -> list[DocumentEntry]:
        """The indexed documents (with their state now) and then the added ones waiting for a rebuild."""
        return entries(self.retriever.index, self.documents_dir)


def documents_folder(index_path: str | Path, documents_dir: str | Path | None = None) -> Path:
    """The folder of added documents: `documents_dir`, by default `documents/` beside the index folder."""
    return (Path(documents_dir) if documents_dir else Path(index_path).parent / "documents").resolve()


def uploads(documents_dir: Path) -> list[Path]:
    """The supported files in a documents folder, by name."""
    if not documents_dir.is_dir():
        return []
    return sorted(p for p in documents_dir.iterdir() if p.is_file() and not p.name.startswith(".") and format_of(p))


def pending(index: LoadedIndex, documents_dir: Path) -> list[Path]:
    """Added documents that are not in `index` as they are now (new or changed)."""
    indexed = {record.source: record for record in index.manifest.documents}
    return [
        path
        for path in uploads(documents_dir)
        if (record := indexed.get(str(path.resolve()))) is None or record.changed()
    ]


def entries(index: LoadedIndex, documents_dir: Path) -> list[DocumentEntry]:
    """The documents of `index` (with their state now) and then the added ones waiting for a rebuild
    (needs no embedding model, unlike a `Library`)."""
    waiting = {str(path.resolve()): path for path in pending(index, documents_dir)}
    rows = []
    for record in index.manifest.documents:
        if record.source == BUNDLED_SOURCE:
            origin: Literal["bundled", "added", "file"] = "bundled"
        else:
            origin = "added" if Path(record.source).parent == documents_dir else "file"
        state: Literal["indexed", "changed", "removed", "replaced", "pending"]
        chars: int | None = record.chars
        if path := waiting.pop(record.source, None):
            state, chars = "replaced", _chars(path)
        elif record.source != BUNDLED_SOURCE and not Path(record.source).is_file():
            state = "removed"
        else:
            state = "changed" if record.source in index.stale else "indexed"
        rows.append(DocumentEntry(record.doc_id, record.source, origin, state, chars))
    for source, path in waiting.items():
        rows.append(DocumentEntry(path.stem, source, "added", "pending", _chars(path)))
    return rows


def _chars(path: Path) -> int | None:
    """Characters of the text a rebuild will read from `path` (None when it cannot be read)."""
    stat = path.stat()
    return _text_length(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _text_length(path: str, mtime_ns: int, size: int) -> int | None:
    """`_chars`, read once per version of a file (PDF, Word and HTML are parsed in a child process)."""
    try:
        return len(read_file(Path(path)).text)
    except (OSError, SourceError) as err:
        log.info("cannot read %s to count its characters: %s", path, err)
        return None
