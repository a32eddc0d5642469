"""Fit the learned ranking of questions with foreign words (`RetrievalSettings.foreign_ranking`) and show it held out.

For every answerable question of the given corpora (an index and its question sets each), the retriever's best
`--pool` passages are kept with the parts of their scores (`RANK_PARTS`: the best sentence's and the passage's cosine,
the lexical coverage of passage and sentence, the soft word match, holding the kind of answer asked for). A linear
score over them is fitted as a conditional logit: per question, a softmax over its passages, the passages holding the
gold answer its target (L2-regularised, `--c`). Questions with foreign words (the soft match applies) and Russian ones
are fitted apart. Printed: hit@1, hit@5, MRR (first five) and the first passage's median length per corpus and
language, the shipped ranking against the learned one, each corpus scored by weights fitted on the other corpora
only, and the corpus of `--halves` also by halves of its documents (fitted on the other half and the other corpora);
then the weights fitted on everything, scaled so that the two cosines' weights add up to 1, as stored. With
`--timing N`: the time of a whole search (the question encoded too) of the first N foreign questions of each corpus,
with the index's own settings and with the learned ranking off, taking turns, p50/p95 and their ratio.

    .venv/bin/python bench/ranking.py --corpus INDEX SET.jsonl [SET.jsonl ...] [--corpus ...] [--halves INDEX]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Hit
from kzru_rag.stores.settings import ANSWER_TYPE_POOL, RANK_PARTS, SOFT_POOL

GROUPS = ("foreign", "ru")


@dataclass
class Candidates:
    """One question's best passages (in the retriever's order before the learned ranking) and what they are."""

    corpus: str
    lang: str
    doc: str | None
    group: str
    parts: np.ndarray
    """One row per passage: its `RANK_PARTS`."""
    gold: np.ndarray
    chars: np.ndarray
    shipped: np.ndarray
    """The passages' order as the shipped ranking gives the first five."""


def shipped_order(hits: list[Hit], soft: bool, typed: bool, answer_type_weight: float) -> np.ndarray:
    """The order `Retriever.search(k=5)` gives the passages `search(k=len(hits))` found: with foreign words the
    whole pool is re-ranked alike; otherwise only the best `ANSWER_TYPE_POOL` by score are, by the answer-type bonus."""
    if soft or not typed:
        return np.arange(len(hits))
    raw = np.array([hit.score - answer_type_weight * hit.signals.get("answer_type", 0.0) for hit in hits])
    by_raw = np.argsort(-raw, kind="stable")
    top = by_raw[:ANSWER_TYPE_POOL]
    top = top[np.argsort(-np.array([hits[i].score for i in top]), kind="stable")]
    return np.concatenate([top, by_raw[ANSWER_TYPE_POOL:]])


def collect(index: Path, files: list[str], pool: int) -> list[Candidates]:
    loaded = Retriever.load(index)
    retriever = Retriever(loaded.index, loaded.embedder, replace(loaded.settings, foreign_ranking=()))
    weight = retriever.settings.answer_type_weight
    found = []
    for path in files:
        for question in load_questions(path):
            if not question.gold:
                continue
            hits = retriever.search(question.question, k=pool)
            soft = any("soft_match" in hit.signals for hit in hits)
            typed = any("answer_type" in hit.signals for hit in hits)
            parts = np.array([[hit.signals.get(part, 0.0) for part in RANK_PARTS] for hit in hits])
            gold = np.array([any(g in hit.text for g in question.gold) for hit in hits], dtype=float)
            chars = np.array([len(hit.text) for hit in hits])
            group = "foreign" if soft else "ru"
            order = shipped_order(hits, soft, typed, weight)
            found.append(Candidates(index.name, question.lang, question.doc, group, parts, gold, chars, order))
    return found


def fit(questions: list[Candidates], c: float) -> np.ndarray:
    """Weights of `RANK_PARTS` maximising the regularised log-likelihood of the gold passages (raw scale)."""
    usable = [q for q in questions if q.gold.any()]
    stacked = np.vstack([q.parts for q in usable])
    mean, spread = stacked.mean(axis=0), stacked.std(axis=0) + 1e-9
    scaled = [((q.parts - mean) / spread, q.gold) for q in usable]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * float(w @ w) / c, w / c
        for x, gold in scaled:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            held = p * gold
            total -= float(np.log(held.sum()))
            grad = grad - x.T @ (held / held.sum() - p)
        return total / len(scaled), grad / len(scaled)

    return minimize(loss, np.zeros(len(RANK_PARTS)), jac=True, method="L-BFGS-B").x / spread


def scores(questions: list[Candidates], order: Callable[[Candidates], np.ndarray]) -> tuple[float, ...]:
    ranks, chars = [], []
    for q in questions:
        ordered = order(q)
        ranks.append(next((i for i, j in enumerate(ordered[:5], 1) if q.gold[j]), None))
        chars.append(q.chars[ordered[0]])
    n = len(ranks)
    hit1 = sum(r == 1 for r in ranks) / n
    hit5 = sum(r is not None for r in ranks) / n
    return hit1, hit5, sum(1 / r for r in ranks if r) / n, statistics.median(chars)


