"""Building an index: chunk the documents, embed what the current index lacks, write it to its store (FAISS files,
Milvus collections: `stores.base.Store`), and swap the result in whole."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from kzru_rag.errors import IndexBuildError, IndexLoadError, KzruRagError
from kzru_rag.index.embed import PassageEncoder, VectorCache, reusable_vectors
from kzru_rag.index.load import load_index
from kzru_rag.index.pipeline import DocumentBatch, embedded_batches, read_ahead
from kzru_rag.index.progress import Progress, Tracker
from kzru_rag.index.swap import build_lock, staging_folder, swap_in
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import Document, source_files
from kzru_rag.stores.base import IndexWriter, StreamingStore, store_for
from kzru_rag.stores.layout import MANIFEST, default_index_path
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, SourceRecord, read_manifest
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.settings import RetrievalSettings
from kzru_rag.stores.spec import StoreSpec, default_store, parse_store
from kzru_rag.stores.terms import TermIndex, bridge_words, is_bridge_word
from kzru_rag.stores.vectors import VECTOR_INDEXES, chosen_kind, faiss_index

log = logging.getLogger(__name__)


NO_TEXT = "the sources contain no text to index; the existing index was left as it was"
NO_TEXT_RU = "в документах нет текста для индекса; прежний индекс не тронут"
"""A build's refusal when no source holds text, in English and in Russian."""


def build_index(
    sources: list[str | Path] | None,
    embedder: PassageEncoder,
    path: str | Path | None = None,
    chunker: Chunker | None = None,
    retrieval: dict[str, Any] | None = None,
    progress: Progress | None = None,
    vector_index: str | None = None,
    store: str | StoreSpec | None = None,
) -> IndexManifest:
    """Chunk, embed and write an index for `sources` (None: the bundled document), atomically.

    Vectors of chunks whose text is already in the existing index (same model) are
    reused, so adding a document re-embeds only the new chunks. `vector_index` is one of
    VECTOR_INDEXES or "auto" (HNSW from HNSW_FROM_PASSAGES chunks on); by default an HNSW index stays
    HNSW and anything else is "auto". `store` (a spec, see `kzru_rag.stores`) defaults to
    `$KZRU_RAG_STORE`, else the existing index's store, else "faiss".
    """
    path = Path(path) if path else default_index_path()
    if path.exists() and not path.is_dir():
        raise IndexBuildError(f"{path} is a file, not an index folder; give a folder (new or an index) with --index")
    with build_lock(path):
        return _build(sources, embedder, path, chunker, retrieval, progress, vector_index, store)


def _build(
    sources: list[str | Path] | None,
    embedder: PassageEncoder,
    path: Path,
    chunker: Chunker | None,
    retrieval: dict[str, Any] | None,
    progress: Progress | None,
    vector_index: str | None,
    store: str | StoreSpec | None,
) -> IndexManifest:
    """`build_index`'s work, under the index's build lock."""
    old = _current_index(path)
    try:
        files = source_files(sources)
    except KzruRagError as exc:
        kept = "the existing index was left as it was" if (path / MANIFEST).is_file() else "no index was written"
        raise IndexBuildError(f"{exc}; {kept}") from exc
    cache = VectorCache(embedder, reusable_vectors(old, embedder.model_id))
    kind = vector_index or ("hnsw" if old and old.manifest.vector_index == "hnsw" else "auto")
    spec = _store_of(store, path)
    confidence, calibrated_with = _kept_calibration(path, embedder.model_id)
    tracker = Tracker([file.size for file in files], progress)
    documents = read_ahead(files, {d.source: d for d in old.documents.values()} if old else None)
    names = [file.name for file in files]
    chunker, retrieval, store = chunker or Chunker(), retrieval or calibrated_with, store_for(spec)
    if isinstance(store, StreamingStore):
        batches = embedded_batches(documents, names, chunker, cache, tracker)
        described = functools.partial(_manifest, cache, chunker, retrieval, kind, confidence)
        manifest = _streamed(store.writer(path, embedder.dim), batches, described, cache, tracker, path)
    else:
        built = _indexed(documents, names, cache, chunker, retrieval, tracker, kind)
        built.manifest = replace(built.manifest, confidence=confidence)
        with staging_folder(path) as staging:
            tracker.report("writing")
            manifest = store.write(staging, built, path)
            swap_in(staging, path)
    tracker.report("done")
    log.info("indexed %d chunks from %d documents into %s", manifest.chunk_count, len(manifest.documents), path)
    return manifest


def _store_of(store: str | StoreSpec | None, path: Path) -> StoreSpec:
    """`store`, else `$KZRU_RAG_STORE`, else the store the manifest at `path` names (even when that store cannot be
    read now), else faiss."""
    if isinstance(store, StoreSpec):
        return store
    if store:
        return parse_store(store)
    try:
        current = read_manifest(path / MANIFEST).store if (path / MANIFEST).is_file() else "faiss"
    except IndexLoadError:
        current = "faiss"
    return default_store() or parse_store(current)


