"""The index: FAISS vectors, chunk records, documents, sentence vectors and terms, and `manifest.json`.

A build writes a complete index into a temporary folder beside the target and then
swaps it in with one rename, so a failed or interrupted build never leaves a
half-written index: readers see the old index or the new one. With a Milvus store
(`kzru_rag.stores`) the folder holds only the manifest and the data lives in Milvus
collections, swapped in by an alias (`kzru_rag.stores.milvus`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import faiss
import numpy as np

from .chunking import Chunk, Chunker
from .documents import Document, collect_documents, source_sha256
from .errors import IndexBuildError, IndexLoadError, KzruRagError
from .entities import spells
from .lexical import TermIndex, TermStatistics, WordVectors, WordVocabulary, bridge_words
from .stores import StoreSpec, VectorSearch, default_store, parse_store

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
SENTENCE_VECTORS = "sentence_vectors.npy"
SENTENCE_TERMS = "sentence_terms.npz"
WORD_VECTORS = "word_vectors.npy"
INDEX_FILES = (MANIFEST, VECTORS, CHUNKS, DOCUMENTS, SENTENCE_VECTORS, SENTENCE_TERMS, WORD_VECTORS)
REBUILD_HINT = "run `kzru-rag index build` to rebuild it"
TYPED_KINDS = frozenset({"time", "place", "duration"})
"""Answer kinds the retriever rewards. Not "person": a passage's names are rarely the person asked for. Not
"number": a quantity question whose best passages hold no number is one the documents cannot answer (see
`Retriever.abstention_reasons`), so those passages must not be re-ranked towards numbers first."""
ANSWER_TYPE_POOL = 10
_STALE_STAGING_SECONDS = 3600  # a build's staging folder older than this was left by a killed build
VECTOR_INDEXES = ("flat", "hnsw")
"""FAISS index kinds: exact inner-product search, or an HNSW graph (approximate, for 100k+ passages)."""
HNSW_FROM_PASSAGES = 50_000
"""Where "auto" switches from flat to HNSW: flat search time grows with the corpus (bench/scale.py: 2.1x the
one-document query time at 100k passages, HNSW 1.2x with recall@10 1.0)."""
# efSearch covers the retriever's 100 candidate passages: recall@100 0.999 vs flat at 100k passages (bench/scale.py)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512
_WORDS = re.compile(r"\w+")

Progress = Callable[[int, int], None]


class PassageEncoder(Protocol):
    """What a build needs from an embedding model (see `kzru_rag.embedding.Embedder`)."""

    model_id: str
    dim: int

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class StaleIndexWarning(UserWarning):
    """A source document changed after the index was built."""


@dataclass(frozen=True)
class SourceRecord:
    """A source document as it was when the index was built: `sha256` of its text, `file_sha256` of its file
    (empty in indexes built before files were checksummed)."""

    doc_id: str
    source: str
    sha256: str
    chars: int
    file_sha256: str = ""

    def changed(self) -> bool:
        """True when the source file changed or vanished since the build."""
        if self.file_sha256:
            return source_sha256(self.source) != self.file_sha256
        return source_sha256(self.source, of_text=True) != self.sha256


@dataclass(frozen=True)
class IndexManifest:
    """What an index was built from and how; stored as `manifest.json`."""

    model_id: str
    dim: int
    chunker: dict[str, Any]
    documents: list[SourceRecord]
    chunk_count: int
    built_at: str
    retrieval: dict[str, Any] = field(default_factory=dict)
    vector_index: str = "flat"
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of each data file, checked on load (empty in indexes built before checksums were recorded)."""
    store: str = "faiss"
    """Where the data lives: "faiss" (files beside the manifest) or a Milvus store spec (see `kzru_rag.stores`)."""
    collection: str = ""
    """With Milvus: the alias the index's collections are served under."""
    format_version: int = FORMAT_VERSION
    confidence: dict[str, Any] = field(default_factory=dict)
    """The calibrated answer-confidence model (`confidence.ConfidenceModel.to_dict`; empty: none), set by
    `kzru-rag calibrate --write` and kept by rebuilds with the same model."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexManifest":
        documents = [SourceRecord(**record) for record in data["documents"]]
        return cls(**{**data, "documents": documents})

    def stale_sources(self) -> list[str]:
        """Sources whose file changed (or vanished) since the build."""
        return [record.source for record in self.documents if record.changed()]


@dataclass(frozen=True)
class RetrievalSettings:
    """How the retriever scores and cuts passages; stored in the manifest's `retrieval` dict.

    Each sentence of the candidate passages is scored
    `sentence_weight * cos(query, sentence) + passage_weight * cos(query, passage)
    + lexical_weight * (IDF-weighted share of the query's words the passage contains)`;
    a hit is the best sentence grown by its best-scoring neighbours up to `window_chars`.
    `candidates` passages are taken from the vector index. A query word that is neither Russian
    nor in the documents (Kazakh; English too with `bridge_latin`) also matches its `bridge_words`
    nearest indexed words whose similarity to it reaches `bridge_similarity` (see
    `lexical.WordBridge`; 0 words: off).
    A passage holding the kind of phrase the question asks for (a date for «Когда…?», a place
    for «Где…?», a number or date for "How long…?"; see `TYPED_KINDS`) gains
    `answer_type_weight`; the best `ANSWER_TYPE_POOL` passages are re-ranked with it.

    The document is taken to have no answer when the best hit scores below a floor that rises
    from `abstain_below_other` to `abstain_below_russian` with the share of the question's words
    that are Russian (the documents' language): a question in the documents' own language meets
    them with higher similarity and lexical overlap, so it must clear a higher bar.
    """

    sentence_weight: float = 0.35
    passage_weight: float = 0.65
    lexical_weight: float = 0.1
    window_chars: int = 400
    candidates: int = 100
    abstain_below_russian: float = 0.84
    abstain_below_other: float = 0.76
    bridge_words: int = 2
    bridge_similarity: float = 0.9
    bridge_latin: bool = False
    answer_type_weight: float = 0.02

    def __post_init__(self) -> None:
        if min(self.sentence_weight, self.passage_weight, self.lexical_weight, self.answer_type_weight) < 0:
            raise ValueError("retrieval weights must be 0 or more")
        if self.sentence_weight + self.passage_weight <= 0:
            raise ValueError("sentence_weight + passage_weight must be greater than 0")
        if self.window_chars < 0:
            raise ValueError("window_chars must be 0 or more")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if self.bridge_words < 0:
            raise ValueError("bridge_words must be 0 or more")
        if not -1 <= self.bridge_similarity <= 1:
            raise ValueError("bridge_similarity is a cosine similarity: between -1 and 1")
        if not (-2 <= self.abstain_below_other <= 2 and -2 <= self.abstain_below_russian <= 2):
            raise ValueError("abstain_below_* are scores on the scale of a cosine similarity: between -2 and 2")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "weighted sum of sentence and passage cosine and lexical coverage; sentence window",
            "weights": {"sentence": self.sentence_weight, "passage": self.passage_weight, "lexical": self.lexical_weight},
            "lexical": "pymorphy3 readings, IDF-weighted share of query words in the passage",
            "window_chars": self.window_chars,
            "candidates": self.candidates,
            "abstain_below": {"russian": self.abstain_below_russian, "other": self.abstain_below_other},
            "bridge": {"words": self.bridge_words, "min_similarity": self.bridge_similarity, "latin": self.bridge_latin},
            "answer_type": {"weight": self.answer_type_weight, "kinds": sorted(TYPED_KINDS)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RetrievalSettings":
        weights = data["weights"]
        return cls(
            sentence_weight=float(weights["sentence"]),
            passage_weight=float(weights["passage"]),
            lexical_weight=float(weights["lexical"]),
            window_chars=int(data["window_chars"]),
            candidates=int(data["candidates"]),
            abstain_below_russian=float(data["abstain_below"]["russian"]),
            abstain_below_other=float(data["abstain_below"]["other"]),
            bridge_words=int(data["bridge"]["words"]),
            bridge_similarity=float(data["bridge"]["min_similarity"]),
            bridge_latin=bool(data["bridge"]["latin"]),
            answer_type_weight=float(data["answer_type"]["weight"]),
        )


@dataclass(frozen=True)
class SentenceIndex:
    """The sentences of every chunk as search units, in chunk order.

    Units of chunk c are `first[c]:first[c + 1]`; unit u spans document text `spans[u]` of
    chunk `chunk_of[u]`. `vectors` holds their embeddings, `terms` their words, and
    `words` the word bridge's vocabulary: the query embeddings of `bridge_words(terms)` (see `lexical.WordBridge`).
    Overlapping chunks repeat sentences: `canonical[u]` is the unit that stands for u's sentence, and `previous[u]`
    and `following[u]` the canonical units before and after it in its paragraph (-1 at the paragraph's ends).

    In memory these are arrays, a `TermIndex` and `WordVectors`; an index in Milvus gives objects indexed the same
    way that fetch what a query reads (`stores.milvus`).
    """

    spans: Any
    chunk_of: Any
    first: Any
    vectors: Any
    terms: TermStatistics
    words: WordVocabulary
    canonical: Any
    previous: Any
    following: Any

    @classmethod
    def in_memory(cls, chunks: list[Chunk], vectors: np.ndarray, terms: TermIndex, word_vectors: np.ndarray) -> "SentenceIndex":
        """The units of `chunks` with their `vectors`, `terms` and the `word_vectors` of `bridge_words(terms)`."""
        spans, chunk_of, first = cls.units(chunks)
        order = paragraph_order(chunks, spans, chunk_of)
        return cls(spans, chunk_of, first, vectors, terms, WordVectors(bridge_words(terms), word_vectors), *order)

    @staticmethod
    def units(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(spans, chunk_of, first) of the chunks' sentences; a chunk without sentence spans is one unit."""
        spans = [span for chunk in chunks for span in (chunk.sentences or ((chunk.start, chunk.end),))]
        counts = np.fromiter((len(chunk.sentences) or 1 for chunk in chunks), dtype=np.int64, count=len(chunks))
        first = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts)])
        chunk_of = np.repeat(np.arange(len(chunks), dtype=np.int32), counts)
        return np.array(spans, dtype=np.int64).reshape(-1, 2), chunk_of, first


