"""`kzru-rag search` (the best passages) and `kzru-rag ask` (a cited answer, quoted or an LLM's)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from kzru_rag.faces.cli.common import index_option, json_option, place
from kzru_rag.faces.replies import FullPassage, FullReply

if TYPE_CHECKING:
    from kzru_rag.schema import Answer


def add_search_command(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="print the passages that best match a question")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    json_option(search)
    document_option(search)
    index_option(search)
    search.set_defaults(run=run_search)


def add_ask_command(commands: argparse._SubParsersAction) -> None:
    ask = commands.add_parser("ask", help="answer a question with cited passages (quotes, or an LLM's answer)")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=5, help="passages per answer (default 5)")
    json_option(ask, "print the answer as JSON")
    ask.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible server (default: $KZRU_RAG_LLM_BASE_URL)")
    ask.add_argument(
        "--llm-model", metavar="NAME", help="LLM model; without one the answer is quoted (default: $KZRU_RAG_LLM_MODEL)"
    )
    ask.add_argument("--llm-api-key", metavar="KEY", help="LLM API key (default: $KZRU_RAG_LLM_API_KEY)")
    ask.add_argument("--no-llm", action="store_true", help="quote the document even when an LLM is configured")
    document_option(ask)
    index_option(ask)
    ask.set_defaults(run=run_ask)


def document_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--document",
        metavar="NAME",
        action="append",
        help="search only this document (a name `kzru-rag documents list` shows); repeatable (default: all)",
    )


def run_search(args: argparse.Namespace) -> int:
    from kzru_rag.retrieval.retriever import Retriever

    hits = Retriever.load(args.index).search(args.query, k=args.k, documents=args.document)
    if args.json:
        print(json.dumps([FullPassage.of(hit).to_dict() for hit in hits], ensure_ascii=False, indent=2))
        return 0
    for number, hit in enumerate(hits, start=1):
        print(f"[{number}] score {hit.score:.3f} · {', '.join(place(hit))}\n    {hit.text}\n")
    return 0


def run_ask(args: argparse.Namespace) -> int:
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.answering.llm import llm_from_config
    from kzru_rag.retrieval.retriever import Retriever
    from kzru_rag.schema import Answer

    llm = (
        None
        if args.no_llm
        else llm_from_config(base_url=args.llm_base_url, model=args.llm_model, api_key=args.llm_api_key)
    )
    assistant = Assistant(Retriever.load(args.index), llm=llm, k=args.k)
    if args.json:
        reply = FullReply.of(assistant.ask(args.question, documents=args.document))
        print(json.dumps(reply.to_dict(), ensure_ascii=False, indent=2))
        return 0
    streamed = ""
    for item in assistant.stream(args.question, documents=args.document):
        if isinstance(item, Answer):
            answer = item
        else:
            streamed += item
            print(item, end="", flush=True)
    if answer.notice:
        print(f"\nnote: {answer.notice}", file=sys.stderr, flush=True)
    if answer.confidence is not None:
        print(f"\n[{answer.status}; confidence {answer.confidence:.2f}]", end="")
    if answer.text != streamed:  # the LLM failed part-way: the quoted answer replaces what was shown
        print(f"\n\n{answer.text}", end="")
    print("\n")
    _print_citations(answer)
    return 0


def _print_citations(answer: Answer) -> None:
    """Each cited passage with its place, its answering sentence in bold on a terminal."""
    bold = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    for number, hit in enumerate(answer.citations, start=1):
        where = place(hit)
        if hit.metadata.get("date"):
            where.append(str(hit.metadata["date"]))
        start, end = hit.highlight or (hit.start, hit.end)
        a, b = start - hit.start, end - hit.start
        print(f"[{number}] {' · '.join(where)}\n    {hit.text[:a]}{bold[0]}{hit.text[a:b]}{bold[1]}{hit.text[b:]}\n")
