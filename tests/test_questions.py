"""Question analysis: the language of a question, the kind of phrase it asks for, and whether a text holds one;
and the retriever's use of it: a quantity question whose top passages hold no quantity is unanswered."""

import pytest

from kzru_rag.language.questions import analyse, expected_answer, holds_answer, holds_kind, question_language

URALSK = "XXI форум, который проходит 11–12 ноября в Уральске, продолжает традицию."


@pytest.mark.parametrize(
    "text, language",
    [
        ("Где проходит форум?", "ru"),
        ("Where is the forum?", "en"),
        ("Форум қайда өтеді?", "kk"),
        ("XXI форум где?", "ru"),
        # a quoted name or title is not the asker's language; a question that is nothing but a quote is read whole
        ("Какая площадь земли у хозяйства «Жас Өркен»?", "ru"),
        ("О чём документ «two columns.pdf»?", "ru"),
        ("Что в «Report «Жас Өркен» annual overview»?", "ru"),
        ('How big is the "Жас Өркен" farm?', "en"),
        ("«machine learning»", "en"),
    ],
)
def test_question_language(text: str, language: str) -> None:
    assert question_language(text) == language


@pytest.mark.parametrize(
    "question, kind",
    [
        ("А где он пройдёт?", "place"),
        ("Когда состоится визит?", "time"),
        ("Кто такая Жанар Тулиндинова?", "person"),
        ("Сколько вузов открыли филиалы?", "number"),
        ("Сколько стоит билет в музей?", "price"),
        ("Во сколько обойдётся вызов врача?", "price"),
        ("How much does the cartridge cost?", "price"),
        ("Билет қанша тұрады?", "price"),
        ("Во сколько открывается музей?", "time"),
        ("До скольки в субботу работает ЦОН?", "time"),
        ("Во сколько раз вырос товарооборот?", "number"),
        ("How many universities opened branches?", "number"),
        ("How much grain is exported?", "number"),
        ("Форумға қанша адам келеді?", "number"),
        ("How long have relations been developing?", "duration"),
        ("Какова тема форума?", None),
        ("How are the forums organised?", None),
    ],
)
def test_the_first_question_word_tells_the_kind_of_answer(question: str, kind: str | None) -> None:
    assert expected_answer(question) == kind


def test_holds_answer_finds_a_phrase_of_the_kind_the_question_lacks() -> None:
    assert holds_answer(URALSK, "place", "Где проходит форум?")
    assert holds_answer(URALSK, "time", "Когда проходит форум?")
    assert not holds_answer(URALSK, "place", "Что проходит в Уральске?"), "a place named in the question is no answer"
    assert not holds_answer("Форум продолжает традицию.", "place", "Где проходит форум?")


def test_a_price_is_a_sum_of_money_or_free_and_a_time_can_be_a_time_of_day() -> None:
    price = "Сколько стоит выезд сотрудника на дом?"
    assert holds_answer("Выезд стоит 3 000 тенге.", "price", price)
    assert holds_answer("Для пенсионеров выезд бесплатный.", "price", price)
    assert holds_answer("Обучение стоит 198 000 рублей в год.", "price", "What does the course cost?")
    assert not holds_answer("Звоните в контакт-центр 1414.", "price", price), "a phone number is no price"
    assert not holds_answer("Меняйте картридж раз в 3 месяца.", "price", price)
    opening = "Во сколько открывается музей?"
    assert holds_answer("Музей открыт с 10:00 до 18:00.", "time", opening)
    assert holds_answer("По понедельникам музей закрыт.", "time", "В какой день музей закрыт?")
    assert not holds_answer("Адрес: улица Жамбыла, 158.", "time", opening)
    assert not holds_answer("Музей открыт с 10:00.", "number", "Сколько залов в музее?"), "a time of day is no count"


def test_a_quantity_is_a_number_or_numeral_but_not_a_date() -> None:
    nine = "В нашей стране открыты филиалы девяти ведущих вузов РФ."
    assert holds_answer(nine, "number", "Сколько вузов открыли филиалы?")
    assert holds_answer("Работает 12 филиалов.", "number", "Сколько филиалов?")
    assert not holds_answer(URALSK, "number", "Сколько человек приедет на форум?"), "11–12 ноября is a date"
    assert not holds_answer("Визит пройдет в 2025 году.", "number", "Сколько соглашений подпишут?")
    assert not holds_answer("Это выгодно обеим странам.", "number", "Сколько стран участвует?"), "«обеим» is no count"
    assert not holds_answer("Открыто 12 филиалов.", "number", "Правда ли, что открыто 12 филиалов?")
    assert holds_answer(URALSK, "duration", "How long does the forum last?"), "a date range can answer «how long»"
    decree = "Сколько дней рассматривают заявление?"
    assert not holds_answer("3. Разрешение выдаёт департамент архитектуры.", "number", decree), "a point's number"
    assert holds_answer("3.4. Заявление рассматривают 15 рабочих дней.", "number", decree)


