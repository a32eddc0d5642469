"""Follow-ups: what a pronoun refers to in the previous answer, carried into the search, and dialogue sets scored."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kzru_rag import Assistant
from kzru_rag.answering.followups import contextual_query, entities, first_claim, is_follow_up, referent, standalone
from kzru_rag.answering.wording import uncertain
from kzru_rag.evaluation.datasets import Dialogue, Turn, load_dialogues
from kzru_rag.evaluation.dialogues import evaluate_dialogues, format_dialogues
from kzru_rag.faces.cli import main
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Lead, Message

WHO = "Кто говорит о ядре евразийской логистики?"
# Constructed answers: a woman and a man named in one quote, each agreeing with one pronoun only.
TWO_PEOPLE = "Об этом говорила Жанар Тулиндинова на встрече с Владимиром Путиным. [1]"
ONE_WOMAN = "Об этом рассказала Жанар Тулиндинова. [1]"


def _history(question: str, answer: str) -> list[Message]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_entities_are_found_with_their_gender_and_quoted_names_with_their_nouns() -> None:
    found = {
        entity.text: entity
        for entity in entities("Казахстан развивает коридор «Север – Юг», – подчеркивает Жанар Тулиндинова.")
    }

    assert found["Жанар Тулиндинова"].kind == "person" and found["Жанар Тулиндинова"].gender == "femn"
    assert found["Казахстан"].kind == "place"
    assert found["«Север – Юг»"].kind == "name" and found["«Север – Юг»"].gender == "masc"


@pytest.mark.parametrize(
    "question, expected",
    [
        ("А где она работает?", "Жанар Тулиндинова"),
        ("А где он работает?", "Владимиром Путиным"),
        ("Where does she work?", "Жанар Тулиндинова"),
    ],
)
def test_the_pronoun_takes_the_entity_that_agrees_with_it(question: str, expected: str) -> None:
    carried = referent(question, _history(WHO, TWO_PEOPLE))

    assert carried is not None and carried.text == expected


def test_she_takes_the_woman_the_answer_to_who_named() -> None:
    """An organisation named by a masculine noun with plural dependants is masculine (its head word), so «она»
    passes it over; «Москву» agrees with «она» too, but the previous question asked who: the person comes first."""
    answer = (
        "Визит в Москву важен, – акцентирует руководитель отдела Казахстанского института стратегических "
        "исследований Жанар Тулиндинова. [1]"
    )
    found = {entity.text: entity for entity in entities(answer)}

    assert found["Казахстанского института стратегических исследований"].gender == "masc"
    assert found["Жанар Тулиндинова"].gender == "femn"
    assert found["Москву"].gender == "femn"
    assert referent("А какую должность она занимает?", _history(WHO, answer)).text == "Жанар Тулиндинова"


BRIDGE = _history("Когда откроют второй мост через Иртыш?", "Движение по мосту откроют в ноябре 2027 года. [1]")


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("Сколько будет стоить этот мост через реку?", True),  # its noun was named: it points back
        ("Кто это сказал об открытии движения?", True),  # a demonstrative standing alone
        ("Какие вузы перечислены в этой статье?", False),  # a noun never named points elsewhere
        ("Какие меры для этого принимают в регионе?", True),  # «для этого»: no noun of its own
        ("Which universities does this article list?", True),  # an English noun is not compared with Russian
        ("Бұл бастама кімдікі?", True),  # nor a Kazakh one
        ("Is there a metro line in Almaty planned?", False),  # "there" of "is there" points nowhere
        ("What will be built there next year?", True),
    ],
)
def test_a_demonstrative_points_back_only_to_what_the_conversation_named(question: str, follow_up: bool) -> None:
    assert is_follow_up(question, BRIDGE) is follow_up
    assert (contextual_query(question, BRIDGE) == question) is not follow_up


def test_a_pronoun_of_the_wrong_gender_does_not_take_the_entity() -> None:
    assert referent("А где он работает?", _history(WHO, ONE_WOMAN)) is None
    assert contextual_query("А где он работает?", _history(WHO, ONE_WOMAN)) == f"А где он работает? {WHO}"


def test_there_takes_a_place_and_what_the_question_named_comes_last() -> None:
    answer = "В Уральске пройдёт форум, а в Омске откроют филиал. [1]"

    assert referent("А что ещё там будет?", _history("Что откроют в Омске?", answer)).text == "Уральске"


def test_after_a_question_for_a_place_the_pronoun_keeps_the_questions_subject() -> None:
    history = _history("Где проходит форум межрегионального сотрудничества?", "Форум проходит в Уральске. [1]")

    assert referent("А какая у него тема?", history) is None
    assert referent("А что там ещё будет?", history).text == "Уральске"


def test_a_kazakh_question_keeps_no_subject_by_russian_grammar() -> None:
    """pymorphy3 guesses genders for Kazakh words («сарапшының», «пікірі»), so the subject rule, which would keep
    the earlier question instead of the person its answer named, applies to Russian questions only."""
    history = _history("Мақалада қай сарапшының пікірі келтірілген?", ONE_WOMAN)

    assert referent("Оның лауазымы қандай?", history).text == "Жанар Тулиндинова"


def test_a_repeated_pronoun_keeps_its_referent() -> None:
    history = [*_history(WHO, ONE_WOMAN), *_history("А где она работает?", "В Москве находится институт. [1]")]

    assert referent("А кем она работает?", history).text == "Жанар Тулиндинова"


CLUSTERS = "Какие кластеры хотят формировать?"
TWO_QUOTES = "Особое внимание уделяется кластерам по переработке зерна. [1]\n\nВ Омске открыт филиал университета. [2]"


def test_the_pronoun_takes_an_entity_of_the_answer_not_of_its_further_quotes() -> None:
    """An answer presented as one said its first claim; its further quotes are context, so «там» takes no place
    from them and the earlier question is searched. An uncertain answer offers all its quotes as leads: any may
    be what the user takes up."""
    assert referent("А что там будут производить?", _history(CLUSTERS, TWO_QUOTES)) is None
    assert contextual_query("А что там будут производить?", _history(CLUSTERS, TWO_QUOTES)).endswith(CLUSTERS)
    leads = uncertain("ru", TWO_QUOTES, 2)

    assert referent("А что там будут производить?", _history(CLUSTERS, leads)).text == "Омске"


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("Кто платит за ремонт стиральной машины, если она сломалась?", False),  # «она» is the machine
        ("Где проходит форум, и когда он откроется?", False),
        ("А чем, по её словам, станет форум для колледжей?", True),  # no noun before the comma: she is Тулиндинова
        ("А какую должность она занимает?", True),  # the noun asked for is not what «она» stands for
    ],
)
def test_a_pronoun_whose_noun_is_in_the_question_points_within_it(question: str, follow_up: bool) -> None:
    assert is_follow_up(question, _history(WHO, ONE_WOMAN)) is follow_up
    assert (referent(question, _history(WHO, ONE_WOMAN)) is None) is not follow_up


def test_only_an_answers_first_claim_counts_as_what_it_said() -> None:
    assert first_claim("Первая цитата. [1]\n\nВторая цитата. [2]") == "Первая цитата."
    assert first_claim("Ответ без ссылок.") == "Ответ без ссылок."


def test_a_follow_up_carries_the_person_of_the_previous_answer(assistant: Assistant) -> None:
    answer = assistant.ask("А где она работает?", history=_history(WHO, ONE_WOMAN))

    assert "Жанар Тулиндинова" in answer.query_used
    assert "Казахстанского института стратегических исследований" in answer.text


def test_an_earlier_answer_may_answer_again_when_it_holds_what_the_follow_up_adds(assistant: Assistant) -> None:
    """The earlier quote goes on «…который обеспечит научное сопровождение…»: the follow-up's own word
    («обеспечит») is there, so that sentence is quoted again."""
    first = "О создании какого совета говорит инициатива Главы государства?"
    earlier = assistant.ask(first)
    answer = assistant.ask("А что этот совет обеспечит?", history=_history(first, earlier.text))

    assert "научное сопровождение" in answer.text.split("[1]")[0]
    assert answer.status == "answered"


def test_a_word_of_the_same_stem_counts_as_what_the_follow_up_adds(assistant: Assistant) -> None:
    """«координировать» is not a form of «координации»; the earlier quote still answers."""
    first = "Какой совет предлагают создать стороны для евразийского маршрута?"
    earlier = assistant.ask(first)
    answer = assistant.ask("А что этот совет будет координировать?", history=_history(first, earlier.text))

    assert "проектов, тарифов и стандартов" in answer.text.split("[1]")[0]


def test_an_earlier_answer_that_still_fits_best_is_quoted_again(assistant: Assistant) -> None:
    """«Чем он будет заниматься?» shares no word with «…который станет площадкой для координации…», yet that
    sentence answers it: an earlier quote competes as any sentence does, so it is quoted again when nothing new
    fits as well, rather than passed over for a fresh sentence on the same topic."""
    first = "Какой новый совет для транспортных магистралей рассматривают создать стороны?"
    earlier = assistant.ask(first)
    answer = assistant.ask("Чем он будет заниматься?", history=_history(first, earlier.text))

    assert "Совета по развитию евразийского маршрута" in earlier.text.split("[1]")[0]
    assert "координации проектов, тарифов и стандартов" in answer.text.split("[1]")[0]


@pytest.mark.slow
def test_an_uncertain_earlier_answer_said_its_quotes_not_its_warning(bundled_assistant: Assistant) -> None:
    """An uncertain answer opens with a warning paragraph; what it said is its first quote, so a follow-up after it
    is answered and judged as after the same quotes without the warning."""
    first = "Какая погода была в Москве во время визита?"
    earlier = bundled_assistant.ask(first)
    follow_up = "О чём там будут говорить?"
    warned = bundled_assistant.ask(follow_up, history=_history(first, earlier.text))
    plain = bundled_assistant.ask(follow_up, history=_history(first, earlier.text.partition("\n\n")[2]))

    assert earlier.status == "uncertain"
    assert (warned.text, warned.confidence) == (plain.text, plain.confidence)


@pytest.mark.slow
def test_a_follow_up_is_judged_by_the_kind_it_asks_for_not_the_earlier_questions(bundled_assistant: Assistant) -> None:
    """The search for «А какая у него тема?» carries «Где проходит…?»; the answer is still judged as an
    answer about a topic, not as a quote lacking a place."""
    first = "Где проходит XXI форум межрегионального сотрудничества?"
    earlier = bundled_assistant.ask(first)
    answer = bundled_assistant.ask("А какая у него тема?", history=_history(first, earlier.text))

    assert first in answer.query_used and "Рабочие профессии" in answer.text
    assert answer.signals is not None and answer.signals.kind_missing == 0
    assert answer.status == "answered"


def test_a_follow_ups_doubt_reads_the_question_as_asked_not_the_referent_searched_with_it(
    bundled_assistant: Assistant,
) -> None:
    """«Which department does she head?» is searched with «Жанар Тулиндинова», whose name the quote holds; the
    quote holds none of the question's own words, so the doubt must not say that it repeats them."""
    first = "Who is the political analyst quoted in the article?"
    earlier = bundled_assistant.ask(first)
    answer = bundled_assistant.ask("Which department does she head?", history=_history(first, earlier.text))

    assert "Тулиндинова" in answer.query_used and "медиапроектов" in answer.text
    assert answer.signals is not None and answer.signals.quote_overlap >= 0.5, "the searched words are in the quote"
    assert answer.status == "uncertain", "the case needs a doubt to read; see docs/trust.md Session 17"
    assert "repeats the question's words" not in answer.text


