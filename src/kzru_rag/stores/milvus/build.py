"""Writing an index to Milvus: a new generation's collections, created and filled, then the alias moved to it in
one step, so readers see the old index or the new one. The previous generation is kept for processes still
reading it and dropped by the next build, with anything an interrupted build left.

`chunks` holds passage vectors, chunk records and each chunk's first sentence unit; `sentences` per sentence unit
its vector, span, chunk, place in its paragraph, indexed words, and its lower-cased words and the initials and pairs
of consecutive initials they hold (an array: Milvus 2.3 filters strings by prefix only; for spelling
abbreviations); `terms` each indexed word and how many units hold it; `words` the word bridge's words and vectors;
`records` the manifest and the documents, as JSON in pieces.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from kzru_rag.errors import IndexBuildError
from kzru_rag.stores.loaded import LoadedIndex
from kzru_rag.stores.manifest import IndexManifest
from kzru_rag.stores.milvus.client import connect, guarded
from kzru_rag.stores.milvus.layout import BATCH, serving_generation
from kzru_rag.stores.spec import StoreSpec
from kzru_rag.stores.terms import TermIndex
from kzru_rag.stores.vectors import HNSW_EF_CONSTRUCTION, HNSW_M

PIECE_CHARS = 16_000
"""Characters of JSON per row: a VARCHAR holds 65,535 bytes, and a character takes at most 4."""
MAX_VARCHAR = 65_535
MAX_INITIALS = 4_096
"""The most elements a Milvus array field holds."""
_WORDS = re.compile(r"\w+")


def write(spec: StoreSpec, name: str, built: LoadedIndex, manifest: IndexManifest) -> None:
    """Write `built` (with `manifest`) as a new generation and make it the one `name` serves."""
    if built.sentences is None or not isinstance(built.sentences.terms, TermIndex):
        raise IndexBuildError("the index has no sentence units to write")
    client = connect(spec, create=True)
    generation = f"{name}_g{time.time_ns()}"
    with guarded(spec, IndexBuildError):
        serving = serving_generation(client, name)
        _drop_generations(client, name, keep=serving)
        _write_generation(client, generation, built, manifest)
        if serving is None:
            client.create_alias(f"{generation}_records", name)
        else:
            client.alter_alias(f"{generation}_records", name)


def _write_generation(client: MilvusClient, generation: str, built: LoadedIndex, manifest: IndexManifest) -> None:
    units, dim, terms = built.sentences, manifest.dim, built.sentences.terms  # type: ignore[union-attr]
    _create = functools.partial(_create_collection, scalar_indexes=_scalar_indexes(client))
    vectors = built.vectors.reconstruct_n(0, built.vectors.ntotal)
    chunk_rows = (
        {
            "id": i,
            "vector": v,
            "record": _varchar(json.dumps(c.to_dict(), ensure_ascii=False), "a chunk"),
            "first": int(units.first[i]),
        }
        for i, (c, v) in enumerate(zip(built.chunks, vectors))
    )
    _create(
        client, f"{generation}_chunks", dim, manifest.vector_index, {"record": MAX_VARCHAR}, {"first": DataType.INT64}
    )
    _insert(client, f"{generation}_chunks", chunk_rows)
    _create(
        client,
        f"{generation}_sentences",
        dim,
        "flat",
        {"terms": MAX_VARCHAR, "words": MAX_VARCHAR},
        dict.fromkeys(("start", "end", "chunk", "canonical", "previous", "following"), DataType.INT64),
        arrays={"initials": MAX_INITIALS},
    )
    _insert(client, f"{generation}_sentences", _sentence_rows(built))
    _create(client, f"{generation}_terms", 2, "flat", {"term": MAX_VARCHAR}, {"df": DataType.INT64}, ("term",))
    _insert(
        client,
        f"{generation}_terms",
        (
            {
                "id": i,
                "vector": np.zeros(2, dtype=np.float32),
                "term": _varchar(term, "a word"),
                "df": int(terms.indptr[i + 1] - terms.indptr[i]),
            }
            for i, term in enumerate(terms.vocabulary)
        ),
    )
    _create(client, f"{generation}_words", dim, "flat", {"word": MAX_VARCHAR}, {}, ("word",))
    _insert(
        client,
        f"{generation}_words",
        ({"id": i, "vector": v, "word": w} for i, (w, v) in enumerate(zip(units.words.words, units.words.vectors))),
    )  # type: ignore[attr-defined]
    _create(
        client,
        f"{generation}_records",
        2,
        "flat",
        {"kind": 16, "text": MAX_VARCHAR},
        {"item": DataType.INT64},
        ("kind", "item"),
    )
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
            "id": i,
            "vector": vector,
            "terms": _varchar("\n".join(terms), "a sentence's words"),
            "words": _varchar(" ".join(words), "a sentence"),
            "initials": _initials(words),
            "start": start,
            "end": end,
            "chunk": int(units.chunk_of[i]),
            "canonical": int(units.canonical[i]),
            "previous": int(units.previous[i]),
            "following": int(units.following[i]),
        }


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


def _record_rows(records: list[tuple[str, int, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Rows of `records` (kind, item, data): the JSON of each in PIECE_CHARS pieces, numbered in order."""
    row = 0
    for kind, item, data in records:
        text = json.dumps(data, ensure_ascii=False)
        for first in range(0, max(len(text), 1), PIECE_CHARS):
            yield {
                "id": row,
                "vector": np.zeros(2, dtype=np.float32),
                "kind": kind,
                "item": item,
                "text": text[first : first + PIECE_CHARS],
            }
            row += 1


