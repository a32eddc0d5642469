"""A question that names a document of the collection by its title in quotes is answered from that document alone;
the bundled document is called the same before and after a rebuild; a follow-up in a conversation that named a
document keeps to it.

Four documents (the bundled one, a lease contract that mentions the company, the company's leave rules, a short
FAQ) indexed with the small test encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashing_encoder import RETRIEVAL
from kzru_rag.answering.assistant import Assistant
from kzru_rag.faces.ui.collection import examples
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.ingest.documents import BUNDLED_ID, BUNDLED_SOURCE
from kzru_rag.language.quoting import quoted
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import default_index_path

LEASE = (
    "Договор аренды нежилого помещения\n\n"
    "Арендодатель ТОО «Степной ветер» передаёт Арендатору во временное пользование помещение площадью 120 "
    "квадратных метров. Настоящий документ определяет положение сторон и порядок отпуска ключей.\n\n"
    "Арендная плата составляет 450 000 тенге в месяц и вносится до 10 числа каждого месяца.\n"
)
LEAVE = (
    "Положение об отпусках ТОО «Степной ветер»\n\n"
    "Ежегодный оплачиваемый отпуск работника составляет 24 календарных дня.\n\n"
    "Отпуск без сохранения заработной платы предоставляется по письменному заявлению работника.\n"
)
LEAVE_TITLE = "Положение об отпусках ТОО «Степной ветер»"
FAQ = "# FAQ\n\nОтпуск переносится по согласованию с руководителем.\n"


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, encoder) -> Path:
    folder = tmp_path_factory.mktemp("named")
    (folder / "lease.txt").write_text(LEASE, encoding="utf-8")
    (folder / "otpuska.txt").write_text(LEAVE, encoding="utf-8")
    (folder / "faq.md").write_text(FAQ, encoding="utf-8")
    path = folder / "index"
    sources = [BUNDLED_SOURCE, *(folder / name for name in ("lease.txt", "otpuska.txt", "faq.md"))]
    build_index(sources, encoder, path, retrieval=RETRIEVAL)
    return path


@pytest.fixture(scope="module")
def retriever(collection: Path, encoder) -> Retriever:
    return Retriever(load_index(collection), encoder)


def documents_of(hits) -> set[str]:
    return {hit.doc_id for hit in hits}


def test_the_apps_example_naming_a_document_is_answered_from_it_alone(retriever: Retriever) -> None:
    asked = examples(list(retriever.index.documents.values()))
    question = next(q for q in asked if "Степной ветер" in q)
    assert question == f"О чём документ «{LEAVE_TITLE}»?"

    answer = Assistant(retriever).ask(question)

    assert answer.citations and documents_of(answer.citations) == {"otpuska"}
    assert documents_of(answer.hits) == {"otpuska"}


@pytest.mark.parametrize(
    "question",
    [
        'Сколько дней длится отпуск по документу "положение об отпусках тоо "степной ветер""?',
        "Что сказано в „ПОЛОЖЕНИЕ ОБ ОТПУСКАХ ТОО СТЕПНОЙ ВЕТЕР“ об отпуске?",
        "Что написано в «otpuska»?",
    ],
)
def test_a_title_or_name_in_any_quotes_and_case_keeps_the_search_to_its_document(
    retriever: Retriever, question: str
) -> None:
    assert documents_of(retriever.search(question, k=5)) == {"otpuska"}


def test_the_callers_choice_of_documents_comes_first(retriever: Retriever) -> None:
    question = f"О чём документ «{LEAVE_TITLE}»?"
    assert documents_of(retriever.search(question, k=5, documents=["lease"])) == {"lease"}


@pytest.mark.parametrize(
    "question",
    [
        "Что известно о ТОО «Степной ветер»?",  # part of a title, not the title
        "Что сказано в «FAQ» об отпуске?",  # a title of 3 characters
        "Что сказано в статье «Рабочие профессии – драйвер роста экономики»?",  # the bundled document's phrase
    ],
)
def test_a_quoted_phrase_that_is_no_title_changes_nothing(retriever: Retriever, question: str) -> None:
    unquoted = question.replace("«", " ").replace("»", " ")
    assert quoted(question) and not quoted(unquoted)

    assert retriever.search(question, k=10) == retriever.search(unquoted, k=10)


def test_the_bundled_document_has_the_same_title_before_and_after_a_rebuild(retriever: Retriever) -> None:
    committed = load_index(default_index_path()).documents[BUNDLED_ID].metadata["title"]
    rebuilt = retriever.index.documents[BUNDLED_ID].metadata["title"]

    assert rebuilt == committed
    assert not rebuilt.endswith(".txt")


def test_a_follow_up_keeps_to_the_document_its_conversation_named_and_a_new_question_does_not(
    retriever: Retriever,
) -> None:
    assistant = Assistant(retriever)
    first = f"Сколько дней отпуска по документу «{LEAVE_TITLE}»?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": assistant.ask(first).text}]

    follow_up = assistant.ask("А без сохранения зарплаты?", history)
    new_question = assistant.ask("Какая арендная плата за помещение в месяц?", history)

    assert documents_of(follow_up.hits) == {"otpuska"}
    assert "lease" in documents_of(new_question.hits)
