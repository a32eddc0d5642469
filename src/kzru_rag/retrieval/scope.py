"""A search within chosen documents: their names checked against the index, the documents a question names by title
in quotes (`Titles`), and the vector index's candidates filtered to their chunks."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from kzru_rag.language.quoting import named, plain
from kzru_rag.schema import Query
from kzru_rag.stores.loaded import LoadedIndex

MIN_TITLE_CHARS = 4
"""A title or name shorter than this (`plain`) is not looked for in a question: «ИИН» may be quoted for itself."""


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


class Titles:
    """The documents of an index by their titles and names, read when a question first quotes a phrase."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self._table: dict[str, frozenset[str]] | None = None

    def named(self, query: Query) -> frozenset[str] | None:
        """The documents whose title or name (`plain`: case, «ё», quotes and dashes aside) is a phrase `query`
        quotes whole («О чём документ «Положение об отпусках ТОО «Степной ветер»»?»); None when it names none."""
        if not query.quoted:
            return None
        found = named(query.quoted, self.table())
        return frozenset().union(*found) if found else None

    def table(self) -> dict[str, frozenset[str]]:
        """Each title and name of the index's documents, `plain`, to the names of the documents so called (at least
        `MIN_TITLE_CHARS` long)."""
        if self._table is None:
            table: dict[str, set[str]] = {}
            for record in self.index.manifest.documents:
                title = str(self.index.facts_of(record.doc_id).metadata.get("title") or "")
                for called in {plain(record.doc_id), plain(title)}:
                    if len(called) >= MIN_TITLE_CHARS:
                        table.setdefault(called, set()).add(record.doc_id)
            self._table = {called: frozenset(names) for called, names in table.items()}
        return self._table


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
