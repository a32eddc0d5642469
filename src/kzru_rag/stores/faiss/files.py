"""The FAISS store: an index as files in its folder, written with checksums and read back checked."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import faiss
import numpy as np

from kzru_rag.errors import IndexBuildError, IndexLoadError
from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.stores.layout import (
    CHUNKS,
    DOCUMENTS,
    INDEX_FILES,
    MANIFEST,
    REBUILD_HINT,
    SENTENCE_TERMS,
    SENTENCE_VECTORS,
    VECTORS,
    WORD_VECTORS,
    file_signature,
    first_line,
    sha256_file,
)
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, write_manifest
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.terms import TermIndex, bridge_words
from kzru_rag.stores.vectors import kind_of


def write_files(folder: Path, built: LoadedIndex) -> IndexManifest:
    """Write the index files and then the manifest with their checksums; return that manifest."""
    faiss.write_index(built.vectors, str(folder / VECTORS))
    _write_jsonl(folder / CHUNKS, (chunk.to_dict() for chunk in built.chunks))
    _write_jsonl(folder / DOCUMENTS, (document.to_dict() for document in built.documents.values()))
    if built.sentences is None:
        raise IndexBuildError("the index has no sentence units to write")
    np.save(folder / SENTENCE_VECTORS, built.sentences.vectors)
    built.sentences.terms.save(folder / SENTENCE_TERMS)
    np.save(folder / WORD_VECTORS, built.sentences.words.vectors)
    checksums = {name: sha256_file(folder / name) for name in INDEX_FILES if name != MANIFEST}
    manifest = replace(built.manifest, files=checksums)
    write_manifest(folder, manifest)
    for name in INDEX_FILES:
        with open(folder / name, "rb") as handle:
            os.fsync(handle.fileno())
    return manifest


def _write_jsonl(path: Path, records: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def load_files(path: Path, manifest: IndexManifest) -> LoadedIndex:
    """The FAISS index and data files beside `manifest`, checked."""
    for name in INDEX_FILES:
        if not (path / name).is_file():
            raise IndexLoadError(f"index file {path / name} is missing: {REBUILD_HINT}")
    files = {name: file_signature(path / name) for name in INDEX_FILES}
    for name in INDEX_FILES:
        if name in manifest.files and sha256_file(path / name) != manifest.files[name]:
            raise IndexLoadError(
                f"index file {path / name} is corrupt (its checksum does not match the manifest): {REBUILD_HINT}"
            )
    try:
        vectors = faiss.read_index(str(path / VECTORS))
    except RuntimeError as exc:
        raise IndexLoadError(f"index file {path / VECTORS} is corrupt ({first_line(exc)}): {REBUILD_HINT}") from exc
    chunks = _read_records(path / CHUNKS, Chunk.from_dict)
    documents = {d.doc_id: d for d in _read_records(path / DOCUMENTS, Document.from_dict)}
    if (
        not (vectors.ntotal == len(chunks) == manifest.chunk_count)
        or vectors.d != manifest.dim
        or kind_of(vectors) != manifest.vector_index
    ):
        raise IndexLoadError(
            f"index at {path} is inconsistent ({vectors.ntotal} {kind_of(vectors)} vectors of dimension {vectors.d}, "
            f"{len(chunks)} chunks, manifest says {manifest.chunk_count} {manifest.vector_index} of dimension "
            f"{manifest.dim}): {REBUILD_HINT}"
        )
    if missing := {chunk.doc_id for chunk in chunks} - documents.keys():
        raise IndexLoadError(f"index file {path / DOCUMENTS} lacks documents {sorted(missing)}: {REBUILD_HINT}")
    sentences = _read_sentences(path, chunks, manifest.dim)
    return LoadedIndex(path, manifest, vectors, chunks, documents, [], sentences, files)


def _read_sentences(path: Path, chunks: list[Chunk], dim: int) -> SentenceIndex:
    """The sentence vectors and terms, checked against the chunks."""
    spans = SentenceIndex.units(chunks)[0]
    vectors = _read_vectors(path / SENTENCE_VECTORS, len(spans), dim, f"chunks have {len(spans)} sentences")
    try:
        terms = TermIndex.load(path / SENTENCE_TERMS)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(
            f"index file {path / SENTENCE_TERMS} is corrupt ({first_line(exc)}): {REBUILD_HINT}"
        ) from exc
    if terms.size != len(spans):
        raise IndexLoadError(
            f"index file {path / SENTENCE_TERMS} covers {terms.size} sentences, the chunks have {len(spans)}: "
            f"{REBUILD_HINT}"
        )
    words = len(bridge_words(terms))
    word_vectors = _read_vectors(path / WORD_VECTORS, words, dim, f"term index has {words} words")
    return SentenceIndex.in_memory(chunks, vectors, terms, word_vectors)


def _read_vectors(file: Path, rows: int, dim: int, expected: str) -> np.ndarray:
    """The (rows, dim) float32 array in `file`; IndexLoadError saying what the index `expected` when it differs.

    It is read into memory, not memory-mapped: a file truncated under a mapping kills the process with SIGBUS at
    the next search, and a running app must survive damage to its index folder.
    """
    try:
        vectors = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexLoadError(f"index file {file} is corrupt ({first_line(exc)}): {REBUILD_HINT}") from exc
    if vectors.shape != (rows, dim) or vectors.dtype != np.float32:
        raise IndexLoadError(
            f"index file {file} holds {vectors.shape} {vectors.dtype} vectors, the {expected} of dimension {dim}: "
            f"{REBUILD_HINT}"
        )
    return vectors


def _read_records(file: Path, parse: Callable[[dict[str, Any]], Any]) -> list[Any]:
    try:
        with open(file, encoding="utf-8") as handle:
            return [parse(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise IndexLoadError(f"index file {file} is corrupt ({first_line(exc)}): {REBUILD_HINT}") from exc
