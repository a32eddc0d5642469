"""`kzru-rag`: the command line, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from typing import Any

from .errors import KzruRagError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *rest: f"warning: {message}\n"
    try:
        return args.run(args)
    except (KzruRagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the existing index was left as it was", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kzru-rag", description="Cited answers about the KZ–RU state visit document.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or inspect the index").add_subparsers(dest="action", required=True)
    build = index.add_parser("build", help="chunk, embed and write the index (atomically)")
    build.add_argument("--source", nargs="+", metavar="PATH", help=".txt/.md files or folders (default: the bundled document)")
    build.add_argument("--model", help="sentence-transformers model name or path (default: bundled multilingual-e5-small)")
    build.add_argument("--max-chars", type=int, help="largest chunk in characters")
    build.add_argument("--overlap", type=int, help="sentences shared by consecutive chunks")
    build.add_argument(
        "--ann",
        choices=("flat", "hnsw", "auto"),
        help="vector index: exact 'flat', approximate 'hnsw', or 'auto' (hnsw from 50 000 chunks on; "
        "default: an hnsw index stays hnsw, else auto)",
    )
    build.add_argument(
        "--store",
        metavar="STORE",
        help="where the index lives: faiss (files in the index folder), milvus:PATH.db (Milvus Lite), milvus://HOST:19530 "
        "or https://… (a Milvus server; token from $KZRU_RAG_MILVUS_TOKEN) (default: $KZRU_RAG_STORE, else the "
        "existing index's store, else faiss)",
    )
    _index_option(build)
    build.set_defaults(run=_index_build)
    status = index.add_parser("status", help="what is indexed, and whether it is fresh")
    _index_option(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=_index_status)

    search = commands.add_parser("search", help="print the passages that best match a question")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    _index_option(search)
    search.set_defaults(run=_search)

    ask = commands.add_parser("ask", help="answer a question with cited passages (quotes, or an LLM's answer)")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=5, help="passages per answer (default 5)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible server (default: $KZRU_RAG_LLM_BASE_URL)")
    ask.add_argument("--llm-model", metavar="NAME", help="LLM model; without one the answer is quoted (default: $KZRU_RAG_LLM_MODEL)")
    ask.add_argument("--llm-api-key", metavar="KEY", help="LLM API key (default: $KZRU_RAG_LLM_API_KEY)")
    ask.add_argument("--no-llm", action="store_true", help="quote the document even when an LLM is configured")
    _index_option(ask)
    ask.set_defaults(run=_ask)

    evaluate = commands.add_parser("eval", help="hit@k and MRR on a JSONL question set")
    evaluate.add_argument("file")
    evaluate.add_argument("-k", type=int, default=5, help="passages retrieved per question (default 5)")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.add_argument("--baselines", action="store_true", help="also score dense-only and BM25-only baselines")
    evaluate.add_argument("--ablation", action="store_true", help="also score the retriever with parts of its scoring off")
    evaluate.add_argument(
        "--answers", action="store_true", help="also ask the assistant (no LLM): how often its quoted answer holds the gold"
    )
    _index_option(evaluate)
    evaluate.set_defaults(run=_eval)
    return parser


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", metavar="DIR", help="index folder (default: $KZRU_RAG_INDEX or the project's index/)")


def _index_build(args: argparse.Namespace) -> int:
    from .chunking import Chunker
    from .embedding import load_embedder
    from .index import build_index

    defaults = Chunker()
    chunker = Chunker(
        max_chars=args.max_chars if args.max_chars is not None else defaults.max_chars,
        overlap=args.overlap if args.overlap is not None else defaults.overlap,
    )
    embedder = load_embedder(args.model)
    bar = _ProgressBar()
    try:
        manifest = build_index(args.source, embedder, args.index, chunker, progress=bar, vector_index=args.ann, store=args.store)
    finally:
        bar.close()
    print(
        f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents with {manifest.model_id} "
        f"({manifest.vector_index} vector index) in store {manifest.store}"
    )
    return 0


class _ProgressBar:
    """A tqdm bar on stderr, opened at the first report (so early errors print alone)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="text", desc="embedding", file=sys.stderr)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _index_status(args: argparse.Namespace) -> int:
    from .index import load_index

    loaded = load_index(args.index)
    manifest = loaded.manifest
    if args.json:
        print(json.dumps({**manifest.to_dict(), "path": str(loaded.path), "stale": loaded.stale}, ensure_ascii=False, indent=2))
        return 0
    print(f"index:     {loaded.path}")
    print(f"model:     {manifest.model_id} ({manifest.dim} dimensions)")
    print(f"built:     {manifest.built_at}")
    print(f"chunks:    {manifest.chunk_count} (chunker {manifest.chunker}, {manifest.vector_index} vector index)")
    print(f"store:     {manifest.store}" + (f" (collections {manifest.collection})" if manifest.collection else ""))
    for record in manifest.documents:
        state = "STALE" if record.source in loaded.stale else "fresh"
        print(f"document:  {record.doc_id} [{state}] {record.source}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from .retriever import Retriever

    hits = Retriever.load(args.index).search(args.query, k=args.k)
    if args.json:
        print(json.dumps([hit.to_dict() for hit in hits], ensure_ascii=False, indent=2))
        return 0
    for number, hit in enumerate(hits, start=1):
        place = f"{hit.doc_id}, paragraph {hit.metadata.get('paragraph')}, chars {hit.start}–{hit.end}"
        print(f"[{number}] score {hit.score:.3f} · {place}\n    {hit.text}\n")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .assistant import Answer, Assistant
    from .llm import llm_from_config
    from .retriever import Retriever

    llm = None if args.no_llm else llm_from_config(base_url=args.llm_base_url, model=args.llm_model, api_key=args.llm_api_key)
    assistant = Assistant(Retriever.load(args.index), llm=llm, k=args.k)
    if args.json:
        print(json.dumps(assistant.ask(args.question).to_dict(), ensure_ascii=False, indent=2))
        return 0
    streamed = ""
    for item in assistant.stream(args.question):
        if isinstance(item, Answer):
            answer = item
        else:
            streamed += item
            print(item, end="", flush=True)
    if answer.notice:
        print(f"\nnote: {answer.notice}", file=sys.stderr, flush=True)
    if answer.text != streamed:  # the LLM failed part-way: the quoted answer replaces what was shown
        print(f"\n\n{answer.text}", end="")
    print("\n")
    bold = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    for number, hit in enumerate(answer.citations, start=1):
        place = [hit.doc_id, f"paragraph {hit.metadata.get('paragraph')}", f"chars {hit.start}–{hit.end}"]
        if hit.metadata.get("date"):
            place.append(str(hit.metadata["date"]))
        start, end = hit.highlight or (hit.start, hit.end)
        a, b = start - hit.start, end - hit.start
        print(f"[{number}] {' · '.join(place)}\n    {hit.text[:a]}{bold[0]}{hit.text[a:b]}{bold[1]}{hit.text[b:]}\n")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .evaluation import ablations, baselines, evaluate, evaluate_answers, format_answers, format_reports, load_questions
    from .retriever import Retriever

    questions = load_questions(args.file)
    retriever = Retriever.load(args.index)
    searchers = {"kzru-rag hybrid (this index)": retriever}
    if args.baselines:
        searchers.update(baselines(retriever))
    if args.ablation:
        searchers.update(ablations(retriever))
    reports = [evaluate(searcher, questions, k=args.k, name=name) for name, searcher in searchers.items()]
    answers = evaluate_answers(Assistant(retriever), questions) if args.answers else None
    if args.json:
        retrievers = [report.to_dict() for report in reports]
        output: Any = retrievers if answers is None else {"retrievers": retrievers, "answers": answers.to_dict()}
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return 0
    print(format_reports(reports))
    if answers is not None:
        print(format_answers(answers))
    for report in reports:
        for miss in report.misses:
            print(f"{report.name}: {miss['id']} ({miss['lang']}) rank {miss['rank']}: {miss['question']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
