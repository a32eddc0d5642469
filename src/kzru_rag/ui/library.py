"""`Library`: the working assistant over the index, the folder of uploaded documents, and rebuilding the index.

The new index is swapped in without a restart; a failed rebuild leaves the working one in place.
Uploaded documents are kept in a `documents/` folder next to the index folder (for the project's
`index/` that is `documents/` at the top of the checkout, which git ignores).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..chunking import Chunker
from ..documents import BUNDLED_SOURCE, SUPPORTED_SUFFIXES, decode_source, read_source_text, sha256_text
from ..errors import KzruRagError, SourceError
from ..index import build_index, default_index_path
from ..llm import LLM
from ..retriever import Retriever

MAX_UPLOAD_BYTES = 10 * 2**20
MAX_PASSAGES = 10
TYPE_PROBLEM = "можно добавлять только текстовые файлы .txt и .md"
_SOURCE_PROBLEMS = {
    "utf16": "текст в кодировке UTF-16; пересохраните файл в UTF-8",
    "binary": "это двоичный файл, а не текст; сохраните документ как .txt или .md",
    "encoding": "текст не в кодировке UTF-8 (например, в Windows-1251); откройте файл в редакторе и сохраните его в UTF-8",
    "empty": "файл пустой",
}
REBUILD_RUNNING = "перестройка уже идёт; дождитесь её окончания"


def size_problem(size: int) -> str | None:
    """Why a file of `size` bytes is too big to upload, in Russian; None when it is not."""
    if size <= MAX_UPLOAD_BYTES:
        return None
    return f"файл больше {MAX_UPLOAD_BYTES // 2**20} МБ ({size / 2**20:.1f} МБ); разделите его на части"


@dataclass(frozen=True)
class UploadResult:
    """What happened to one uploaded file: accepted (saved) or rejected, with a message for the user."""

    name: str
    accepted: bool
    message: str


class Library:
    """The working assistant, the uploaded documents, and rebuilding the index they come from."""

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM | None = None,
        k: int = 5,
        documents_dir: str | Path | None = None,
    ) -> None:
        if not 1 <= k <= MAX_PASSAGES:
            raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
        self.index_path = Path(retriever.index.path)
        self.documents_dir = (Path(documents_dir) if documents_dir else self.index_path.parent / "documents").resolve()
        self.llm = llm
        self.k = k
        self.assistant = Assistant(retriever, llm=llm, k=k)
        self._rebuilding = threading.Lock()

    @classmethod
    def open(cls, index: str | Path | None = None, llm: LLM | None = None, **options: Any) -> "Library":
        """Load the index (default: $KZRU_RAG_INDEX or the project's index/) and its model, once."""
        return cls(Retriever.load(index or default_index_path()), llm=llm, **options)

    @property
    def retriever(self) -> Retriever:
        return self.assistant.retriever

    @property
    def rebuilding(self) -> bool:
        """True while a rebuild runs (from any browser tab)."""
        return self._rebuilding.locked()

    def uploads(self) -> list[Path]:
        """Uploaded documents, by name."""
        if not self.documents_dir.is_dir():
            return []
        return sorted(p for p in self.documents_dir.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)

    def add_upload(self, path: str | Path, name: str | None = None) -> UploadResult:
        """Check one uploaded file and keep it in the documents folder (indexed at the next rebuild)."""
        path = Path(path)
        name = Path(name or path.name).name
        problem = self._upload_problem(path, name)
        if problem:
            return UploadResult(name, False, f"«{name}» не добавлен: {problem}")
        self.documents_dir.mkdir(parents=True, exist_ok=True)
        target = self.documents_dir / name
        replaced = target.exists()
        partial = self.documents_dir / f".{name}.part"
        shutil.copyfile(path, partial)
        os.replace(partial, target)  # a rebuild reading the folder sees the old file or the new one, never half
        verb = "заменён" if replaced else "добавлен"
        return UploadResult(name, True, f"«{name}» {verb}; нажмите «Перестроить индекс», чтобы искать и по нему.")

    def _upload_problem(self, path: Path, name: str) -> str | None:
        """Why an uploaded file cannot be indexed, in Russian; None when it can."""
        if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            return TYPE_PROBLEM
        if too_big := size_problem(path.stat().st_size):
            return too_big
        try:
            decode_source(path.read_bytes(), name)
        except SourceError as err:
            return _SOURCE_PROBLEMS[err.reason].format(**err.details)
        stem = Path(name).stem
        taken = [r.source for r in self.retriever.index.manifest.documents if r.doc_id == stem]
        taken += [str(p) for p in self.uploads() if p.stem == stem]
        if any(Path(source) != self.documents_dir / name for source in taken):
            return f"документ с именем «{stem}» уже есть; переименуйте файл"
        return None

    def remove_upload(self, name: str) -> str:
        """Delete an uploaded document (it leaves the index at the next rebuild)."""
        target = self.documents_dir / Path(name).name
        if target not in self.uploads():
            return f"Документа «{name}» нет среди загруженных."
        target.unlink()
        return f"«{name}» удалён; нажмите «Перестроить индекс», чтобы убрать его из поиска."

    def sources(self) -> list[str]:
        """What a rebuild indexes: the indexed sources that still exist, plus every upload."""
        kept = [
            record.source
            for record in self.retriever.index.manifest.documents
            if record.source == BUNDLED_SOURCE
            or (Path(record.source).is_file() and Path(record.source).parent != self.documents_dir)
        ]
        return kept + [str(p.resolve()) for p in self.uploads()]

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> str:
        """Rebuild the index and swap in a new assistant; raise KzruRagError (index untouched) on failure."""
        if not self._rebuilding.acquire(blocking=False):
            raise KzruRagError(REBUILD_RUNNING)
        try:
            current = self.retriever.index.manifest
            manifest = build_index(
                self.sources(),
                self.retriever.embedder,
                self.index_path,
                Chunker.from_dict(current.chunker),
                retrieval=current.retrieval,
                progress=progress,
            )
            self.assistant = Assistant(Retriever.load(self.index_path), llm=self.llm, k=self.k)
        finally:
            self._rebuilding.release()
        return f"Индекс перестроен: {len(manifest.documents)} док., {manifest.chunk_count} фрагментов."

    def pending_uploads(self) -> list[Path]:
        """Uploads that are not in the index as they are now (new or changed)."""
        indexed = {record.source: record.sha256 for record in self.retriever.index.manifest.documents}
        pending = []
        for path in self.uploads():
            try:
                current = sha256_text(read_source_text(str(path)))
            except (OSError, UnicodeDecodeError):
                current = None
            if indexed.get(str(path.resolve())) != current:
                pending.append(path)
        return pending
