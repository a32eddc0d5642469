"""An index in Milvus collections (Milvus Lite in one local file, or a Milvus server or cluster by URL).

One build is one *generation*: five collections named `{name}_g{time}_{part}`:
`chunks` (passage vectors, chunk records, each chunk's first sentence unit), `sentences` (per sentence unit: its
vector, span, chunk, place in its paragraph, indexed words, and its lower-cased words and their initials for
spelling abbreviations), `terms` (each indexed word and how many units hold it), `words` (the word bridge's
words and vectors) and `records` (the manifest and the documents, as JSON in pieces). The alias `{name}` points
at the serving generation's `records`; a build writes a new generation and then moves the alias in one step, so
readers see the old index or the new one. The previous generation is kept for processes still reading it and
dropped by the next build, with anything an interrupted build left.

A loaded index holds only the manifest: each query asks Milvus for what it reads (candidate passages by ANN search,
the rows of those chunks and their sentence units by id, term statistics, the bridge words nearest a foreign word,
a document when a hit cites it), and small per-process LRU caches keep recent rows (see docs/scaling.md). A
rebuild reads the whole index back (`read(..., whole=True)`) to reuse its vectors.
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from ..chunking import Chunk
from ..documents import Document
from ..errors import IndexBuildError, IndexLoadError, KzruRagError
from ..entities import spells
from ..index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexManifest, LoadedIndex, SentenceIndex
from ..lexical import Readings, TermIndex, idf
from . import TOKEN_ENV, StoreSpec

PIECE_CHARS = 16_000
"""Characters of JSON per row: a VARCHAR holds 65,535 bytes, and a character takes at most 4."""
MAX_VARCHAR = 65_535
BATCH = 1_000
CACHE_UNITS, CACHE_CHUNKS = 20_000, 10_000
"""Sentence units (about 40 queries' worth, ~40 MiB at 384 dimensions) and chunk records (~20 MiB) kept in process."""
CACHE_ITEMS = 100_000
"""Term statistics, prefixes and bridge-word answers kept in process (a few MiB)."""
CACHE_DOCUMENTS = 32
NEIGHBOURS = 2
SPELLING_CANDIDATES = 1_000
"""Sentence units read to check an abbreviation against (those whose initials could spell it)."""
_WORDS = re.compile(r"\w+")
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
    if built.sentences is None or not isinstance(built.sentences.terms, TermIndex):
        raise IndexBuildError("the index has no sentence units to write")
    client = connect(spec, create=True)
    generation = f"{name}_g{time.time_ns()}"
    with _calls(spec, IndexBuildError):
        serving = _serving(client, name)
        _drop_generations(client, name, keep=serving)
        _write_generation(client, generation, built, manifest)
        if serving is None:
            client.create_alias(f"{generation}_records", name)
        else:
            client.alter_alias(f"{generation}_records", name)


def _write_generation(client: MilvusClient, generation: str, built: LoadedIndex, manifest: IndexManifest) -> None:
    units, dim, terms = built.sentences, manifest.dim, built.sentences.terms  # type: ignore[union-attr]
    vectors = built.vectors.reconstruct_n(0, built.vectors.ntotal)
    chunk_rows = (
        {"id": i, "vector": v, "record": _varchar(json.dumps(c.to_dict(), ensure_ascii=False), "a chunk"), "first": int(units.first[i])}
        for i, (c, v) in enumerate(zip(built.chunks, vectors))
    )
    _create(client, f"{generation}_chunks", dim, manifest.vector_index, {"record": MAX_VARCHAR}, {"first": DataType.INT64})
    _insert(client, f"{generation}_chunks", chunk_rows)
    _create(client, f"{generation}_sentences", dim, "flat", {"terms": MAX_VARCHAR, "words": MAX_VARCHAR, "initials": MAX_VARCHAR},
            dict.fromkeys(("start", "end", "chunk", "canonical", "previous", "following"), DataType.INT64))
    _insert(client, f"{generation}_sentences", _sentence_rows(built))
    _create(client, f"{generation}_terms", 2, "flat", {"term": MAX_VARCHAR}, {"df": DataType.INT64}, ("term",))
    _insert(client, f"{generation}_terms", (
        {"id": i, "vector": np.zeros(2, dtype=np.float32), "term": _varchar(term, "a word"), "df": int(terms.indptr[i + 1] - terms.indptr[i])}
        for i, term in enumerate(terms.vocabulary)
    ))
    _create(client, f"{generation}_words", dim, "flat", {"word": MAX_VARCHAR}, {}, ("word",))
    _insert(client, f"{generation}_words", ({"id": i, "vector": v, "word": w} for i, (w, v) in enumerate(zip(units.words.words, units.words.vectors))))  # type: ignore[attr-defined]
    _create(client, f"{generation}_records", 2, "flat", {"kind": 16, "text": MAX_VARCHAR}, {"item": DataType.INT64}, ("kind", "item"))
    records = [("manifest", 0, manifest.to_dict())]
    records += [("document", i, d.to_dict()) for i, d in enumerate(built.documents.values())]
    _insert(client, f"{generation}_records", _record_rows(records))


def _sentence_rows(built: LoadedIndex) -> Iterator[dict[str, Any]]:
    """One row per sentence unit: vector, span, chunk, place in its paragraph, indexed words, words and initials."""
    units = built.sentences
    assert units is not None
    for i, (vector, terms) in enumerate(zip(units.vectors, units.terms.unit_terms())):  # type: ignore[attr-defined]
        start, end = (int(x) for x in units.spans[i])
        chunk = built.chunks[int(units.chunk_of[i])]
        words = [w.lower() for w in _WORDS.findall(built.documents[chunk.doc_id].text[start:end])]
        yield {
            "id": i, "vector": vector, "terms": _varchar("\n".join(terms), "a sentence's words"),
            "words": _varchar(" ".join(words), "a sentence"), "initials": "".join(w[0] for w in words),
            "start": start, "end": end, "chunk": int(units.chunk_of[i]), "canonical": int(units.canonical[i]),
            "previous": int(units.previous[i]), "following": int(units.following[i]),
        }


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


def _create(
    client: MilvusClient, collection: str, dim: int, kind: str, texts: dict[str, int], numbers: dict[str, DataType] | None = None,
    looked_up: tuple[str, ...] = (),
) -> None:
    """A collection with int64 `id`, a `vector` of `dim` searched by inner product (FLAT, or HNSW for "hnsw"),
    VARCHAR fields of the given byte lengths and other `numbers`; the `looked_up` ones get an INVERTED scalar index
    (queries filter on them)."""
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
    for field in looked_up:
        params.add_index(field, index_type="INVERTED")
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
    # Seal what was inserted: searches of unsealed (growing) segments scan every row instead of using the indexes.
    client.flush(collection)


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


PARTS = ("records", "chunks", "sentences", "terms", "words")


def read(spec: StoreSpec, folder: Path, name: str, whole: bool = False) -> LoadedIndex:
    """The index `name` serves, checked; IndexLoadError naming the URI and the fix when it cannot be read.

    It reads only the manifest and counts: the rest is queried when used. `whole` reads everything into the
    process instead (a rebuild takes the vectors it can reuse from it)."""
    client = connect(spec)
    hint = f"rebuild it with `kzru-rag index build --index {folder} --store {spec}`"
    with _calls(spec):
        generation = _serving(client, name)
        if generation is None or not all(client.has_collection(f"{generation}_{part}") for part in PARTS):
            raise IndexLoadError(f"Milvus at {spec.uri} holds no index named {name}: {hint}")
        for part in PARTS:
            client.load_collection(f"{generation}_{part}")
        store = MilvusIndex(client, spec, name, generation)
        manifest = IndexManifest.from_dict(store.record("manifest", 0))
        chunks, units, words = (store.count(part) for part in ("chunks", "sentences", "words"))
        if chunks != manifest.chunk_count or not units:
            raise IndexLoadError(
                f"the index {name} in Milvus at {spec.uri} is inconsistent ({chunks} chunks and {units} sentences, "
                f"the manifest says {manifest.chunk_count} chunks): {hint}"
            )
        vectors = PassageVectors(store, chunks, manifest.dim, manifest.vector_index)
        if whole:
            return _whole(store, folder, manifest, vectors, hint)
    unit_rows = Rows(store, "sentences", ["vector", "start", "end", "chunk", "canonical", "previous", "following", "terms"], NEIGHBOURS, CACHE_UNITS)
    chunk_rows = Rows(store, "chunks", ["record"], 0, CACHE_CHUNKS)
    chunk_starts = Rows(store, "chunks", ["first"], 0, CACHE_UNITS)  # every candidate's: apart from the records
    sentences = SentenceIndex(
        spans=Column(unit_rows, units, ("start", "end")),
        chunk_of=Column(unit_rows, units, ("chunk",)),
        first=Column(chunk_starts, chunks + 1, ("first",), last=units),
        vectors=Column(unit_rows, units, ("vector",), np.float32),
        terms=Terms(store, unit_rows, units),
        words=Words(store, words),
        canonical=Column(unit_rows, units, ("canonical",)),
        previous=Column(unit_rows, units, ("previous",)),
        following=Column(unit_rows, units, ("following",)),
    )
    documents = Documents(store, [record.doc_id for record in manifest.documents])
    return LoadedIndex(folder, manifest, vectors, Chunks(chunk_rows, chunks), documents, sentences=sentences, store=store)  # type: ignore[arg-type]


def _whole(store: "MilvusIndex", folder: Path, manifest: IndexManifest, vectors: "PassageVectors", hint: str) -> LoadedIndex:
    """The index read into the process: records, unit words and vectors, bridge words."""
    chunks = [Chunk.from_dict(json.loads(row["record"])) for row in store.rows("chunks", ["record"])]
    documents = {d.doc_id: d for d in (Document.from_dict(store.record("document", i)) for i in range(len(manifest.documents)))}
    if missing := {chunk.doc_id for chunk in chunks} - documents.keys():
        raise IndexLoadError(f"the index {store.name} in Milvus at {store.spec.uri} lacks documents {sorted(missing)}: {hint}")
    unit_rows = store.rows("sentences", ["vector", "terms"])
    terms = TermIndex.from_units(row["terms"].split("\n") if row["terms"] else [] for row in unit_rows)
    unit_vectors = _stacked(unit_rows, 0, len(unit_rows), manifest.dim)
    word_rows = store.rows("words", ["vector"])
    sentences = SentenceIndex.in_memory(chunks, unit_vectors, terms, _stacked(word_rows, 0, len(word_rows), manifest.dim))
    return LoadedIndex(folder, manifest, vectors, chunks, documents, sentences=sentences, store=store)


class MilvusIndex:
    """One generation of an index in Milvus, as a loaded index reads it."""

    def __init__(self, client: MilvusClient, spec: StoreSpec, name: str, generation: str) -> None:
        self.client, self.spec, self.name, self.generation = client, spec, name, generation

    def calls(self) -> Any:
        """A context turning Milvus failures into IndexLoadError naming the URI and the fix."""
        return _calls(self.spec)

    def collection(self, part: str) -> str:
        return f"{self.generation}_{part}"

    def query(self, part: str, expression: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of `part` matching the filter `expression`: `id` and `fields`."""
        with self.calls():
            extra = {"limit": limit} if limit is not None else {}
            return self.client.query(self.collection(part), filter=expression, output_fields=["id", *fields], **extra)

    def by_id(self, part: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for first in range(0, len(ids), BATCH):
            with self.calls():
                rows += self.client.query(self.collection(part), ids=ids[first : first + BATCH], output_fields=["id", *fields])
        return rows

    def rows(self, part: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of `part`, in id order."""
        with self.calls():
            return _rows(self.client, self.collection(part), fields)

    def count(self, part: str) -> int:
        with self.calls():
            return int(self.client.query(self.collection(part), filter="", output_fields=["count(*)"])[0]["count(*)"])

    def record(self, kind: str, item: int) -> dict[str, Any]:
        """The JSON record (`manifest` 0, `document` i) from its pieces."""
        pieces = sorted(self.query("records", f"kind == {json.dumps(kind)} and item == {int(item)}", ["text"], limit=16_384), key=lambda row: row["id"])
        if not pieces:
            raise IndexLoadError(f"the index {self.name} in Milvus at {self.spec.uri} lacks its {kind} {item}: rebuild it")
        return json.loads("".join(row["text"] for row in pieces))

    def spells(self, abbreviation: str) -> bool:
        """True when consecutive words of a sentence spell `abbreviation` (`entities.spells`): checked on the
        sentences whose words' initials hold its first letter followed by one of its others."""
        letters = abbreviation.lower()
        pairs = sorted({letters[0] + other for other in letters[1:]} or {letters[0]})
        expression = " or ".join(f'initials like "%{_like(pair)}%"' for pair in pairs)
        rows = self.query("sentences", expression, ["words"], limit=SPELLING_CANDIDATES)
        return any(spells(abbreviation, row["words"].split()) for row in rows)

    def changed(self) -> list[str]:
        """What differs from the Milvus index this was read from: a newer generation serves, or Milvus is unreachable."""
        try:
            with self.calls():
                serving = _serving(self.client, self.name)
        except IndexLoadError as err:
            return [str(err)]
        return [] if serving == self.generation else [f"Milvus index {self.name} at {self.spec.uri} (rebuilt since)"]


def _like(text: str) -> str:
    """`text` as a literal inside a Milvus `like` pattern in double quotes."""
    return re.sub(r'([\\%_"])', r"\\\1", text)


def _quoted(words: list[str]) -> str:
    """A Milvus list literal of strings."""
    return "[" + ", ".join(json.dumps(word, ensure_ascii=False) for word in words) + "]"


class LRU:
    """A bounded, thread-safe map keeping the most recently used items."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def known(self, keys: Any) -> dict[Any, Any]:
        with self._lock:
            found = {key: self._items[key] for key in keys if key in self._items}
            for key in found:
                self._items.move_to_end(key)
        return found

    def keep(self, items: dict[Any, Any]) -> None:
        with self._lock:
            for key, value in items.items():
                self._items[key] = value
                self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class Rows:
    """Rows of one collection fetched by id and kept in an LRU; a fetch brings `neighbours` ids on each side too
    (the sentences around a hit, which the retriever reads next to grow its citation window)."""

    def __init__(self, store: MilvusIndex, part: str, fields: list[str], neighbours: int, capacity: int) -> None:
        self.store, self.part, self.fields, self.neighbours = store, part, fields, neighbours
        self.cache = LRU(capacity)

    def get(self, ids: list[int], count: int) -> dict[int, dict[str, Any]]:
        """The rows of `ids` (below `count`) by id; IndexLoadError when Milvus lacks one."""
        found = self.cache.known(ids)
        if missing := set(ids) - found.keys():
            around = {n for i in missing for n in range(max(i - self.neighbours, 0), min(i + self.neighbours + 1, count))}
            fetched = {int(row["id"]): _compact(row) for row in self.store.by_id(self.part, sorted(around - found.keys()), self.fields)}
            self.cache.keep(fetched)
            found.update(fetched)
        if absent := [i for i in ids if i not in found]:
            raise IndexLoadError(f"the Milvus index at {self.store.spec.uri} lacks {self.part} {absent[:5]}: rebuild it")
        return found


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its vector as float32 (pymilvus gives a list of Python floats, 8 times the memory)."""
    if "vector" in row:
        row["vector"] = np.asarray(row["vector"], dtype=np.float32)
    return row


class Column:
    """One or more fields of `rows` indexed like an array of `count` rows: `column[i]`, `column[ids]`; `last`
    stands for the row one past the end (a chunk's `first` unit, where the next chunk would start)."""

    def __init__(self, rows: Rows, count: int, fields: tuple[str, ...], dtype: Any = np.int64, last: int | None = None) -> None:
        self.rows, self.count, self.fields, self.dtype, self.last = rows, count, fields, np.dtype(dtype), last
        self.shape = (count,) if len(fields) == 1 else (count, len(fields))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, ids: Any) -> np.ndarray:
        wanted = [int(i) for i in np.atleast_1d(np.asarray(ids, dtype=np.int64))]
        stored = self.count - (self.last is not None)
        rows = self.rows.get([i for i in wanted if i < stored], stored)
        values = [self._value(rows, i) for i in wanted]
        out = np.asarray(values, dtype=self.dtype) if values else np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return out[0] if np.ndim(ids) == 0 else out

    def _value(self, rows: dict[int, dict[str, Any]], i: int) -> Any:
        if i >= self.count - (self.last is not None):
            return self.last
        row = rows[i]
        return row[self.fields[0]] if len(self.fields) == 1 else [row[field] for field in self.fields]


class Chunks:
    """The chunk records of a Milvus index, a sequence fetched by position."""

    def __init__(self, rows: Rows, count: int) -> None:
        self.rows, self.count = rows, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, position: int) -> Chunk:
        if not -self.count <= position < self.count:
            raise IndexError(position)
        position %= self.count
        return Chunk.from_dict(json.loads(self.rows.get([position], self.count)[position]["record"]))

    def __iter__(self) -> Iterator[Chunk]:
        """Every chunk, read page by page (for whole-index tools such as evaluation baselines)."""
        for row in self.rows.store.rows("chunks", ["record"]):
            yield Chunk.from_dict(json.loads(row["record"]))


