"""The index folder: its files, where it is by default, and what tells that a file changed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
SENTENCE_VECTORS = "sentence_vectors.npy"
SENTENCE_TERMS = "sentence_terms.npz"
WORD_VECTORS = "word_vectors.npy"
INDEX_FILES = (MANIFEST, VECTORS, CHUNKS, DOCUMENTS, SENTENCE_VECTORS, SENTENCE_TERMS, WORD_VECTORS)
REBUILD_HINT = "run `kzru-rag index build` to rebuild it"


def default_index_path() -> Path:
    """`$KZRU_RAG_INDEX`, else the project's `index/` (the one committed for the bundled document)."""
    if env := os.environ.get("KZRU_RAG_INDEX"):
        return Path(env)
    project = Path(__file__).resolve().parents[3]
    if (project / "pyproject.toml").is_file():
        return project / "index"
    return Path.cwd() / "index"


def file_signature(file: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of `file`, which change when it is rewritten or replaced; None when it is missing."""
    try:
        status = file.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def sha256_file(file: Path) -> str:
    """The checksum of `file`'s bytes, as the manifest records it."""
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type when it has none), for a message about a broken file."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
