"""Quotes that restate the question (issue 26, point 5), counted over question sets without an LLM.

    .venv/bin/python bench/restated_quotes.py [--index DIR] [--examples] SET.jsonl...

For every answer that is not an
abstention, the first quote is the first citation's highlighted span; it *restates* the question when its share of
the question's content words (`Signals.quote_overlap`) is at least `extractive.RESTATES_FROM`. Per set it prints:

- `neighbour`: answerable questions whose first quote does not hold a gold string while a sentence next to it in the
  same passage does — all of them, and those whose quote restates the question (`restated`), with how many of those
  are presented as answered and how many answer texts still hold the gold (through a further quote);
- `nothing`: quotes that restate the question while no retrieved passage holds a gold string (unanswerable questions
  included), and how many of them are presented as answered.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.extractive import RESTATES_FROM
from kzru_rag.answering.quotes import neighbours, span_text
from kzru_rag.evaluation.datasets import Question, load_questions
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Answer


def tally(question: Question, answer: Answer, counts: Counter, examples: list[str]) -> None:
    if answer.abstained or not answer.citations or answer.signals is None:
        return
    hit = answer.citations[0]
    span = hit.highlight or (hit.start, hit.end)
    first = span_text(hit, span)
    restates = answer.signals.quote_overlap >= RESTATES_FROM
    presented = answer.status == "answered"
    gold = question.gold
    if (
        gold
        and not any(g in first for g in gold)
        and any(g in span_text(hit, s) for s in neighbours(hit, span) for g in gold)
    ):
        counts["neighbour"] += 1
        if restates:
            counts["restated"] += 1
            counts["restated, presented"] += presented
            counts["restated, text holds gold"] += any(g in answer.text for g in gold)
            examples.append(f"  {question.id} [{answer.status}] {question.question} | {' '.join(first.split())}")
    if restates and not any(g in h.text for h in answer.hits for g in gold):
        counts["nothing"] += 1
        counts["nothing, presented"] += presented


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="question sets (JSONL)")
    parser.add_argument("--index", help="the index the sets ask (default: the bundled one)")
    parser.add_argument("--examples", action="store_true", help="print the restated quotes' questions")
    args = parser.parse_args()
    assistant = Assistant(Retriever.load(args.index))
    for path in args.sets:
        counts: Counter = Counter()
        examples: list[str] = []
        for question in load_questions(path):
            tally(question, assistant.ask(question.question, use_llm=False), counts, examples)
        print(
            f"{Path(path).name}: neighbour holds the gold {counts['neighbour']}, of which restated "
            f"{counts['restated']} (presented {counts['restated, presented']}, answer text holds the gold "
            f"{counts['restated, text holds gold']}); restated, no passage holds the gold {counts['nothing']} "
            f"(presented {counts['nothing, presented']})",
            flush=True,
        )
        if args.examples and examples:
            print("\n".join(examples), flush=True)


if __name__ == "__main__":
    main()
