"""How sensitive retrieval quality is to its settings, on the dev questions, in one run.

Prints hit@1 and MRR over a grid of fusion weights (passage : sentence ratio x lexical weight)
around the settings of the committed index, a leave-one-out estimate (for each question, the
grid point best on the other questions, scored on the held-out one), a sweep of the window
size (quality against citation length), and the abstention margin of every question (its best
score against the floor for its language) with the reasons the retriever gives to abstain.

    .venv/bin/python bench/retrieval_sensitivity.py [--questions tests/data/dev.jsonl]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.settings import RetrievalSettings
from retrieval import PrecomputedQueries  # bench/retrieval.py, beside this script

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev.jsonl"
RATIOS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
LEXICAL = (0.0, 0.033, 0.067, 0.1, 0.167, 0.25)
WINDOWS = (0, 250, 300, 350, 400, 450, 500, 600)


def reciprocal_ranks(retriever: Retriever, settings: RetrievalSettings, questions) -> np.ndarray:
    """1/rank of the first answering hit for each answerable question (0 when not in the top 5)."""
    report = evaluate(Retriever(retriever.index, retriever.embedder, settings), questions, k=5)
    missed = {miss["id"]: miss["rank"] for miss in report.misses}
    answerable = [q for q in questions if q.gold]
    return np.array([1.0 if q.id not in missed else (1 / missed[q.id] if missed[q.id] else 0.0) for q in answerable])


def weights(base: RetrievalSettings, ratio: float, lexical: float) -> RetrievalSettings:
    return replace(base, sentence_weight=1 / (1 + ratio), passage_weight=ratio / (1 + ratio), lexical_weight=lexical)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(DEV_SET), help="JSONL question set (default: the dev set)")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    loaded = Retriever.load()
    base = loaded.settings
    retriever = Retriever(loaded.index, PrecomputedQueries([loaded], [q.question for q in questions]), base)  # type: ignore[arg-type]

    grid = {(r, x): reciprocal_ranks(retriever, weights(base, r, x), questions) for r in RATIOS for x in LEXICAL}
    print(f"settings: {base}")
    print("hit@1 / MRR by passage:sentence weight ratio (rows) and lexical weight (columns)")
    print("ratio " + "".join(f"{x:>14}" for x in LEXICAL))
    for r in RATIOS:
        print(f"{r:5} " + "".join(f"   {np.mean(grid[r, x] == 1):.3f}/{np.mean(grid[r, x]):.3f}" for x in LEXICAL))

    centre = (base.passage_weight / base.sentence_weight, base.lexical_weight)
    held_out = []
    for i in range(len(next(iter(grid.values())))):
        rest = {point: np.delete(rr, i) for point, rr in grid.items()}
        best = max(
            grid,
            key=lambda p: (np.mean(rest[p] == 1) + np.mean(rest[p]), -abs(p[0] - centre[0]) - abs(p[1] - centre[1])),
        )
        held_out.append(grid[best][i])
    held_out = np.array(held_out)
    print(f"leave-one-out over the grid: hit@1 {np.mean(held_out == 1):.3f}, MRR {np.mean(held_out):.3f}")

    print("window_chars: hit@1, MRR, mean top passage chars")
    for window in WINDOWS:
        report = evaluate(
            Retriever(retriever.index, retriever.embedder, replace(base, window_chars=window)), questions, k=5
        )
        print(
            f"{window:>5}  {report.overall.hit[1]:.3f}  {report.overall.mrr:.3f}  {report.overall.mean_top_chars:6.0f}"
        )

    print(
        "abstention: best score against the floor for the question's share of Russian words, and the reasons to abstain"
    )
    rows = []
    for q in questions:
        hits = retriever.search(q.question, k=5)
        share = retriever.russian_share(q.question)
        floor = base.abstain_below_other + (base.abstain_below_russian - base.abstain_below_other) * share
        reasons = retriever.abstention_reasons(q.question, hits)
        rows.append((hits[0].score - floor, hits[0].score, floor, q.id, q.lang, q.gold, reasons))
    for margin, score, floor, qid, lang, gold, reasons in sorted(rows):
        print(
            f"  {margin:+.3f} (score {score:.3f}, floor {floor:.3f}) {qid} {lang} "
            f"{'answerable' if gold else 'UNANSWERABLE':<12} {'; '.join(map(str, reasons))}"
        )


if __name__ == "__main__":
    main()
