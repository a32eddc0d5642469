"""An index in Milvus collections (Milvus Lite in one local file, or a Milvus server or cluster by URL).

One build is one *generation*: four collections named `{name}_g{time}_{part}`:
`chunks` (passage vectors and chunk records), `sentences` (sentence-unit vectors and the words of each unit,
from which the term index is rebuilt), `words` (the word bridge's vectors) and `records` (the manifest and the
documents, as JSON in pieces). The alias `{name}` points at the serving generation's `records`; a build writes a
new generation and then moves the alias in one step, so readers see the old index or the new one. The previous
generation is kept for processes still reading it and dropped by the next build, with anything an
interrupted build left.

A loaded index searches passage vectors with Milvus (FLAT, or HNSW for an "hnsw" index) and fetches sentence
vectors by id when a query needs them (a bounded cache keeps recent ones). Held in process: the chunk records,
the documents, the term index and the word-bridge vectors (see docs/scaling.md).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from ..chunking import Chunk
from ..documents import Document
from ..errors import IndexBuildError, IndexLoadError, KzruRagError
from ..index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexManifest, LoadedIndex, SentenceIndex
from ..lexical import TermIndex
from . import TOKEN_ENV, StoreSpec

PIECE_CHARS = 16_000
"""Characters of JSON per row: a VARCHAR holds 65,535 bytes, and a character takes at most 4."""
MAX_VARCHAR = 65_535
BATCH = 1_000
CACHE_ROWS = 50_000
"""Sentence vectors kept in process between queries (about 75 MiB at 384 dimensions)."""
NEIGHBOURS = 2
CONNECT_TIMEOUT = 10.0
_clients: dict[str, MilvusClient] = {}
# pymilvus logs every failed call with a traceback; each is raised to us and reported as an error naming the URI.
logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)
_connecting = threading.Lock()
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
"""How a Milvus server answers a token it does not accept, or a user without rights."""


def collection_name(folder: Path) -> str:
    """The alias an index folder's collections are known by: `kzru_` and the folder's name, in Milvus's alphabet."""
    return "kzru_" + re.sub(r"[^A-Za-z0-9_]", "_", folder.name)


def connect(spec: StoreSpec, create: bool = False) -> MilvusClient:
    """The process's client for `spec` (one per URI); IndexLoadError naming the URI and the fix when it fails."""
    with _connecting:
        if spec.uri in _clients:
            return _clients[spec.uri]
        if spec.lite and not create and not Path(spec.uri).exists():
            raise IndexLoadError(
                f"the Milvus Lite file {spec.uri} is missing: rebuild the index with "
                f"`kzru-rag index build --store milvus:{spec.uri}`"
            )
        token = "" if spec.lite else os.environ.get(TOKEN_ENV, "")
        with _lite_startup_errors() as causes:
            try:
                client = MilvusClient(spec.uri, token=token, timeout=CONNECT_TIMEOUT)
                client.list_collections()
            except (MilvusException, grpc.RpcError) as exc:
                raise (_fault(spec, "; ".join(causes)) if causes else _failure(spec, exc)) from exc
        _clients[spec.uri] = client
        return client


def forget(spec: StoreSpec) -> None:
    """Close and drop the process's client for `spec` (a Milvus Lite file is then free for another process)."""
    with _connecting:
        client = _clients.pop(spec.uri, None)
    if client is not None:
        client.close()
    if spec.lite:  # pymilvus leaves the embedded engine running, and holding the file's lock
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(spec.uri)


@contextmanager
def _lite_startup_errors() -> Iterator[list[str]]:
    """Collect why Milvus Lite failed to start (it logs the cause with a traceback instead of raising it)."""
    causes: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            cause = record.exc_info[1] if record.exc_info else None
            causes.append(_first_line(cause, "") if cause else record.getMessage())

    logger = logging.getLogger("milvus_lite.server_manager")
    handler, propagate = Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield causes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _failure(spec: StoreSpec, exc: BaseException) -> IndexLoadError:
    """The error for a failed Milvus call: a refused token says so; the token never appears in it."""
    token = os.environ.get(TOKEN_ENV, "")
    refusal = _refusal(exc)
    if refusal is not None and not spec.lite:
        return IndexLoadError(
            f"the Milvus server at {spec.uri} refused kzru-rag's token ({_masked(refusal, token)}): check the token "
            f"in ${TOKEN_ENV} (user:password, or an API key) and that its user has rights on the index's collections"
        )
    return _fault(spec, _first_line(exc, token))


