"""How the retriever scores and cuts passages: `RetrievalSettings`, stored in the manifest's `retrieval` dict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPED_KINDS = frozenset({"time", "place", "duration"})
"""Answer kinds the retriever rewards. Not "person": a passage's names are rarely the person asked for. Not
"number": a quantity question whose best passages hold no number is one the documents cannot answer (see
`Retriever.abstention_reasons`), so those passages must not be re-ranked towards numbers first."""
ANSWER_TYPE_POOL = 10
SOFT_POOL = 20
"""Passages re-ranked by the soft word match (`RetrievalSettings.soft_weight`) when the question has foreign words."""


@dataclass(frozen=True)
class RetrievalSettings:
    """How the retriever scores and cuts passages; stored in the manifest's `retrieval` dict.

    Each sentence of the candidate passages is scored
    `sentence_weight * cos(query, sentence) + passage_weight * cos(query, passage)
    + lexical_weight * (IDF-weighted share of the query's words the passage contains)
    + sentence_lexical_weight * (the same share in the sentence alone)`: the last part picks, within a passage, the
    sentence that holds the question's words (an index built before it existed reads it as 0);
    a hit is the best sentence grown by its best-scoring neighbours up to `window_chars`, and further, up to
    `widen_chars`, to take in the nearest sentence of its paragraph that scores within `widen_margin` of it (when two
    sentences are close, the passage shows both rather than guess; an index built before reads 0: off).
    `candidates` passages are taken from the vector index. A query word that is neither Russian
    nor in the documents (Kazakh; English too with `bridge_latin`) also matches its `bridge_words`
    nearest indexed words whose similarity to it reaches `bridge_similarity` (see
    `lexical.WordBridge`; 0 words: off).
    A passage holding the kind of phrase the question asks for (a date for «Когда…?», a place
    for «Где…?», a number or date for "How long…?"; see `TYPED_KINDS`) gains
    `answer_type_weight`; the best `ANSWER_TYPE_POOL` passages are re-ranked with it.
    When the question has such foreign words, the best `SOFT_POOL` passages are re-ranked with `soft_weight` times
    how near each foreign word comes to a word of the passage (`WordBridge.soft_match`: the best cosine, read from
    `soft_floor` up; an index built before it existed reads 0: off), so a distinctive word the bridge's threshold
    drops («ambassador» ≈ «посол» at 0.88) still tells the passages apart.

    The document is taken to have no answer when the best hit scores below a floor that rises
    from `abstain_below_other` to `abstain_below_russian` with the share of the question's words
    that are Russian (the documents' language): a question in the documents' own language meets
    them with higher similarity and lexical overlap, so it must clear a higher bar.
    """

    sentence_weight: float = 0.35
    passage_weight: float = 0.65
    lexical_weight: float = 0.1
    sentence_lexical_weight: float = 0.2
    window_chars: int = 450
    widen_chars: int = 800
    widen_margin: float = 0.08
    candidates: int = 100
    abstain_below_russian: float = 0.84
    abstain_below_other: float = 0.76
    bridge_words: int = 2
    bridge_similarity: float = 0.9
    bridge_latin: bool = True
    answer_type_weight: float = 0.02
    soft_weight: float = 0.3
    soft_floor: float = 0.8

    def __post_init__(self) -> None:
        weights = (self.sentence_weight, self.passage_weight, self.lexical_weight, self.sentence_lexical_weight)
        if min(*weights, self.answer_type_weight, self.soft_weight) < 0:
            raise ValueError("retrieval weights must be 0 or more")
        if self.sentence_weight + self.passage_weight <= 0:
            raise ValueError("sentence_weight + passage_weight must be greater than 0")
        if self.window_chars < 0 or self.widen_chars < 0 or self.widen_margin < 0:
            raise ValueError("window_chars, widen_chars and widen_margin must be 0 or more")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if self.bridge_words < 0:
            raise ValueError("bridge_words must be 0 or more")
        if not -1 <= self.bridge_similarity <= 1:
            raise ValueError("bridge_similarity is a cosine similarity: between -1 and 1")
        if not -1 <= self.soft_floor < 1:
            raise ValueError("soft_floor is a cosine similarity: from -1 up to (not including) 1")
        if not (-2 <= self.abstain_below_other <= 2 and -2 <= self.abstain_below_russian <= 2):
            raise ValueError("abstain_below_* are scores on the scale of a cosine similarity: between -2 and 2")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "weighted sum of sentence and passage cosine and lexical coverage; sentence window",
            "weights": {
                "sentence": self.sentence_weight,
                "passage": self.passage_weight,
                "lexical": self.lexical_weight,
                "sentence_lexical": self.sentence_lexical_weight,
            },
            "lexical": "pymorphy3 readings, IDF-weighted share of query words in the passage",
            "window_chars": self.window_chars,
            "widen": {"chars": self.widen_chars, "margin": self.widen_margin},
            "candidates": self.candidates,
            "abstain_below": {"russian": self.abstain_below_russian, "other": self.abstain_below_other},
            "bridge": {
                "words": self.bridge_words,
                "min_similarity": self.bridge_similarity,
                "latin": self.bridge_latin,
            },
            "answer_type": {"weight": self.answer_type_weight, "kinds": sorted(TYPED_KINDS)},
            "soft_match": {"weight": self.soft_weight, "floor": self.soft_floor, "pool": SOFT_POOL},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RetrievalSettings":
        weights = data["weights"]
        return cls(
            sentence_weight=float(weights["sentence"]),
            passage_weight=float(weights["passage"]),
            lexical_weight=float(weights["lexical"]),
            sentence_lexical_weight=float(weights.get("sentence_lexical", 0.0)),
            window_chars=int(data["window_chars"]),
            widen_chars=int(data.get("widen", {}).get("chars", 0)),
            widen_margin=float(data.get("widen", {}).get("margin", 0.0)),
            candidates=int(data["candidates"]),
            abstain_below_russian=float(data["abstain_below"]["russian"]),
            abstain_below_other=float(data["abstain_below"]["other"]),
            bridge_words=int(data["bridge"]["words"]),
            bridge_similarity=float(data["bridge"]["min_similarity"]),
            bridge_latin=bool(data["bridge"]["latin"]),
            answer_type_weight=float(data["answer_type"]["weight"]),
            soft_weight=float(data.get("soft_match", {}).get("weight", 0.0)),
            soft_floor=float(data.get("soft_match", {}).get("floor", 0.8)),
        )
