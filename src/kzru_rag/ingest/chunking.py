"""Russian-aware chunking: paragraphs → sentences (razdel) → chunks with offsets."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from razdel import sentenize

from kzru_rag.ingest.documents import Document

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
LONG_SENTENCE_CHARS = 1000

Span = tuple[int, int]


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: `document.text[start:end] == text`; `metadata["page"]` is its 1-based
    page in a PDF (pages are separated by paragraph breaks, so a chunk lies on one page)."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    paragraph: int
    sentences: tuple[Span, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sentences"] = [list(span) for span in self.sentences]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Chunk":
        sentences = tuple((int(a), int(b)) for a, b in data.get("sentences", ()))
        return cls(**{**data, "sentences": sentences})


def paragraphs(text: str, start: int = 0) -> Iterator[Span]:
    """Spans of the paragraphs (blocks separated by blank lines) of text[start:], stripped."""
    position = start
    for match in _PARAGRAPH_BREAK.finditer(text, start):
        yield from _stripped(text, position, match.start())
        position = match.end()
    yield from _stripped(text, position, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def sentences(text: str, span: Span, max_chars: int = LONG_SENTENCE_CHARS) -> list[Span]:
    """Sentence spans of a paragraph (razdel); a split inside «…» is undone; over-long ones are cut at spaces."""
    base = span[0]
    merged: list[Span] = []
    for sentence in sentenize(text[span[0] : span[1]]):
        start, end = base + sentence.start, base + sentence.stop
        if merged and _inside_quote(text, *merged[-1]) and end - merged[-1][0] <= max_chars:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [piece for start, end in merged for piece in _cut(text, start, end, max_chars)]


def _inside_quote(text: str, start: int, end: int) -> bool:
    """True when text[start:end] opens more «…» quotes than it closes."""
    part = text[start:end]
    return part.count("«") > part.count("»")


def _cut(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        cut = cut if cut > start else start + max_chars
        yield start, cut
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        yield start, end


@dataclass(frozen=True)
class Chunker:
    """Packs whole sentences of one paragraph into chunks of at most `max_chars`.

    Chunks never cross a paragraph boundary; consecutive chunks of a paragraph share
    `overlap` sentences.
    """

    max_chars: int = 500
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise ValueError("max_chars must be at least 50")
        if self.overlap < 0:
            raise ValueError("overlap must be 0 or more sentences")

    def to_dict(self) -> dict[str, Any]:
        return {"max_chars": self.max_chars, "overlap": self.overlap}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Chunker":
        return cls(max_chars=int(data["max_chars"]), overlap=int(data["overlap"]))

    def run(self, document: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        text = document.text
        for number, span in enumerate(paragraphs(text, document.body_start), start=1):
            for group in self._groups(sentences(text, span, max(self.max_chars, LONG_SENTENCE_CHARS))):
                start, end = group[0][0], group[-1][1]
                chunks.append(
                    Chunk(
                        chunk_id=f"{document.doc_id}#{len(chunks)}",
                        doc_id=document.doc_id,
                        text=text[start:end],
                        start=start,
                        end=end,
                        paragraph=number,
                        sentences=tuple(group),
                        metadata={"page": document.page_at(start)} if document.pages else {},
                    )
                )
        return chunks

    def _groups(self, spans: list[Span]) -> Iterator[list[Span]]:
        first = 0
        while first < len(spans):
            last = first
            while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= self.max_chars:
                last += 1
            yield spans[first : last + 1]
            if last + 1 >= len(spans):
                return
            first = max(last + 1 - self.overlap, first + 1)
