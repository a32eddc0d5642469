"""First quotes that miss the answer while another sentence of the retrieved passages holds it (issue 26, points 3–5),
found over question sets without an LLM.

    .venv/bin/python bench/misplaced_quotes.py [--index DIR] [--dump OUT.jsonl] [--examples] SET.jsonl...

For every answerable question that is not abstained on, the first quote is the first citation's highlighted span. It
is *misplaced* when it holds no gold string while a sentence of the retrieved passages (`Answer.hits`) does. Per set
it prints how many answers are misplaced, how many of those are presented as answered (`presented`), how many of
the presented ones hold no gold anywhere in their text (`misleading`: another quote did not save them), and how many
of the misplaced are description questions («Кто такая X?», «Что такое Y?»: `Query.described`). `--dump`
writes one JSON line per answered question (first quote, the sentence holding the gold and its rank among the
scored sentences, and what `extractive.quoted_things` says of it: the question's thing it lacks, the neighbour it
names) to read them and to compare two runs. The last
figures tell how often the answers presented as answered are wrong with and without a first quote that lacks the
question's thing or names a neighbour of it (`flagged`): what that property would be worth to the judge.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.extractive import quoted_things
from kzru_rag.answering.quotes import span_text
from kzru_rag.evaluation.datasets import Question, load_questions
from kzru_rag.language.questions import analyse
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Answer


def record(assistant: Assistant, question: Question, answer: Answer) -> dict | None:
    """What the answer quoted first and, for an answerable question, where the gold was; None when abstained."""
    if answer.abstained or not answer.citations:
        return None
    hit = answer.citations[0]
    first = span_text(hit, hit.highlight or (hit.start, hit.end))
    query = analyse(question.question)
    scored = assistant.extractor.scored(query, answer.hits, query)
    golden = next(
        (
            (rank, s)
            for rank, s in enumerate(scored)
            if any(g in span_text(answer.hits[s.hit], s.span) for g in question.gold)
        ),
        None,
    )
    return {
        "id": question.id,
        "question": question.question,
        "status": answer.status,
        "confidence": answer.confidence,
        "first": " ".join(first.split()),
        "first_holds": any(g in first for g in question.gold),
        "text_holds": any(g in answer.text for g in question.gold),
        "gold_rank": golden[0] if golden else None,
        "gold_sentence": " ".join(span_text(answer.hits[golden[1].hit], golden[1].span).split()) if golden else None,
        "gold_margin": round(scored[0].score - golden[1].score, 4) if golden else None,
        "describe": bool(query.described),
        "answerable": bool(question.gold),
        **dict(zip(("missing_thing", "other_thing"), quoted_things(hit, query, answer.hits))),
    }


def tally(rows: list[dict]) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        counts["unanswerable presented"] += not row["answerable"] and row["status"] == "answered"
        if not row["answerable"] or row["first_holds"] or row["gold_rank"] is None:
            continue
        counts["misplaced"] += 1
        counts["presented"] += row["status"] == "answered"
        counts["misleading"] += row["status"] == "answered" and not row["text_holds"]
        counts["describe"] += row["describe"]
    for row in rows:
        if row["status"] == "answered":
            flagged = "flagged" if row["missing_thing"] or row["other_thing"] else "clean"
            counts[f"presented {flagged}"] += 1
            counts[f"presented {flagged}, wrong"] += not (row["answerable"] and row["text_holds"])
    counts["first holds"] = sum(row["first_holds"] for row in rows)
    counts["answerable"] = sum(row["answerable"] for row in rows)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="question sets (JSONL)")
    parser.add_argument("--index", help="the index the sets ask (default: the bundled one)")
    parser.add_argument("--dump", help="write the answered questions' records here (JSONL)")
    parser.add_argument("--examples", action="store_true", help="print the misplaced quotes")
    args = parser.parse_args()
    assistant = Assistant(Retriever.load(args.index))
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115 (one file for every set)
    for path in args.sets:
        rows = []
        for question in load_questions(path):
            row = record(assistant, question, assistant.ask(question.question, use_llm=False))
            if row:
                rows.append({"set": Path(path).name, **row})
        counts = tally(rows)
        print(
            f"{Path(path).name}: first quote holds the gold {counts['first holds']}/{counts['answerable']}; misplaced "
            f"{counts['misplaced']} (presented {counts['presented']}, of which misleading {counts['misleading']}; "
            f"description questions {counts['describe']}); unanswerable presented as answered "
            f"{counts['unanswerable presented']}; presented with a missing or other thing "
            f"{counts['presented flagged']} (wrong {counts['presented flagged, wrong']}), without "
            f"{counts['presented clean']} (wrong {counts['presented clean, wrong']})",
            flush=True,
        )
        for row in rows:
            if dump:
                dump.write(json.dumps(row, ensure_ascii=False) + "\n")
            if args.examples and row["answerable"] and not row["first_holds"] and row["gold_rank"] is not None:
                print(f"  {row['id']} [{row['status']}] {row['question']} | {row['first']} || {row['gold_sentence']}")
    if dump:
        dump.close()


if __name__ == "__main__":
    main()
