"""Small per-process caches of rows read from Milvus (see docs/scaling.md)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from kzru_rag.errors import IndexLoadError
from kzru_rag.stores.milvus.generation import MilvusIndex
from kzru_rag.stores.milvus.layout import unpack


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
        with self._lock:
            found = {key: self._items[key] for key in keys if key in self._items}
            for key in found:
                self._items.move_to_end(key)
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
    its citation window; the chunk after a candidate, where its sentence units end)."""

    def __init__(
        self, store: MilvusIndex, part: str, fields: list[str], neighbours: tuple[int, int], capacity: int
    ) -> None:
        self.store, self.part, self.fields, self.neighbours = store, part, fields, neighbours
        self.cache = LRU(capacity)

    def get(self, ids: list[int], count: int) -> dict[int, dict[str, Any]]:
        """The rows of `ids` (below `count`) by id; IndexLoadError when Milvus lacks one."""
        found = self.cache.known(ids)
        if missing := set(ids) - found.keys():
            before, after = self.neighbours
            around = {n for i in missing for n in range(max(i - before, 0), min(i + after + 1, count))}
            fetched = {
                int(row["id"]): _compact(row)
                for row in self.store.by_id(self.part, sorted(around - found.keys()), self.fields)
            }
            self.cache.keep(fetched)
            found.update(fetched)
        if absent := [i for i in ids if i not in found]:
            raise IndexLoadError(
                f"the Milvus index at {self.store.spec.uri} lacks {self.part} {absent[:5]}: rebuild it"
            )
        return found


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its vector as float32 (pymilvus gives a list of Python floats, 8 times the memory; a `packed` one
    is unpacked)."""
    if "packed" in row:
        row["vector"] = unpack(row.pop("packed"))
    elif "vector" in row:
        row["vector"] = np.asarray(row["vector"], dtype=np.float32)
    return row