EMBANKMENT = _history(
    "Сколько стоит реконструкция набережной?", "Реконструкция набережной обойдётся в 4 млрд тенге. [1]"
)


@pytest.mark.parametrize(
    "question, history, follow_up",
    [
        (
            "Когда закончат реконструкцию набережной?",
            EMBANKMENT,
            True,
        ),  # a common noun standing for what was just talked about
        ("Когда закончат реконструкцию набережной?", BRIDGE, False),  # the conversation was about something else
        ("Когда закончат реконструкцию набережной в Уральске?", EMBANKMENT, False),  # it names a place of its own
        ("Где находится зоопарк?", EMBANKMENT, False),  # short, but it names a new thing and does not go on
        ("Где находится набережная?", EMBANKMENT, True),  # short, about what was just talked about
        ("А по чьей инициативе?", EMBANKMENT, True),  # short, opening as a continuation
        ("А когда?", EMBANKMENT, True),  # short, with no noun
    ],
)
def test_a_question_continues_the_conversation_only_about_what_it_named(
    question: str, history: list[Message], follow_up: bool
) -> None:
    assert is_follow_up(question, history) is follow_up
    assert contextual_query(question, history).startswith(question)


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("А кто оказался последним?", True),  # «кто» is no content word: two words, opening with «А»
        ("And in the whole republic?", True),  # "in", "the" are no content words
        ("Ал пойызбен ше?", True),  # Kazakh, opening with «Ал»
        ("Где находится зоопарк?", False),  # two content words, but a new thing and no continuation
        ("And which transport corridors are being built in the south?", False),  # more than two content words
    ],
)
def test_a_short_question_is_measured_by_its_content_words(question: str, follow_up: bool) -> None:
    """Question words and English function words do not make a question long: «А кто оказался последним?» after a
    turn about a league table goes on with it."""
    assert is_follow_up(question, EMBANKMENT) is follow_up


