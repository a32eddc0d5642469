"""Retrieval quality on a question set: hit@k, MRR, passage length and abstention, per language."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from kzru_rag.evaluation.datasets import Question, document_name
from kzru_rag.schema import Hit

CUTOFFS = (1, 3, 5)


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> list[Hit]: ...


@dataclass
class Scores:
    """Metrics over a group of answerable questions."""

    questions: int = 0
    hit: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    mean_top_chars: float = 0.0
    median_top_chars: float = 0.0
    sentence_hit1: float = 0.0
    """Share of questions whose top hit's highlighted sentence (the whole hit when none) answers them."""
    wrong_document: float | None = None
    """Share of the questions naming their document whose top hit comes from another one (None: none name it)."""


@dataclass
class Abstention:
    """How a searcher's `abstains` judged the questions: ids abstained on, by kind."""

    unanswerable: int
    answerable: int
    abstained: list[str] = field(default_factory=list)
    """Unanswerable questions rightly abstained on."""
    false: list[str] = field(default_factory=list)
    """Answerable questions wrongly abstained on."""


@dataclass
class Report:
    """Evaluation of one searcher: overall, per language, the misses at rank 1, and abstention."""

    name: str
    k: int
    overall: Scores
    by_lang: dict[str, Scores]
    unanswerable: int
    misses: list[dict[str, Any]]
    abstention: Abstention | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(searcher: Searcher, questions: list[Question], k: int = 5, name: str = "") -> Report:
    """Search every question: score the ranks of the first answering passage, and, when the
    searcher can abstain, whether it abstains on the unanswerable questions and only on them."""
    if k < max(CUTOFFS):
        raise ValueError(f"k must be at least {max(CUTOFFS)} to report hit@{max(CUTOFFS)}")
    answerable = [q for q in questions if q.gold]
    ranks: dict[str, int | None] = {}
    top_chars: dict[str, int] = {}
    top_sentence: dict[str, bool] = {}
    wrong_document: dict[str, bool] = {}
    misses = []
    abstention = (
        Abstention(len(questions) - len(answerable), len(answerable)) if hasattr(searcher, "abstains") else None
    )
    for question in questions:
        hits = searcher.search(question.question, k=k)
        if abstention is not None and searcher.abstains(question.question, hits):  # type: ignore[attr-defined]
            (abstention.false if question.gold else abstention.abstained).append(question.id)
        if not question.gold:
            continue
        rank = next((i for i, hit in enumerate(hits, 1) if any(g in hit.text for g in question.gold)), None)
        ranks[question.id] = rank
        top_chars[question.id] = len(hits[0].text) if hits else 0
        top_sentence[question.id] = bool(hits) and any(g in highlighted(hits[0]) for g in question.gold)
        if question.doc is not None:
            wrong_document[question.id] = not hits or document_name(hits[0].metadata.get("source", "")) != question.doc
        if rank != 1:
            misses.append({"id": question.id, "lang": question.lang, "question": question.question, "rank": rank})
    languages = sorted({q.lang for q in answerable})
    return Report(
        name=name,
        k=k,
        overall=_scores(answerable, ranks, top_chars, top_sentence, wrong_document),
        by_lang={
            lang: _scores([q for q in answerable if q.lang == lang], ranks, top_chars, top_sentence, wrong_document)
            for lang in languages
        },
        unanswerable=len(questions) - len(answerable),
        misses=misses,
        abstention=abstention,
    )


def _scores(
    questions: list[Question],
    ranks: dict[str, int | None],
    top_chars: dict[str, int],
    top_sentence: dict[str, bool],
    wrong_document: dict[str, bool],
) -> Scores:
    found = [ranks[q.id] for q in questions]
    n = len(found)
    if not n:
        return Scores()
    named = [wrong_document[q.id] for q in questions if q.id in wrong_document]
    return Scores(
        questions=n,
        hit={c: sum(1 for r in found if r is not None and r <= c) / n for c in CUTOFFS},
        mrr=sum(1 / r for r in found if r is not None) / n,
        mean_top_chars=float(np.mean([top_chars[q.id] for q in questions])),
        median_top_chars=float(np.median([top_chars[q.id] for q in questions])),
        sentence_hit1=sum(top_sentence[q.id] for q in questions) / n,
        wrong_document=sum(named) / len(named) if named else None,
    )


def format_reports(reports: list[Report]) -> str:
    """A plain-text table: one row per searcher, then per-language rows."""
    header = f"{'retriever':<28}{'lang':>6}{'n':>4}" + "".join(f"{f'hit@{c}':>8}" for c in CUTOFFS)
    header += f"{'MRR':>8}{'top chars':>11}{'median':>8}{'sent@1':>8}{'other doc':>11}"
    rows = [header, "-" * len(header)]
    for report in reports:
        groups = [("all", report.overall), *report.by_lang.items()]
        for lang, scores in groups:
            name = report.name if lang == "all" else ""
            row = f"{name:<28}{lang:>6}{scores.questions:>4}"
            row += "".join(f"{scores.hit.get(c, 0.0):>8.3f}" for c in CUTOFFS)
            row += f"{scores.mrr:>8.3f}{scores.mean_top_chars:>11.0f}{scores.median_top_chars:>8.0f}"
            other = "" if scores.wrong_document is None else f"{scores.wrong_document:.3f}"
            row += f"{scores.sentence_hit1:>8.3f}{other:>11}"
            rows.append(row)
    unanswerable = reports[0].unanswerable if reports else 0
    rows.append(
        f"({unanswerable} questions with empty gold excluded from hit@k and MRR; "
        "top chars: mean and median length of the top hit; sent@1: the top hit's highlighted sentence holds the "
        "answer; other doc: the top hit comes from another document than the question's `doc`)"
    )
    for report in reports:
        if (abstention := report.abstention) is not None:
            rows.append(
                f"{report.name}: abstained on {len(abstention.abstained)}/{abstention.unanswerable} unanswerable, "
                f"falsely on {len(abstention.false)}/{abstention.answerable} answerable"
                + (f" ({', '.join(abstention.false)})" if abstention.false else "")
            )
    return "\n".join(rows)


def highlighted(hit: Hit) -> str:
    if hit.highlight is None:
        return hit.text
    start, end = hit.highlight
    return hit.text[start - hit.start : end - hit.start]
