"""Writing an index to Milvus: a new generation's collections, created and filled as a build gives its documents
(`GenerationWriter`: rows go to Milvus a batch at a time, so a build's memory does not grow with the corpus), then
sealed, indexed and loaded once, and the alias moved to it in one step, so readers see the old index or the new one.
The previous generation is kept for processes still reading it and dropped by the next build, with anything an
interrupted build left.

`chunks` holds passage vectors, chunk records, each chunk's first sentence unit and the one after its last, its
document's id, source and metadata, and its sentence units' rows (so a passage search brings what a question reads of
its hits: `_chunk_row`); `sentences` per sentence unit its vector (packed in a text field: `layout.pack`), span,
chunk, place in its paragraph, indexed words, its text up to the next unit of its paragraph, and its lower-cased
words and the initials and pairs of consecutive initials they hold (an array: Milvus 2.3 filters strings by prefix
only; for spelling abbreviations); `terms` each indexed word and how many units hold it; `words`
the word bridge's words and vectors; `records` the manifest and the documents, as JSON in pieces.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pymilvus import DataType, MilvusClient

from kzru_rag.errors import IndexBuildError
from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.stores.base import IndexPart
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest, write_manifest
from kzru_rag.stores.milvus.client import connect, guarded
from kzru_rag.stores.milvus.layout import BATCH, PARTS, UNIT_FIELDS, collection_name, pack, serving_generation
from kzru_rag.stores.sentences import SentenceIndex, paragraph_order
from kzru_rag.stores.spec import StoreSpec
from kzru_rag.stores.terms import TermIndex
from kzru_rag.stores.vectors import HNSW_EF_CONSTRUCTION, HNSW_M

PIECE_CHARS = 16_000
"""Characters of JSON per row: a VARCHAR holds 65,535 bytes, and a character takes at most 4."""
MAX_VARCHAR = 65_535
MAX_INITIALS = 4_096
"""The most elements a Milvus array field holds."""
_WORDS = re.compile(r"\w+")
_NO_VECTOR = np.zeros(2, dtype=np.float32)
"""The vector of a collection that is never searched (Milvus requires one)."""


def write(spec: StoreSpec, staging: Path, built: LoadedIndex, path: Path) -> IndexManifest:
    """Write `built`, an index held in memory, as a new generation for the folder `path` (its manifest into
    `staging`) and make it the one served: its documents' parts through a `GenerationWriter`."""
    if built.sentences is None or not isinstance(built.sentences.terms, TermIndex):
        raise IndexBuildError("the index has no sentence units to write")
    with GenerationWriter(spec, path, built.manifest.dim) as writer:
        for part in _parts(built):
            writer.add(part)
        words = built.sentences.words
        return writer.finish(staging, built.manifest, list(words.words), words.vectors)  # type: ignore[attr-defined]


class _Part(NamedTuple):
    """One document's share of an index held in memory (an `IndexPart`)."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    unit_words: list[set[str]]
    sentence_vectors: np.ndarray


def _parts(built: LoadedIndex) -> Iterator[_Part]:
    """`built`'s documents as parts, in the order of its chunks."""
    units = built.sentences
    assert units is not None and isinstance(units.terms, TermIndex)
    vectors = built.vectors.reconstruct_n(0, built.vectors.ntotal)
    unit_words = units.terms.unit_terms()
    first = 0
    for doc_id, group in itertools.groupby(built.chunks, key=lambda chunk: chunk.doc_id):
        chunks = list(group)
        end = first + len(chunks)
        a, b = int(units.first[first]), int(units.first[end])
        words = [set(w) for w in unit_words[a:b]]
        yield _Part(built.documents[doc_id], chunks, vectors[first:end], words, np.asarray(units.vectors[a:b]))
        first = end


