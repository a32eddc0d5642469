"""How long a whole answer takes (issue 26: p95 within 0.3 s a question), per question language, in one run.

`Assistant.ask` without an LLM (search, abstention, quote choice, judge) against `Retriever.search` alone, on the
same questions of each set, after a warm-up pass (morphology, the word bridge, natasha), the two taking turns question
by question so that both meet the same load. Prints p50 / p95 / max of each and their ratio.

    .venv/bin/python bench/answer_latency.py --index DIR SET.jsonl... [--limit 150]

e.g. the XQuAD dev half as `make eval` builds it: `--index /tmp/eval/xquad ../shared/data/xquad_dev/questions.jsonl
../shared/data/xquad_dev/questions_en.jsonl`. Without `--index`: the bundled index.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

from kzru_rag.answering.assistant import Assistant
from kzru_rag.language.questions import question_language
from kzru_rag.retrieval.retriever import Retriever

WARM_UP = 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="JSONL question sets (a `question` field per line)")
    parser.add_argument("--index", default=None, help="index folder (default: the bundled index)")
    parser.add_argument("--limit", type=int, default=150, help="questions per set (default 150)")
    args = parser.parse_args()
    assistant = Assistant(Retriever.load(args.index))
    questions = []
    for path in args.sets:
        with open(path, encoding="utf-8") as lines:
            questions += [json.loads(line)["question"] for line in lines if line.strip()][: args.limit]
    for question in questions[:WARM_UP]:
        assistant.ask(question, use_llm=False)
    asks: dict[str, list[float]] = defaultdict(list)
    searches: dict[str, list[float]] = defaultdict(list)
    for question in questions:
        language = question_language(question)
        asks[language].append(timed(lambda: assistant.ask(question, use_llm=False)))
        searches[language].append(timed(lambda: assistant.retriever.search(question, k=assistant.k)))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for language in sorted(asks):
        ask, search = asks[language], searches[language]
        print(
            f"{language}  n={len(ask):4d}  ask p50 {1000 * statistics.median(ask):6.1f} ms  "
            f"p95 {1000 * percentile(ask, 0.95):6.1f} ms  max {1000 * max(ask):6.1f} ms  |  "
            f"search p50 {1000 * statistics.median(search):6.1f} ms  p95 {1000 * percentile(search, 0.95):6.1f} ms  |  "
            f"ask / search p95 {percentile(ask, 0.95) / percentile(search, 0.95):4.2f}"
        )


if __name__ == "__main__":
    main()
