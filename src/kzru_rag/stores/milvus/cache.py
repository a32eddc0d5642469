"""Small per-process caches of rows read from Milvus (see docs/scaling.md)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from kzru_rag.errors import IndexLoadError
from kzru_rag.stores.milvus.generation import MilvusIndex


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
            around = {
                n for i in missing for n in range(max(i - self.neighbours, 0), min(i + self.neighbours + 1, count))
            }
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
    """`row` with its vector as float32 (pymilvus gives a list of Python floats, 8 times the memory)."""
    if "vector" in row:
        row["vector"] = np.asarray(row["vector"], dtype=np.float32)
    return row