class Documents(Mapping[str, Document]):
    """The documents of a Milvus index by id, each read when asked for (an LRU keeps recent ones)."""

    def __init__(self, store: MilvusIndex, doc_ids: list[str]) -> None:
        self.store, self.items = store, {doc_id: item for item, doc_id in enumerate(doc_ids)}
        self.cache = LRU(CACHE_DOCUMENTS)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.items:
            raise KeyError(doc_id)
        if found := self.cache.known([doc_id]):
            return found[doc_id]
        document = Document.from_dict(self.store.record("document", self.items[doc_id]))
        self.cache.keep({doc_id: document})
        return document


class Terms:
    """Term statistics of a Milvus index (`lexical.TermStatistics`): document frequencies and prefixes queried from
    the `terms` collection, a unit's words from its row."""

    def __init__(self, store: MilvusIndex, units: Rows, size: int) -> None:
        self.store, self.units, self.size = store, units, size
        self._df, self._prefixes = LRU(CACHE_ITEMS), LRU(CACHE_ITEMS)

    def _frequencies(self, readings: set[str]) -> dict[str, int]:
        """The number of units holding each reading (0: none)."""
        found = self._df.known(readings)
        if missing := sorted(readings - found.keys()):
            fetched = dict.fromkeys(missing, 0)
            for first in range(0, len(missing), BATCH):
                rows = self.store.query("terms", f"term in {_quoted(missing[first : first + BATCH])}", ["term", "df"])
                fetched.update({row["term"]: int(row["df"]) for row in rows})
            self._df.keep(fetched)
            found.update(fetched)
        return found

    def frequency(self, readings: Readings) -> int:
        frequencies = self._frequencies(set(readings))
        return max((frequencies[r] for r in readings), default=0)

    def absent(self, words: list[Readings]) -> list[Readings]:
        frequencies = self._frequencies({r for readings in words for r in readings})
        return [readings for readings in words if not any(frequencies[r] for r in readings)]

    def has_prefix(self, stem: str) -> bool:
        if (known := self._prefixes.known([stem])):
            return known[stem]
        rows = self.store.query("terms", f'term like "{_like(stem)}%"', ["term"], limit=1)
        found = bool(rows) and rows[0]["term"].startswith(stem)
        self._prefixes.keep({stem: found})
        return found

    def coverage(self, words: list[Readings], units: np.ndarray, groups: np.ndarray, group_count: int) -> np.ndarray:
        """As `lexical.TermIndex.coverage`, from the candidate units' rows and the words' frequencies."""
        frequencies = self._frequencies({r for readings in words for r in readings})
        rows = self.units.get(sorted({int(u) for u in units}), self.size)
        held = {u: set(row["terms"].split("\n")) if row["terms"] else set() for u, row in rows.items()}
        share = np.zeros(group_count, dtype=np.float64)
        total = 0.0
        for readings in words:
            known = [r for r in readings if frequencies[r]]
            weight = float(idf(max((frequencies[r] for r in known), default=0), self.size))
            total += weight
            found = np.array([any(r in held[int(u)] for r in known) for u in units], dtype=bool)
            hit = np.zeros(group_count, dtype=bool)
            hit[groups[found]] = True
            share[hit] += weight
        return share / total if total else share


