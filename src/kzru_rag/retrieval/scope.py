"""A search within chosen documents: their names checked against the index, and the vector index's candidates
filtered to their chunks."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from kzru_rag.stores.loaded import LoadedIndex


def chosen(index: LoadedIndex, documents: Collection[str] | None) -> frozenset[str] | None:
    """The chosen documents' names (as the index and `kzru-rag documents list` name them); None, every document,
    when none are chosen; ValueError naming any the index does not hold."""
    if not documents:
        return None
    names = frozenset([documents] if isinstance(documents, str) else documents)
    if unknown := sorted(names - {record.doc_id for record in index.manifest.documents}):
        raise ValueError(
            f"no document named {', '.join(map(repr, unknown))} in the index; `kzru-rag documents list` shows the names"
        )
    return names


def candidates(
    index: LoadedIndex, vector: np.ndarray, wanted: int, documents: frozenset[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The scores and chunk ids (one row, as `VectorSearch.search`) of the `wanted` chunks most similar to `vector`;
    with `documents`, every chunk is ranked and the best `wanted` of those documents kept."""
    if documents is None:
        return index.vectors.search(vector[None, :], wanted)
    scores, ids = index.vectors.search(vector[None, :], index.vectors.ntotal)
    keep = np.array([i >= 0 and index.chunks[int(i)].doc_id in documents for i in ids[0]], dtype=bool)
    return scores[:, keep][:, :wanted], ids[:, keep][:, :wanted]