def paragraph_order(chunks: list[Chunk], spans: np.ndarray, chunk_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each sentence unit: its canonical unit (overlapping chunks repeat sentences), and the
    canonical units before and after it in its paragraph (-1 at the paragraph's ends)."""
    keys = [(chunk.doc_id, chunk.paragraph) for chunk in chunks]
    paragraph_of_chunk = np.cumsum([i == 0 or keys[i] != keys[i - 1] for i in range(len(keys))])
    paragraph = paragraph_of_chunk[chunk_of]
    starts = spans[:, 0]
    order = np.lexsort((starts, paragraph))
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = (paragraph[order][1:] != paragraph[order][:-1]) | (starts[order][1:] != starts[order][:-1])
    canonical = np.empty(len(order), dtype=np.int64)
    canonical[order] = order[fresh][np.cumsum(fresh) - 1]
    unique = order[fresh]
    previous = np.full(len(order), -1, dtype=np.int64)
    following = np.full(len(order), -1, dtype=np.int64)
    same = paragraph[unique][1:] == paragraph[unique][:-1]
    previous[unique[1:][same]] = unique[:-1][same]
    following[unique[:-1][same]] = unique[1:][same]
    return canonical, previous, following


@dataclass
class LoadedIndex:
    """An index read from disk (or Milvus) and checked.

    From FAISS files `chunks` is a list and `documents` a dict; from Milvus they are a sequence and a mapping that
    read what is asked for (`stores.milvus.views.Chunks`, `stores.milvus.views.Documents`)."""

    path: Path
    manifest: IndexManifest
    vectors: VectorSearch
    chunks: Sequence[Chunk]
    documents: Mapping[str, Document]
    stale: list[str] = field(default_factory=list)
    sentences: SentenceIndex | None = None
    files: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)
    """(inode, size, mtime) of each index file when it was read."""
    store: Any = None
    """With Milvus: the `stores.milvus.generation.MilvusIndex` the data is read from."""
    _words: list[str] | None = field(default=None, repr=False, compare=False)

    def spells(self, abbreviation: str) -> bool:
        """True when consecutive words of the documents spell `abbreviation` (`entities.spells`)."""
        if self.store is not None:
            return self.store.spells(abbreviation)
        if self._words is None:  # the documents' words, lower-cased, in order (read once)
            self._words = [w.lower() for d in self.documents.values() for w in _WORDS.findall(d.text)]
        return spells(abbreviation, self._words)

    def changed_on_disk(self) -> list[str]:
        """Index files (or Milvus collections) deleted, rewritten or replaced since this index was read from them."""
        changed = [name for name, seen in self.files.items() if _file_signature(self.path / name) != seen]
        return changed + (self.store.changed() if self.store is not None else [])


def _file_signature(file: Path) -> tuple[int, int, int] | None:
    try:
        status = file.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def default_index_path() -> Path:
    """`$KZRU_RAG_INDEX`, else the project's `index/` (the one committed for the bundled document)."""
    if env := os.environ.get("KZRU_RAG_INDEX"):
        return Path(env)
    project = Path(__file__).resolve().parents[2]
    if (project / "pyproject.toml").is_file():
        return project / "index"
    return Path.cwd() / "index"


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
    old = _current_index(path)
    try:
        documents = collect_documents(sources, {d.source: d for d in old.documents.values()} if old else None)
    except KzruRagError as exc:
        raise IndexBuildError(f"{exc}; the existing index was left as it was") from exc
    known = _reusable_vectors(old, embedder.model_id)
    kind = vector_index or ("hnsw" if old and old.manifest.vector_index == "hnsw" else "auto")
    spec = _store_of(store, path)
    built = index_documents(documents, embedder, chunker, retrieval, progress, known, kind)
    built.manifest = replace(built.manifest, confidence=_kept_confidence(path, embedder.model_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.build-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        manifest = _write(staging, built) if spec.kind == "faiss" else _write_milvus(staging, built, spec, path)
        _swap_in(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("indexed %d chunks from %d documents into %s", len(built.chunks), len(documents), path)
    return manifest


def _store_of(store: str | StoreSpec | None, path: Path) -> StoreSpec:
    """`store`, else `$KZRU_RAG_STORE`, else the store the manifest at `path` names (even when that store cannot be
    read now), else faiss."""
    if isinstance(store, StoreSpec):
        return store
    if store:
        return parse_store(store)
    try:
        current = _read_manifest(path / MANIFEST).store if (path / MANIFEST).is_file() else "faiss"
    except IndexLoadError:
        current = "faiss"
    return default_store() or parse_store(current)


def _write_milvus(folder: Path, built: LoadedIndex, spec: StoreSpec, path: Path) -> IndexManifest:
    """Write the index to Milvus, swap it in there, and write its manifest (the folder's only file)."""
    from .stores import milvus

    manifest = replace(built.manifest, store=str(spec), collection=milvus.collection_name(path))
    milvus.write(spec, manifest.collection, built, manifest)
    _write_manifest(folder, manifest)
    return manifest


def _remove_stale_staging(path: Path) -> None:
    """Delete folders that builds killed while writing left beside `path` (older than an hour)."""
    for leftover in [*path.parent.glob(f".{path.name}.build-*"), *path.parent.glob(f".{path.name}.old-*")]:
        if time.time() - leftover.stat().st_mtime > _STALE_STAGING_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)


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
    if vector_index not in (*VECTOR_INDEXES, "auto"):
        raise ValueError(f"vector_index must be one of {', '.join(VECTOR_INDEXES)} or auto, not {vector_index!r}")
    chunker = chunker or Chunker()
    chunks = [chunk for document in documents for chunk in chunker.run(document)]
    if not chunks:
        raise IndexBuildError("the sources contain no text to index; the existing index was left as it was")
    if vector_index == "auto":
        vector_index = "hnsw" if len(chunks) >= HNSW_FROM_PASSAGES else "flat"
    texts = {d.doc_id: d.text for d in documents}
    spans, chunk_of, _ = SentenceIndex.units(chunks)
    sentence_texts = [texts[chunks[c].doc_id][a:b] for (a, b), c in zip(spans, chunk_of)]
    terms = TermIndex.build(sentence_texts)
    words = bridge_words(terms)
    passages, word_vectors = _embed([c.text for c in chunks] + sentence_texts, words, embedder, dict(known_vectors or {}), progress)
    vectors, sentence_vectors = passages[: len(chunks)], passages[len(chunks) :]
    sentences = SentenceIndex.in_memory(chunks, sentence_vectors, terms, word_vectors)
    manifest = IndexManifest(
        model_id=embedder.model_id,
        dim=int(vectors.shape[1]),
        chunker=chunker.to_dict(),
        documents=[SourceRecord(d.doc_id, d.source, d.sha256, len(d.text), d.file_sha256) for d in documents],
        chunk_count=len(chunks),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        retrieval=dict(retrieval) if retrieval is not None else RetrievalSettings().to_dict(),
        vector_index=vector_index,
    )
    searchable = _faiss_index(vectors, vector_index)
    return LoadedIndex(Path("<memory>"), manifest, searchable, chunks, {d.doc_id: d for d in documents}, [], sentences)


def _faiss_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    """An inner-product FAISS index of `kind` holding the unit `vectors`."""
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def _kind(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def _embed(
    passages: list[str], words: list[str], embedder: PassageEncoder, known: dict[str, np.ndarray], progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """Passage vectors of `passages` and query vectors of `words`, each distinct text not in `known` embedded once."""
    texts = passages + words
    keys = [_content_key(text) for text in passages] + [_word_key(word) for word in words]
    first_seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in known:
            first_seen.setdefault(key, i)
    # Longest first, so each batch holds texts of similar length and little padding; passages and words apart.
    missing = sorted(first_seen.values(), key=lambda i: -len(texts[i]))
    jobs = (
        ([i for i in missing if i < len(passages)], embedder.encode_passages),
        ([i for i in missing if i >= len(passages)], embedder.encode_queries),
    )
    total, done, batch = len(missing), 0, 32
    if progress:
        progress(0, total)
    for todo, encode in jobs:
        for first in range(0, len(todo), batch):
            ids = todo[first : first + batch]
            known.update({keys[i]: vector for i, vector in zip(ids, encode([texts[i] for i in ids]))})
            done += len(ids)
            if progress:
                progress(done, total)
    vectors = [known[key] for key in keys]
    return _stack(vectors[: len(passages)], embedder.dim), _stack(vectors[len(passages) :], embedder.dim)


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    """The rows as one contiguous float32 (len(rows), dim) array."""
    return np.ascontiguousarray(np.stack(rows) if rows else np.empty((0, dim)), dtype=np.float32)


def _word_key(word: str) -> str:
    """The `known` key of a word's query vector (a passage vector of the same text differs)."""
    return _content_key("query\x00" + word)


def _content_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _current_index(path: Path) -> LoadedIndex | None:
    """The index now at `path`, None when there is none or it cannot be read (a build replaces it)."""
    try:
        return load_index(path, check_sources=False, whole=True)
    except IndexLoadError:
        return None


def _kept_confidence(path: Path, model_id: str) -> dict[str, Any]:
    """The confidence model of the index at `path` when it was built with `model_id`, read from its manifest alone
    (an index whose other files no longer load keeps it too); empty when there is none."""
    try:
        manifest = _read_manifest(path / MANIFEST)
    except IndexLoadError:
        return {}
    return manifest.confidence if manifest.model_id == model_id else {}


def _reusable_vectors(old: LoadedIndex | None, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of the current index, by chunk and sentence content, when built with `model_id`."""
    if old is None or old.manifest.model_id != model_id or old.sentences is None:
        return {}
    stored = old.vectors.reconstruct_n(0, old.vectors.ntotal)
    known = {_content_key(chunk.text): vector for chunk, vector in zip(old.chunks, stored)}
    units = old.sentences
    for (a, b), c, vector in zip(units.spans, units.chunk_of, units.vectors):
        known.setdefault(_content_key(old.documents[old.chunks[c].doc_id].text[a:b]), np.array(vector))
    for word, vector in zip(units.words.words, units.words.vectors):
        known[_word_key(word)] = np.array(vector)
    return known


def _write(folder: Path, built: LoadedIndex) -> IndexManifest:
    """Write the index files and then the manifest with their checksums; return that manifest."""
    faiss.write_index(built.vectors, str(folder / VECTORS))
    _write_jsonl(folder / CHUNKS, (chunk.to_dict() for chunk in built.chunks))
    _write_jsonl(folder / DOCUMENTS, (document.to_dict() for document in built.documents.values()))
    if built.sentences is None:
        raise IndexBuildError("the index has no sentence units to write")
    np.save(folder / SENTENCE_VECTORS, built.sentences.vectors)
    built.sentences.terms.save(folder / SENTENCE_TERMS)
    np.save(folder / WORD_VECTORS, built.sentences.words.vectors)
    checksums = {name: _sha256_file(folder / name) for name in INDEX_FILES if name != MANIFEST}
    manifest = replace(built.manifest, files=checksums)
    _write_manifest(folder, manifest)
    for name in INDEX_FILES:
        with open(folder / name, "rb") as handle:
            os.fsync(handle.fileno())
    return manifest


def _write_manifest(folder: Path, manifest: IndexManifest) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with open(folder / MANIFEST, "rb") as handle:
        os.fsync(handle.fileno())


def _sha256_file(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _write_jsonl(path: Path, records: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _swap_in(staging: Path, path: Path) -> None:
    """Make `staging` the index at `path` in one step; the old index goes away after."""
    if not path.exists():
        os.rename(staging, path)
        return
    if not path.is_dir():
        raise IndexBuildError(f"{path} exists and is not a folder; move it away or pass another --index path")
    if _exchange(staging, path):
        return
    retired = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.rename(path, retired)
    os.rename(staging, path)
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def load_index(path: str | Path | None = None, check_sources: bool = True, whole: bool = False) -> LoadedIndex:
    """Read and validate an index; raise IndexLoadError naming the broken file and the fix.

    An index in Milvus is queried per request; `whole` reads all of it into the process instead (a rebuild reuses
    its vectors). A FAISS index is always read whole."""
    path = Path(path) if path else default_index_path()
    if not path.is_dir():
        raise IndexLoadError(f"no index at {path}: {REBUILD_HINT}")
    if not (path / MANIFEST).is_file():
        raise IndexLoadError(f"index file {path / MANIFEST} is missing: {REBUILD_HINT}")
    manifest = _read_manifest(path / MANIFEST)
    if manifest.store != "faiss":
        loaded = _load_milvus(path, manifest, whole)
    else:
        loaded = _load_files(path, manifest)
    loaded.stale = loaded.manifest.stale_sources() if check_sources else []
    if loaded.stale:
        warnings.warn(
            f"index at {path} is stale: {', '.join(loaded.stale)} changed since it was built; "
            "`kzru-rag index build` refreshes it",
            StaleIndexWarning,
            stacklevel=2,
        )
    return loaded


def _load_milvus(path: Path, manifest: IndexManifest, whole: bool) -> LoadedIndex:
    from .stores import milvus

    signature = _file_signature(path / MANIFEST)
    loaded = milvus.read(parse_store(manifest.store), path, manifest.collection, whole)
    loaded.files = {MANIFEST: signature}
    return loaded


def _load_files(path: Path, manifest: IndexManifest) -> LoadedIndex:
    """The FAISS index and data files beside `manifest`, checked."""
    for name in INDEX_FILES:
        if not (path / name).is_file():
            raise IndexLoadError(f"index file {path / name} is missing: {REBUILD_HINT}")
    files = {name: _file_signature(path / name) for name in INDEX_FILES}
    for name in INDEX_FILES:
        if name in manifest.files and _sha256_file(path / name) != manifest.files[name]:
            raise IndexLoadError(
                f"index file {path / name} is corrupt (its checksum does not match the manifest): {REBUILD_HINT}"
            )
    try:
        vectors = faiss.read_index(str(path / VECTORS))
    except RuntimeError as exc:
        raise IndexLoadError(f"index file {path / VECTORS} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc
    chunks = _read_records(path / CHUNKS, Chunk.from_dict)
    documents = {d.doc_id: d for d in _read_records(path / DOCUMENTS, Document.from_dict)}
    if (
        not (vectors.ntotal == len(chunks) == manifest.chunk_count)
        or vectors.d != manifest.dim
        or _kind(vectors) != manifest.vector_index
    ):
        raise IndexLoadError(
            f"index at {path} is inconsistent ({vectors.ntotal} {_kind(vectors)} vectors of dimension {vectors.d}, "
            f"{len(chunks)} chunks, manifest says {manifest.chunk_count} {manifest.vector_index} of dimension "
            f"{manifest.dim}): {REBUILD_HINT}"
        )
    if missing := {chunk.doc_id for chunk in chunks} - documents.keys():
        raise IndexLoadError(f"index file {path / DOCUMENTS} lacks documents {sorted(missing)}: {REBUILD_HINT}")
    sentences = _read_sentences(path, chunks, manifest.dim)
    return LoadedIndex(path, manifest, vectors, chunks, documents, [], sentences, files)


def _read_sentences(path: Path, chunks: list[Chunk], dim: int) -> SentenceIndex:
    """The sentence vectors and terms, checked against the chunks.

    The vectors are read into memory, not memory-mapped: a file truncated under a mapping kills the
    process with SIGBUS at the next search, and a running app must survive damage to its index folder.
    """
    spans = SentenceIndex.units(chunks)[0]
    try:
        vectors = np.load(path / SENTENCE_VECTORS, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexLoadError(f"index file {path / SENTENCE_VECTORS} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc
    if vectors.shape != (len(spans), dim) or vectors.dtype != np.float32:
        raise IndexLoadError(
            f"index file {path / SENTENCE_VECTORS} holds {vectors.shape} {vectors.dtype} vectors, "
            f"the chunks have {len(spans)} sentences of dimension {dim}: {REBUILD_HINT}"
        )
    try:
        terms = TermIndex.load(path / SENTENCE_TERMS)
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"index file {path / SENTENCE_TERMS} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc
    if terms.size != len(spans):
        raise IndexLoadError(
            f"index file {path / SENTENCE_TERMS} covers {terms.size} sentences, the chunks have {len(spans)}: {REBUILD_HINT}"
        )
    try:
        words = np.load(path / WORD_VECTORS, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexLoadError(f"index file {path / WORD_VECTORS} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc
    expected = (len(bridge_words(terms)), dim)
    if words.shape != expected or words.dtype != np.float32:
        raise IndexLoadError(
            f"index file {path / WORD_VECTORS} holds {words.shape} {words.dtype} vectors, "
            f"the term index has {expected[0]} words of dimension {dim}: {REBUILD_HINT}"
        )
    return SentenceIndex.in_memory(chunks, vectors, terms, words)


def _read_manifest(file: Path) -> IndexManifest:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        manifest = IndexManifest.from_dict(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise IndexLoadError(f"index file {file} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexLoadError(
            f"index at {file.parent} has format {manifest.format_version}, this kzru-rag reads {FORMAT_VERSION}: "
            f"{REBUILD_HINT}"
        )
    return manifest


def _read_records(file: Path, parse: Callable[[dict[str, Any]], Any]) -> list[Any]:
    try:
        with open(file, encoding="utf-8") as handle:
            return [parse(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise IndexLoadError(f"index file {file} is corrupt ({_first_line(exc)}): {REBUILD_HINT}") from exc


def write_confidence(path: str | Path | None, confidence: dict[str, Any]) -> None:
    """Record a confidence model in the manifest of the index at `path`, replacing the file in one step."""
    path = Path(path) if path else default_index_path()
    manifest = replace(_read_manifest(path / MANIFEST), confidence=confidence)
    staging = path / f".{MANIFEST}.new"
    staging.write_text(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(staging, path / MANIFEST)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
