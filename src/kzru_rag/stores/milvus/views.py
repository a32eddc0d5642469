"""A Milvus index seen as the in-memory one is (`index.SentenceIndex`, `index.LoadedIndex`): columns, chunks,
documents, term statistics, bridge words and passage vectors, each fetching from Milvus what a query reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.language.words import Readings
from kzru_rag.stores.loaded import DocumentFacts
from kzru_rag.stores.manifest import SourceRecords
from kzru_rag.stores.milvus.cache import LRU, Background, Rows
from kzru_rag.stores.milvus.generation import MilvusIndex, like, quoted
from kzru_rag.stores.milvus.layout import BATCH, paged_rows, stacked
from kzru_rag.stores.terms import idf
from kzru_rag.stores.vectors import HNSW_EF_SEARCH

CACHE_ITEMS = 100_000
"""Term statistics, prefixes and bridge-word answers kept in process (a few MiB)."""
CACHE_DOCUMENT_CHARS = 4_000_000
"""Characters of recently read documents kept in process (up to ~8 MiB for Cyrillic text); the latest one always."""
SEARCH_RECORDS = 1_000
"""A passage search for at most this many returns the passages' rows with its hits (`PassageVectors.search`)."""


class Column:
    """One or more fields of `rows` indexed like an array of `count` rows: `column[i]`, `column[ids]`."""

    def __init__(self, rows: Rows, count: int, fields: tuple[str, ...], dtype: Any = np.int64) -> None:
        self.rows, self.count, self.fields, self.dtype = rows, count, fields, np.dtype(dtype)
        self.shape = (count,) if len(fields) == 1 else (count, len(fields))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, ids: Any) -> np.ndarray:
        if np.ndim(ids) == 0:  # one row: the retriever walks a window a unit at a time
            i = int(ids)
            return np.array(self._value(self.rows.get([i], self.count)[i]), dtype=self.dtype)[()]
        wanted = np.asarray(ids, dtype=np.int64).tolist()
        rows = self.rows.get(wanted, self.count)
        values = [self._value(rows[i]) for i in wanted]
        return np.asarray(values, dtype=self.dtype) if values else np.empty((0, *self.shape[1:]), dtype=self.dtype)

    def _value(self, row: dict[str, Any]) -> Any:
        return row[self.fields[0]] if len(self.fields) == 1 else [row[field] for field in self.fields]


class Starts:
    """Each chunk's first sentence unit, indexed like `SentenceIndex.first` (`count` chunks and one past the last,
    which is `units`): from the chunk's row, or from the `end` of the row before it, so that a candidate passage's
    row (which its search brings) bounds its units without the next chunk's row being read."""

    def __init__(self, rows: Rows, count: int, units: int) -> None:
        self.rows, self.count, self.units = rows, count, units

    def __len__(self) -> int:
        return self.count + 1

    def __getitem__(self, ids: Any) -> np.ndarray:
        wanted = [int(i) for i in np.atleast_1d(np.asarray(ids, dtype=np.int64))]
        self.rows.background.settle({n for i in wanted for n in (i - 1, i)})
        known = self.rows.cache.known({n for i in wanted for n in (i - 1, i) if 0 <= n < self.count})
        missing = [i for i in wanted if i < self.count and i not in known and i - 1 not in known]
        known.update(self.rows.get(missing, self.count) if missing else {})
        values = [
            self.units if i >= self.count else known[i]["first"] if i in known else known[i - 1]["end"] for i in wanted
        ]
        out = np.asarray(values, dtype=np.int64)
        return out[0] if np.ndim(ids) == 0 else out