def _refusal(exc: BaseException) -> str | None:
    """The server's words when `exc`, or an error behind it, is a refused token or a missing right; else None."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, grpc.RpcError) and cause.code() in REFUSALS:  # type: ignore[attr-defined]
            return str(cause.details())  # type: ignore[attr-defined]
        cause = cause.__cause__ or cause.__context__
    return None


def _fault(spec: StoreSpec, detail: str) -> IndexLoadError:
    if spec.lite:
        return IndexLoadError(
            f"cannot open the Milvus Lite file {spec.uri} ({detail}): Milvus Lite serves one process at a time, so stop "
            f"the other kzru-rag process using it (or serve the index from a Milvus server); if the file is damaged, "
            f"rebuild with `kzru-rag index build --store milvus:{spec.uri}`"
        )
    return IndexLoadError(
        f"cannot use the Milvus server at {spec.uri} ({detail}): check that it is running and reachable from here, "
        f"and that ${TOKEN_ENV} holds a token it accepts"
    )


def _first_line(exc: BaseException | None, token: str) -> str:
    lines = str(exc).strip().splitlines()
    return _masked(lines[0] if lines else type(exc).__name__, token)


def _masked(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


@contextmanager
def _calls(spec: StoreSpec, error: type[KzruRagError] = IndexLoadError) -> Iterator[None]:
    """Turn a Milvus failure inside the block into `error` naming the URI and the fix."""
    try:
        yield
    except (MilvusException, grpc.RpcError) as exc:  # pymilvus passes a refused call's RpcError on as it is
        raise error(str(_failure(spec, exc))) from exc


def write(spec: StoreSpec, name: str, built: LoadedIndex, manifest: IndexManifest) -> None:
    """Write `built` (with `manifest`) as a new generation and make it the one `name` serves."""
    if built.sentences is None:
        raise IndexBuildError("the index has no sentence units to write")
    client = connect(spec, create=True)
    generation = f"{name}_g{time.time_ns()}"
    with _calls(spec, IndexBuildError):
        serving = _serving(client, name)
        _drop_generations(client, name, keep=serving)
        units, dim = built.sentences, manifest.dim
        vectors = built.vectors.reconstruct_n(0, built.vectors.ntotal)
        chunk_rows = ({"id": i, "vector": v, "record": _varchar(json.dumps(c.to_dict(), ensure_ascii=False), "a chunk")}
                      for i, (c, v) in enumerate(zip(built.chunks, vectors)))
        _create(client, f"{generation}_chunks", dim, manifest.vector_index, {"record": MAX_VARCHAR})
        _insert(client, f"{generation}_chunks", chunk_rows)
        terms = units.terms.unit_terms()
        sentence_rows = ({"id": i, "vector": v, "terms": _varchar("\n".join(t), "a sentence's words")}
                         for i, (v, t) in enumerate(zip(units.vectors, terms)))
        _create(client, f"{generation}_sentences", dim, "flat", {"terms": MAX_VARCHAR})
        _insert(client, f"{generation}_sentences", sentence_rows)
        _create(client, f"{generation}_words", dim, "flat", {})
        _insert(client, f"{generation}_words", ({"id": i, "vector": v} for i, v in enumerate(units.word_vectors)))
        _create(client, f"{generation}_records", 2, "flat", {"kind": 16, "text": MAX_VARCHAR}, {"item": DataType.INT64})
        records = [("manifest", 0, manifest.to_dict())]
        records += [("document", i, d.to_dict()) for i, d in enumerate(built.documents.values())]
        _insert(client, f"{generation}_records", _record_rows(records))
        if serving is None:
            client.create_alias(f"{generation}_records", name)
        else:
            client.alter_alias(f"{generation}_records", name)


def _varchar(text: str, what: str) -> str:
    if len(text.encode("utf-8")) > MAX_VARCHAR:
        raise IndexBuildError(f"{what} is longer than Milvus stores in one field ({MAX_VARCHAR} bytes): use a smaller --max-chars")
    return text


def _record_rows(records: list[tuple[str, int, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Rows of `records` (kind, item, data): the JSON of each in PIECE_CHARS pieces, numbered in order."""
    row = 0
    for kind, item, data in records:
        text = json.dumps(data, ensure_ascii=False)
        for first in range(0, max(len(text), 1), PIECE_CHARS):
            yield {"id": row, "vector": np.zeros(2, dtype=np.float32), "kind": kind, "item": item, "text": text[first : first + PIECE_CHARS]}
            row += 1


