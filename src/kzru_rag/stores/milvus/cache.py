"""Small per-process caches of rows read from Milvus (see docs/scaling.md)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from kzru_rag.errors import IndexLoadError
from kzru_rag.stores.milvus.generation import MilvusIndex
from kzru_rag.stores.milvus.layout import unpack

READERS = 4
"""Threads reading from Milvus in the background for the process's questions (a question starts two at once)."""
_readers: ThreadPoolExecutor | None = None
_starting = threading.Lock()
QUERIED = 16_384
"""Rows a query by filter returns at most (Milvus's limit)."""
_ABSENT = object()


class Background:
    """Reads started in the background (`start`), each with the keys it brings (None: not known beforehand), and
    waited for (`settle`) by a read of those keys before it looks in its cache. A read that fails is left to the
    caller, which reads what is still missing itself (and so reports the failure)."""

    def __init__(self) -> None:
        self._reads: list[tuple[Future[Any], frozenset[Any] | None]] = []
        self._lock = threading.Lock()

    def start(self, read: Callable[[], object], keys: frozenset[Any] | None) -> None:
        global _readers
        with _starting:
            _readers = _readers or ThreadPoolExecutor(READERS, thread_name_prefix="kzru-milvus")
        future = _readers.submit(read)
        with self._lock:
            self._reads = [(f, k) for f, k in self._reads if not f.done()] + [(future, keys)]

    def in_flight(self) -> set[Any]:
        """The keys of the reads still running."""
        with self._lock:
            return {key for future, keys in self._reads if keys and not future.done() for key in keys}

    def settle(self, keys: Iterable[Any]) -> None:
        """Wait for the reads that bring any of `keys` or whose keys are not known."""
        with self._lock:
            pending = [(f, covers) for f, covers in self._reads if not f.done()]
        if not pending:
            return
        wanted = set(keys)
        reads = [f for f, covers in pending if covers is None or covers & wanted]
        if reads:  # a question reads thousands of cached rows: most find nothing to wait for
            wait(reads)


class LRU:
    """A bounded, thread-safe map keeping the most recently used items: at most `capacity` of them, or of their
    total `size` when one is given (a document's characters)."""

    def __init__(self, capacity: int, size: Callable[[Any], int] | None = None) -> None:
        self.capacity, self.size = capacity, size or (lambda _: 1)
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def known(self, keys: Any) -> dict[Any, Any]:
        found = {}
        with self._lock:
            items = self._items
            for key in keys:
                if (item := items.get(key, _ABSENT)) is not _ABSENT:
                    found[key] = item
                    items.move_to_end(key)
        return found

    def keep(self, items: dict[Any, Any]) -> None:
        with self._lock:
            for key, value in items.items():
                if key in self._items:
                    self._held -= self.size(self._items[key])
                self._items[key] = value
                self._items.move_to_end(key)
                self._held += self.size(value)
            while self._held > self.capacity and len(self._items) > 1:
                self._held -= self.size(self._items.popitem(last=False)[1])


class Rows:
    """Rows of one collection fetched by id and kept in an LRU; a fetch brings the `neighbours` (before, after)
    ids around each too, in the same round trip: what the retriever reads next (the sentences around a hit, to grow
    its citation window; the chunk after a candidate, where its sentence units end). `ahead` and `ahead_where`
    start such fetches in the background; `get` waits for them."""

    def __init__(
        self, store: MilvusIndex, part: str, fields: list[str], neighbours: tuple[int, int], capacity: int
    ) -> None:
        self.store, self.part, self.fields, self.neighbours = store, part, fields, neighbours
        self.cache = LRU(capacity)
        self.background = Background()

    def get(self, ids: list[int], count: int) -> dict[int, dict[str, Any]]:
        """The rows of `ids` (below `count`) by id; IndexLoadError when Milvus lacks one."""
        self.background.settle(ids)
        found = self.cache.known(ids)
        if len(found) < len(ids) and (missing := set(ids) - found.keys()):
            found.update(self._fetch(sorted(self._around(missing, count) - found.keys())))
        if absent := [i for i in ids if i not in found]:
            raise IndexLoadError(
                f"the Milvus index at {self.store.spec.uri} lacks {self.part} {absent[:5]}: rebuild it"
            )
        return found

    def ahead(self, ids: list[int], count: int) -> None:
        """Start fetching the rows of `ids` (below `count`) that are not cached, with their neighbours."""
        if missing := set(ids) - self.cache.known(ids).keys():
            wanted = sorted(self._around(missing, count) - self.cache.known(ids).keys())
            self.background.start(lambda: self._fetch(wanted), frozenset(wanted))

    def ahead_where(self, field: str, values: list[int], count: int, links: tuple[str, str]) -> None:
        """Start fetching the rows whose `field` is one of `values` (their ids unknown until they come), then the
        neighbours of those that the (previous, next) `links` lead out of them to (a second fetch, waited for
        only by a read of its ids)."""

        def read() -> None:
            rows = self.keep_rows(
                self.store.query(self.part, f"{field} in {sorted(values)}", self.fields, limit=QUERIED)
            )
            self._ahead_linked(rows, count, links)

        self.background.start(read, None)

    def ahead_linked(self, ids: list[int], count: int, links: tuple[str, str]) -> None:
        """Start fetching the neighbours that the (previous, next) `links` of the cached rows of `ids` lead out of
        them to."""
        self._ahead_linked(self.cache.known(ids), count, links)

    def _ahead_linked(self, rows: dict[int, dict[str, Any]], count: int, links: tuple[str, str]) -> None:
        linked = {row[link] for row in rows.values() for link in links if row[link] >= 0} - rows.keys()
        outside = self._around(linked, count) - rows.keys()
        if wanted := sorted(outside - self.cache.known(outside).keys()):
            self.background.start(lambda: self._fetch(wanted), frozenset(wanted))

    def _around(self, ids: set[int], count: int) -> set[int]:
        before, after = self.neighbours
        return {n for i in ids for n in range(max(i - before, 0), min(i + after + 1, count))}

    def _fetch(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        return self.keep_rows(self.store.by_id(self.part, ids, self.fields))

    def keep_rows(self, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Cache `rows` (read elsewhere: with a search's hits) by id; they hold `id` and this collection's `fields`."""
        fetched = {int(row["id"]): _compact(row) for row in rows}
        self.cache.keep(fetched)
        return fetched


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its vector as float32 (pymilvus gives a list of Python floats, 8 times the memory; a `packed` one
    is unpacked), and a unit's indexed words as a set."""
    if "terms" in row:
        row["terms"] = frozenset(row["terms"].split("\n")) if row["terms"] else frozenset()
    if "packed" in row:
        row["vector"] = unpack(row.pop("packed"))
    elif "vector" in row:
        row["vector"] = np.asarray(row["vector"], dtype=np.float32)
    return row
