"""Trust figures (issue 9) of a checkout from before `Answer.status`: every answer not abstained counts as presented.

Run it with the old checkout's code and index, e.g. for the commit before the trust work:

    git worktree add /tmp/kzru-base 169ede3
    cd /tmp/kzru-base
    PYTHONPATH=src /path/to/kzru-rag/.venv/bin/python /path/to/kzru-rag/bench/trust_baseline.py SET.jsonl...

Prints, per set, the misleading rate, coverage, unanswerable questions presented as answered and answerable
questions abstained on, defined as `kzru-rag eval --answers` defines them.
"""

from __future__ import annotations

import json
import sys

from kzru_rag.answering.assistant import Assistant
from kzru_rag.retrieval.retriever import Retriever


def main() -> None:
    assistant = Assistant(Retriever.load())
    for path in sys.argv[1:]:
        questions = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        answerable = sum(bool(q["gold"]) for q in questions)
        misleading = covered = unanswerable_answered = answerable_abstained = 0
        for question in questions:
            answer = assistant.ask(question["question"])
            presented = not answer.abstained
            correct = bool(question["gold"]) and any(g in answer.text for g in question["gold"])
            misleading += presented and not correct
            covered += presented and correct
            unanswerable_answered += presented and not question["gold"]
            answerable_abstained += not presented and bool(question["gold"])
        print(
            f"{path.rsplit('/', 1)[-1]}: misleading {misleading / len(questions):.3f}; "
            f"coverage {covered / answerable:.3f}; "
            f"unanswerable answered {unanswerable_answered}/{len(questions) - answerable}; "
            f"answerable abstained {answerable_abstained}/{answerable}"
        )


if __name__ == "__main__":
    main()
