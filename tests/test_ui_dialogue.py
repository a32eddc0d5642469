"""The conversation kept in the browser: stored as JSON and read back, given to the assistant, exported as Markdown."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kzru_rag.answering.assistant import Assistant
from kzru_rag.faces.ui.conversation import ChatTurn, chat_messages, from_state, history, to_markdown, to_state


@pytest.fixture(scope="module")
def turns(small_retriever) -> list[ChatTurn]:
    assistant = Assistant(small_retriever)
    first = "Какова тема форума межрегионального сотрудничества?"
    turns = [ChatTurn(first, assistant.ask(first))]
    second = "А где он пройдёт?"
    return [*turns, ChatTurn(second, assistant.ask(second, history(turns)))]


def test_the_stored_conversation_reads_back_as_it_was(turns: list[ChatTurn]) -> None:
    stored = json.loads(json.dumps(to_state(turns)))  # what the browser keeps

    restored = from_state(stored)

    assert restored == [replace(t, answer=replace(t.answer, hits=[])) for t in turns]
    assert history(restored)[2] == {"role": "user", "content": "А где он пройдёт?"}
    assert from_state(None) == from_state([]) == []


@pytest.mark.parametrize("stored", [[{"question": "q"}], ["text"], [{"question": "q", "answer": {"text": "t"}}], 5])
def test_an_unreadable_stored_conversation_is_a_value_error(stored) -> None:
    with pytest.raises(ValueError, match="saved conversation cannot be read"):
        from_state(stored)


def test_the_chat_shows_each_answer_with_markers_that_open_its_own_sources(
    turns: list[ChatTurn], small_retriever
) -> None:
    messages = chat_messages(turns, small_retriever.index.documents)

    answers = [m["content"] for m in messages if m["role"] == "assistant" and "metadata" not in m]
    assert "kz-cite-0-1" in answers[0] and "kz-cite-1-1" in answers[1]
    assert [m["metadata"]["title"] for m in messages if "metadata" in m] == [
        f"Источники ({len(t.answer.citations)})" for t in turns
    ]


def test_the_markdown_export_holds_every_answer_with_its_cited_passages(turns: list[ChatTurn]) -> None:
    text = to_markdown(turns)

    assert text.count("## Вопрос ") == 2 and "А где он пройдёт?" in text
    for turn in turns:
        assert turn.answer.text in text
        for hit in turn.answer.citations:
            assert f"> {hit.text.splitlines()[0]}" in text
            assert f"абзац {hit.metadata['paragraph']}" in text and hit.metadata["title"] in text
