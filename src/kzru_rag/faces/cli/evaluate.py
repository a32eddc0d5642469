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
    calibrate.add_argument("--write", action="store_true", help="store the fitted model in the index manifest")
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

    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.evaluation.calibration import calibrate, collect, collect_dialogues
    from kzru_rag.evaluation.datasets import load_dialogues, load_questions
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
    _print_calibration(result, [*sets, *dialogues], samples)
    if args.write:
        write_confidence(retriever.index.path, result.model.to_dict())
        print(f"wrote the confidence model to {retriever.index.path / 'manifest.json'}")
    return 0


def _print_calibration(result: Calibration, set_names: list[str], samples: list[Sample]) -> None:
    """The fitted model, its held-out figures per set and overall, its calibration, risk–coverage and signals."""
    from kzru_rag.evaluation.calibration import signal_effects
    from kzru_rag.evaluation.trust import (
        calibration_table,
        format_calibration,
        format_risk_coverage,
        risk_coverage,
        trust_report,
    )

    model = result.model
    print(f"presentation threshold (held-out misleading rate <= 0.10): confidence >= {model.answer_from:.2f}")
    print("weights (standardised signals): " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(model.names, model.weights)))
    outcomes = result.outcomes()
    print("held-out figures (each set scored by the model fitted on the others):")
    for name in set_names:
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


def _trust_line(report: TrustReport) -> str:
    return (
        f"answered {report.answered}, uncertain {report.uncertain}, abstained {report.abstained} "
        f"of {report.questions}; misleading {report.misleading:.3f}; coverage {report.coverage:.3f}; "
        f"unanswerable answered {len(report.unanswerable_answered)}/{report.questions - report.answerable}; "
        f"answerable abstained {len(report.answerable_abstained)}/{report.answerable}"
    )