def _create(client: MilvusClient, collection: str, dim: int, kind: str, texts: dict[str, int], numbers: dict[str, DataType] | None = None) -> None:
    """A collection with int64 `id`, a `vector` of `dim` searched by inner product (FLAT, or HNSW for "hnsw"),
    and VARCHAR fields of the given byte lengths."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for field, length in texts.items():
        schema.add_field(field, DataType.VARCHAR, max_length=length)
    for field, type_ in (numbers or {}).items():
        schema.add_field(field, type_)
    params = client.prepare_index_params()
    if kind == "hnsw":
        params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    else:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(collection, schema=schema, consistency_level="Strong")
    # sync=False: pymilvus waits for an index through a call Milvus Lite lacks; loading waits for it anyway.
    client.create_index(collection, params, sync=False)
    client.load_collection(collection)


def _insert(client: MilvusClient, collection: str, rows: Any) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            client.insert(collection, batch)
            batch = []
    if batch:
        client.insert(collection, batch)


def _serving(client: MilvusClient, name: str) -> str | None:
    """The generation (collection prefix) the alias `name` serves; None when there is none."""
    if name not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(name)["collection_name"].removesuffix("_records")


def _drop_generations(client: MilvusClient, name: str, keep: str | None) -> None:
    """Drop every generation of `name` but `keep`: the one before it, and what interrupted builds left."""
    for collection in client.list_collections():
        if re.fullmatch(rf"{re.escape(name)}_g\d+_[a-z]+", collection) and not (keep and collection.startswith(keep + "_")):
            client.drop_collection(collection)


def read(spec: StoreSpec, folder: Path, name: str) -> LoadedIndex:
    """The index `name` serves, checked; IndexLoadError naming the URI and the fix when it cannot be read."""
    client = connect(spec)
    hint = f"rebuild it with `kzru-rag index build --index {folder} --store {spec}`"
    with _calls(spec):
        generation = _serving(client, name)
        if generation is None:
            raise IndexLoadError(f"Milvus at {spec.uri} holds no index named {name}: {hint}")
        for part in ("records", "chunks", "sentences", "words"):
            client.load_collection(f"{generation}_{part}")
        records = _records(client, f"{generation}_records")
        manifest = IndexManifest.from_dict(records["manifest"][0])
        documents = {d.doc_id: d for d in map(Document.from_dict, records.get("document", []))}
        chunks = [Chunk.from_dict(json.loads(row["record"])) for row in _rows(client, f"{generation}_chunks", ["record"])]
        unit_terms = [row["terms"].split("\n") if row["terms"] else [] for row in _rows(client, f"{generation}_sentences", ["terms"])]
        word_rows = _rows(client, f"{generation}_words", ["vector"])
    word_vectors = np.array([row["vector"] for row in word_rows], dtype=np.float32).reshape(-1, manifest.dim)
    spans, chunk_of, first = SentenceIndex.units(chunks)
    if not (len(chunks) == manifest.chunk_count and len(unit_terms) == len(spans)):
        raise IndexLoadError(
            f"the index {name} in Milvus at {spec.uri} is inconsistent ({len(chunks)} chunks and {len(unit_terms)} "
            f"sentences, the manifest says {manifest.chunk_count} chunks of {len(spans)} sentences): {hint}"
        )
    if missing := {chunk.doc_id for chunk in chunks} - documents.keys():
        raise IndexLoadError(f"the index {name} in Milvus at {spec.uri} lacks documents {sorted(missing)}: {hint}")
    store = MilvusIndex(client, spec, name, generation)
    vectors = PassageVectors(store, len(chunks), manifest.dim, manifest.vector_index)
    sentences = SentenceIndex(spans, chunk_of, first, SentenceVectors(store, len(spans), manifest.dim), TermIndex.from_units(unit_terms), word_vectors)
    return LoadedIndex(folder, manifest, vectors, chunks, documents, sentences=sentences, store=store)


def _rows(client: MilvusClient, collection: str, fields: list[str], first: int = 0, count: int | None = None) -> list[dict[str, Any]]:
    """Rows first..first+count-1 (default: to the end) of `collection`, whose ids run 0, 1, 2…: `id` and `fields`.

    Read page by page by id range (Milvus Lite lacks what `query_iterator` needs).
    """
    end = first + count if count is not None else None
    rows: list[dict[str, Any]] = []
    for start in itertools.count(first, BATCH):
        stop = start + BATCH if end is None else min(start + BATCH, end)
        if stop <= start:
            break
        page = client.query(collection, filter=f"id >= {start} and id < {stop}", output_fields=["id", *fields], limit=BATCH)
        rows.extend(page)
        if end is None and len(page) < BATCH:
            break
    return sorted(rows, key=lambda row: row["id"])


def _records(client: MilvusClient, collection: str) -> dict[str, list[dict[str, Any]]]:
    """The JSON records of a `records` collection by kind, each kind's in item order."""
    pieces: dict[tuple[str, int], list[str]] = {}
    for row in _rows(client, collection, ["kind", "item", "text"]):
        pieces.setdefault((row["kind"], row["item"]), []).append(row["text"])
    records: dict[str, list[dict[str, Any]]] = {}
    for (kind, _), texts in sorted(pieces.items()):
        records.setdefault(kind, []).append(json.loads("".join(texts)))
    return records


