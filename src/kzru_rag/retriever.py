"""Search an index: a question in, ranked cited passages (`Hit`) out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .embedding import Embedder, load_embedder
from .errors import ModelError
from .index import LoadedIndex, load_index

MAX_QUERY_CHARS = 4000


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: `document text[start:end] == text`."""

    text: str
    score: float
    doc_id: str
    start: int
    end: int
    chunk_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    highlight: tuple[int, int] | None = None
    """Document span of the sentence that best answers the query (None: the whole passage)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Retriever:
    """Dense retrieval over a loaded index with the model it was built with."""

    def __init__(self, index: LoadedIndex, embedder: Embedder) -> None:
        _check_model(index, embedder.model_id)
        self.index = index
        self.embedder = embedder

    @classmethod
    def load(cls, path: str | Path | None = None, model: str | None = None) -> "Retriever":
        """Load the index at `path` (default: the project's `index/`) and the model it was built with."""
        index = load_index(path)
        _check_model(index, model or index.manifest.model_id)
        return cls(index, load_embedder(index.manifest.model_id))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The k passages most relevant to `query`, best first."""
        query = validate_query(query)
        if k < 1:
            raise ValueError("k must be at least 1")
        vector = self.embedder.encode_queries([query])
        scores, ids = self.index.vectors.search(vector, min(k, self.index.vectors.ntotal))
        return [make_hit(self.index, int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def abstains(self, query: str, hits: list[Hit]) -> bool:
        """True when the hits are unlikely to answer the query (the document has no answer)."""
        return not hits or hits[0].score < float(self.index.manifest.retrieval.get("abstain_below", 0.0))


def make_hit(index: LoadedIndex, position: int, score: float) -> Hit:
    """The Hit for the chunk at `position` of `index`, with its document's metadata."""
    chunk = index.chunks[position]
    document = index.documents[chunk.doc_id]
    metadata = {**document.metadata, "paragraph": chunk.paragraph, "source": document.source}
    return Hit(chunk.text, score, chunk.doc_id, chunk.start, chunk.end, chunk.chunk_id, metadata)


def _check_model(index: LoadedIndex, model_id: str) -> None:
    if model_id != index.manifest.model_id:
        raise ModelError(
            f"index at {index.path} was built with model {index.manifest.model_id!r}, not {model_id!r}: "
            f"query it with that model, or rebuild it with `kzru-rag index build --model {model_id}`"
        )


def validate_query(query: str) -> str:
    """The query, stripped and cut to MAX_QUERY_CHARS; ValueError when there is nothing to search."""
    if not isinstance(query, str):
        raise ValueError("the question must be text")
    query = query.strip()
    if not query:
        raise ValueError("the question is empty: type a question about the document")
    return query[:MAX_QUERY_CHARS]
