"""Quotes that stand alone: the sentence a pronoun points back to, the words that name who speaks; a quote that only
restates the question: the sentence it sets up, or the answer saying what it lacks."""

from __future__ import annotations

import pytest

from hashing_encoder import RETRIEVAL
from kzru_rag import Assistant
from kzru_rag.answering.confidence import ConfidenceModel
from kzru_rag.answering.extractive import Extractor, quoted_things
from kzru_rag.answering.quotes import antecedent, span_text
from kzru_rag.answering.wording import doubt, quotes_of, uncertain
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.language.questions import analyse
from kzru_rag.language.speech import names_speaker
from kzru_rag.language.words import years
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.schema import Hit

SPEECH = "Эти встречи позволяют договариваться о конкретных инициативах, – отмечает эксперт КИСИ."


def test_the_authors_words_after_direct_speech_name_a_speaker_the_question_does_not() -> None:
    assert names_speaker(SPEECH, "Чьи слова о «народной дипломатии» приводятся?")
    assert not names_speaker(SPEECH, "Что говорит эксперт КИСИ о встречах?"), "the speaker asked about is no answer"
    assert not names_speaker("Его тема – «Рабочие профессии – драйвер роста экономики» – отражает значимость.", "Кто?")
    assert not names_speaker("Стороны обсудят транзит, тарифы и стандарты.", "Кто?")


def test_who_said_a_line_of_direct_speech_is_quoted_and_judged_with_the_words_that_name_the_speaker(
    small_retriever,
) -> None:
    """«Они формируют основу «народной дипломатии»…» is a line of direct speech whose speaker is named a sentence
    on («…, – отмечает эксперт КИСИ.»): asked whose words they are, the quote runs from the line to its speaker,
    and that counts as naming a person (it did not: «эксперт КИСИ» is no name to morphology or NER)."""
    answer = Assistant(small_retriever).ask("Чьи слова о «народной дипломатии» приводятся в статье?")
    start, end = answer.citations[0].highlight
    quote = answer.citations[0].text[start - answer.citations[0].start : end - answer.citations[0].start]
    assert "основу «народной дипломатии»" in quote and quote.endswith("– отмечает эксперт КИСИ.")
    assert answer.signals.kind_missing == 0.0


def test_a_passage_asked_who_is_carried_on_to_the_words_that_name_the_speaker(small_retriever) -> None:
    """The forum line («Форум станет площадкой…») is two sentences before «…, – поясняет Жанар Тулиндинова.», past
    the passage window: asked who says it, the passage is carried on to the speaker and the answer names her;
    asked what the forum becomes, the passage keeps its window."""
    line = "что форум станет площадкой для обсуждения новых моделей взаимодействия между колледжами и предприятиями?"
    who = small_retriever.search(f"Кто говорит, {line}")[0]
    what = small_retriever.search(f"Правда ли, {line}")[0]
    assert "Форум станет площадкой" in who.text and who.text.endswith("– поясняет Жанар Тулиндинова.")
    assert "Форум станет площадкой" in what.text and "поясняет Жанар Тулиндинова" not in what.text
    answer = Assistant(small_retriever).ask(f"Кто говорит, {line}")
    assert "Жанар Тулиндинова" in answer.text.split("[1]")[0] and answer.status == "answered"


ALGORITHMS = (
    "# Простые числа\n\n"
    "Для проверки простоты больших чисел были разработаны намного более быстрые алгоритмы, чем перебор делителей. "
    "К ним относятся тест Миллера – Рабина и тест AKS. "
    "Перебор делителей остаётся самым наглядным способом.\n"
)


def _hit(text: str, sentences: list[str], cosines: list[float] | None = None) -> Hit:
    """A passage of `sentences` (in `text`) with their cosines to the question (default 0.5 each)."""
    spans, start = [], 0
    for sentence, cosine in zip(sentences, cosines or [0.5] * len(sentences)):
        start = text.index(sentence, start)
        spans.append((start, start + len(sentence), cosine))
    return Hit(text, 1.0, "doc", 0, len(text), "doc#0", sentences=tuple(spans))


def test_a_sentence_pointing_back_within_its_first_words_is_read_with_the_one_before() -> None:
    """«К ним относятся…», «Сегодня она известна как…»: the anaphor need not be the first word; one further in («…
    учёные спорят о ней») does not make the sentence lean on the one before."""
    sentences = [
        "Самой широко принятой теорией стало то, что чуму вызывал плохой воздух.",
        "Сегодня она известна как теория миазмов.",
        "К ним относятся лекари той эпохи.",
        "Долгие годы учёные спорят о ней.",
    ]
    hit = _hit(" ".join(sentences), sentences)
    spans = [(a, b) for a, b, _ in hit.sentences]
    assert antecedent(hit, spans[1]) == spans[0]
    assert antecedent(hit, spans[2]) == spans[1]
    assert antecedent(hit, spans[3]) is None
    assert antecedent(hit, spans[0]) is None, "the passage's first sentence has nothing before it"