@pytest.mark.parametrize(
    "question, finds",
    [
        ("В каком году это было?", False),  # asks only the kind of answer: the earlier question finds the passages
        ("А сейчас?", False),
        ("А что при этом будут производить на этих новых заводах?", True),  # says enough of its own to lead
    ],
)
def test_a_follow_up_saying_little_of_its_own_does_not_find_the_passages_alone(question: str, finds: bool) -> None:
    alone = standalone(question, EMBANKMENT)
    assert alone.text.startswith(question) and alone.text != question
    assert alone.lead == question
    assert alone.finds is finds


def test_passages_are_found_by_the_whole_query_when_the_lead_does_not_find(small_retriever: Retriever) -> None:
    """A lead that does not find (`Lead.finds`) leaves the passages' ranking to the whole query's meaning, as if no
    lead were given; a lead that finds ranks them by its own meaning first."""
    follow_up = "В каком году это было?"
    query = f"{follow_up} Когда откроется филиал МГИМО?"
    whole = [hit.score for hit in small_retriever.search(query, k=3)]
    not_finding = [hit.score for hit in small_retriever.search(query, k=3, lead=Lead(follow_up, finds=False))]
    finding = [hit.score for hit in small_retriever.search(query, k=3, lead=Lead(follow_up))]
    assert not_finding == pytest.approx(whole)
    assert finding != pytest.approx(whole)


