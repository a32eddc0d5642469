"""`kzru-rag eval` (retrieval, answer and dialogue scores on a question set) and `kzru-rag calibrate` (fitting the
answer-confidence model, with leave-one-set-out figures)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.cli.common import index_option, json_option

if TYPE_CHECKING:
    from kzru_rag.evaluation.calibration import Calibration, Sample
    from kzru_rag.evaluation.trust import TrustReport
    from kzru_rag.retrieval.retriever import Retriever


def add_eval_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="hit@k and MRR on a JSONL question set; turns right on a dialogue set")
    evaluate.add_argument("file", nargs="?", help="question set (JSONL: id, question, lang, gold)")
    evaluate.add_argument(
        "--dialogues",
        metavar="FILE",
        help="dialogue set (JSONL: id, turns [{question, gold}]): ask each turn with the assistant's earlier answers",
    )
    evaluate.add_argument("-k", type=int, default=5, help="passages retrieved per question (default 5)")
    json_option(evaluate)
    evaluate.add_argument("--baselines", action="store_true", help="also score dense-only and BM25-only baselines")
    evaluate.add_argument(
        "--ablation", action="store_true", help="also score the retriever with parts of its scoring off"
    )
    evaluate.add_argument(
        "--answers",
        action="store_true",
        help="also ask the assistant (no LLM): how often its quoted answer holds the gold",
    )
    index_option(evaluate)
    evaluate.set_defaults(run=run_eval)


def add_calibrate_command(commands: argparse._SubParsersAction) -> None:
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
    calibrate.add_argument(
        "--corpus",
        nargs="+",
        action="append",
        default=[],
        metavar=("DIR", "FILE"),
        help="another index folder and question or dialogue sets asked of it (repeatable); each set is held out in "
        "turn, and the figures are also given leaving out each corpus (its index) in turn",
    )
    calibrate.add_argument("--write", action="store_true", help="store the fitted model in the --index manifest")
    calibrate.add_argument(
        "--save", metavar="FILE", help="write the fitted model as JSON (src/kzru_rag/data/confidence.json is shipped)"
    )
    index_option(calibrate)
    calibrate.set_defaults(run=run_calibrate)


def run_eval(args: argparse.Namespace) -> int:
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


def run_calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kzru_rag.evaluation.calibration import calibrate
    from kzru_rag.evaluation.datasets import holds_dialogues
    from kzru_rag.retrieval.retriever import Retriever
    from kzru_rag.stores.manifest import write_confidence

    if len(args.files) + len(args.dialogues) + sum(len(files) - 1 for files in args.corpus) < 2:
        raise ValueError("calibrate needs at least two question or dialogue sets (each is held out in turn)")
    retriever = Retriever.load(args.index)
    corpora = [Path(folder).name for folder, *_ in args.corpus]
    samples = _samples(retriever, args.files, args.dialogues, retriever.index.path.name if corpora else None)
    for (folder, *files), name in zip(args.corpus, corpora):
        dialogues = [file for file in files if holds_dialogues(file)]
        samples += _samples(Retriever.load(folder), [f for f in files if f not in dialogues], dialogues, name)
    result = calibrate(samples)
    _print_calibration(result, list(dict.fromkeys(s.set_name for s in samples)), samples)
    if corpora:
        _print_by_corpus(result)
    if args.write:
        write_confidence(retriever.index.path, result.model.to_dict())
        print(f"wrote the confidence model to {retriever.index.path / 'manifest.json'}")
    if args.save:
        Path(args.save).write_text(json.dumps(result.model.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote the confidence model to {args.save}")
    return 0


def _samples(retriever: Retriever, files: list[str], dialogues: list[str], corpus: str | None) -> list[Sample]:
    """Every question and dialogue turn of the sets asked of `retriever`'s index, without a judge; each set named by
    its file, as `CORPUS/FILE` when a `corpus` is given, and a set whose questions name their documents split into
    `FILE#1`… by document (`calibration.by_document_folds`)."""
    from pathlib import Path

    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.evaluation.calibration import by_document_folds, collect, collect_dialogues
    from kzru_rag.evaluation.datasets import load_dialogues, load_questions

    assistant = Assistant(retriever, calibrated=False)
    prefix = f"{corpus}/" if corpus else ""
    questions = {
        f"{prefix}{Path(file).name}{part}": chosen
        for file in files
        for part, chosen in by_document_folds(load_questions(file)).items()
    }
    turns = {prefix + Path(file).name: load_dialogues(file) for file in dialogues}
    return collect(assistant, questions) + collect_dialogues(assistant, turns)


def _print_calibration(result: Calibration, set_names: list[str], samples: list[Sample]) -> None:
    """The fitted model, its held-out figures per set and overall, its calibration, risk–coverage and signals."""
    from kzru_rag.evaluation.calibration import MAX_MISLEADING, signal_effects
    from kzru_rag.evaluation.trust import (
        calibration_table,
        format_calibration,
        format_risk_coverage,
        risk_coverage,
        trust_report,
    )

    model = result.model
    print(
        f"presentation threshold (held-out misleading rate <= {MAX_MISLEADING}): confidence >= {model.answer_from:.2f}"
    )
    print("weights (standardised signals): " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(model.names, model.weights)))
    outcomes = result.outcomes()
    print("held-out figures (each set scored by the model fitted on the others):")
    for name in set_names:
        report = trust_report([o for s, o in zip(result.samples, outcomes) if s.set_name == name])
        print(f"  {name}: " + _trust_line(report))
    print(f"  all: {_trust_line(trust_report(outcomes))}")
    for lang in sorted({o.lang for o in outcomes}):
        print(f"  {lang}: {_trust_line(trust_report([o for o in outcomes if o.lang == lang]))}")
    judged = [(p, s.outcome.correct) for s, p in zip(result.samples, result.held_out) if p is not None]
    print("calibration (held-out confidence of answers not abstained):")
    print(format_calibration(calibration_table([p for p, _ in judged], [ok for _, ok in judged])))
    print("risk–coverage (held-out, all sets):")
    print(format_risk_coverage(risk_coverage(outcomes)))
    print(f"signal effects (held-out ROC AUC; threshold and coverage at misleading <= {MAX_MISLEADING}):")
    for name, (auc, threshold, coverage) in signal_effects(samples).items():
        print(f"  {name:<26}AUC {auc:.3f}  threshold {threshold:.2f}  coverage {coverage:.3f}")


def _print_by_corpus(result: Calibration) -> None:
    """Leave-one-corpus-out figures at the fitted threshold, per corpus and language."""
    from kzru_rag.evaluation.calibration import corpus_of, held_out_by_corpus, presented
    from kzru_rag.evaluation.trust import trust_report

    threshold = result.model.answer_from
    held_out = held_out_by_corpus(result.samples)
    outcomes = [presented(s.outcome, p, threshold) for s, p in zip(result.samples, held_out)]
    print(
        f"leave-one-corpus-out (each corpus judged by the model fitted on the others; confidence >= {threshold:.2f}):"
    )
    for corpus in dict.fromkeys(corpus_of(s) for s in result.samples):
        mine = [(s, o) for s, o in zip(result.samples, outcomes) if corpus_of(s) == corpus]
        for lang in sorted({o.lang for _, o in mine}):
            print(f"  {corpus} {lang}: " + _trust_line(trust_report([o for _, o in mine if o.lang == lang])))


def _trust_line(report: TrustReport) -> str:
    return (
        f"answered {report.answered}, uncertain {report.uncertain}, abstained {report.abstained} "
        f"of {report.questions}; misleading {report.misleading:.3f}; coverage {report.coverage:.3f}; "
        f"unanswerable answered {len(report.unanswerable_answered)}/{report.questions - report.answerable}; "
        f"answerable abstained {len(report.answerable_abstained)}/{report.answerable}"
    )