def test_the_sentence_a_topic_sentence_sets_up_is_quoted_with_it(tmp_path, encoder) -> None:
    """Asked what the algorithms are called, the best sentence only restates the question; the next one («К ним
    относятся тест Миллера – Рабина…») names them: both are quoted, as one."""
    (tmp_path / "primes.md").write_text(ALGORITHMS, encoding="utf-8")
    build_index([tmp_path / "primes.md"], encoder, tmp_path / "index", retrieval=RETRIEVAL)
    assistant = Assistant(Retriever(load_index(tmp_path / "index"), encoder))
    answer = assistant.ask("Как называются быстрые алгоритмы проверки простоты больших чисел?")
    first = answer.text.split(" [1]")[0]
    assert first.startswith("Для проверки простоты") and first.endswith("тест Миллера – Рабина и тест AKS.")


UNQUOTABLE = [
    (  # an FAQ repeats the user's question word for word
        "faq.md",
        "# Вопросы и ответы водоканала\n\nСколько стоит кубометр холодной воды для квартир?\n\n"
        "Для квартир с 1 января кубометр холодной воды стоит 120 тенге, для частных домов — 95 тенге.\n",
        "Сколько стоит кубометр холодной воды для квартир?",
        "Для квартир с 1 января кубометр холодной воды стоит 120 тенге, для частных домов — 95 тенге.",
    ),
    (  # a title repeats the question's words («выручка … за 2025 год»)
        "report.txt",
        "АО «Степной хлеб»: выручка и годовой отчёт за 2025 год\n\n"
        "Выручка компании за 2025 год составила 38,6 млрд тенге. Компания открыла два новых цеха.\n",
        "Какая выручка у «Степного хлеба» за 2025 год?",
        "Выручка компании за 2025 год составила 38,6 млрд тенге.",
    ),
]


