"""The FAISS index over passage vectors: exact inner-product search (flat), or an HNSW graph for large corpora."""

from __future__ import annotations

from typing import Protocol

import faiss
import numpy as np

VECTOR_INDEXES = ("flat", "hnsw")
"""FAISS index kinds: exact inner-product search, or an HNSW graph (approximate, for 100k+ passages)."""
HNSW_FROM_PASSAGES = 50_000
"""Where "auto" switches from flat to HNSW: flat search time grows with the corpus (bench/scale.py: 2.1x the
one-document query time at 100k passages, HNSW 1.2x with recall@10 1.0)."""
# efSearch covers the retriever's 100 candidate passages: recall@100 0.999 vs flat at 100k passages (bench/scale.py)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512


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


def chosen_kind(kind: str, passages: int) -> str:
    """`kind`, where "auto" is HNSW for HNSW_FROM_PASSAGES passages or more and flat below."""
    if kind != "auto":
        return kind
    return "hnsw" if passages >= HNSW_FROM_PASSAGES else "flat"


def faiss_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    """An inner-product FAISS index of `kind` holding the unit `vectors`."""
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def kind_of(index: faiss.Index) -> str:
    """The kind of a FAISS index: "hnsw" or "flat"."""
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"