def _scalar_indexes(client: MilvusClient) -> tuple[str, str]:
    """The scalar index types (for VARCHAR fields, for numbers) the server builds: INVERTED from Milvus 2.4 (and in
    Milvus Lite), Trie and STL_SORT before."""
    version = client.get_server_version()
    found = re.match(r"v?(\d+)\.(\d+)", version)
    if found and not version.startswith("milvus_lite") and (int(found[1]), int(found[2])) < (2, 4):
        return "Trie", "STL_SORT"
    return "INVERTED", "INVERTED"


def _create_collection(
    client: MilvusClient,
    collection: str,
    dim: int,
    kind: str,
    texts: dict[str, int],
    numbers: dict[str, DataType] | None = None,
    looked_up: tuple[str, ...] = (),
    scalar_indexes: tuple[str, str] = ("INVERTED", "INVERTED"),
    arrays: dict[str, int] | None = None,
) -> None:
    """A collection with int64 `id`, a `vector` of `dim` searched by inner product (FLAT, or HNSW for "hnsw"),
    VARCHAR fields of the given byte lengths and other `numbers`; the `looked_up` ones get a scalar index of
    `scalar_indexes` (for text, for numbers: queries filter on them); `arrays` are arrays of short strings of the
    given capacities."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for field, length in texts.items():
        schema.add_field(field, DataType.VARCHAR, max_length=length)
    for field, type_ in (numbers or {}).items():
        schema.add_field(field, type_)
    for field, capacity in (arrays or {}).items():
        schema.add_field(field, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=capacity, max_length=8)
    params = client.prepare_index_params()
    if kind == "hnsw":
        params.add_index(
            "vector", index_type="HNSW", metric_type="IP", params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        )
    else:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    for field in looked_up:
        params.add_index(field, index_type=scalar_indexes[0] if field in texts else scalar_indexes[1])
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


def _drop_generations(client: MilvusClient, name: str, keep: str | None) -> None:
    """Drop every generation of `name` but `keep`: the one before it, and what interrupted builds left."""
    for collection in client.list_collections():
        if re.fullmatch(rf"{re.escape(name)}_g\d+_[a-z]+", collection) and not (
            keep and collection.startswith(keep + "_")
        ):
            client.drop_collection(collection)