def index_documents(
    documents: list[Document],
    embedder: PassageEncoder,
    chunker: Chunker | None = None,
    retrieval: dict[str, Any] | None = None,
    progress: Progress | None = None,
    known_vectors: dict[str, np.ndarray] | None = None,
    vector_index: str = "auto",
) -> LoadedIndex:
    """An index held in memory (nothing written): chunks, vectors, sentences and manifest.

    `retrieval` defaults to `RetrievalSettings()` as a dict; `vector_index` "auto" picks HNSW for
    HNSW_FROM_PASSAGES chunks or more, else flat.
    """
    tracker = Tracker([len(d.text.encode("utf-8")) for d in documents], progress)
    cache = VectorCache(embedder, known_vectors)
    names = [d.doc_id for d in documents]
    return _indexed(documents, names, cache, chunker or Chunker(), retrieval, tracker, vector_index)


def _indexed(
    documents: Iterable[Document],
    names: list[str],
    cache: VectorCache,
    chunker: Chunker,
    retrieval: dict[str, Any] | None,
    tracker: Tracker,
    vector_index: str,
) -> LoadedIndex:
    """The in-memory index of `documents` (named `names`), built from their `embedded_batches`."""
    if vector_index not in (*VECTOR_INDEXES, "auto"):
        raise ValueError(f"vector_index must be one of {', '.join(VECTOR_INDEXES)} or auto, not {vector_index!r}")
    batches = list(embedded_batches(documents, names, chunker, cache, tracker))
    chunks = [chunk for batch in batches for chunk in batch.chunks]
    if not chunks:
        raise IndexBuildError(NO_TEXT, NO_TEXT_RU)
    terms = TermIndex.from_units(words for batch in batches for words in batch.unit_words)
    vectors = np.concatenate([batch.chunk_vectors for batch in batches])
    sentence_vectors = np.concatenate([batch.sentence_vectors for batch in batches])
    sentences = SentenceIndex.in_memory(chunks, sentence_vectors, terms, cache.word_vectors(bridge_words(terms)))
    documents = [batch.document for batch in batches]
    manifest = _manifest(cache, chunker, retrieval, vector_index, {}, [_source(d) for d in documents], len(chunks))
    searchable = faiss_index(vectors, manifest.vector_index)
    return LoadedIndex(Path("<memory>"), manifest, searchable, chunks, {d.doc_id: d for d in documents}, [], sentences)


def _streamed(
    writer: IndexWriter,
    batches: Iterable[DocumentBatch],
    described: Callable[[list[SourceRecord], int], IndexManifest],
    cache: VectorCache,
    tracker: Tracker,
    path: Path,
) -> IndexManifest:
    """Write the index into a store that takes it as it comes (`StreamingStore`): each batch goes to `writer` when
    embedded, so the build holds one document's batch, not the index; its manifest is `described` from the
    documents and the chunk count. An error or interruption before the end leaves the serving index as it was."""
    sources: list[SourceRecord] = []
    chunk_count = 0
    with writer:
        for batch in batches:
            writer.add(batch)
            sources.append(_source(batch.document))
            chunk_count += len(batch.chunks)
        if not chunk_count:
            raise IndexBuildError(NO_TEXT, NO_TEXT_RU)
        tracker.report("writing")
        words = [word for word in writer.vocabulary() if is_bridge_word(word)]
        with staging_folder(path) as staging:
            manifest = writer.finish(staging, described(sources, chunk_count), words, cache.word_vectors(words))
            swap_in(staging, path)
    return manifest


def _manifest(
    cache: VectorCache,
    chunker: Chunker,
    retrieval: dict[str, Any] | None,
    vector_index: str,
    confidence: dict[str, Any],
    sources: list[SourceRecord],
    chunk_count: int,
) -> IndexManifest:
    """The manifest of an index of `sources` in `chunk_count` chunks, built now."""
    return IndexManifest(
        model_id=cache.embedder.model_id,
        dim=cache.embedder.dim,
        chunker=chunker.to_dict(),
        documents=sources,
        chunk_count=chunk_count,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        retrieval=dict(retrieval) if retrieval is not None else RetrievalSettings().to_dict(),
        vector_index=chosen_kind(vector_index, chunk_count),
        confidence=confidence,
    )


def _source(document: Document) -> SourceRecord:
    return SourceRecord(document.doc_id, document.source, document.sha256, len(document.text), document.file_sha256)


def _current_index(path: Path) -> LoadedIndex | None:
    """The index now at `path`, None when there is none or it cannot be read (a build replaces it)."""
    try:
        return load_index(path, check_sources=False, whole=True)
    except IndexLoadError:
        return None


def _kept_calibration(path: Path, model_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The confidence model of the index at `path` when it was built with `model_id`, and the retrieval settings it
    was calibrated with (a rebuild keeps both: the model judges scores made with those settings), read from its
    manifest alone (an index whose other files no longer load keeps them too); ({}, None) when there is none."""
    try:
        manifest = read_manifest(path / MANIFEST)
    except IndexLoadError:
        return {}, None
    if manifest.model_id != model_id or not manifest.confidence:
        return {}, None
    return manifest.confidence, manifest.retrieval
