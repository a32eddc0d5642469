"""What the machine faces (the OpenAI-compatible API, the MCP tools) say about an answer: typed, JSON-ready records.

`Reply` is an `Answer` as a client needs it: its text with [n] markers, status, confidence and the cited passages,
where marker [n] is `citations[n - 1]`; `Passage` is one passage with its place in its document. The command line's
`--json` prints `FullReply`, `FullPassage` and `FullDocumentInfo`: the same fields under the same names, and the
Python API's besides. `DocumentInfo` is a document of the collection (MCP `list_documents`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from kzru_rag.schema import AbstentionReason, Answer, Hit, Signals

if TYPE_CHECKING:
    from kzru_rag.ingest.documents import Document
    from kzru_rag.library import DocumentEntry

MAX_PASSAGES = 10
"""The most passages a face asks the retriever for (the chat's slider, the API's and the MCP tools' `k`)."""


def check_passages(k: int) -> int:
    """`k`, the passages per answer, when a face serves it (1 to MAX_PASSAGES); ValueError saying the range if not."""
    if not 1 <= k <= MAX_PASSAGES:
        raise ValueError(f"k (passages per answer) must be between 1 and {MAX_PASSAGES}")
    return k


@dataclass(frozen=True)
class Passage:
    """A passage of a document: `text` is the document's text[start:end]; `page` (PDFs and scans) and `paragraph`
    are 1-based; `highlight` the [start, end) of its sentence that answers best (None: the whole passage)."""

    document: str
    title: str
    paragraph: int | None
    page: int | None
    start: int
    end: int
    text: str
    score: float
    highlight: tuple[int, int] | None = None

    @classmethod
    def of(cls, hit: Hit) -> "Passage":
        return cls(
            document=hit.doc_id,
            title=str(hit.metadata.get("title", hit.doc_id)),
            paragraph=hit.metadata.get("paragraph"),
            page=hit.metadata.get("page"),
            start=hit.start,
            end=hit.end,
            text=hit.text,
            score=round(hit.score, 4),
            highlight=hit.highlight,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reply:
    """An answer for a client: `status` "answered", "uncertain" (the passages are leads) or "abstained" (the
    documents hold no answer); `confidence` the calibrated probability that it is right (None: not computed);
    `mode` "extractive" (quotes) or "llm"; `notice` a warning for the reader (in Russian), if any."""

    text: str
    status: str
    confidence: float | None
    mode: str
    language: str
    notice: str | None
    citations: list[Passage]

    @classmethod
    def of(cls, answer: Answer) -> "Reply":
        return cls(
            text=answer.text,
            status=answer.status,
            confidence=None if answer.confidence is None else round(answer.confidence, 4),
            mode=answer.mode,
            language=answer.language,
            notice=answer.notice,
            citations=[Passage.of(hit) for hit in answer.citations],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class FullPassage(Passage):
    """A `Passage` with the `Hit`'s own fields besides (`kzru-rag search --json`, `ask --json`): `doc_id` (the
    `document`), `chunk_id`, `metadata`, the parts of the score (`signals`) and the passage's `sentences`."""

    doc_id: str
    chunk_id: str
    metadata: dict[str, Any]
    signals: dict[str, float]
    sentences: tuple[tuple[int, int, float], ...]

    @classmethod
    def of(cls, hit: Hit) -> "FullPassage":
        passage = Passage.of(hit)
        return cls(
            **{f.name: getattr(passage, f.name) for f in fields(Passage)},
            doc_id=hit.doc_id,
            chunk_id=hit.chunk_id,
            metadata=hit.metadata,
            signals=hit.signals,
            sentences=hit.sentences,
        )


@dataclass(frozen=True, kw_only=True)
class FullReply(Reply):
    """A `Reply` whose passages are `FullPassage`s, with the `Answer`'s other fields besides (`kzru-rag ask
    --json`): `abstained`, the `query_used`, all retrieved `hits`, whether the LLM's citations were `flagged`, the
    abstention `reasons` and the confidence's `signals`."""

    abstained: bool
    query_used: str
    hits: list[FullPassage]
    flagged: bool
    reasons: list[AbstentionReason]
    signals: Signals | None

    @classmethod
    def of(cls, answer: Answer) -> "FullReply":
        reply = Reply.of(answer)
        return cls(
            **{f.name: getattr(reply, f.name) for f in fields(Reply) if f.name != "citations"},
            citations=[FullPassage.of(hit) for hit in answer.citations],
            abstained=answer.abstained,
            query_used=answer.query_used,
            hits=[FullPassage.of(hit) for hit in answer.hits],
            flagged=answer.flagged,
            reasons=answer.reasons,
            signals=answer.signals,
        )


@dataclass(frozen=True)
class DocumentInfo:
    """A document of the collection: `state` "indexed" (searchable), "changed", "removed", "replaced" or
    "pending" (added, searchable after the next rebuild); `chars` its characters (None: unreadable)."""

    name: str
    title: str
    state: str
    chars: int | None
    pages: int | None

    @classmethod
    def of(cls, entry: DocumentEntry, indexed: Mapping[str, Document]) -> "DocumentInfo":
        """`entry` with its title and page count from the index's documents (`indexed`; none when not indexed)."""
        document = indexed.get(entry.name)
        title = str(document.metadata.get("title", entry.name)) if document else entry.name
        pages = len(document.pages) if document and document.pages else None
        return cls(entry.name, title, entry.state, entry.chars, pages)


@dataclass(frozen=True, kw_only=True)
class FullDocumentInfo(DocumentInfo):
    """A `DocumentInfo` with where the document comes from (`kzru-rag documents list --json`): its `source` and
    `origin` ("bundled", "added" or "file")."""

    source: str
    origin: str

    @classmethod
    def of(cls, entry: DocumentEntry, indexed: Mapping[str, Document]) -> "FullDocumentInfo":
        info = DocumentInfo.of(entry, indexed)
        return cls(**asdict(info), source=entry.source, origin=entry.origin)
