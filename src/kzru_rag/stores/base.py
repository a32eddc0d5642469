"""What a store is: the `Store` protocol an index's storage implements (FAISS files, Milvus collections), found by
entry point, and the `VectorSearch` the retriever needs of its passage vectors.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorSearch(Protocol):
    """What the retriever needs from a store's passage vectors (a FAISS index has it)."""

    ntotal: int
    d: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best rows for each query, best first, ids -1 where there are fewer."""
        ...

    def reconstruct_n(self, first: int, count: int) -> np.ndarray:
        """Rows first..first+count-1 as an array."""
        ...
