"""Knowing when the passages do not answer: named specifics, answer-kind and key-noun signals, the calibrated
confidence, the three presentations, and the figures `kzru-rag eval` and `kzru-rag calibrate` report."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kzru_rag.answering.assistant import Assistant
from kzru_rag.answering.confidence import SIGNAL_NAMES, ConfidenceModel, Signals, fit, measure
from kzru_rag.evaluation.calibration import Sample, calibrate, collect_dialogues, signal_effects
from kzru_rag.evaluation.datasets import Question, load_dialogues
from kzru_rag.evaluation.dialogues import evaluate_dialogues
from kzru_rag.evaluation.trust import Outcome, calibration_table, evaluate_trust, risk_coverage, trust_report
from kzru_rag.faces.cli import main
from kzru_rag.language.entities import kazakh_stem, named_specifics, spells
from kzru_rag.language.questions import analyse, holds_kind

DATA = Path(__file__).parent / "data"


@pytest.mark.slow
def test_the_committed_index_carries_a_calibrated_model(bundled_assistant):
    model = bundled_assistant.confidence
    assert model is not None and model.names and set(model.names) <= set(SIGNAL_NAMES)
    assert 0 < model.answer_from < 1


@pytest.mark.parametrize(
    "question, unknown",
    [
        ("Что сказал Назарбаев о коридоре «Север – Юг»?", "Назарбаев"),
        ("Какова позиция Китая по коридору «Север – Юг»?", "Китая"),
        ("Какую роль в визите сыграли США?", "США"),
        ("Когда пройдёт XXV Форум межрегионального сотрудничества?", "XXV"),
    ],
)
def test_a_question_naming_what_no_document_mentions_abstains_with_that_reason(assistant, question, unknown):
    answer = assistant.ask(question)
    assert answer.status == "abstained" and answer.abstained
    assert ("unknown_names", unknown) in [(r.kind, r.detail) for r in answer.reasons]
    assert f"не упоминается: {unknown}" in answer.text
    assert answer.confidence is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Кто будет участвовать в строительстве первой АЭС в Казахстане?",  # «атомные электростанции» spell АЭС
        "Где выступила Жанар Тулиндинова?",  # forms of a surname the document has
        "Тоқаев Мәскеуде не айтты?",  # Kazakh «Мәскеуде» meets «Москва» through its stem's embedding
        "Когда пройдёт XXI Форум межрегионального сотрудничества?",
    ],
)
def test_names_the_documents_do_mention_in_other_forms_do_not_abstain(retriever, question):
    assert retriever.unknown_names(question) == []


def test_entity_helpers():
    assert [w for w, _ in named_specifics("Что думают в Пекине и ООН о визите Путина в XXI веке?")] == [
        "Пекине",
        "ООН",
        "Путина",
        "XXI",
    ]
    # a follow-up is searched with the earlier question: the word opening that one is no name either
    follow_up = "What post does he hold? Which Moscow talks did Tokayev hold? Мақалада қай сарапшы Мәскеуде айтты?"
    assert [w for w, _ in named_specifics(follow_up)] == ["Moscow", "Tokayev", "Мәскеуде"]
    assert spells("АПК", ["агропромышленный", "комплекс"]) and not spells("США", ["страны", "шли", "вперёд"])
    assert kazakh_stem("Ресейдің") == "Ресей" and kazakh_stem("Мәскеуде") == "Мәскеу"


def test_answer_kind_by_ner_and_morphology():
    assert analyse("Какой институт представляет эксперт?").kind == "organisation"
    assert analyse("Почему визит важен?").kind == "reason" and analyse("Кто выступил?").kind == "person"
    sentence = "По словам Жанар Тулиндиновой из Казахстанского института стратегических исследований, встреча важна."
    assert holds_kind(sentence, "person", "Кто сказал, что встреча важна?")
    assert holds_kind(sentence, "organisation", "Какой институт?")
    assert not holds_kind("Встреча прошла успешно.", "person", "Кто провёл встречу?")
    built = "Первая атомная электростанция будет возводиться при участии «Росатома»."
    assert holds_kind(built, "person", "Кто участвует в строительстве станции?")  # who: a person or an organisation
    assert not holds_kind(built, "person", "Кто из «Росатома» участвует в строительстве?")


@pytest.mark.slow
def test_a_key_noun_with_no_counterpart_lowers_the_match_and_the_confidence(bundled_assistant, retriever):
    """«бюджет» is nowhere in the passages about the forum; «тема» is."""
    asked, missing = "Какова тема форума в Уральске?", "Каков бюджет форума в Уральске?"
    signals = {}
    for question in (asked, missing):
        query = analyse(question)
        hits = retriever.search(query)
        signals[question] = measure(query, hits, hits[0], retriever.evidence(query, hits))
    assert signals[asked].noun_match == 1.0 > signals[missing].noun_match
    assert bundled_assistant.ask(missing).confidence < bundled_assistant.ask(asked).confidence


@pytest.mark.slow
def test_a_question_whose_key_noun_the_passages_lack_is_presented_as_uncertain(bundled_assistant, retriever):
    question = "Какая погода была в Москве во время визита?"
    answer = bundled_assistant.ask(question)
    query = analyse(question)
    assert measure(query, answer.hits, answer.citations[0], retriever.evidence(query, answer.hits)).noun_match < 1
    assert answer.status == "uncertain" and not answer.abstained
    warning, *leads = answer.text.split("\n\n")
    assert warning.startswith("Прямого ответа в документе может не быть. Ближайшие фрагменты: [1]")
    assert leads and all(line.endswith("]") for line in leads)  # the quotes, given as leads
    assert answer.citations and answer.confidence < bundled_assistant.confidence.answer_from


def test_a_question_asking_whose_needs_the_owner_in_the_quote_not_the_owned_noun(assistant):
    """«Чьи слова…?» is answered by a line of direct speech and who says it; «слова» need not be quoted, as
    «Какие слова…?» (which asks for the words) would need."""
    whose = assistant.ask("Чьи слова о «народной дипломатии» приводятся в статье?")
    which = assistant.ask("Какие слова о «народной дипломатии» приводятся в статье?")
    assert "отмечает эксперт КИСИ" in whose.text and whose.status == "answered"
    assert whose.signals.asked_noun == 0.5 and which.signals.asked_noun == 0.0


@pytest.mark.slow
def test_a_direct_answer_is_answered_with_its_confidence(bundled_assistant):
    answer = bundled_assistant.ask("Кто сказал, что Казахстан и Россия формируют ядро евразийской логистики?")
    assert answer.status == "answered" and "Жанар Тулиндинова" in answer.text
    assert bundled_assistant.confidence.answer_from <= answer.confidence <= 1


@pytest.mark.slow
def test_the_uncertain_presentation_speaks_the_questions_language(bundled_assistant):
    answer = bundled_assistant.ask("What budget was allocated to the forum in Uralsk?")
    assert answer.status == "uncertain" and answer.text.startswith("The document may not answer this directly.")


def test_ask_json_and_text_carry_status_and_confidence(capsys):
    assert main(["ask", "Где пройдёт Форум межрегионального сотрудничества?", "--no-llm", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "answered" and 0 < answer["confidence"] <= 1
    assert main(["ask", "Что сказал Назарбаев о визите?", "--no-llm", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "abstained" and answer["confidence"] is None
    assert main(["ask", "Где пройдёт Форум межрегионального сотрудничества?", "--no-llm"]) == 0
    assert "[answered; confidence 0." in capsys.readouterr().out


def test_trust_metrics_on_constructed_outcomes():
    outcomes = [
        Outcome("right", True, "answered", 0.9, True),
        Outcome("wrong", True, "answered", 0.8, False),
        Outcome("lead", True, "uncertain", 0.3, True),
        Outcome("shown", False, "answered", 0.7, False),
        Outcome("held", False, "abstained", None, False),
    ]
    report = trust_report(outcomes)
    assert (report.answered, report.uncertain, report.abstained) == (3, 1, 1)
    assert report.misleading == pytest.approx(2 / 5) and report.coverage == pytest.approx(1 / 3)
    assert report.unanswerable_answered == ["shown"] and report.misleading_ids == ["wrong", "shown"]
    rows = {row["threshold"]: row for row in risk_coverage(outcomes, (0.0, 0.75, 0.95))}
    assert rows[0.0]["coverage"] == pytest.approx(2 / 3) and rows[0.0]["misleading"] == pytest.approx(2 / 5)
    assert rows[0.75]["risk"] == pytest.approx(1 / 2) and rows[0.95]["presented"] == 0
    bands = calibration_table([0.1, 0.9, 0.95, 1.0], [False, True, False, True], (0.0, 0.5, 1.0))
    assert [b["answers"] for b in bands] == [1, 3] and bands[1]["accuracy"] == pytest.approx(2 / 3)


def test_evaluate_trust_on_a_small_set(assistant):
    questions = [
        Question(
            "a", "Кто сказал, что Казахстан и Россия формируют ядро евразийской логистики?", "ru", ["Тулиндинова"]
        ),
        Question("u", "Что сказал Назарбаев о визите?", "ru", []),
    ]
    report = evaluate_trust(assistant, questions)
    assert (report.answered, report.abstained, report.misleading, report.coverage) == (1, 1, 0.0, 1.0)


def _signals(value: float) -> Signals:
    return Signals(**{name: value for name in SIGNAL_NAMES})


@pytest.mark.slow
def test_calibration_cross_validates_across_sets_and_bounds_the_misleading_rate():
    rng = np.random.default_rng(0)
    samples = []
    for set_name in ("one", "two", "three"):
        for i in range(40):
            good = i % 3 != 0
            value = (1.0 if good else 0.0) + rng.normal(0, 0.6)
            outcome = Outcome(f"{set_name}{i}", good, "answered", None, good)
            samples.append(Sample(set_name, outcome, _signals(value)))
    result = calibrate(samples, max_misleading=0.1)
    assert all(p is not None for p in result.held_out)
    outcomes = result.outcomes()
    assert sum(o.status == "answered" and not o.correct for o in outcomes) / len(outcomes) <= 0.1
    assert ConfidenceModel.from_dict(result.model.to_dict()) == result.model
    effects = signal_effects(samples, max_misleading=0.1)
    assert {"all", "score alone", *(f"without {name}" for name in SIGNAL_NAMES)} == effects.keys()
    assert effects["all"][0] > 0.8  # the signals carry the label: held-out ROC AUC


def test_a_model_fitted_before_a_signal_existed_judges_on_the_signals_it_knows():
    older = tuple(name for name in SIGNAL_NAMES if name != "follow_up")
    rows = np.array([[0.2] * len(older), [0.9] * len(older), [0.4] * len(older), [0.7] * len(older)])
    model = ConfidenceModel.from_dict(fit(rows, np.array([0.0, 1.0, 0.0, 1.0]), 0.5, older).to_dict())
    signals = _signals(0.8)

    assert model.names == older
    assert model.probability(replace(signals, follow_up=1.0)) == model.probability(signals)
    assert model.probability(signals) == model.probabilities(signals.vector(older)[None, :])[0]
    assert model.probability(_signals(0.9)) > model.probability(_signals(0.3))


def test_a_follow_up_is_judged_as_one_and_a_question_asked_alone_is_not(small_retriever):
    assistant = Assistant(small_retriever, calibrated=False)
    first = assistant.ask("Где откроют филиал МГИМО?", use_llm=False)
    history = [{"role": "user", "content": "Где откроют филиал МГИМО?"}, {"role": "assistant", "content": first.text}]
    follow = assistant.ask("А когда?", history, use_llm=False)

    assert first.signals is not None and first.signals.follow_up == 0.0
    assert follow.query_used != "А когда?"
    assert follow.signals is not None and follow.signals.follow_up == 1.0


@pytest.mark.slow
def test_a_model_for_other_signals_is_refused_and_calibrate_replaces_it(tmp_path, capsys):
    model = fit(np.array([[0.0] * len(SIGNAL_NAMES), [1.0] * len(SIGNAL_NAMES)]), np.array([0.0, 1.0]), 0.5)
    data = {**model.to_dict(), "signals": [*SIGNAL_NAMES[:-1], "a_signal_of_another_version"]}
    with pytest.raises(ValueError, match="kzru-rag calibrate"):
        ConfidenceModel.from_dict(data)
    with pytest.raises(ValueError, match="kzru-rag calibrate"):
        ConfidenceModel.from_dict({**model.to_dict(), "signals": ["score"]})  # one signal, ten weights

    index = tmp_path / "index"
    shutil.copytree(Path(__file__).parents[1] / "index", index)
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    (index / "manifest.json").write_text(json.dumps({**manifest, "confidence": data}), encoding="utf-8")
    question = "Где пройдёт Форум межрегионального сотрудничества?"
    assert main(["ask", question, "--no-llm", "--index", str(index)]) != 0
    assert "kzru-rag calibrate" in capsys.readouterr().err
    sets = [str(DATA / "dev.jsonl"), str(DATA / "dev2.jsonl")]
    assert main(["calibrate", *sets, "--index", str(index), "--write"]) == 0
    capsys.readouterr()
    assert main(["ask", question, "--no-llm", "--index", str(index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["confidence"] is not None


def test_dialogue_turns_become_samples_asked_in_order_with_the_earlier_answers(small_retriever):
    assistant = Assistant(small_retriever, calibrated=False)
    dialogues = load_dialogues(DATA / "dialogues_blind.jsonl")[:3]
    samples = collect_dialogues(assistant, {"dialogues_blind.jsonl": dialogues})
    turns = [(d, n, t) for d in dialogues for n, t in enumerate(d.turns, start=1)]
    assert [s.outcome.id for s in samples] == [f"{d.id}#{n}" for d, n, _ in turns]
    assert {s.set_name for s in samples} == {"dialogues_blind.jsonl"}
    assert [s.outcome.answerable for s in samples] == [bool(t.gold) for _, _, t in turns]
    assert not any(s.outcome.correct for s in samples if not s.outcome.answerable)
    assert all((s.signals is None) == (s.outcome.status == "abstained") for s in samples)
    # the same turns, asked as the dialogue evaluation asks them (uncalibrated: every answer not abstained is shown)
    report = evaluate_dialogues(assistant, dialogues)
    assert [s.outcome.correct for s in samples if s.outcome.answerable] == [
        r.right for r, (_, _, t) in zip(report.turns, turns) if t.gold
    ]


@pytest.mark.slow
def test_calibrate_holds_out_each_dialogue_file_as_one_set(tmp_path, capsys):
    files = []
    for name in ("dialogues_blind.jsonl", "dialogues_blind2.jsonl"):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()[:6]
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        files += ["--dialogues", str(tmp_path / name)]
    corpus = tmp_path / "another"  # a corpus's dialogue set is told from its question sets by its records
    shutil.copytree(Path(__file__).parents[1] / "index", corpus)
    assert main(["calibrate", str(DATA / "dev.jsonl"), *files[:2], "--corpus", str(corpus), files[3]]) == 0
    out = capsys.readouterr().out
    assert all(
        f"  {name}: answered " in out
        for name in ("index/dev.jsonl", "index/dialogues_blind.jsonl", "another/dialogues_blind2.jsonl")
    )
    assert main(["calibrate", "--dialogues", files[1]]) != 0
    assert "at least two" in capsys.readouterr().err