class ChunkRows(Rows):
    """The rows of `chunks`, each bringing its sentence units' rows (kept in `units`) and its document's source and
    metadata (kept in `cited`) when it has them: what a hit on the passage reads.

    A passage search brings its hits' rows (`searched`, `found`): with their units while most of the last search's
    hits were not cached, without them (the units then read by chunk where missing) while most were, as when
    follow-up questions come back to the same passages: there the units would only slow the search."""

    def __init__(self, store: MilvusIndex, units: Rows, cited: Cited, capacity: int) -> None:
        super().__init__(store, "chunks", ["first", "end", "record", "cites", "units"], (0, 0), capacity)
        self.units, self.cited = units, cited
        self.with_units = True

    def searched(self) -> list[str]:
        """The fields a passage search asks for."""
        return self.fields if self.with_units else [name for name in self.fields if name != "units"]

    def found(self, rows: list[dict[str, Any]]) -> None:
        """Keep the rows a passage search brought, and whether the next one asks for their units."""
        self.with_units = 2 * len(self.cache.known(row["id"] for row in rows)) < len(rows)
        self.keep_rows(rows)

    def keep_rows(self, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        units: list[dict[str, Any]] = []
        for row in rows:
            units += orjson.loads(row.pop("units", "") or "[]")
            self.cited.keep(orjson.loads(row.pop("cites")))
        self.units.keep_rows(units)
        return super().keep_rows(rows)


class Cited:
    """What a hit cites, from the rows read with its passages (`loaded.Cited`): a window's text from its units'
    texts (each reaches to the next unit of its paragraph), a document's source and metadata from its chunks'
    rows (an LRU of them)."""

    def __init__(self, units: Rows, count: int) -> None:
        self.units, self.count = units, count
        self.documents = LRU(CACHE_ITEMS)

    def keep(self, cites: dict[str, Any]) -> None:
        self.documents.keep({cites["doc_id"]: DocumentFacts(cites["source"], cites["metadata"])})

    def facts(self, doc_id: str) -> DocumentFacts | None:
        return self.documents.known([doc_id]).get(doc_id)

    def text(self, units: list[int]) -> str | None:
        """The text from the first of `units` to the end of the last; None when their texts do not join up."""
        rows = self.units.get(units, self.count)
        pieces = [rows[u] for u in units]
        if any(row["start"] + len(row["text"]) != after["start"] for row, after in zip(pieces, pieces[1:])):
            return None
        last = pieces[-1]
        return "".join(row["text"] for row in pieces[:-1]) + last["text"][: last["end"] - last["start"]]


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
        return Chunk.from_dict(orjson.loads(self.rows.get([position], self.count)[position]["record"]))

    def __iter__(self) -> Iterator[Chunk]:
        """Every chunk, read page by page (for whole-index tools such as evaluation baselines)."""
        for row in self.rows.store.rows("chunks", ["record"]):
            yield Chunk.from_dict(orjson.loads(row["record"]))


class Documents(Mapping[str, Document]):
    """The documents of a Milvus index by id, each read when asked for, or several in one query (`many`); an LRU
    keeps recent ones. Which documents there are comes from the manifest's compact records (`SourceRecords`)."""

    def __init__(self, store: MilvusIndex, sources: SourceRecords) -> None:
        self.store, self.sources = store, sources
        self.cache = LRU(CACHE_DOCUMENT_CHARS, size=lambda document: len(document.text))

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self) -> Iterator[str]:
        return (source.doc_id for source in self.sources)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.sources.position(doc_id) is not None

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self:
            raise KeyError(doc_id)
        return self.many([doc_id])[doc_id]

    def many(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents of `doc_ids` (known ones), those not in the cache read together: one query for as many
        as the cache holds."""
        items = {
            doc_id: item for doc_id in dict.fromkeys(doc_ids) if (item := self.sources.position(doc_id)) is not None
        }
        found = self.cache.known(items)
        missing = {doc_id: self.sources.chars(item) for doc_id, item in items.items() if doc_id not in found}
        for group in _within(missing, list(missing), CACHE_DOCUMENT_CHARS):
            read = self.store.records("document", [items[doc_id] for doc_id in group])
            fetched = {doc_id: Document.from_dict(read[items[doc_id]]) for doc_id in group}
            self.cache.keep(fetched)
            found.update(fetched)
        return {doc_id: found[doc_id] for doc_id in items}


def _within(sizes: dict[str, int], keys: list[str], budget: int) -> Iterator[list[str]]:
    """`keys` in order, in groups whose `sizes` add up to at most `budget` (a bigger key alone)."""
    group: list[str] = []
    held = 0
    for key in keys:
        if group and held + sizes[key] > budget:
            yield group
            group, held = [], 0
        group.append(key)
        held += sizes[key]
    if group:
        yield group


class Terms:
    """Term statistics of a Milvus index (`lexical.TermStatistics`): document frequencies and prefixes queried from
    the `terms` collection, a unit's words from its row."""

    def __init__(self, store: MilvusIndex, units: Rows, size: int) -> None:
        self.store, self.units, self.size = store, units, size
        self._df, self._prefixes = LRU(CACHE_ITEMS), LRU(CACHE_ITEMS)
        self.background = Background()

    def ahead(self, readings: set[str]) -> None:
        """Start reading the frequencies of `readings` not cached nor being read, in the background."""
        missing = readings - self._df.known(readings).keys() - self.background.in_flight()
        if missing:
            self.background.start(lambda: self._fetch(missing), frozenset(missing))

    def _frequencies(self, readings: set[str]) -> dict[str, int]:
        """The number of units holding each reading (0: none)."""
        self.background.settle(readings)
        found = self._df.known(readings)
        if missing := readings - found.keys():
            found.update(self._fetch(missing))
        return found

    def _fetch(self, readings: set[str]) -> dict[str, int]:
        listed = sorted(readings)
        fetched = dict.fromkeys(listed, 0)
        for first in range(0, len(listed), BATCH):
            rows = self.store.query("terms", f"term in {quoted(listed[first : first + BATCH])}", ["term", "df"])
            fetched.update({row["term"]: int(row["df"]) for row in rows})
        self._df.keep(fetched)
        return fetched

    def frequency(self, readings: Readings) -> int:
        frequencies = self._frequencies(set(readings))
        return max((frequencies[r] for r in readings), default=0)

    def absent(self, words: list[Readings]) -> list[Readings]:
        frequencies = self._frequencies({r for readings in words for r in readings})
        return [readings for readings in words if not any(frequencies[r] for r in readings)]

    def has_prefix(self, stem: str) -> bool:
        if known := self._prefixes.known([stem]):
            return known[stem]
        rows = self.store.query("terms", f'term like "{like(stem)}%"', ["term"], limit=1)
        found = bool(rows) and rows[0]["term"].startswith(stem)
        self._prefixes.keep({stem: found})
        return found

    def coverage(self, words: list[Readings], units: np.ndarray, groups: np.ndarray, group_count: int) -> np.ndarray:
        """As `lexical.TermIndex.coverage`, from the candidate units' rows and the words' frequencies."""
        frequencies = self._frequencies({r for readings in words for r in readings})
        listed = units.tolist()
        held = {u: row["terms"] for u, row in self.units.get(sorted(set(listed)), self.size).items()}
        share = np.zeros(group_count, dtype=np.float64)
        total = 0.0
        for readings in words:
            known = [r for r in readings if frequencies[r]]
            weight = float(idf(max((frequencies[r] for r in known), default=0), self.size))
            total += weight
            wanted = frozenset(known)
            found = np.array([not wanted.isdisjoint(held[u]) for u in listed], dtype=bool)
            hit = np.zeros(group_count, dtype=bool)
            hit[groups[found]] = True
            share[hit] += weight
        return share / total if total else share


class ReadAhead:
    """Reads of what a question reads next, started in the background when the retriever names it
    (`LoadedIndex.read_ahead`): term statistics; for the candidate passages, their rows when not cached (`chunks` by
    id: a search brings them, with their sentence units: `PassageVectors`, `ChunkRows`), the units of those that
    did not bring them (`sentences` by chunk), and the units a window can grow into beyond them. What is cached is
    not read again."""

    def __init__(self, terms: Terms, chunks: Rows, units: Rows, counts: tuple[int, int]) -> None:
        self.terms, self.chunks, self.units = terms, chunks, units
        self.chunk_count, self.unit_count = counts

    def words(self, readings: set[str]) -> None:
        self.terms.ahead(readings)

    def passages(self, chunk_ids: list[int]) -> None:
        """Start reading the rows of the passages `chunk_ids` not cached (a search brings them with their units),
        the units of those whose units are not cached, and the units their windows can grow into beyond them."""
        self.chunks.ahead(chunk_ids, self.chunk_count)
        cold = [c for c in chunk_ids if not self._cached(c)]
        if cold:
            self.units.ahead_where("chunk", cold, self.unit_count, ("previous", "following"))
        if warm := [c for c in chunk_ids if c not in cold]:
            self.units.ahead_linked(self._units(warm), self.unit_count, ("previous", "following"))

    def _units(self, chunk_ids: list[int]) -> list[int]:
        bounds = self.chunks.cache.known(chunk_ids)
        return [u for row in bounds.values() for u in range(row["first"], row["end"])]

    def _cached(self, chunk: int) -> bool:
        """True when the sentence units of `chunk` are known to be cached (its bounds are)."""
        bounds = self.chunks.cache.known([chunk])
        if chunk not in bounds:
            return False
        units = range(bounds[chunk]["first"], bounds[chunk]["end"])
        return len(self.units.cache.known(units)) == len(units)


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
        found = self.store.search(
            "words", [v.astype(np.float32).tolist() for v in vectors], count, {"metric_type": "IP"}, ["word"]
        )
        return [[(hit["entity"]["word"], float(hit["distance"])) for hit in hits] for hits in found]

    def vectors_of(self, words: set[str]) -> np.ndarray:
        listed = sorted(words)
        rows: list[dict[str, Any]] = []
        for first in range(0, len(listed), BATCH):
            rows += self.store.query("words", f"word in {quoted(listed[first : first + BATCH])}", ["vector"])
        rows.sort(key=lambda row: row["id"])
        return np.array([row["vector"] for row in rows], dtype=np.float32).reshape(len(rows), -1)

    def vectors_by_word(self, words: set[str]) -> dict[str, np.ndarray]:
        listed = sorted(words)
        found: dict[str, np.ndarray] = {}
        for first in range(0, len(listed), BATCH):
            chosen = f"word in {quoted(listed[first : first + BATCH])}"
            for row in self.store.query("words", chosen, ["word", "vector"]):
                found[row["word"]] = np.asarray(row["vector"], dtype=np.float32)
        return found


class PassageVectors:
    """The chunk vectors of a Milvus index, searched by the engine (FAISS-like: see `stores.VectorSearch`). With
    `rows`, a search for up to `SEARCH_RECORDS` passages brings their rows too, and leaves them in that cache."""

    def __init__(self, store: MilvusIndex, count: int, dim: int, kind: str, rows: ChunkRows | None = None) -> None:
        self.store, self.ntotal, self.d, self.rows = store, count, dim, rows
        self.collection = store.collection("chunks")
        self.params: dict[str, Any] = {"metric_type": "IP"}
        if kind == "hnsw":
            self.params["params"] = {"ef": HNSW_EF_SEARCH}

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        fields = self.rows.searched() if self.rows is not None and k <= SEARCH_RECORDS else []
        found = self.store.search("chunks", [q.astype(np.float32).tolist() for q in queries], k, self.params, fields)
        for row, hits in enumerate(found):
            for place, hit in enumerate(hits):
                scores[row, place], ids[row, place] = hit["distance"], hit["id"]
            if fields:
                self.rows.found([{"id": hit["id"], **hit["entity"]} for hit in hits])  # type: ignore[union-attr]
        return scores, ids

    def reconstruct_n(self, first: int, count: int) -> np.ndarray:
        with self.store.calls():
            rows = paged_rows(self.store.client, self.collection, ["vector"], first, count)
        return stacked(rows, first, count, self.d)