class GenerationWriter:
    """A new generation of the index of the folder `path` (`IndexWriter`), written as a build gives its documents'
    parts (`add`: rows inserted BATCH at a time; nothing is held but the rows waiting for the next insert and the
    words' unit counts), then sealed, indexed, loaded and served by `finish`. Leaving the `with` block without
    `finish` (an error, an interrupted build) drops what was written; the alias, and so the serving index, stays as
    it was."""

    def __init__(self, spec: StoreSpec, path: Path, dim: int) -> None:
        self.spec, self.name, self.dim = spec, collection_name(path), dim
        self.generation = f"{self.name}_g{time.time_ns()}"
        self.chunks = self.units = self.documents = 0
        self.df: Counter[str] = Counter()
        self.pending: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
        self.records = itertools.count()
        self.finished = False

    def __enter__(self) -> GenerationWriter:
        self.client = connect(self.spec, create=True)
        with guarded(self.spec, IndexBuildError):
            self.serving = serving_generation(self.client, self.name)
            _drop_generations(self.client, self.name, keep=self.serving)
            self.scalar_indexes = _scalar_indexes(self.client)
            for part, schema in _schemas(self.dim).items():
                _create_collection(self.client, self.collection(part), schema)
        return self

    def __exit__(self, *failure: object) -> None:
        if not self.finished:  # best effort: the next build drops what is left anyway
            with contextlib.suppress(Exception), guarded(self.spec, IndexBuildError):
                for part in PARTS:
                    self.client.drop_collection(self.collection(part))

    def collection(self, part: str) -> str:
        return f"{self.generation}_{part}"

    def add(self, part: IndexPart) -> None:
        """Write one document's chunks (each with its sentence units and what a hit citing it reads of the
        document: `_chunk_row`), sentence units and record."""
        spans, chunk_of, first = SentenceIndex.units(part.chunks)
        canonical, previous, following = paragraph_order(part.chunks, spans, chunk_of)
        text = part.document.text
        units: list[dict[str, Any]] = []
        for u, ((start, end), vector, words) in enumerate(zip(spans.tolist(), part.sentence_vectors, part.unit_words)):
            self.df.update(words)
            reach = spans[following[u]][0] if following[u] >= 0 else end
            place = {"start": start, "end": end, "chunk": chunk_of[u], "canonical": canonical[u]}
            place |= {"previous": previous[u], "following": following[u]}
            row = _sentence_row(text, (start, end, int(reach)), vector, words)
            units.append(row | _shifted(place, self.units, self.chunks) | {"id": self.units + u})
        document = part.document
        cites = {"doc_id": document.doc_id, "source": document.source, "metadata": document.metadata}
        cited = _varchar(json.dumps(cites, ensure_ascii=False), "a document's metadata")
        for c, (chunk, vector) in enumerate(zip(part.chunks, part.chunk_vectors)):
            self._put("chunks", _chunk_row(self.chunks + c, chunk, vector, units[first[c] : first[c + 1]], cited))
        for row in units:
            self._put("sentences", row)
        for row in _record_rows([("document", self.documents, part.document.to_dict())], self.records):
            self._put("records", row)
        self.chunks += len(part.chunks)
        self.units += len(spans)
        self.documents += 1

    def vocabulary(self) -> list[str]:
        """The words of the units added so far, sorted."""
        return sorted(self.df)

    def finish(
        self, staging: Path, manifest: IndexManifest, words: list[str], word_vectors: np.ndarray
    ) -> IndexManifest:
        """Write the term statistics, the bridge `words` with their vectors and `manifest` (naming this store and
        alias; also into `staging`); seal, index and load every collection; then make this generation the one the
        alias serves."""
        manifest = replace(manifest, store=str(self.spec), collection=self.name)
        for i, term in enumerate(self.vocabulary()):
            self._put("terms", {"id": i, "vector": _NO_VECTOR, "term": _varchar(term, "a word"), "df": self.df[term]})
        for i, (word, vector) in enumerate(zip(words, word_vectors)):
            self._put("words", {"id": i, "vector": vector, "word": word})
        for row in _record_rows([("manifest", 0, manifest.to_dict())], self.records):
            self._put("records", row)
        with guarded(self.spec, IndexBuildError), ThreadPoolExecutor(len(PARTS)) as pool:
            for part in PARTS:
                self._insert(part)
            # The collections side by side: a server takes seconds to seal each one and to load it once indexed.
            list(pool.map(functools.partial(self._seal, vector_index=manifest.vector_index), PARTS))
            list(pool.map(self.client.load_collection, map(self.collection, PARTS)))
            if self.serving is None:
                self.client.create_alias(self.collection("records"), self.name)
            else:
                self.client.alter_alias(self.collection("records"), self.name)
        self.finished = True
        write_manifest(staging, manifest)
        return manifest

    def _seal(self, part: str, vector_index: str) -> None:
        """Seal what `part` holds (a server indexes sealed segments only, and searches growing ones by scanning),
        and index it (`vector_index` for the passages)."""
        self.client.flush(self.collection(part))
        kind = vector_index if part == "chunks" else "flat"
        # sync=False: pymilvus waits for an index through a call Milvus Lite lacks; loading waits for it.
        self.client.create_index(self.collection(part), self._index_params(part, kind), sync=False)

    def _put(self, part: str, row: dict[str, Any]) -> None:
        self.pending[part].append(row)
        if len(self.pending[part]) == BATCH:
            self._insert(part)

    def _insert(self, part: str) -> None:
        if self.pending[part]:
            with guarded(self.spec, IndexBuildError):
                self.client.insert(self.collection(part), self.pending[part])
            self.pending[part] = []

    def _index_params(self, part: str, kind: str) -> Any:
        """The vector index (FLAT, or HNSW for "hnsw") and a scalar index on each field queries look up (of the
        server's type for text, for numbers: `_scalar_indexes`)."""
        params = self.client.prepare_index_params()
        if kind == "hnsw":
            hnsw = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
            params.add_index("vector", index_type="HNSW", metric_type="IP", params=hnsw)
        else:
            params.add_index("vector", index_type="FLAT", metric_type="IP")
        schema = _schemas(self.dim)[part]
        for name in schema.looked_up:
            params.add_index(name, index_type=self.scalar_indexes[0 if name in schema.texts else 1])
        return params