@pytest.mark.parametrize("name,text,question,quote", UNQUOTABLE, ids=["faq-question-line", "document-title"])
def test_a_question_line_or_a_title_is_never_quoted_as_the_answer(tmp_path, encoder, name, text, question, quote):
    """A line that is itself a question, or the document's title, answers nothing; the sentence that does is quoted."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    build_index([tmp_path / name], encoder, tmp_path / "index", retrieval=RETRIEVAL)
    answer = Assistant(Retriever(load_index(tmp_path / "index"), encoder)).ask(question)

    assert answer.text.split(" [1]")[0] == quote


BRIDGE = (
    "# Мост\n\n"
    "Новый мост через Иртыш в Омске откроют после завершения всех работ. "
    "Его строят три крупные компании из Новосибирска.\n"
)
KIND_DECIDES = ConfidenceModel(
    weights=(-5.0, 5.0),
    bias=2.0,
    means=(0.0, 0.5),
    scales=(1.0, 1.0),
    answer_from=0.5,
    names=("kind_missing", "asked_noun"),
)
"""A judge that reads only `kind_missing` and `asked_noun`: a quote lacking the kind of answer asked for, or the
noun asked for, is uncertain; one holding it is answered."""


def _judged_assistant(tmp_path, encoder, text: str) -> Assistant:
    (tmp_path / "doc.md").write_text(text, encoding="utf-8")
    build_index([tmp_path / "doc.md"], encoder, tmp_path / "index", retrieval=RETRIEVAL)
    assistant = Assistant(Retriever(load_index(tmp_path / "index"), encoder))
    assistant.confidence = KIND_DECIDES
    return assistant


def test_a_quote_that_only_restates_the_question_is_uncertain_and_says_what_it_lacks(tmp_path, encoder) -> None:
    """The sentence on the bridge's opening repeats the question and gives no date: the answer is uncertain and says
    that the date asked for is missing; asked for a budget the document never gives, that the word is missing."""
    assistant = _judged_assistant(tmp_path, encoder, BRIDGE)
    when = assistant.ask("Когда откроют новый мост через Иртыш в Омске?")
    assert when.status == "uncertain" and "Новый мост через Иртыш" in when.text
    assert when.text.split("\n\n")[0].endswith(
        "Ближайшие фрагменты: [1]. Вопрос о времени, а в первом фрагменте нет даты."
    )
    budget = assistant.ask("Какой бюджет у нового моста через Иртыш в Омске?")
    assert budget.status == "uncertain"
    assert budget.text.split("\n\n")[0].endswith("В первом фрагменте нет слова «бюджет» из вопроса.")
    many = assistant.ask("Сколько компаний строят новый мост через Иртыш в Омске?")
    assert many.status == "answered" and many.text.startswith("Новый мост через Иртыш"), (
        "a quote that answers is as before"
    )


def test_the_reason_for_doubt_speaks_the_questions_language() -> None:
    assert doubt("en", kind="time") == "The question asks when; the first passage gives no date."
    assert doubt("kk", kind="number") == "Сұрақ сан туралы, ал бірінші үзіндіде сан жоқ."
    assert doubt("ru", noun="бюджет", restates=True) == "В первом фрагменте нет слова «бюджет» из вопроса."
    assert doubt("ru", restates=True) == "Первый фрагмент повторяет слова вопроса, но ответа может не содержать."
    assert doubt("ru") == ""
    warning = uncertain("ru", "Цитата [1]", 1, doubt("ru", kind="place"))
    assert quotes_of(warning) == "Цитата [1]", "a follow-up still reads the quotes under the warning"


EXPEDITION = [
    "Экспедиция к истокам Иртыша вернулась в Омск с богатыми находками.",
    "Участники прибыли 14 сентября 1897 года.",
    "Коллекцию передали городскому музею.",
]


@pytest.mark.parametrize("cosine, joined", [(0.91, True), (0.7, False)])
def test_a_quote_that_restates_the_question_is_joined_with_the_sentence_beside_it_that_answers(
    encoder, cosine: float, joined: bool
) -> None:
    """Asked when the expedition came back, the best sentence repeats the question and gives no date; the next one
    gives it: when it scores within the quote margin of the first (it is quoted anyway) the first quote takes it in;
    when it is far from the question, the first quote stays as it is."""
    hit = _hit(" ".join(EXPEDITION), EXPEDITION, [0.9, cosine, 0.5])
    question = analyse("Когда экспедиция к истокам Иртыша вернулась в Омск?")
    first = Extractor(encoder, 3).choose(question, [hit], question)[0]
    assert span_text(hit, first.span) == (" ".join(EXPEDITION[:2]) if joined else EXPEDITION[0])


COURSE = [
    "Следующий поток стартует 15 сентября 2026 года.",
    "Ближайший поток начинается 14 апреля 2026 года.",
]


@pytest.mark.parametrize("adjective, first", [("ближайший", COURSE[1]), ("новый", COURSE[0])])
def test_the_date_of_the_questions_own_thing_is_quoted_before_that_of_its_neighbour(
    encoder, adjective: str, first: str
) -> None:
    """Both sentences give a date and the first is closer to the question, but it is about the next course, not the
    one asked about: asked about «ближайший поток», which the passage names too, its sentence is quoted first. Asked
    about a «новый поток», an adjective the passage never puts before «поток», neither sentence names a neighbour."""
    hit = _hit(" ".join(COURSE), COURSE, [0.9, 0.87])
    question = analyse(f"Когда стартует {adjective} поток курса?")
    quote = Extractor(encoder, 3).choose(question, [hit], question)[0]
    assert span_text(hit, quote.span) == first


def test_an_answer_tells_when_its_first_quote_names_a_neighbour_of_the_thing_asked_about(tmp_path, encoder) -> None:
    """The tariffs give the price of cold water only; asked for hot water's, the answer quotes the cold water's and
    can be told (`extractive.quoted_things`): the quote lacks «горячей воды», which the passage names elsewhere, and
    names «холодная вода» instead; asked for cold water's, neither."""
    text = (
        "# Тарифы на воду\n\nС 1 января холодная вода стоит 98,40 тенге за кубометр. "
        "Счётчики горячей воды поверяют раз в 4 года.\n"
    )
    (tmp_path / "water.md").write_text(text, encoding="utf-8")
    build_index([tmp_path / "water.md"], encoder, tmp_path / "index", retrieval=RETRIEVAL)
    assistant = Assistant(Retriever(load_index(tmp_path / "index"), encoder))
    hot = assistant.ask("Сколько стоит кубометр горячей воды?")
    assert hot.text.startswith("С 1 января холодная вода стоит")
    assert quoted_things(hot.citations[0], analyse(hot.query_used), hot.hits) == ("горячей воды", "холодная вода")
    cold = assistant.ask("Сколько стоит кубометр холодной воды?")
    assert cold.text.startswith("С 1 января холодная вода стоит")
    assert quoted_things(cold.citations[0], analyse(cold.query_used), cold.hits) == (None, None)


REPORT = [
    "Всего за год компания выпустила 142 тысячи тонн продукции.",
    "Чистая прибыль составила 2,7 млрд тенге.",
]


