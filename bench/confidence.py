"""What judging an answer costs: `Assistant.ask` (no LLM) with the confidence model and without it, in one run.

Prints the per-question latency p50/p90 of both, their ratio (issue 9: within 1.3x), and the one-off load of
natasha's NER (paid by the first question that asks for a person, organisation or place).

    .venv/bin/python bench/confidence.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from kzru_rag.assistant import Assistant
from kzru_rag.entities import entities
from kzru_rag.evaluation import load_questions
from kzru_rag.retriever import Retriever

SETS = [Path(__file__).resolve().parents[1] / "tests" / "data" / name for name in ("dev.jsonl", "dev2.jsonl")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    questions = [q.question for file in SETS for q in load_questions(file)]
    retriever = Retriever.load()
    judged = Assistant(retriever)
    plain = Assistant(retriever)
    plain.confidence = None
    start = time.perf_counter()
    entities("Жанар Тулиндинова выступила в Астане.")
    print(f"natasha NER load and first sentence: {time.perf_counter() - start:.2f} s (once per process)")
    for question in questions:  # warm caches (morphology, NER of the document's sentences)
        judged.ask(question, use_llm=False)
    times: dict[str, list[float]] = {"without confidence": [], "with confidence": []}
    for _ in range(args.rounds):
        for question in questions:
            for name, assistant in (("without confidence", plain), ("with confidence", judged)):
                start = time.perf_counter()
                assistant.ask(question, use_llm=False)
                times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name:<20} p50 {1000 * statistics.median(values):7.1f} ms  p90 {1000 * percentile(values, 0.9):7.1f} ms")
    ratio = statistics.median(times["with confidence"]) / statistics.median(times["without confidence"])
    print(f"ratio with/without (p50): {ratio:.2f} (target <= 1.3); {len(questions)} questions x {args.rounds} rounds")


if __name__ == "__main__":
    main()