def _chunk_row(
    position: int, chunk: Chunk, vector: np.ndarray, units: list[dict[str, Any]], cites: str
) -> dict[str, Any]:
    """A passage's row: its vector, record, the ids of its first unit and of the one after its last, its document's
    id, source and metadata (`cites`), and its sentence units' rows as JSON (`UNIT_FIELDS`; empty when longer than
    a field holds: a reader then queries them), so that a search returning it brings what a hit on it reads."""
    record = _varchar(json.dumps(chunk.to_dict(), ensure_ascii=False), "a chunk")
    listed = json.dumps([{name: unit[name] for name in ("id", *UNIT_FIELDS)} for unit in units], ensure_ascii=False)
    return {
        "id": position,
        "vector": vector,
        "record": record,
        "first": units[0]["id"],
        "end": units[-1]["id"] + 1,
        "cites": cites,
        "units": listed if len(listed.encode("utf-8")) <= MAX_VARCHAR else "",
    }


def _sentence_row(document: str, span: tuple[int, int, int], vector: np.ndarray, words: set[str]) -> dict[str, Any]:
    """A sentence unit's vector (packed), indexed words, its lower-cased words with their initials, and its text
    with what follows it up to the next unit of its paragraph (`span`: start, end, that unit's start), so that a
    window's text is its units' texts one after another (only the sentence when that would not fit a field)."""
    start, end, reach = span
    lowered = [w.lower() for w in _WORDS.findall(document[start:end])]
    text = document[start : max(end, reach)]
    return {
        "vector": _NO_VECTOR,
        "packed": pack(vector),
        "terms": _varchar("\n".join(sorted(words)), "a sentence's words"),
        "words": _varchar(" ".join(lowered), "a sentence"),
        "initials": _initials(lowered),
        "text": text if len(text.encode("utf-8")) <= MAX_VARCHAR else _varchar(document[start:end], "a sentence"),
    }


def _shifted(place: dict[str, Any], units: int, chunks: int) -> dict[str, int]:
    """A unit's place within its document's part as ids in the whole index: units and chunks before it counted,
    -1 (no neighbour) kept."""
    out = {name: int(value) for name, value in place.items()}
    out["chunk"] += chunks
    for name in ("canonical", "previous", "following"):
        out[name] += units if out[name] >= 0 else 0
    return out


def _initials(words: list[str]) -> list[str]:
    """The distinct initials of `words` and pairs of consecutive ones; IndexBuildError past MAX_INITIALS."""
    initials = [w[0] for w in words]
    found = sorted({*initials, *(a + b for a, b in zip(initials, initials[1:]))})
    if len(found) > MAX_INITIALS:
        raise IndexBuildError("a sentence has more words than Milvus indexes in one row: use a smaller --max-chars")
    return found


