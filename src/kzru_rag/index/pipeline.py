"""A build as batches flowing to a sink: documents are read ahead in a thread (PDF, DOCX and HTML in their sandboxed
child process) while the ones before are chunked and embedded, one document a batch, so reading and embedding
overlap and only a few read documents wait at a time.

Each `DocumentBatch` carries a document's chunks, its sentence units' words and the vectors of both; the bridge
words' vectors are in the `VectorCache` when the batches are through. A sink (the in-memory index of `build`, or a
store writing as it goes) takes the batches in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from kzru_rag.errors import IndexBuildError, KzruRagError
from kzru_rag.index.embed import VectorCache
from kzru_rag.index.progress import Tracker
from kzru_rag.ingest.chunking import Chunk, Chunker
from kzru_rag.ingest.documents import Document, SourceFile, read_source
from kzru_rag.language.words import content_words
from kzru_rag.stores.sentences import SentenceIndex
from kzru_rag.stores.terms import is_bridge_word

READ_AHEAD = 2
"""Documents read and waiting for the embedder at most: reading keeps ahead, memory stays bounded."""


@dataclass(frozen=True)
class DocumentBatch:
    """One document's share of an index: its `chunks` with their passage `chunk_vectors`, and its sentence units
    (`SentenceIndex.units` of the chunks, in order) with their `unit_words` (content-word readings) and
    `sentence_vectors`."""

    document: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    unit_words: list[set[str]]
    sentence_vectors: np.ndarray


def embedded_batches(
    documents: Iterable[Document], names: list[str], chunker: Chunker, cache: VectorCache, tracker: Tracker
) -> Iterator[DocumentBatch]:
    """The batches of `documents` (named `names`, in order), each embedded before it is given: texts the `cache`
    lacks are embedded, bridge words included, as each document comes."""
    pending = iter(documents)
    try:
        for name in names:
            tracker.reading(name)
            yield _embedded(next(pending), chunker, cache, tracker)
    finally:
        close = getattr(pending, "close", None)
        if close:  # a reader thread stops when the build does
            close()


def _embedded(document: Document, chunker: Chunker, cache: VectorCache, tracker: Tracker) -> DocumentBatch:
    """The batch of one read document, its new texts embedded."""
    chunks = chunker.run(document)
    spans, _, _ = SentenceIndex.units(chunks)
    sentences = [document.text[a:b] for a, b in spans]
    unit_words = [set().union(*content_words(text)) for text in sentences]
    words = sorted({word for unit in unit_words for word in unit if is_bridge_word(word)})
    passages = [chunk.text for chunk in chunks]
    new_passages, new_words = cache.missing(passages + sentences, words)
    tracker.read(document.doc_id, len(chunks), len(new_passages) + len(new_words))
    cache.add(new_passages, new_words, tracker.embedded_texts)
    tracker.file_done()
    return DocumentBatch(
        document, chunks, cache.passage_vectors(passages), unit_words, cache.passage_vectors(sentences)
    )


def read_ahead(
    files: list[SourceFile], known: dict[str, Document] | None, depth: int = READ_AHEAD
) -> Iterator[Document]:
    """The documents of `files` in order (`read_source`), read by a thread up to `depth` documents ahead of the
    consumer. A file that cannot be read is an IndexBuildError when its turn comes; a consumer that stops early
    stops the thread."""
    ready: queue.Queue[Document | Exception] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read_all() -> None:
        for file in files:
            try:
                item: Document | Exception = read_source(file, known)
            except Exception as exc:  # handed to the consumer, which raises it in its own thread
                item = exc
            if not _put(ready, item, stop) or isinstance(item, Exception):
                return

    threading.Thread(target=read_all, name="kzru-rag-reader", daemon=True).start()
    try:
        for _ in files:
            item = ready.get()
            if isinstance(item, KzruRagError):
                raise IndexBuildError(f"{item}; the existing index was left as it was") from item
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()


def _put(ready: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item` when there is room; False when the consumer stopped first."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