def test_a_person_carried_in_does_not_lead_the_search_but_a_place_does() -> None:
    woman = standalone("А где она работает?", _history(WHO, ONE_WOMAN))
    place = standalone("А что там ещё будет?", _history("Что откроют в Омске?", "В Уральске пройдёт форум. [1]"))

    assert woman.text == "А где она работает? Жанар Тулиндинова"
    assert woman.lead == "А где она работает?"
    assert place.text == place.lead == "А что там ещё будет? Уральске"


FACTORY = """# Завод

В 1941 году в посёлок эвакуировали из Харькова часть механического завода. В зданиях зерносклада наладили выпуск \
деталей для миномётов; в цехах работали в основном женщины и подростки.

Директором завода с 1946 по 1963 год был Григорий Фёдорович Ткач, приехавший с эшелоном из Харькова. После войны \
завод не вернулся в Харьков, а был перепрофилирован: с 1947 года он выпускал сеялки и культиваторы.

В 1994 году завод стал акционерным обществом, в 1997 году объявил о банкротстве, и половина цехов закрылась. \
Директор завода в те годы, Анна Семёновна Корчагина, стала первой женщиной во главе завода в области.
"""


@pytest.mark.slow
def test_the_sentence_on_what_a_person_did_is_quoted_not_the_one_naming_him(tmp_path: Path, embedder) -> None:
    """«Что выпускал завод в его время?» carries «Григорий Фёдорович Ткач»; led by the name, the search quoted the
    sentence naming him (the earlier answer) again; led by the question, the sentence on what the plant made."""
    from kzru_rag.index.build import build_index
    from kzru_rag.index.load import load_index

    (tmp_path / "factory.md").write_text(FACTORY, encoding="utf-8")
    build_index([tmp_path / "factory.md"], embedder, tmp_path / "index")
    assistant = Assistant(Retriever(load_index(tmp_path / "index"), embedder))
    first = "Кто был директором завода после войны?"
    earlier = assistant.ask(first, use_llm=False)
    answer = assistant.ask("Что выпускал завод в его время?", _history(first, earlier.text), use_llm=False)

    assert "Ткач" in earlier.text.split("[1]")[0]
    assert "Ткач" in answer.query_used
    assert "сеялки и культиваторы" in answer.text.split("[1]")[0]