@pytest.mark.parametrize(
    "question",
    [
        "Сколько стоит модернизация Экибастузской ГРЭС-2?",
        "Сколько зерна Казахстан и Россия производят вместе?",
        "How much will the modernisation of the Ekibastuz power plant cost?",
        "Экибастуз ГРЭС-2 жаңғыртуына қанша қаражат жұмсалады?",
    ],
)
def test_abstains_when_a_quantity_is_asked_and_the_passages_hold_none(small_retriever, question: str) -> None:
    hits = small_retriever.search(question)
    assert small_retriever.abstains(question, hits)


@pytest.mark.parametrize(
    "question",
    [
        "Сколько ведущих российских вузов открыли филиалы в Казахстане?",
        "How many Russian universities have branches in Kazakhstan?",
        "Сколько десятилетий развиваются отношения двух стран?",
    ],
)
def test_answers_a_quantity_question_when_a_top_passage_holds_the_quantity(small_retriever, question: str) -> None:
    assert not small_retriever.abstains(question, small_retriever.search(question))


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Какую должность она занимает?", "role"),
        ("А в каком отделе он работает?", "role"),
        ("Кем работает Иван Петров?", "role"),
        ("Кто такая Жанар Тулиндинова?", "role"),
        ("Which department does she head?", "role"),
        ("What is her occupation?", "role"),
        ("Ол қандай қызмет атқарады?", "role"),
        ("Ол қай университетте қызмет атқарады?", "organisation"),  # the noun names the kind
        ("Ол қай бөлімде жұмыс істейді?", "role"),
        ("Кто такие кочевники?", "person"),  # what they are: no person's post
        ("Кем был сын Аюрбарибады?", "person"),  # who he was: a name
        ("Где она работает?", "place"),
        ("Кто выступил на форуме?", "person"),
        ("What role do the forums play?", None),  # a thing's role
        ("Какое подразделение НАСА первым поддержало проект?", None),  # a unit asked of no person
        ("Какие специальности преподают в филиале?", None),
    ],
)
def test_a_question_for_a_persons_post_title_or_department_asks_for_a_role(question: str, kind: str | None) -> None:
    assert analyse(question).kind == kind


def test_the_role_noun_asked_for_names_the_kind_of_answer_not_a_word_the_answer_must_hold() -> None:
    asked = analyse("Какую должность она занимает?")
    assert (asked.asked_noun, asked.noun_kind) == ("должность", "role")


ANALYST = "– Это важно, – акцентирует политолог, руководитель отдела медиапроектов КИСИ Жанар Тулиндинова."


def test_a_sentence_holds_a_role_when_a_person_stands_in_apposition_with_a_noun() -> None:
    post = "Какую должность она занимает?"
    assert holds_kind(ANALYST, "role", post)
    assert holds_kind("Ричард Фейнман, американский физик, получил Нобелевскую премию.", "role", post)
    assert holds_kind("Никола Тесла — изобретатель в области электротехники.", "role", "Кем работал Никола Тесла?")
    assert not holds_kind("По мнению Жанар Тулиндиновой, форум станет площадкой для диалога.", "role", post)
    assert not holds_kind("Жанар Тулиндинова встретилась с Иваном Петровым в Астане.", "role", post)
    assert not holds_kind(ANALYST, "role", "Кем работает Иван Петров?"), "another person's post"
    minister = "Лотар Шмидт, равно как и федеральный министр финансов Австрии, Томас Мюллер, также происходят из Вены."
    assert holds_kind(minister, "role", "Какой пост занимает Томас Мюллер?"), "a name set off by commas after its post"
    assert not holds_kind("Когда закончилась встреча, Иван Петров ушёл домой.", "role", post)


@pytest.mark.parametrize(
    "question, phrases",
    [
        ("О чём документ «Положение ТОО «Степной ветер»»?", ["положение тоо степной ветер", "степной ветер"]),
        ('О чём документ "Положение ТОО "Степной ветер""?', ["положение тоо степной ветер", "степной ветер"]),
        ("Что в „Отчёте – 2025“ и «Плане»?", ["отчете - 2025", "плане"]),
        ('Рост 5" и «без конца', []),
    ],
)
def test_a_question_is_read_with_its_phrases_in_quotes_nested_ones_too(question: str, phrases: list[str]) -> None:
    assert [phrase.text for phrase in analyse(question).quoted] == phrases
