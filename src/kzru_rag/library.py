"""The document collection: the indexed documents, the folder of added ones, and rebuilding the index from them.

A `Library` owns the working `Assistant` over an index. Documents are added to (or removed
from) a `documents/` folder next to the index folder (for the project's `index/` that is
`documents/` at the top of the checkout, which git ignores). The collection is the index's truth: every
build indexes `collection_sources` (the sources of the current index that still exist plus that folder) unless
a different source is asked for explicitly; a rebuild swaps the new index in without a restart. A failed
rebuild leaves the working index and assistant in place. The UI and the `kzru-rag documents` and
`kzru-rag index build` commands are thin faces over this module.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.llm import LLM
from kzru_rag.embedding.engines import build_engine, engine_loaded, load_build_embedder
from kzru_rag.errors import IndexLoadError, KzruRagError, SourceError
from kzru_rag.index.build import build_index
from kzru_rag.index.child import build_in_child
from kzru_rag.index.load import load_index
from kzru_rag.index.progress import Progress
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import BUNDLED_SOURCE, SUPPORTED_SUFFIXES, check_file, document_names, format_of
from kzru_rag.ingest.readers import read_file
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import MANIFEST, default_index_path, file_signature
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, read_manifest

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 2**20
"""The largest document `Library.add` takes."""


REBUILD_COMMAND = "kzru-rag index build"
"""The command that rebuilds an index from its whole collection (the added documents included)."""
FOLLOW_SECONDS = 2.0
"""How often the working assistant asks whether another process rebuilt the index (its files, or a Milvus server)."""


@dataclass(frozen=True)
class Added:
    """A document added to the folder: where it is, whether it replaced one of the same name (`unchanged`: the
    same bytes were there already), the 1-based numbers of its pages that held no text (left out) and of those read
    by OCR (scans)."""

    path: Path
    replaced: bool
    empty_pages: tuple[int, ...] = ()
    scanned_pages: tuple[int, ...] = ()
    unchanged: bool = False


@dataclass(frozen=True)
class Checked:
    """A file that may be added to the folder under `name` (see `Library.check`), not copied yet."""

    path: Path
    name: str
    empty_pages: tuple[int, ...] = ()
    scanned_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Changes:
    """What happened to the collection since its index was built, by document name."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        """What changed: «added a, b; removed c»."""
        parts = [("added", self.added), ("changed", self.changed), ("removed", self.removed)]
        return "; ".join(f"{verb} {', '.join(names)}" for verb, names in parts if names)

    def describe(self, command: str = REBUILD_COMMAND) -> str:
        """One line: what changed since the build, and the command that indexes the whole collection."""
        return f"since the index was built: {self.summary()}; `{command}` indexes every document, these included"


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
        self.index_path = Path(retriever.index.path)
        self.documents_dir = documents_folder(self.index_path, documents_dir)
        self.llm = llm
        self.k = k
        self.max_bytes = max_bytes
        self._assistant = Assistant(retriever, llm=llm, k=k)
        self._checked = time.monotonic()
        self._refused: list[tuple[str, object]] | None = None
        self._rebuilding = threading.Lock()

    @classmethod
    def open(cls, index: str | Path | None = None, llm: LLM | None = None, **options: Any) -> "Library":
        """Load the index (default: $KZRU_RAG_INDEX or the project's index/) and its model, once."""
        return cls(Retriever.load(index or default_index_path()), llm=llm, **options)

    @property
    def assistant(self) -> Assistant:
        """The working assistant. It follows a rebuild another process made (`kzru-rag documents add` while the app
        runs; Milvus): the next question after it (checked every FOLLOW_SECONDS) is answered from the new index."""
        if time.monotonic() - self._checked >= FOLLOW_SECONDS and not self.rebuilding:
            self._checked = time.monotonic()
            if self._assistant.retriever.index.superseded():
                self._follow()
        return self._assistant

    def _follow(self) -> None:
        """Answer from the index as it is now; if it cannot be read, from the one in use until it changes again."""
        index = self._assistant.retriever.index
        seen = [(name, file_signature(index.path / name)) for name in index.changed_on_disk()]
        if seen == self._refused:
            return
        try:
            retriever = Retriever(load_index(self.index_path), self._assistant.retriever.embedder)
        except KzruRagError as err:
            self._refused = seen
            log.warning("the index was rebuilt elsewhere and cannot be read (%s); answering from the old", err)
        else:
            self._assistant = Assistant(retriever, llm=self.llm, k=self.k)

    @property
    def retriever(self) -> Retriever:
        """The working assistant's retriever (following a rebuild made elsewhere, as `assistant` does)."""
        return self.assistant.retriever

    def uploads(self) -> list[Path]:
        """Documents in the documents folder, by name."""
        return uploads(self.documents_dir)

    def check(self, path: str | Path, name: str | None = None) -> Checked:
        """Check a file for the folder (type, size, readable text, a file name no other indexed source has) without
        keeping it; SourceError (with a `reason`) says why it cannot be added."""
        path = Path(path)
        name = Path(name or path.name).name
        if not path.is_file():
            raise SourceError(f"{path}: no such file", "not_found")
        if name.startswith("."):
            raise SourceError(f"{name}: a hidden file; rename it", "unsupported")
        check_file(path, self.max_bytes, name)
        extracted = read_file(path, format_of(name))
        target = self.documents_dir / name
        for record in self.retriever.index.manifest.documents:
            if record.source != BUNDLED_SOURCE and Path(record.source).name == name and Path(record.source) != target:
                raise SourceError(
                    f"{name}: a document of that file name is already indexed ({record.source}); rename the file",
                    "name_taken",
                    stem=name,
                )
        return Checked(path, name, extracted.empty_pages, extracted.scanned_pages)

    def keep(self, checked: Checked) -> Added:
        """Keep a checked file in the documents folder (indexed at the next rebuild); nothing is written when the
        same bytes are there already."""
        target = self.documents_dir / checked.name
        if target.is_file() and target.read_bytes() == checked.path.read_bytes():
            return Added(target, False, checked.empty_pages, checked.scanned_pages, unchanged=True)
        self.documents_dir.mkdir(parents=True, exist_ok=True)
        replaced = target.exists()
        partial = self.documents_dir / f".{checked.name}.part"
        shutil.copyfile(checked.path, partial)
        os.replace(partial, target)  # a rebuild reading the folder sees the old file or the new one, never half
        return Added(target, replaced, checked.empty_pages, checked.scanned_pages)

    def add(self, path: str | Path, name: str | None = None) -> Added:
        """`check` a file and `keep` it in the documents folder, indexed at the next rebuild."""
        return self.keep(self.check(path, name))

    def find(self, name: str) -> Path:
        """The added document called `name` (its file name, or the name the collection lists it under);
        SourceError "not_found" when there is none, "ambiguous" when the name fits several."""
        files = self.uploads()
        names = document_names(self.sources())
        exact = [p for p in files if name == p.name]
        found = exact or [p for p in files if name in (p.stem, names.get(str(p.resolve())))]
        if not found:
            raise SourceError(f"{name}: no such added document; `kzru-rag documents list` shows them", "not_found")
        if len(found) > 1:
            raise SourceError(
                f"{name}: several added documents have this name ({', '.join(p.name for p in found)}); "
                "give the file name",
                "ambiguous",
            )
        return found[0]

    def remove(self, name: str) -> Path:
        """Delete an added document by file name or document name (it leaves the index at the next rebuild);
        SourceError (see `find`) when there is no such document."""
        path = self.find(name)
        path.unlink()
        return path

    def sources(self) -> list[str]:
        """What a rebuild indexes: `collection_sources`."""
        return collection_sources(self.retriever.index.manifest, self.documents_dir)

    def changes(self) -> Changes:
        """What happened to the collection since the index was built (nothing: a rebuild would change nothing)."""
        return changes(self.retriever.index, self.documents_dir)

    def rebuild(self, progress: Progress | None = None, engine: str | None = None) -> IndexManifest:
        """Rebuild the index from the collection (`sources`) and swap in a new assistant; raise KzruRagError (index
        untouched) on failure. `engine` embeds the texts (default: $KZRU_RAG_BUILD_ENGINE, see
        `embedding.load_build_embedder`); an engine not yet loaded here (PyTorch, in the app) runs in a child
        process (`index.child`), so its memory is returned when the rebuild ends."""
        if not self._rebuilding.acquire(blocking=False):
            raise KzruRagError("the index is already being rebuilt; wait for that rebuild to finish")
        try:
            current = self.retriever.index.manifest
            chunker = Chunker.from_dict(current.chunker)
            chosen = build_engine(current.model_id, engine)
            if engine_loaded(chosen):
                embedder = load_build_embedder(current.model_id, chosen)
                build_index(self.sources(), embedder, self.index_path, chunker, current.retrieval, progress)
            else:
                build_in_child(
                    self.sources(), current.model_id, chosen, self.index_path, chunker, current.retrieval, progress
                )
            # the same question encoder (engine) as before: the model is the same
            fresh = load_index(self.index_path)
            self._assistant = Assistant(Retriever(fresh, self.retriever.embedder), llm=self.llm, k=self.k)
        finally:
            self._rebuilding.release()
        return fresh.manifest

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
    """The folder of added documents: `documents_dir`, by default `documents/` beside the index folder;
    KzruRagError when that is a file."""
    folder = (Path(documents_dir) if documents_dir else Path(index_path).parent / "documents").resolve()
    if folder.exists() and not folder.is_dir():
        raise KzruRagError(f"{folder} is a file, not a folder of documents; give a folder with --documents")
    return folder


def collection_sources(manifest: IndexManifest | None, documents_dir: Path) -> list[str]:
    """What a build of an index indexes by default: the sources of its `manifest` that still exist (the bundled
    document when there is no index yet), plus every document in the documents folder."""
    if manifest is None:
        kept = [BUNDLED_SOURCE]
    else:
        kept = [
            record.source
            for record in manifest.documents
            if record.source == BUNDLED_SOURCE
            or (Path(record.source).is_file() and Path(record.source).parent != documents_dir)
        ]
    return kept + [str(p.resolve()) for p in uploads(documents_dir)]


def index_sources(index_path: str | Path | None, documents_dir: str | Path | None = None) -> list[str]:
    """`collection_sources` of the index at `index_path` (default: the project's), read from its manifest alone;
    an unreadable or missing index counts as none."""
    path = Path(index_path) if index_path else default_index_path()
    try:
        manifest = read_manifest(path / MANIFEST) if (path / MANIFEST).is_file() else None
    except IndexLoadError as err:
        log.warning("%s; building from the bundled document and the added ones", err)
        manifest = None
    return collection_sources(manifest, documents_folder(path, documents_dir))


def files_in(path: str | Path) -> list[Path]:
    """A file, or the supported files inside a folder (at any depth, hidden ones left out), by path;
    SourceError "not_found" when there is no such file or folder, "empty" for a folder without any."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and format_of(p) and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise SourceError(f"{path}: no {', '.join(SUPPORTED_SUFFIXES)} files in this folder", "empty")
        return files
    if not path.is_file():
        raise SourceError(f"{path}: no such file or folder", "not_found")
    return [path]


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
    names = document_names(collection_sources(index.manifest, documents_dir))
    for source, path in waiting.items():
        rows.append(DocumentEntry(names.get(source, path.stem), source, "added", "pending", _chars(path)))
    return rows


def changes(index: LoadedIndex, documents_dir: Path) -> Changes:
    """What happened to the collection of `index` since it was built (`entries` by state)."""
    rows = entries(index, documents_dir)

    def named(*states: str) -> tuple[str, ...]:
        return tuple(row.name for row in rows if row.state in states)

    return Changes(named("pending"), named("changed", "replaced"), named("removed"))


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