def table(title: str, questions: list[Candidates], learned: dict[int, np.ndarray]) -> None:
    print(f"\n{title}")
    print(
        f"{'set':<22}{'group':>8}{'n':>5}   hit@1 before → after   hit@5 before → after     MRR before → after  median"
    )
    cells: dict[tuple[str, str, str], list[int]] = {}
    for i, q in enumerate(questions):
        if i in learned:
            cells.setdefault((q.corpus, q.lang, q.group), []).append(i)
    for (corpus, lang, group), ids in sorted(cells.items()):
        chosen = [questions[i] for i in ids]
        after_of = dict(zip(map(id, chosen), (learned[i] for i in ids)))
        b = scores(chosen, lambda q: q.shipped)
        a = scores(chosen, lambda q: after_of[id(q)])
        moved = round((a[0] - b[0]) * len(ids))
        print(
            f"{corpus + ' ' + lang:<22}{group:>8}{len(ids):>5}   {b[0]:.3f} → {a[0]:.3f} ({moved:+d})"
            f"    {b[1]:.3f} → {a[1]:.3f}    {b[2]:.3f} → {a[2]:.3f}  {b[3]:.0f} → {a[3]:.0f}"
        )


def held_out(questions: list[Candidates], test: Callable[[Candidates], bool], c: float) -> dict[int, np.ndarray]:
    """The learned order of each question `test` picks, by weights fitted on the others, per group."""
    orders = {}
    for group in GROUPS:
        train = [q for q in questions if q.group == group and not test(q)]
        if not train:
            continue
        weights = fit(train, c)
        for i, q in enumerate(questions):
            if q.group == group and test(q):
                orders[i] = np.argsort(-(q.parts @ weights), kind="stable")
    return orders


def timing(corpora: list[list[str]], count: int) -> None:
    """p50/p95 of a search of foreign questions with the index's settings against the learned ranking off."""
    on: list[float] = []
    off: list[float] = []
    for index, *files in corpora:
        retriever = Retriever.load(index)
        plain = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, foreign_ranking=()))
        questions = [q.question for path in files for q in load_questions(path) if q.lang != "ru"][:count]
        for i, question in enumerate(questions):
            pair = ((retriever, on), (plain, off))
            for searcher, times in pair if i % 2 else pair[::-1]:  # each first half the time
                start = time.perf_counter()
                searcher.search(question)
                times.append(time.perf_counter() - start)
    (on50, on95), (off50, off95) = ([statistics.quantiles(t, n=100)[q - 1] * 1e3 for q in (50, 95)] for t in (on, off))
    print(
        f"\nsearch of {len(on)} foreign questions (ms): learned p50 {on50:.1f} p95 {on95:.1f}, "
        f"off p50 {off50:.1f} p95 {off95:.1f}; p95 ratio {on95 / off95:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", action="append", metavar="INDEX SET", required=True)
    parser.add_argument("--halves", type=Path, help="the corpus (its index) also held out by halves of its documents")
    parser.add_argument("--pool", type=int, default=SOFT_POOL, help="passages per question (default: the soft pool)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--timing", type=int, default=0, help="time this many foreign questions a corpus")
    args = parser.parse_args()
    if any(len(corpus) < 2 for corpus in args.corpus):
        parser.error("--corpus takes an index and at least one question set")
    if args.timing:
        timing(args.corpus, args.timing)
        return
    questions = [q for index, *files in args.corpus for q in collect(Path(index), files, args.pool)]
    corpora = sorted({q.corpus for q in questions})
    by_corpus: dict[int, np.ndarray] = {}
    for corpus in corpora:
        by_corpus.update(held_out(questions, lambda q, c=corpus: q.corpus == c, args.c))
    table(f"each corpus ranked by weights fitted on the others (pool {args.pool}, C {args.c})", questions, by_corpus)
    if args.halves is not None:
        docs = sorted({q.doc or "" for q in questions if q.corpus == args.halves.name})
        half = {doc: i % 2 for i, doc in enumerate(docs)}
        by_half: dict[int, np.ndarray] = {}
        for h in (0, 1):
            test = lambda q, h=h: q.corpus == args.halves.name and half[q.doc or ""] == h  # noqa: E731
            by_half.update(held_out(questions, test, args.c))
        table(f"{args.halves.name} by halves of its documents (alternate names in order)", questions, by_half)
    print(f"\nfitted on all ({', '.join(RANK_PARTS)}), scaled: the two cosines' weights add up to 1")
    for group in GROUPS:
        weights = fit([q for q in questions if q.group == group], args.c)
        print(f"{group:<8} ({', '.join(f'{w / (weights[0] + weights[1]):.3f}' for w in weights)})")


if __name__ == "__main__":
    main()