class Words:
    """The word bridge's vocabulary in a Milvus index (`lexical.WordVocabulary`): nearest words by ANN search,
    vectors of given words by key."""

    def __init__(self, store: MilvusIndex, count: int) -> None:
        self.store, self.count = store, count

    def __len__(self) -> int:
        return self.count

    def nearest(self, vectors: np.ndarray, count: int) -> list[list[tuple[str, float]]]:
        if not count or not len(vectors):
            return [[] for _ in vectors]
        with self.store.calls():
            found = self.store.client.search(
                self.store.collection("words"), [v.astype(np.float32).tolist() for v in vectors], limit=count,
                output_fields=["word"], search_params={"metric_type": "IP"},
            )
        return [[(hit["entity"]["word"], float(hit["distance"])) for hit in hits] for hits in found]

    def vectors_of(self, words: set[str]) -> np.ndarray:
        listed = sorted(words)
        rows: list[dict[str, Any]] = []
        for first in range(0, len(listed), BATCH):
            rows += self.store.query("words", f"word in {_quoted(listed[first : first + BATCH])}", ["vector"])
        rows.sort(key=lambda row: row["id"])
        return np.array([row["vector"] for row in rows], dtype=np.float32).reshape(len(rows), -1)


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


class PassageVectors:
    """The chunk vectors of a Milvus index, searched by the engine (FAISS-like: see `stores.VectorSearch`)."""

    def __init__(self, store: MilvusIndex, count: int, dim: int, kind: str) -> None:
        self.store, self.ntotal, self.d = store, count, dim
        self.collection = store.collection("chunks")
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


def _stacked(rows: list[dict[str, Any]], first: int, count: int, dim: int) -> np.ndarray:
    """The `vector`s of rows with ids first..first+count-1 as one (count, dim) array."""
    out = np.zeros((count, dim), dtype=np.float32)
    for row in rows:
        out[int(row["id"]) - first] = row["vector"]
    return out
