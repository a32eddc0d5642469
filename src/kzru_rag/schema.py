"""The data that crosses the stages: a question's language, a retrieved passage (`Hit`), why the documents hold no
answer (`AbstentionReason`), a conversation turn (`Message`) and an answer with its citations (`Answer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

QUANTITY_HITS = 3
"""A question asking for a quantity is unanswered when none of this many top hits holds one."""


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
    signals: dict[str, float] = field(default_factory=dict)
    """The parts of `score`: cosine of the `sentence` and of its `passage`, `lexical` coverage (0–1), and
    `answer_type` (1 when the passage holds the kind of phrase the question asks for; only for such questions)."""
    sentences: tuple[tuple[int, int, float], ...] = ()
    """The passage's sentences: document start, end and cosine similarity to the query (empty: not known)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def place(self, paragraph: str = "абзац", chars: str | None = "символы") -> list[str]:
        """Where the passage is in its document, as parts for a face to join: «стр. N» when the document has
        pages, the paragraph (named by `paragraph`) and, when `chars` names them, the characters."""
        parts = [f"стр. {self.metadata['page']}"] if self.metadata.get("page") else []
        parts.append(f"{paragraph} {self.metadata.get('paragraph', '?')}")
        if chars:
            parts.append(f"{chars} {self.start}–{self.end}")
        return parts


@dataclass(frozen=True)
class AbstentionReason:
    """Why the retriever takes a question to have no answer in the documents.

    `kind`: "no_passages"; "low_score" (`detail`: best score and floor); "unknown_numbers" (`detail`:
    the numbers the documents never mention); "unknown_names" (`detail`: names, places, organisations,
    abbreviations or Roman numerals the documents never mention); "no_quantity" (a quantity question whose
    top passages hold none).
    """

    kind: Literal["no_passages", "low_score", "unknown_numbers", "unknown_names", "no_quantity"]
    detail: str = ""

    def __str__(self) -> str:
        return {
            "no_passages": "no passages were found",
            "low_score": f"the best passage scores below the floor for the question's language ({self.detail})",
            "unknown_numbers": f"the documents never mention {self.detail}",
            "unknown_names": f"the documents never mention {self.detail}",
            "no_quantity": f"it asks for a quantity and none of the top {QUANTITY_HITS} passages holds one",
        }[self.kind]


Language = Literal["ru", "en", "kk"]


Status = Literal["answered", "uncertain", "abstained"]


Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class Answer:
    """An answer and the passages it cites: marker [n] in `text` is `citations[n - 1]`.

    `hits` are all passages retrieved for `query_used`, best first; a citation's `highlight` is
    the document span of its answering sentence (None: the whole passage).
    """

    text: str
    citations: list[Hit]
    abstained: bool
    query_used: str
    hits: list[Hit] = field(default_factory=list)
    mode: Literal["extractive", "llm"] = "extractive"
    language: Language = "ru"
    notice: str | None = None
    """A message for the user (in Russian): why the LLM answer was replaced or corrected."""
    flagged: bool = False
    """True when the LLM's citations had to be corrected (markers without a passage, or none at all)."""
    reasons: list[AbstentionReason] = field(default_factory=list)
    """Why the retriever took the documents to have no answer (empty when it did not)."""
    confidence: float | None = None
    """Calibrated probability that the first quote answers the question (None: abstained, or no model)."""
    status: Status = "answered"
    """"answered" (presented as the answer), "uncertain" (passages given as leads) or "abstained"."""
    signals: dict[str, float] | None = None
    """What the confidence is computed from (`confidence.Signals` of the first quote; None: not extractive)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