def _varchar(text: str, what: str) -> str:
    if len(text.encode("utf-8")) > MAX_VARCHAR:
        raise IndexBuildError(
            f"{what} is longer than Milvus stores in one field ({MAX_VARCHAR} bytes): use a smaller --max-chars"
        )
    return text


def _record_rows(records: list[tuple[str, int, dict[str, Any]]], ids: Iterator[int]) -> Iterator[dict[str, Any]]:
    """Rows of `records` (kind, item, data): the JSON of each in PIECE_CHARS pieces, numbered from `ids`."""
    for kind, item, data in records:
        text = json.dumps(data, ensure_ascii=False)
        for first in range(0, max(len(text), 1), PIECE_CHARS):
            yield {
                "id": next(ids),
                "vector": _NO_VECTOR,
                "kind": kind,
                "item": item,
                "text": text[first : first + PIECE_CHARS],
            }


def _scalar_indexes(client: MilvusClient) -> tuple[str, str]:
    """The scalar index types (for VARCHAR fields, for numbers) the server builds: INVERTED from Milvus 2.4 (and in
    Milvus Lite), Trie and STL_SORT before."""
    version = client.get_server_version()
    found = re.match(r"v?(\d+)\.(\d+)", version)
    if found and not version.startswith("milvus_lite") and (int(found[1]), int(found[2])) < (2, 4):
        return "Trie", "STL_SORT"
    return "INVERTED", "INVERTED"


@dataclass(frozen=True)
class _Schema:
    """A collection's fields besides int64 `id` and a `vector` of `dim`: VARCHARs of the given byte lengths, other
    `numbers`, arrays of short strings of the given capacities; `looked_up` are the fields queries filter on."""

    dim: int
    texts: dict[str, int]
    numbers: dict[str, DataType] = field(default_factory=dict)
    looked_up: tuple[str, ...] = ()
    arrays: dict[str, int] = field(default_factory=dict)


def _schemas(dim: int) -> dict[str, _Schema]:
    """The collections of a generation (`PARTS`) by part."""
    places = dict.fromkeys(("start", "end", "chunk", "canonical", "previous", "following"), DataType.INT64)
    return {
        "chunks": _Schema(
            dim,
            {"record": MAX_VARCHAR, "cites": MAX_VARCHAR, "units": MAX_VARCHAR},
            {"first": DataType.INT64, "end": DataType.INT64},
        ),
        "sentences": _Schema(
            2,
            {"packed": MAX_VARCHAR, "terms": MAX_VARCHAR, "words": MAX_VARCHAR, "text": MAX_VARCHAR},
            places,
            (),
            {"initials": MAX_INITIALS},
        ),
        "terms": _Schema(2, {"term": MAX_VARCHAR}, {"df": DataType.INT64}, ("term",)),
        "words": _Schema(dim, {"word": MAX_VARCHAR}, {}, ("word",)),
        "records": _Schema(2, {"kind": 16, "text": MAX_VARCHAR}, {"item": DataType.INT64}, ("kind", "item")),
    }


def _create_collection(client: MilvusClient, collection: str, schema: _Schema) -> None:
    """An empty collection of `schema`, not indexed nor loaded: `GenerationWriter.finish` does both once written."""
    fields = client.create_schema(auto_id=False, enable_dynamic_field=False)
    fields.add_field("id", DataType.INT64, is_primary=True)
    fields.add_field("vector", DataType.FLOAT_VECTOR, dim=schema.dim)
    for name, length in schema.texts.items():
        fields.add_field(name, DataType.VARCHAR, max_length=length)
    for name, type_ in schema.numbers.items():
        fields.add_field(name, type_)
    for name, capacity in schema.arrays.items():
        fields.add_field(name, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=capacity, max_length=8)
    client.create_collection(collection, schema=fields, consistency_level="Strong")


def _drop_generations(client: MilvusClient, name: str, keep: str | None) -> None:
    """Drop every generation of `name` but `keep`: the one before it, and what interrupted builds left."""
    for collection in client.list_collections():
        if re.fullmatch(rf"{re.escape(name)}_g\d+_[a-z]+", collection) and not (
            keep and collection.startswith(keep + "_")
        ):
            client.drop_collection(collection)
