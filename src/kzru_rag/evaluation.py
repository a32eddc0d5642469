"""Retrieval quality on a question set: hit@k, MRR, passage length, per language."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from .chunking import Chunker
from .errors import KzruRagError
from .index import LoadedIndex, index_documents
from .lexical import BM25
from .retriever import Hit, Retriever, make_hit, validate_query

CUTOFFS = (1, 3, 5)


class Searcher(Protocol):
    def search(self, query: str, k: int = 5) -> list[Hit]: ...


@dataclass(frozen=True)
class Question:
    """One evaluation question; `gold` lists exact substrings of a passage that answers it."""

    id: str
    question: str
    lang: str
    gold: list[str]


@dataclass
class Scores:
    """Metrics over a group of answerable questions."""

    questions: int = 0
    hit: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    mean_top_chars: float = 0.0


@dataclass
class Report:
    """Evaluation of one searcher: overall, per language, and the misses at rank 1."""

    name: str
    k: int
    overall: Scores
    by_lang: dict[str, Scores]
    unanswerable: int
    misses: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSONL question file (`{"id","question","lang","gold"}` a line)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KzruRagError(f"cannot read question file {path}: {exc}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            questions.append(
                Question(str(record["id"]), str(record["question"]), str(record.get("lang", "?")), list(record["gold"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KzruRagError(
                f"{path}:{number}: expected a JSON object with id, question, lang, gold ({exc})"
            ) from exc
    if not questions:
        raise KzruRagError(f"{path}: no questions in the file")
    return questions


def evaluate(searcher: Searcher, questions: list[Question], k: int = 5, name: str = "") -> Report:
    """Search every answerable question and score the ranks of the first answering passage."""
    if k < max(CUTOFFS):
        raise ValueError(f"k must be at least {max(CUTOFFS)} to report hit@{max(CUTOFFS)}")
    answerable = [q for q in questions if q.gold]
    ranks: dict[str, int | None] = {}
    top_chars: dict[str, int] = {}
    misses = []
    for question in answerable:
        hits = searcher.search(question.question, k=k)
        rank = next((i for i, hit in enumerate(hits, 1) if any(g in hit.text for g in question.gold)), None)
        ranks[question.id] = rank
        top_chars[question.id] = len(hits[0].text) if hits else 0
        if rank != 1:
            misses.append({"id": question.id, "lang": question.lang, "question": question.question, "rank": rank})
    languages = sorted({q.lang for q in answerable})
    return Report(
        name=name,
        k=k,
        overall=_scores(answerable, ranks, top_chars),
        by_lang={lang: _scores([q for q in answerable if q.lang == lang], ranks, top_chars) for lang in languages},
        unanswerable=len(questions) - len(answerable),
        misses=misses,
    )


def _scores(questions: list[Question], ranks: dict[str, int | None], top_chars: dict[str, int]) -> Scores:
    found = [ranks[q.id] for q in questions]
    n = len(found)
    if not n:
        return Scores()
    return Scores(
        questions=n,
        hit={c: sum(1 for r in found if r is not None and r <= c) / n for c in CUTOFFS},
        mrr=sum(1 / r for r in found if r is not None) / n,
        mean_top_chars=float(np.mean([top_chars[q.id] for q in questions])),
    )


class BM25Searcher:
    """Baseline: plain BM25 (no morphology) over the index's passages."""

    def __init__(self, index: LoadedIndex, lemmas: bool = False) -> None:
        self.index = index
        self.bm25 = BM25([chunk.text for chunk in index.chunks], lemmas=lemmas)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        scores = self.bm25.scores(validate_query(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [make_hit(self.index, int(i), float(scores[i])) for i in order]


def baselines(retriever: Retriever) -> dict[str, Searcher]:
    """Whole-paragraph baselines over the retriever's documents: dense only, and plain BM25."""
    paragraphs = index_documents(
        list(retriever.index.documents.values()), retriever.embedder, Chunker(max_chars=1_000_000)
    )
    return {
        "dense, paragraphs": Retriever(paragraphs, retriever.embedder),
        "BM25, paragraphs": BM25Searcher(paragraphs),
    }


def format_reports(reports: list[Report]) -> str:
    """A plain-text table: one row per searcher, then per-language rows."""
    header = f"{'retriever':<28}{'lang':>6}{'n':>4}" + "".join(f"{f'hit@{c}':>8}" for c in CUTOFFS)
    header += f"{'MRR':>8}{'top chars':>11}"
    rows = [header, "-" * len(header)]
    for report in reports:
        groups = [("all", report.overall), *report.by_lang.items()]
        for lang, scores in groups:
            name = report.name if lang == "all" else ""
            row = f"{name:<28}{lang:>6}{scores.questions:>4}"
            row += "".join(f"{scores.hit.get(c, 0.0):>8.3f}" for c in CUTOFFS)
            row += f"{scores.mrr:>8.3f}{scores.mean_top_chars:>11.0f}"
            rows.append(row)
    unanswerable = reports[0].unanswerable if reports else 0
    rows.append(f"({unanswerable} questions with empty gold excluded from hit@k and MRR)")
    return "\n".join(rows)