@pytest.mark.slow
def test_a_short_follow_up_keeps_the_passages_of_the_conversation(bundled_assistant: Assistant) -> None:
    """«А кто это поясняет?» led by its own meaning found passages on anyone explaining anything; found by the
    whole conversation, the passage on the forum's plans is found, with the expert who explains them."""
    history: list[Message] = []
    for question in [
        "Какой форум проходит в Уральске 11–12 ноября?",
        "Что ещё планируется провести в рамках этого форума?",
    ]:
        history += _history(question, bundled_assistant.ask(question, history, use_llm=False).text)
    answer = bundled_assistant.ask("А кто это поясняет?", history, use_llm=False)
    assert "Тулиндинов" in answer.text


@pytest.mark.slow
def test_the_earlier_question_does_not_pull_the_search_back_to_its_own_answer(bundled_assistant: Assistant) -> None:
    """«А что при этом будут производить?» searched with the earlier question appended at full weight finds only
    the sentence that answered it; with the follow-up's own meaning leading (`Retriever.search`'s `lead`), the
    sentence on what will be produced is quoted too."""
    first = "Переход от чего к чему позволит странам формировать продовольственные цепочки?"
    earlier = bundled_assistant.ask(first, use_llm=False)
    answer = bundled_assistant.ask("А что при этом будут производить?", _history(first, earlier.text), use_llm=False)

    assert first in answer.query_used
    assert "кормов и биотоплива" in answer.text


def test_natasha_is_loaded_only_for_a_pronoun() -> None:
    code = textwrap.dedent(
        """
        import sys
        from kzru_rag.answering.followups import contextual_query
        history = [
            {"role": "user", "content": "Кто выступит?"},
            {"role": "assistant", "content": "Жанар Тулиндинова [1]"},
        ]
        contextual_query("А когда?", history)
        print("natasha" in sys.modules)
        contextual_query("А где она работает?", history)
        print("natasha" in sys.modules)
        """
    )
    source = Path(__file__).parents[1] / "src"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(source)}, check=True
    )

    assert result.stdout.split() == ["False", "True"]


# ---------------------------------------------------------------- dialogue sets

TINY_SET = [
    Dialogue("who", [Turn(WHO, ["Тулиндинова"]), Turn("А где она работает?", ["Казахстанского института"])]),
    Dialogue("none", [Turn("Кто выиграл чемпионат мира по футболу?", [])]),
]


def test_dialogue_turns_are_asked_with_the_assistants_own_answers(assistant: Assistant) -> None:
    report = evaluate_dialogues(assistant, TINY_SET)

    assert [(r.dialogue, r.turn) for r in report.turns] == [("who", 1), ("who", 2), ("none", 1)]
    assert report.turns[0].right and report.turns[2].right
    follow_up = report.turns[1]
    assert "Тулиндинова" in follow_up.query_used and "Казахстанского института" in follow_up.text
    answered = not follow_up.text.startswith("Прямого ответа")
    assert follow_up.right == answered, (
        "a turn presented as uncertain is not counted right, even when its leads hold the gold"
    )
    assert format_dialogues(report).endswith(f"dialogue turns right: {report.right}/3 ({report.right / 3:.3f})")


@pytest.mark.slow
def test_a_wrong_turn_is_counted_wrong(bundled_assistant: Assistant) -> None:
    report = evaluate_dialogues(
        bundled_assistant,
        [
            Dialogue(
                "bad",
                [
                    Turn("Где открыт филиал МГИМО?", ["в Омске"]),
                    Turn("Кто выиграл чемпионат мира по футболу?", ["Аргентина"]),
                ],
            )
        ],
    )

    assert [r.right for r in report.turns] == [False, False] and report.right == 0


@pytest.mark.slow
def test_cli_eval_dialogues_reports_turns_right(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dialogues.jsonl"
    lines = [{"id": d.id, "turns": [{"question": t.question, "gold": t.gold} for t in d.turns]} for d in TINY_SET]
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")

    assert load_dialogues(path) == TINY_SET
    assert main(["eval", "--dialogues", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 3 and report["right"] == sum(turn["right"] for turn in report["turns"]) >= 2


def test_a_malformed_dialogue_file_is_reported_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "turns": [{"question": "Где?"}]}\n', encoding="utf-8")

    assert main(["eval", "--dialogues", str(path)]) == 2
    assert "bad.jsonl:1: expected a JSON object with id and turns" in capsys.readouterr().err
