"""An index as the retriever reads it: manifest, vectors, chunks, documents and sentence units."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from kzru_rag.ingest.chunking import Chunk
from kzru_rag.ingest.documents import Document
from kzru_rag.language.entities import spells
from kzru_rag.stores.layout import file_signature
from kzru_rag.stores.manifest import IndexManifest
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.vectors import VectorSearch

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class DocumentFacts:
    """What a hit cites of its document besides text: where it came from and its metadata."""

    source: str
    metadata: dict[str, Any]


class Cited(Protocol):
    """What a store keeps with its passages of what a hit cites (`stores.milvus.views.Cited`), so that making a hit
    reads no document: None where it has not got it."""

    def text(self, units: list[int]) -> str | None: ...

    def facts(self, doc_id: str) -> DocumentFacts | None: ...


class ReadAhead(Protocol):
    """A store's background reads of what a question reads next (`stores.milvus.views.ReadAhead`)."""

    def words(self, readings: set[str]) -> None: ...

    def passages(self, chunk_ids: list[int]) -> None: ...


@dataclass
class LoadedIndex:
    """An index read from disk (or Milvus) and checked.

    From FAISS files `chunks` is a list and `documents` a dict; from Milvus they are a sequence and a mapping that
    read what is asked for (`stores.milvus.views.Chunks`, `stores.milvus.views.Documents`)."""

    path: Path
    manifest: IndexManifest
    vectors: VectorSearch
    chunks: Sequence[Chunk]
    documents: Mapping[str, Document]
    stale: list[str] = field(default_factory=list)
    sentences: SentenceIndex | None = None
    files: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)
    """(inode, size, mtime) of each index file when it was read."""
    store: Any = None
    """With Milvus: the `stores.milvus.generation.MilvusIndex` the data is read from."""
    ahead: ReadAhead | None = None
    """With Milvus: starts the reads `read_ahead` names."""
    cited: Cited | None = None
    """With Milvus: the window texts and document facts read with the passages."""
    _words: list[str] | None = field(default=None, repr=False, compare=False)

    def read_ahead(self, readings: Iterable[str] = (), passages: Iterable[int] = ()) -> None:
        """Name what a question reads next: the statistics of the words' `readings`; the bounds, records and sentence
        units of the `passages` (chunk positions). A store that queries its data (Milvus) starts reading them in the
        background, side by side, and a read of them waits for that; an index in memory has nothing to do."""
        if self.ahead is None:
            return
        if wanted := set(readings):
            self.ahead.words(wanted)
        if chunk_ids := sorted({int(c) for c in passages}):
            self.ahead.passages(chunk_ids)

    def spells(self, abbreviation: str) -> bool:
        """True when consecutive words of the documents spell `abbreviation` (`entities.spells`)."""
        if self.store is not None:
            return self.store.spells(abbreviation)
        if self._words is None:  # the documents' words, lower-cased, in order (read once)
            self._words = [w.lower() for d in self.documents.values() for w in _WORDS.findall(d.text)]
        return spells(abbreviation, self._words)

    def text_of(self, units: list[int]) -> str:
        """The document text from the start of the first of `units` to the end of the last: one sentence unit, or
        units of one paragraph in order (a hit's window)."""
        if self.cited is not None and (text := self.cited.text(units)) is not None:
            return text
        assert self.sentences is not None
        spans = self.sentences.spans
        chunk = self.chunks[int(self.sentences.chunk_of[units[0]])]
        return self.documents[chunk.doc_id].text[int(spans[units[0]][0]) : int(spans[units[-1]][1])]

    def facts_of(self, doc_id: str) -> DocumentFacts:
        """The source and metadata of the document `doc_id`."""
        if self.cited is not None and (facts := self.cited.facts(doc_id)) is not None:
            return facts
        document = self.documents[doc_id]
        return DocumentFacts(document.source, document.metadata)

    def superseded(self) -> bool:
        """True when a newer build of this index may be there to read: another process rebuilt it (`kzru-rag index
        build`, `documents add`), so the store serves a newer one (Milvus) or its files changed on disk (FAISS: they
        may also be damaged, which reading them tells); False when the store cannot tell."""
        if self.store is not None:
            return self.store.superseded()
        return bool(self.changed_on_disk())

    def changed_on_disk(self) -> list[str]:
        """Index files (or Milvus collections) deleted, rewritten or replaced since this index was read from them."""
        changed = [name for name, seen in self.files.items() if file_signature(self.path / name) != seen]
        return changed + (self.store.changed() if self.store is not None else [])
