"""Retrieval quality on a question set: hit@k, MRR, passage length and abstention, per language;
dialogue sets scored turn by turn."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from .assistant import Answer, Assistant
from .chunking import Chunker
from .embedding import TextEncoder
from .errors import KzruRagError
from .index import LoadedIndex, index_documents
from .lexical import BM25
from .retriever import Hit, Retriever, make_hit, validate_query

T = TypeVar("T")

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
    sentence_hit1: float = 0.0
    """Share of questions whose top hit's highlighted sentence (the whole hit when none) answers them."""


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


@dataclass
class AnswerReport:
    """How often the assistant's extractive answer quotes an answerable question's gold."""

    answerable: int
    quoted: list[str] = field(default_factory=list)
    """Questions whose answer text holds a gold substring."""
    missed: list[str] = field(default_factory=list)
    abstained: list[str] = field(default_factory=list)
    """Answerable questions the assistant said the document does not answer (also in `missed`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSONL question file (`{"id","question","lang","gold"}` a line)."""
    return _read_jsonl(
        path,
        "question",
        "id, question, lang, gold",
        lambda record: Question(str(record["id"]), str(record["question"]), str(record.get("lang", "?")), list(record["gold"])),
    )


def _read_jsonl(path: str | Path, kind: str, fields: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Each non-blank line of a JSONL file of `kind` records, parsed; KzruRagError names the file, the line and
    the `fields` expected when one cannot be parsed, or when there are none."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KzruRagError(f"cannot read {kind} file {path}: {exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(parse(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise KzruRagError(f"{path}:{number}: expected a JSON object with {fields} ({exc})") from exc
    if not records:
        raise KzruRagError(f"{path}: no {kind}s in the file")
    return records


def evaluate(searcher: Searcher, questions: list[Question], k: int = 5, name: str = "") -> Report:
    """Search every question: score the ranks of the first answering passage, and, when the
    searcher can abstain, whether it abstains on the unanswerable questions and only on them."""
    if k < max(CUTOFFS):
        raise ValueError(f"k must be at least {max(CUTOFFS)} to report hit@{max(CUTOFFS)}")
    answerable = [q for q in questions if q.gold]
    ranks: dict[str, int | None] = {}
    top_chars: dict[str, int] = {}
    top_sentence: dict[str, bool] = {}
    misses = []
    abstention = Abstention(len(questions) - len(answerable), len(answerable)) if hasattr(searcher, "abstains") else None
    for question in questions:
        hits = searcher.search(question.question, k=k)
        if abstention is not None and searcher.abstains(question.question, hits):  # type: ignore[attr-defined]
            (abstention.false if question.gold else abstention.abstained).append(question.id)
        if not question.gold:
            continue
        rank = next((i for i, hit in enumerate(hits, 1) if any(g in hit.text for g in question.gold)), None)
        ranks[question.id] = rank
        top_chars[question.id] = len(hits[0].text) if hits else 0
        top_sentence[question.id] = bool(hits) and any(g in _highlighted(hits[0]) for g in question.gold)
        if rank != 1:
            misses.append({"id": question.id, "lang": question.lang, "question": question.question, "rank": rank})
    languages = sorted({q.lang for q in answerable})
    return Report(
        name=name,
        k=k,
        overall=_scores(answerable, ranks, top_chars, top_sentence),
        by_lang={
            lang: _scores([q for q in answerable if q.lang == lang], ranks, top_chars, top_sentence) for lang in languages
        },
        unanswerable=len(questions) - len(answerable),
        misses=misses,
        abstention=abstention,
    )


def evaluate_answers(assistant: Assistant, questions: list[Question]) -> AnswerReport:
    """Ask every answerable question without an LLM: does the quoted answer hold the gold?"""
    answerable = [q for q in questions if q.gold]
    report = AnswerReport(len(answerable))
    for question in answerable:
        answer = assistant.ask(question.question, use_llm=False)
        (report.quoted if any(g in answer.text for g in question.gold) else report.missed).append(question.id)
        if answer.abstained:
            report.abstained.append(question.id)
    return report


def format_answers(report: AnswerReport) -> str:
    """One line: the share of answers that quote the gold, and the questions missed."""
    share = len(report.quoted) / report.answerable if report.answerable else 0.0
    line = f"assistant, extractive answers: the quoted text holds the answer for {len(report.quoted)}/{report.answerable} ({share:.3f})"
    return line + (f"; missed {', '.join(report.missed)}" if report.missed else "")


def _highlighted(hit: Hit) -> str:
    if hit.highlight is None:
        return hit.text
    start, end = hit.highlight
    return hit.text[start - hit.start : end - hit.start]


def _scores(
    questions: list[Question], ranks: dict[str, int | None], top_chars: dict[str, int], top_sentence: dict[str, bool]
) -> Scores:
    found = [ranks[q.id] for q in questions]
    n = len(found)
    if not n:
        return Scores()
    return Scores(
        questions=n,
        hit={c: sum(1 for r in found if r is not None and r <= c) / n for c in CUTOFFS},
        mrr=sum(1 / r for r in found if r is not None) / n,
        mean_top_chars=float(np.mean([top_chars[q.id] for q in questions])),
        sentence_hit1=sum(top_sentence[q.id] for q in questions) / n,
    )


class BM25Searcher:
    """Baseline: BM25 over the index's passages, on word forms or (`lemmas`) on lemmas."""

    def __init__(self, index: LoadedIndex, lemmas: bool = False) -> None:
        self.index = index
        self.bm25 = BM25([chunk.text for chunk in index.chunks], lemmas=lemmas)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        scores = self.bm25.scores(validate_query(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [make_hit(self.index, int(i), float(scores[i])) for i in order]


class DenseSearcher:
    """Baseline: the passages (chunks) nearest to the query vector, whole; no sentences, no lexical part."""

    def __init__(self, index: LoadedIndex, embedder: TextEncoder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, query: str, k: int = 5) -> list[Hit]:
        vector = self.embedder.encode_queries([validate_query(query)])
        scores, ids = self.index.vectors.search(vector, min(k, self.index.vectors.ntotal))
        return [make_hit(self.index, int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def baselines(retriever: Retriever) -> dict[str, Searcher]:
    """Single-signal baselines over the retriever's documents: dense on its chunks and on whole
    paragraphs, and BM25 on paragraphs (word forms, and lemmas)."""
    paragraphs = index_documents(
        list(retriever.index.documents.values()), retriever.embedder, Chunker(max_chars=1_000_000)
    )
    return {
        "dense, chunks": DenseSearcher(retriever.index, retriever.embedder),
        "dense, paragraphs": DenseSearcher(paragraphs, retriever.embedder),
        "BM25, paragraphs": BM25Searcher(paragraphs),
        "BM25+lemmas, paragraphs": BM25Searcher(paragraphs, lemmas=True),
    }


def ablations(retriever: Retriever) -> dict[str, Searcher]:
    """The retriever with parts of its scoring switched off, one step at a time (same index)."""
    settings = retriever.settings
    dense = settings.sentence_weight + settings.passage_weight  # kept, so scores stay on one scale
    untyped = replace(settings, answer_type_weight=0.0)
    steps = {
        "sentence cosine only": replace(untyped, sentence_weight=dense, passage_weight=0.0, lexical_weight=0.0),
        "+ passage cosine": replace(untyped, lexical_weight=0.0),
        "+ lexical, no word bridge": replace(untyped, bridge_words=0),
        "+ word bridge": untyped,
        "+ answer type (= hybrid)": settings,
        "hybrid, English bridged too": replace(settings, bridge_latin=True),
        "hybrid, no window": replace(settings, window_chars=0),
        "hybrid, no sentence cosine": replace(settings, sentence_weight=0.0, passage_weight=dense),
    }
    return {name: Retriever(retriever.index, retriever.embedder, step) for name, step in steps.items()}


def format_reports(reports: list[Report]) -> str:
    """A plain-text table: one row per searcher, then per-language rows."""
    header = f"{'retriever':<28}{'lang':>6}{'n':>4}" + "".join(f"{f'hit@{c}':>8}" for c in CUTOFFS)
    header += f"{'MRR':>8}{'top chars':>11}{'sent@1':>8}"
    rows = [header, "-" * len(header)]
    for report in reports:
        groups = [("all", report.overall), *report.by_lang.items()]
        for lang, scores in groups:
            name = report.name if lang == "all" else ""
            row = f"{name:<28}{lang:>6}{scores.questions:>4}"
            row += "".join(f"{scores.hit.get(c, 0.0):>8.3f}" for c in CUTOFFS)
            row += f"{scores.mrr:>8.3f}{scores.mean_top_chars:>11.0f}{scores.sentence_hit1:>8.3f}"
            rows.append(row)
    unanswerable = reports[0].unanswerable if reports else 0
    rows.append(
        f"({unanswerable} questions with empty gold excluded from hit@k and MRR; "
        "sent@1: the top hit's highlighted sentence holds the answer)"
    )
    for report in reports:
        if (abstention := report.abstention) is not None:
            rows.append(
                f"{report.name}: abstained on {len(abstention.abstained)}/{abstention.unanswerable} unanswerable, "
                f"falsely on {len(abstention.false)}/{abstention.answerable} answerable"
                + (f" ({', '.join(abstention.false)})" if abstention.false else "")
            )
    return "\n".join(rows)


# ---------------------------------------------------------------- dialogues


@dataclass(frozen=True)
class Turn:
    """One turn of an evaluation dialogue; empty `gold`: the document does not answer it."""

    question: str
    gold: list[str]


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: list[Turn]


@dataclass
class TurnResult:
    """How the assistant did on one turn: `right` when it presents an answer holding a gold string
    (with empty gold: when it presents none)."""

    dialogue: str
    turn: int
    question: str
    query_used: str
    right: bool
    text: str


@dataclass
class DialogueReport:
    """Turns right over all turns of a dialogue set, and every turn."""

    turns: list[TurnResult]

    @property
    def right(self) -> int:
        return sum(result.right for result in self.turns)

    def to_dict(self) -> dict[str, Any]:
        return {"right": self.right, "total": len(self.turns), "turns": [asdict(result) for result in self.turns]}


def presents_answer(answer: Answer) -> bool:
    """True when the assistant presents `answer` as the answer (neither uncertain nor abstained)."""
    return answer.status == "answered"


def load_dialogues(path: str | Path) -> list[Dialogue]:
    """Read a JSONL dialogue file (`{"id", "turns": [{"question", "gold"}]}` a line)."""
    return _read_jsonl(path, "dialogue", 'id and turns [{"question", "gold"}]', _dialogue)


def _dialogue(record: dict[str, Any]) -> Dialogue:
    turns = [Turn(str(turn["question"]), list(turn["gold"])) for turn in record["turns"]]
    if not turns:
        raise ValueError(f"dialogue {record.get('id')!r} has no turns")
    return Dialogue(str(record["id"]), turns)


def ask_turns(assistant: Assistant, dialogue: Dialogue) -> Iterator[tuple[int, Turn, Answer]]:
    """(turn number from 1, turn, answer) for each turn of `dialogue`, asked in order without an LLM, each with
    the assistant's own earlier answers as history."""
    history: list[dict[str, str]] = []
    for number, turn in enumerate(dialogue.turns, start=1):
        answer = assistant.ask(turn.question, history, use_llm=False)
        yield number, turn, answer
        history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": answer.text}]


def evaluate_dialogues(assistant: Assistant, dialogues: list[Dialogue]) -> DialogueReport:
    """Ask every dialogue's turns (`ask_turns`) and score each turn."""
    results = []
    for dialogue in dialogues:
        for number, turn, answer in ask_turns(assistant, dialogue):
            presented = presents_answer(answer)
            right = presented and any(g in answer.text for g in turn.gold) if turn.gold else not presented
            results.append(TurnResult(dialogue.id, number, turn.question, answer.query_used, right, answer.text))
    return DialogueReport(results)


def format_dialogues(report: DialogueReport) -> str:
    """A line per turn (right or wrong, the question, what was searched), then the turns right over all."""
    rows = [
        f"{result.dialogue} turn {result.turn}: {'right' if result.right else 'WRONG'}  {result.question}"
        + ("" if result.query_used == result.question else f"  (searched: {result.query_used})")
        for result in report.turns
    ]
    total = len(report.turns)
    share = report.right / total if total else 0.0
    rows.append(f"dialogue turns right: {report.right}/{total} ({share:.3f})")
    return "\n".join(rows)
@dataclass(frozen=True)
class Outcome:
    """How the assistant presented one question: its `status`, `confidence`, and whether its quote holds a
    gold string (`correct`; always False for a question the document cannot answer)."""

    id: str
    answerable: bool
    status: str
    confidence: float | None
    correct: bool


@dataclass
class TrustReport:
    """How the assistant presents answers on a question set (issue 9, point 5).

    `misleading`: questions presented as answered whose text holds no gold, plus unanswerable ones
    presented as answered, over all questions; `coverage`: answerable questions presented as answered
    with a gold string, over answerable ones.
    """

    questions: int
    answerable: int
    answered: int
    uncertain: int
    abstained: int
    misleading: float
    coverage: float
    unanswerable_answered: list[str]
    answerable_abstained: list[str]
    misleading_ids: list[str]
    outcomes: list[Outcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RISK_THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CONFIDENCE_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def evaluate_trust(assistant: Assistant, questions: list[Question]) -> TrustReport:
    """Ask every question without an LLM and score how the answers are presented."""
    outcomes = []
    for question in questions:
        answer = assistant.ask(question.question, use_llm=False)
        correct = bool(question.gold) and any(g in answer.text for g in question.gold)
        outcomes.append(Outcome(question.id, bool(question.gold), answer.status, answer.confidence, correct))
    return trust_report(outcomes)


def trust_report(outcomes: list[Outcome]) -> TrustReport:
    """The counts and rates of `TrustReport` over `outcomes`."""
    n = len(outcomes)
    answerable = sum(o.answerable for o in outcomes)
    answered = [o for o in outcomes if o.status == "answered"]
    misleading = [o.id for o in answered if not o.correct]
    return TrustReport(
        questions=n,
        answerable=answerable,
        answered=len(answered),
        uncertain=sum(o.status == "uncertain" for o in outcomes),
        abstained=sum(o.status == "abstained" for o in outcomes),
        misleading=len(misleading) / n if n else 0.0,
        coverage=sum(o.correct for o in answered) / answerable if answerable else 0.0,
        unanswerable_answered=[o.id for o in answered if not o.answerable],
        answerable_abstained=[o.id for o in outcomes if o.answerable and o.status == "abstained"],
        misleading_ids=misleading,
        outcomes=outcomes,
    )


def risk_coverage(outcomes: list[Outcome], thresholds: tuple[float, ...] = RISK_THRESHOLDS) -> list[dict[str, float]]:
    """For each confidence threshold: what presenting as answered every non-abstained answer whose
    confidence reaches it would give — share presented, coverage, risk (wrong among presented), misleading rate."""
    rows = []
    n, answerable = len(outcomes), sum(o.answerable for o in outcomes)
    for threshold in thresholds:
        shown = [o for o in outcomes if o.status != "abstained" and o.confidence is not None and o.confidence >= threshold]
        wrong = sum(not o.correct for o in shown)
        rows.append(
            {
                "threshold": threshold,
                "presented": len(shown) / n if n else 0.0,
                "coverage": sum(o.correct for o in shown) / answerable if answerable else 0.0,
                "risk": wrong / len(shown) if shown else 0.0,
                "misleading": wrong / n if n else 0.0,
            }
        )
    return rows


def calibration_table(confidences: list[float], correct: list[bool], bands: tuple[float, ...] = CONFIDENCE_BANDS) -> list[dict[str, float]]:
    """Per confidence band [low, high): how many answers fall in it, their mean confidence and observed accuracy."""
    rows = []
    for low, high in zip(bands, bands[1:]):
        inside = [(c, ok) for c, ok in zip(confidences, correct) if low <= c < high or (high == bands[-1] and c == high)]
        rows.append(
            {
                "low": low,
                "high": high,
                "answers": len(inside),
                "mean_confidence": float(np.mean([c for c, _ in inside])) if inside else 0.0,
                "accuracy": sum(ok for _, ok in inside) / len(inside) if inside else 0.0,
            }
        )
    return rows


def format_trust(report: TrustReport) -> str:
    """The presentation counts and rates, then the risk–coverage table."""
    unanswerable = report.questions - report.answerable
    lines = [
        f"assistant, presentation: answered {report.answered}, uncertain {report.uncertain}, abstained {report.abstained} "
        f"of {report.questions}; misleading rate {report.misleading:.3f}; coverage {report.coverage:.3f}; "
        f"unanswerable presented as answered {len(report.unanswerable_answered)}/{unanswerable}; "
        f"answerable abstained {len(report.answerable_abstained)}/{report.answerable}",
    ]
    if report.misleading_ids:
        lines.append(f"  misleading: {', '.join(report.misleading_ids)}")
    lines.append(format_risk_coverage(risk_coverage(report.outcomes)))
    return "\n".join(lines)


def format_risk_coverage(rows: list[dict[str, float]]) -> str:
    lines = [f"{'confidence >=':>14}{'presented':>11}{'coverage':>10}{'risk':>8}{'misleading':>12}"]
    lines += [
        f"{r['threshold']:>14.2f}{r['presented']:>11.3f}{r['coverage']:>10.3f}{r['risk']:>8.3f}{r['misleading']:>12.3f}"
        for r in rows
    ]
    return "\n".join(lines)


def format_calibration(rows: list[dict[str, float]]) -> str:
    lines = [f"{'confidence':>12}{'answers':>9}{'mean conf':>11}{'accuracy':>10}"]
    lines += [
        f"{r['low']:>5.1f}–{r['high']:<6.1f}{r['answers']:>9d}{r['mean_confidence']:>11.3f}{r['accuracy']:>10.3f}"
        for r in rows
    ]
    return "\n".join(lines)