class MilvusIndex:
    """One generation of an index in Milvus, as a loaded index reads it."""

    def __init__(self, client: MilvusClient, spec: StoreSpec, name: str, generation: str) -> None:
        self.client, self.spec, self.name, self.generation = client, spec, name, generation

    def calls(self) -> Any:
        """A context turning Milvus failures into IndexLoadError naming the URI and the fix."""
        return _calls(self.spec)

    def changed(self) -> list[str]:
        """What differs from the Milvus index this was read from: a newer generation serves, or Milvus is unreachable."""
        try:
            with self.calls():
                serving = _serving(self.client, self.name)
        except IndexLoadError as err:
            return [str(err)]
        return [] if serving == self.generation else [f"Milvus index {self.name} at {self.spec.uri} (rebuilt since)"]


class PassageVectors:
    """The chunk vectors of a Milvus index, searched by the engine (FAISS-like: see `stores.VectorSearch`)."""

    def __init__(self, store: MilvusIndex, count: int, dim: int, kind: str) -> None:
        self.store, self.ntotal, self.d = store, count, dim
        self.collection = f"{store.generation}_chunks"
        self.params: dict[str, Any] = {"metric_type": "IP"}
        if kind == "hnsw":
            self.params["params"] = {"ef": HNSW_EF_SEARCH}

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        with self.store.calls():
            found = self.store.client.search(
                self.collection, [q.astype(np.float32).tolist() for q in queries], limit=k, search_params=self.params
            )
        for row, hits in enumerate(found):
            for place, hit in enumerate(hits):
                scores[row, place], ids[row, place] = hit["distance"], hit["id"]
        return scores, ids

    def reconstruct_n(self, first: int, count: int) -> np.ndarray:
        with self.store.calls():
            rows = _rows(self.store.client, self.collection, ["vector"], first, count)
        return _stacked(rows, first, count, self.d)


class SentenceVectors:
    """The sentence-unit vectors of a Milvus index, fetched by id when indexed (array-like: `vectors[ids]`)."""

    def __init__(self, store: MilvusIndex, count: int, dim: int) -> None:
        self.store, self.shape, self.dtype = store, (count, dim), np.dtype(np.float32)
        self.collection = f"{store.generation}_sentences"
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids: Any) -> np.ndarray:
        wanted = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        with self._lock:
            known = {int(i): self._cache[int(i)] for i in wanted if int(i) in self._cache}
        missing = sorted(_with_neighbours({int(i) for i in wanted} - known.keys(), len(self)) - known.keys())
        for first in range(0, len(missing), BATCH):
            with self.store.calls():
                rows = self.store.client.query(self.collection, ids=missing[first : first + BATCH], output_fields=["vector"])
            known.update({int(row["id"]): np.asarray(row["vector"], dtype=np.float32) for row in rows})
        with self._lock:
            for i, vector in known.items():
                self._cache[i] = vector
                self._cache.move_to_end(i)
            while len(self._cache) > CACHE_ROWS:
                self._cache.popitem(last=False)
        if absent := [int(i) for i in wanted if int(i) not in known]:
            raise IndexLoadError(f"the Milvus index at {self.store.spec.uri} lacks sentence vectors {absent[:5]}: rebuild it")
        rows = np.stack([known[int(i)] for i in wanted])
        return rows[0] if np.ndim(ids) == 0 else rows

    def __iter__(self) -> Iterator[np.ndarray]:
        with self.store.calls():
            rows = _rows(self.store.client, self.collection, ["vector"])
        return iter(_stacked(rows, 0, len(self), self.shape[1]))


def _with_neighbours(ids: set[int], count: int) -> set[int]:
    """`ids` and the NEIGHBOURS ids on each side (below `count`): the sentences around a hit, which the retriever
    reads next to grow its citation window, come in the same round trip."""
    return {n for i in ids for n in range(max(i - NEIGHBOURS, 0), min(i + NEIGHBOURS + 1, count))}


def _stacked(rows: list[dict[str, Any]], first: int, count: int, dim: int) -> np.ndarray:
    """The `vector`s of rows with ids first..first+count-1 as one (count, dim) array."""
    out = np.zeros((count, dim), dtype=np.float32)
    for row in rows:
        out[int(row["id"]) - first] = row["vector"]
    return out
