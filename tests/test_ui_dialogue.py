"""The conversations kept in the browser: stored as JSON and read back, listed, given to the assistant, exported as
escaped Markdown; ratings written as a question set that `kzru-rag eval` reads."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kzru_rag.answering.assistant import Assistant
from kzru_rag.evaluation.answers import evaluate_answers
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.faces.ui.conversation import (
    MAX_CONVERSATIONS,
    ChatTurn,
    Store,
    chat_messages,
    history,
    to_markdown,
    turn_of_message,
)
from kzru_rag.faces.ui.dialogues import browser_secret, feedback_record, keep_feedback, rename_dialogue
from kzru_rag.faces.ui.pacing import paced
from kzru_rag.faces.ui.render import document_title
from kzru_rag.library import Library
from kzru_rag.schema import Answer


@pytest.fixture(scope="module")
def turns(small_retriever) -> list[ChatTurn]:
    assistant = Assistant(small_retriever)
    first = "Какова тема форума межрегионального сотрудничества?"
    turns = [ChatTurn(first, assistant.ask(first))]
    second = "А где он пройдёт?"
    return [*turns, ChatTurn(second, assistant.ask(second, history(turns)))]


def test_renaming_says_what_is_missing_a_title_or_an_open_conversation(
    small_retriever, turns: list[ChatTurn], capsys: pytest.CaptureFixture[str]
) -> None:
    """A blank title for the open conversation was answered «Откройте сохранённый диалог…», though one was open."""
    library = Library(small_retriever)
    store = Store()
    store.record(turns)

    rename_dialogue(library, "  ", store.to_state())
    assert capsys.readouterr().out.strip() == "Диалог не переименован: введите новое название."
    rename_dialogue(library, "Форум", Store().to_state())
    assert capsys.readouterr().out.strip() == "Диалог не переименован: откройте диалог в списке «Мои диалоги»."
    renamed = Store.from_state(rename_dialogue(library, "Форум", store.to_state())[0])
    assert renamed.open().title == "Форум"


def test_the_stored_conversations_read_back_as_they_were(turns: list[ChatTurn]) -> None:
    store = Store()
    store.record(turns[:1])
    first = store.current
    store.record(turns)
    store.current = None
    store.record(turns[1:])
    stored = json.loads(json.dumps(store.to_state()))  # what the browser keeps

    restored = Store.from_state(stored)

    assert [c.title for c in restored.conversations] == ["А где он пройдёт?", turns[0].question]
    assert restored.current == restored.conversations[0].id != first
    restored.current = first
    assert restored.turns() == [replace(t, answer=replace(t.answer, hits=[])) for t in turns]
    assert history(restored.turns())[2] == {"role": "user", "content": "А где он пройдёт?"}
    assert Store.from_state(None) == Store.from_state([]) == Store()


def test_a_conversation_saved_by_the_earlier_version_opens_as_one_conversation(turns: list[ChatTurn]) -> None:
    earlier = [
        {"question": t.question, "answer": {**json.loads(json.dumps(t.answer.to_dict())), "hits": []}} for t in turns
    ]

    store = Store.from_state(earlier)

    assert len(store.conversations) == 1 and [t.question for t in store.turns()] == [t.question for t in turns]


def test_the_list_keeps_the_newest_conversations_titled_by_one_line(turns: list[ChatTurn]) -> None:
    store = Store()
    for number in range(MAX_CONVERSATIONS + 2):
        store.current = None
        store.record([ChatTurn(f"Вопрос {number}\nвторая строка " + "слово " * 20, turns[0].answer)])

    assert len(store.conversations) == MAX_CONVERSATIONS
    assert store.conversations[0].title.startswith(f"Вопрос {MAX_CONVERSATIONS + 1} вторая строка")
    assert store.conversations[0].title.endswith("…") and len(store.conversations[0].title) <= 60


@pytest.mark.parametrize(
    "stored",
    [[{"question": "q"}], ["text"], [{"question": "q", "answer": {"text": "t"}}], 5, {"conversations": [{"id": 1}]}],
)
def test_unreadable_stored_conversations_are_a_value_error(stored) -> None:
    with pytest.raises(ValueError, match="saved conversations cannot be read"):
        Store.from_state(stored)


def test_the_chat_shows_each_answer_with_markers_that_open_its_own_sources(
    turns: list[ChatTurn], small_retriever
) -> None:
    messages = chat_messages(turns, small_retriever.index.documents)

    answers = [m["content"] for m in messages if m["role"] == "assistant" and "metadata" not in m]
    assert "kz-cite-0-1" in answers[0] and "kz-cite-1-1" in answers[1]
    assert [m["metadata"]["title"] for m in messages if "metadata" in m] == [
        f"Источники ({len(t.answer.citations)})" for t in turns
    ]
    owners = [turn_of_message(turns, index) for index in range(len(messages) + 1)]
    assert owners == [0] * (3 if turns[0].answer.citations else 2) + [1] * (len(messages) - owners.count(0)) + [None]


def test_the_markdown_export_holds_every_answer_with_its_cited_passages(turns: list[ChatTurn], retriever) -> None:
    text = to_markdown(turns, "Форум", retriever.index.documents)

    assert text.startswith("# Форум\n") and text.count("## Вопрос ") == 2 and "А где он пройдёт?" in text
    for turn in turns:
        for hit in turn.answer.citations:
            title = document_title(hit.doc_id, retriever.index.documents[hit.doc_id])
            assert f"абзац {hit.metadata['paragraph']}" in text and f"«{title}»" in text


def test_the_markdown_export_says_how_sure_each_answer_is(turns: list[ChatTurn]) -> None:
    """The chat shows «Ответ · уверенность 87%» under an answer; the downloaded conversation said nothing of it."""
    sure = replace(turns[0].answer, confidence=0.87)
    unsure = replace(turns[1].answer, status="uncertain", confidence=0.4)
    refused = replace(turns[1].answer, status="abstained", confidence=None)
    asked = [ChatTurn(turns[0].question, sure), ChatTurn(turns[1].question, unsure), ChatTurn("?", refused)]

    text = to_markdown(asked)

    lines = re.findall(r"^_.*уверенность.*_$", text, flags=re.M)
    assert lines == ["_Ответ · уверенность 87%_", "_Прямого ответа может не быть · уверенность 40%_"]


def test_the_markdown_export_escapes_titles_questions_answers_and_passages(turns: list[ChatTurn]) -> None:
    hostile = "<img src=x onerror=alert(1)> *жирный* [ссылка](javascript:alert(1)) # 1. `код`"
    hit = replace(turns[0].answer.citations[0], text=hostile, metadata={"title": hostile, "paragraph": 1})
    answer = replace(turns[0].answer, text=hostile, citations=[hit], notice=hostile)

    text = to_markdown([ChatTurn(hostile, answer)], title=hostile)

    for raw in (r"<img", r"\*жирный", r"\]\(javascript", r"`код"):
        assert not re.search(rf"(?<!\\){raw}", text), f"{raw} unescaped"
    assert (
        text.count(r"\<img src=x onerror=alert\(1\)\> \*жирный\* \[ссылка\]\(javascript:alert\(1\)\)") == 6
    )  # title, question, answer, notice, source, quote


def test_ratings_are_a_question_set_that_eval_reads(turns: list[ChatTurn], retriever, tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    liked, disliked = turns[0], ChatTurn("Кто выиграл чемпионат мира по футболу?", turns[0].answer)
    keep_feedback(path, "a-1", feedback_record("a-1", liked, True))
    keep_feedback(path, "a-2", feedback_record("a-2", disliked, True))
    keep_feedback(path, "a-2", feedback_record("a-2", disliked, False))  # changed mind: one record, the last
    keep_feedback(path, "a-3", feedback_record("a-3", liked, False))
    keep_feedback(path, "a-3", None)  # undone

    questions = load_questions(path)

    assert [(q.id, q.question) for q in questions] == [("a-1", liked.question), ("a-2", disliked.question)]
    up, down = questions
    assert up.gold and all(any(g in hit.text for hit in liked.answer.citations) for g in up.gold)
    assert down.gold == [] and json.loads(path.read_text().splitlines()[1])["review"] is True
    report = evaluate_answers(Assistant(retriever), [up])
    assert report.quoted == ["a-1"], "the liked answer's quote is gold the assistant finds again"


def test_an_abstained_answer_liked_is_a_question_to_refuse(turns: list[ChatTurn]) -> None:
    refused = replace(turns[0].answer, status="abstained", abstained=True, citations=[])
    assert feedback_record("x", ChatTurn("?", refused), True)["gold"] == []
    assert isinstance(refused, Answer)


def test_the_browser_key_outlives_the_app_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    key = browser_secret(tmp_path / "app-data")

    assert browser_secret(tmp_path / "app-data") == key and len(key) >= 32
    assert (tmp_path / "app-data" / "browser-key").stat().st_mode & 0o077 == 0


def test_a_paced_answer_can_be_closed_while_its_source_is_silent() -> None:
    """The chat's answer comes through `paced`: while the LLM is silent the handler still hands Gradio a `None` at
    each pause (so «Остановить» closes it at once), and once closed the source is closed at its next piece."""
    release, closed = threading.Event(), threading.Event()

    def silent() -> Iterator[str]:
        yield "Начало"
        try:
            release.wait(30)
            yield "после паузы"
            yield "не прочитано"
        finally:
            closed.set()

    answer = paced(silent(), pause=0.05)
    assert next(answer) == "Начало"
    started = time.monotonic()
    assert next(answer) is None and time.monotonic() - started < 5, "a silent source does not hold the handler"
    answer.close()
    assert not closed.is_set()
    release.set()
    assert closed.wait(5), "the source is closed at its next piece"


def test_a_paced_answer_raises_its_sources_error() -> None:
    def failing() -> Iterator[str]:
        yield "Начало"
        raise ValueError("сбой")

    with pytest.raises(ValueError, match="сбой"):
        assert [item for item in paced(failing(), pause=0.05) if item is not None] == ["Начало"]
