"""Which thing a question asks about (`language.subjects`): the phrases that name it, and a sentence that names a
neighbouring thing of the same kind instead."""

from __future__ import annotations

import pytest

from kzru_rag.language.questions import analyse
from kzru_rag.language.subjects import describes, holds, other_thing, told_apart


def _written(question: str) -> list[str]:
    return [thing.written for thing in analyse(question).things]


def test_a_question_names_its_thing_by_modified_nouns_names_in_quotes_and_years() -> None:
    assert _written("Сколько стоит кубометр горячей воды?") == ["горячей воды"]
    assert _written("Сколько стоит срочный паспорт?") == ["срочный паспорт"]
    assert _written("Какую выручку получил «Степной хлеб» за 2025 год?") == ["Степной хлеб", "2025"], (
        "a name in quotes is one thing, not also an adjective and a noun"
    )
    assert _written("Какая средняя заработная плата?") == ["средняя плата", "заработная плата"]
    assert _written("Какой первый шаг и какие этапы?") == [], "ordinals and pronominal adjectives name no thing"
    assert _written("How much does hot water cost?") == [], "English words are not the documents' words"


def test_a_sentence_about_a_neighbouring_thing_is_told_from_one_about_the_questions_own() -> None:
    hot = analyse("Сколько стоит кубометр горячей воды?").things
    cold = "Тарифы: холодная вода — 98,40 тенге за кубометр."
    both = "Холодная вода стоит 98 тенге за кубометр, горячая вода — 240 тенге."
    assert other_thing(cold, hot) == "холодная вода"
    assert other_thing(both, hot) is None, "the question's own thing is named too"
    assert other_thing("Вода стоит 98 тенге за кубометр.", hot) is None, "no other adjective: no other thing"
    assert holds("Горячая вода стоит 240 тенге.", hot[0])
    assert not holds("Горячий чай и холодная вода.", hot[0]), "the adjective must go with the noun"
    course = analyse("Сколько стоит обучение по направлению «Информационная безопасность»?").things
    assert other_thing("Обучение по направлению «Прикладная информатика» стоит 198 000 рублей.", course) == (
        "Прикладная информатика"
    )
    year = analyse("Какая выручка была в 2024 году?").things
    assert other_thing("Выручка за 2025 год составила 38,6 млрд тенге.", year) == "2025"


def test_an_adjective_the_documents_never_put_before_the_noun_tells_no_neighbour_apart() -> None:
    """Asked about a «летнее кафе» of a decree on «сезонные кафе», the decree's adjective may be a synonym: no
    sentence of it names a neighbour; asked about «горячей воды» of passages that name it, «холодная вода» does."""
    summer = analyse("До какого времени в летнем кафе разрешена музыка?").things
    assert told_apart(summer, ["Музыка в сезонных кафе может звучать только до 22:00."]) == ()
    hot = analyse("Сколько стоит кубометр горячей воды?").things
    assert told_apart(hot, ["Счётчики горячей воды поверяют раз в 4 года."]) == hot


def test_a_description_question_names_what_it_asks_to_describe() -> None:
    assert analyse("Кто такая Жанар Тулиндинова?").described == (analyse("Что такое Жанар Тулиндинова?").described)
    assert len(analyse("Кто такая Жанар Тулиндинова?").described) == 2
    assert analyse("Что представляет собой ЕАЭС?").described == (frozenset({"еаэс"}),)
    assert analyse("Где работает Жанар Тулиндинова?").described == ()
    assert analyse("Кем был сын Аюрбарибады?").described == (), "asks who he was: a name"
    assert len(analyse("Кем является Бекмуратов?").described) == 1
    assert analyse("Who is Zhanar Tulindinova?").described == (), "English names are not the documents' words"


NAME = analyse("Кто такая Жанар Тулиндинова?").described


@pytest.mark.parametrize(
    "sentence, describing",
    [
        ("Жанар Тулиндинова — политолог.", True),
        ("Жанар Тулиндинова, руководитель отдела медиапроектов, выступила на форуме.", True),
        ("– Это важный шаг, – отмечает политолог, руководитель отдела КИСИ Жанар Тулиндинова.", True),
        ("Также, по мнению Жанар Тулиндиновой, форум станет площадкой.", False),
        ("Мы прочитали книгу Жанар Тулиндиновой.", False),
        ("– Это важный шаг, – подчеркивает Жанар Тулиндинова.", False),
        ("Жанар Тулиндинова, которая выступила первой, говорила о логистике.", False),
    ],
)
def test_a_sentence_describes_a_name_by_apposition_dash_or_the_role_before_it(sentence: str, describing: bool) -> None:
    assert describes(sentence, NAME) is describing