def test_the_sentence_naming_the_modified_noun_asked_for_is_quoted_first(encoder) -> None:
    """«Какая чистая прибыль…?» asks for the value of «чистая прибыль»: the sentence naming it is quoted before a
    closer one that shares as many of the question's words («компания», «год»)."""
    hit = _hit(" ".join(REPORT), REPORT, [0.89, 0.87])
    question = analyse("Какая чистая прибыль у компании за год?")
    assert span_text(hit, Extractor(encoder, 3).choose(question, [hit], question)[0].span) == REPORT[1]


ANALYST = [
    "Жанар Тулиндинова встретилась с Иваном Петровым на форуме в Астане.",
    "По мнению Жанар Тулиндиновой, форум станет площадкой для диалога.",
    "Жанар Тулиндинова, руководитель отдела медиапроектов КИСИ, изучает связи двух стран.",
]


def test_asked_who_someone_is_the_sentence_that_says_what_she_is_is_quoted(encoder) -> None:
    """«Кто такая X?» asks for her post, not for a person: the sentence naming another person with her, and her
    opinion, are closer to the question, but the apposition («X, руководитель отдела…») is quoted first; asked who
    she met, the sentence naming the other person is."""
    hit = _hit(" ".join(ANALYST), ANALYST, [0.9, 0.9, 0.86])
    extractor = Extractor(encoder, 3)
    who_is = analyse("Кто такая Жанар Тулиндинова?")
    assert span_text(hit, extractor.choose(who_is, [hit], who_is)[0].span) == ANALYST[2]
    met = analyse("С кем встретилась Жанар Тулиндинова?")
    assert span_text(hit, extractor.choose(met, [hit], met)[0].span) == ANALYST[0]


SPOKEN = [
    "– Эти встречи позволяют сверить часы, – акцентирует политолог, руководитель отдела медиапроектов КИСИ Жанар "
    "Тулиндинова.",
    "По мнению Жанар Тулиндиновой, форум тоже занимает важное место в отношениях двух стран.",
]


@pytest.mark.parametrize("question", ["Какую должность она занимает?", "Which department does she head?"])
def test_asked_for_a_persons_post_the_sentence_describing_her_by_apposition_is_quoted(encoder, question) -> None:
    """A follow-up asking for her post names no one: the first quote holds the sentence that puts a person in
    apposition with her post, though one that only mentions her (her opinion) is closer to the question (and, sharing
    «занимает» with it, restates it: then both are quoted)."""
    hit = _hit(" ".join(SPOKEN), SPOKEN, [0.86, 0.9])
    asked = analyse(question)
    assert SPOKEN[0] in span_text(hit, Extractor(encoder, 3).choose(asked, [hit], asked)[0].span)


CENSUS = (
    "# Заречный\n\nПо переписи 2021 года в Заречном жили 12 400 человек. Город стоит на левом берегу Тобола.\n\n"
    "Речной вокзал открыли в 1959 году.\n"
)
YEAR_DECIDES = ConfidenceModel(
    weights=(-5.0,), bias=2.0, means=(0.0,), scales=(1.0,), answer_from=0.5, names=("other_year",)
)
"""A judge that reads only `other_year`: a quote naming another year than the question is uncertain."""


def test_a_quote_that_speaks_of_another_year_than_asked_is_uncertain_and_says_so(tmp_path, encoder) -> None:
    """Asked about the 1959 census, the only census sentence gives 2021's (1959 is named elsewhere, so the question is
    not refused for a year the document never names): the answer is uncertain and names both years; asked about
    2021 (or with no year), the same sentence answers."""
    assistant = _judged_assistant(tmp_path, encoder, CENSUS)
    assistant.confidence = YEAR_DECIDES
    then = assistant.ask("Сколько человек жило в Заречном по переписи 1959 года?")
    assert then.status == "uncertain" and then.signals is not None and then.signals.other_year == 1.0
    assert then.text.split("\n\n")[0].endswith("Вопрос о 1959 годе, а первый фрагмент говорит о 2021.")
    for question in ("Сколько человек жило в Заречном по переписи 2021 года?", "Сколько человек живёт в Заречном?"):
        answer = assistant.ask(question)
        assert answer.status == "answered" and answer.signals is not None and answer.signals.other_year == 0.0
    assert doubt("en", year=("1959", "2021")) == "The question asks about 1959; the first passage speaks of 2021."


def test_the_years_of_a_text_are_four_digit_numbers_standing_alone() -> None:
    assert years("по переписи 1959 года, в сезоне 2025/26, с 1971–1988") == {"1959", "2025", "1971", "1988"}
    assert years("жили 41 300 человек, вклад до 1,4 млн, 1500 рублей, код 123456") == {"1500"}
    assert years("0.2025 и 3000 лет") == frozenset()
