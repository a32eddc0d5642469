"""Everyday use in a real browser (Debian's chromium driven by Playwright): conversations that outlive the app,
stopping, answering again and rating; the document filter; the axe-core audit; the phone layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app_server import copy_index, free_port, serve, serve_two_documents
from test_browser import (  # noqa: F401  (the module's chromium)
    WAIT_MS,
    ask,
    browser,
    open_page,
    readme_screenshot,
    serious_violations,
)

pytestmark = pytest.mark.slow

FADED_IN = """() => {
  for (let e = document.querySelector('.toast-body'); e; e = e.parentElement) {
    if (getComputedStyle(e).opacity !== '1') return false;
  }
  return document.querySelector('.toast-body') !== null;
}"""
"""The toast has faded in, with everything around it (axe reads a fading text's colours as faint)."""


def english_labels(page) -> list[str]:
    """The page's accessible names, titles, placeholders and image texts that are English (Latin words, no
    Cyrillic)."""
    labels = page.evaluate(
        """() => [...document.querySelectorAll('[aria-label], [title], [placeholder], img[alt]')].flatMap((e) =>
          ['aria-label', 'title', 'placeholder', 'alt'].filter((a) => e.hasAttribute(a)).map((a) => e.getAttribute(a))
        )"""
    )
    return sorted({label for label in labels if re.search("[A-Za-z]{3}", label) and not re.search("[А-яЁё]", label)})


def test_conversations_outlive_a_restart_of_the_app_and_are_renamed_deleted_and_rated(
    browser,  # noqa: F811
    tmp_path: Path,
    embedder,
) -> None:
    index, port = copy_index(tmp_path), free_port()
    with serve(index, embedder, port=port) as (url, _):
        context, page = open_page(browser, url)
        ask(page, "Где открыт филиал МГИМО?")
        page.click("#kz-new")
        page.wait_for_function("() => document.querySelectorAll('#kz-chat .kz-source').length === 0")
        ask(page, "Какую электростанцию планируют модернизировать?")
    with serve(index, embedder, port=port) as (url, _):  # the same app started again
        page.goto(url)
        page.locator("#kz-chat .kz-source").first.wait_for()
        assert "электростанцию" in page.locator("#kz-chat [data-testid=user]").first.inner_text()
        page.locator("#kz-dialogues input").click()
        listed = page.locator("ul[role=listbox] li").all_inner_texts()
        assert [t.split("\n")[-1].strip() for t in listed] == [
            "Какую электростанцию планируют модернизировать?",
            "Где открыт филиал МГИМО?",
        ]
        readme_screenshot(page, "dialogues.png")
        page.locator("ul[role=listbox] li", has_text="МГИМО").click()
        page.wait_for_function(
            "() => document.querySelector('#kz-chat [data-testid=user]')?.innerText.includes('МГИМО')"
        )

        page.click("#kz-rename-box button")
        page.fill("#kz-title textarea, #kz-title input", "Филиал <b>МГИМО</b>")
        page.click("#kz-rename")
        page.wait_for_function("() => document.querySelector('#kz-dialogues input').value === 'Филиал <b>МГИМО</b>'")
        with page.expect_download() as download:
            page.click("#kz-download")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith(r"# Филиал \<b\>МГИМО\</b\>")

        page.locator("#kz-chat .message-buttons button[aria-label='Хороший ответ']").first.click()
        feedback = tmp_path / "app-data" / "feedback.jsonl"
        page.locator(".toast-body", has_text="Оценка сохранена").wait_for()
        record = json.loads(feedback.read_text(encoding="utf-8"))
        assert record["question"] == "Где открыт филиал МГИМО?" and record["rating"] == "up" and record["gold"]

        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.click("#kz-delete")
        page.wait_for_timeout(1000)  # a refusal changes nothing: there is no event to wait for
        assert asked == ["Удалить открытый диалог? Вернуть его будет нельзя."]
        assert page.locator("#kz-chat .kz-source").count() > 0, "refused: the conversation stays"
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#kz-delete")
        page.wait_for_function("() => document.querySelectorAll('#kz-chat .kz-source').length === 0")
        page.locator("#kz-dialogues input").click()
        assert [t.split("\n")[-1].strip() for t in page.locator("ul[role=listbox] li").all_inner_texts()] == [
            "Какую электростанцию планируют модернизировать?"
        ]
        page.keyboard.press("Escape")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#kz-delete")
        page.locator(".toast-body", has_text="Откройте диалог в списке").wait_for()
        context.close()


def test_with_a_login_the_conversations_follow_the_user_to_another_browser(
    browser,  # noqa: F811
    tmp_path: Path,
    embedder,
) -> None:
    """Kept on the server for the user: a second browser profile (a fresh context: nothing in its local storage)
    logging in as the same user opens with the conversation; the copy's file names no user and is the owner's alone."""
    login = ("анна", "секрет")
    with serve(copy_index(tmp_path), embedder, auth=login) as (url, _):
        first = browser.new_context(locale="ru-RU")
        page = logged_in(first, url, *login)
        ask(page, "Где открыт филиал МГИМО?")
        kept = tmp_path / "app-data" / "conversations"
        waited_ms = 0
        while (
            "МГИМО" not in "".join(f.read_text(encoding="utf-8") for f in kept.glob("*.json")) and waited_ms < WAIT_MS
        ):
            page.wait_for_timeout(200)  # the change reaches the server after the answer is shown
            waited_ms += 200
        files = list(kept.glob("*.json"))
        assert len(files) == 1 and "анна" not in files[0].name and files[0].stat().st_mode & 0o077 == 0
        assert "МГИМО" in files[0].read_text(encoding="utf-8")
        first.close()

        second = browser.new_context(locale="ru-RU")
        page = logged_in(second, url, *login)
        page.locator("#kz-chat .kz-source").first.wait_for()
        assert "МГИМО" in page.locator("#kz-chat [data-testid=user]").first.inner_text()
        page.locator("#kz-dialogues input").click()
        listed = page.locator("ul[role=listbox] li").all_inner_texts()
        assert [t.split("\n")[-1].strip() for t in listed] == ["Где открыт филиал МГИМО?"]
        second.close()


def logged_in(context, url: str, user: str, password: str):
    """A page of the app at `url` in `context`, logged in as `user` through the login form's endpoint."""
    answer = context.request.post(url.rstrip("/") + "/login", form={"username": user, "password": password})
    assert answer.ok, answer.status
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_selector("#kz-question textarea")
    return page


def test_a_streaming_answer_stops_and_an_answer_is_given_again(browser, tmp_path: Path, embedder) -> None:  # noqa: F811
    from kzru_rag.answering.llm import OpenAICompatibleLLM
    from openai_stub import OpenAIStub, Stall

    stall = 90.0  # the LLM goes silent after two pieces for longer than the next answer may take
    with OpenAIStub() as stub:
        llm = OpenAICompatibleLLM("stub-model", base_url=stub.base_url, timeout=stall * 2)
        with serve(copy_index(tmp_path), embedder, llm=llm) as (url, _):
            context, page = open_page(browser, url)
            stub.queue(Stall(stall, ("Электростанция: ", "Экибастузская ГРЭС-2 [1]")))
            page.fill("#kz-question textarea", "Какую электростанцию планируют модернизировать?")
            page.click("#kz-ask")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#kz-chat [data-testid=bot]')]"
                ".some(m => m.innerText.includes('Электростанция: ▍') || m.innerText.includes('ГРЭС-2 [1] ▍'))"
            )
            page.click("#kz-stop")
            page.locator("#kz-chat .kz-notice", has_text="Ответ остановлен").wait_for()
            assert "▍" not in page.locator("#kz-chat").inner_text()

            # Asked again in the same page, at once, while the stopped answer's LLM is still silent.
            stub.queue(["Модернизируют ", "Экибастузскую ГРЭС-2 [1]."])
            page.fill("#kz-question textarea", "Какую электростанцию планируют модернизировать?")
            page.click("#kz-ask")
            page.wait_for_function(
                "() => document.querySelector('#kz-chat').innerText.includes('Модернизируют Экибастузскую')",
                timeout=stall * 1000 / 3,
            )
            page.locator("#kz-chat .kz-source").first.wait_for()
            assert len(stub.requests) == 2
            status = page.locator("#kz-chat .kz-confidence").inner_text()
            assert re.fullmatch(r"Ответ модели.* · уверенность \d+%", status), "an LLM answer's status and confidence"
            assert page.locator("#kz-chat [data-testid=user]").count() == 1, "the stopped turn is not kept"
            stub.queue(["Это ", "Экибастузская ГРЭС-2 [1]."])
            page.dblclick("#kz-again")
            page.wait_for_function(
                "() => document.querySelector('#kz-chat').innerText.includes('Это Экибастузская ГРЭС-2')"
            )
            page.locator("#kz-chat .kz-source").first.wait_for()
            assert page.locator("#kz-chat [data-testid=user]").count() == 1, "the answer replaced, not added"
            page.wait_for_timeout(1500)  # time for a second answer, had the double click asked twice
            assert len(stub.requests) == 3 and page.locator(".toast-body").count() == 0, "a double click asks once"
            stub.queue(["Речь об ", "Экибастузской ГРЭС-2 [1]."])
            answered = page.locator("#kz-chat .kz-source-head").count()
            page.fill("#kz-question textarea", "Где находится эта электростанция?")
            page.press("#kz-question textarea", "Enter")
            page.press("#kz-question textarea", "Enter")
            page.wait_for_function(
                "n => document.querySelectorAll('#kz-chat .kz-source-head').length > n", arg=answered
            )
            page.wait_for_timeout(1500)  # time for the empty question's message, had the second Enter sent it
            assert page.locator("#kz-chat [data-testid=user]").count() == 2, "a double Enter asks once"
            assert page.locator(".toast-body").count() == 0, "and the emptied box is not sent"
            page.reload()
            page.locator("#kz-chat .kz-source").first.wait_for()
            assert page.locator("#kz-chat [data-testid=user]").count() == 2, "the stopped turn was not saved"
            context.close()


def test_the_document_filter_answers_from_the_chosen_document_alone(browser, tmp_path: Path, embedder) -> None:  # noqa: F811
    with serve_two_documents(tmp_path, embedder) as (url, _):
        context, page = open_page(browser, url, viewport={"width": 1400, "height": 1100})  # the filter in the picture
        page.locator("#kz-header", has_text="2 документа").wait_for()  # the header is the collection's
        assert "Заметка о заводе" in page.locator("#kz-examples").inner_text()
        page.locator("#kz-within input").click()
        page.locator("ul[role=listbox] li", has_text="Заметка о заводе").click()
        page.keyboard.press("Escape")
        ask(page, "Где проходит XXI форум межрегионального сотрудничества?")
        heads = page.locator("#kz-chat .kz-source-head").all_inner_texts()
        assert heads and all("Заметка о заводе" in head for head in heads)
        ask(page, "Какой завод построят в Павлодаре?")
        assert "аккумуляторов" in page.locator("#kz-chat [data-testid=bot]").last.inner_text()
        page.evaluate("window.scrollTo(0, 0)")
        readme_screenshot(page, "filter.png")
        context.close()


def test_the_chat_the_document_view_and_the_index_tab_pass_axe(browser, tmp_path: Path, embedder) -> None:  # noqa: F811
    with serve(copy_index(tmp_path), embedder) as (url, _):
        for theme in ("light", "dark"):
            context, page = open_page(browser, f"{url}?__theme={theme}")
            ask(page, "Где проходит XXI форум межрегионального сотрудничества?")
            page.locator("#kz-chat .kz-context summary").first.click()
            page.click("#kz-ask")  # an empty question: a toast, with its close button
            page.locator(".toast-body", has_text="Введите вопрос").wait_for()
            page.wait_for_function(FADED_IN)
            assert serious_violations(page, ".toast-body") == [], f"a toast, {theme}"
            assert english_labels(page) == [], "accessible names in Russian, the chat and a toast"
            assert not re.search("[A-Za-z]", page.locator(".toast-title").first.inner_text()), "a Russian toast title"
            page.locator(".toast-body button").first.click()  # closed by its button, before its timer does it
            page.locator(".toast-body").wait_for(state="detached")
            assert serious_violations(page) == [], f"chat and document view, {theme}"
            names = page.locator("#kz-chat [data-testid=bot]").evaluate_all(
                "ms => ms.map(m => m.getAttribute('aria-label'))"
            )
            assert names and all(n.startswith("Ответ: ") and "<" not in n for n in names), names
            page.get_by_role("tab", name="Индекс").click()
            page.locator("#kz-status table").wait_for()
            assert serious_violations(page) == [], f"the «Индекс» tab, {theme}"
            assert english_labels(page) == [], "accessible names in Russian, the «Индекс» tab"
            context.close()


LAST_ANSWER_ON_TOP = """() => {
  const chat = document.querySelector('#kz-chat');
  const wrap = chat.querySelector('.bubble-wrap');
  const answers = chat.querySelectorAll('[data-testid=bot]');
  wrap.scrollTop += answers[answers.length - 1].getBoundingClientRect().top - wrap.getBoundingClientRect().top - 8;
  window.scrollBy(0, chat.getBoundingClientRect().top - 8);
}"""
"""The page and the chat scrolled to show the last answer from its top (for the phone's picture)."""


def test_on_a_phone_the_question_box_and_the_chat_stay_readable(browser, tmp_path: Path, embedder) -> None:  # noqa: F811
    with serve(copy_index(tmp_path), embedder) as (url, _):
        context, page = open_page(browser, url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        box = page.locator("#kz-question textarea")
        clipped = box.evaluate(
            """box => {
              const probe = document.createElement('span');
              const style = getComputedStyle(box);
              probe.style.font = style.font;
              probe.style.whiteSpace = 'nowrap';
              probe.textContent = box.placeholder;
              document.body.appendChild(probe);
              const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
              const lines = Math.max(1, Math.round(box.clientHeight / parseFloat(style.lineHeight || 20)));
              const wide = probe.getBoundingClientRect().width;
              probe.remove();
              return wide > room * lines;
            }"""
        )
        assert not clipped, "the placeholder fits the question box"
        question, within = (page.locator(s).bounding_box()["width"] for s in ("#kz-question", "#kz-within"))  # type: ignore[index]
        assert within >= question - 4, "the document filter has a line of its own (it had half of one: 158 of 326 px)"
        for question in ("Где проходит XXI форум межрегионального сотрудничества?", "Где открыт филиал МГИМО?"):
            ask(page, question)
        gutter = page.locator("#kz-chat .bubble-wrap").evaluate(
            """wrap => {
              const right = wrap.getBoundingClientRect().right;
              const texts = [...wrap.querySelectorAll('.message-row *')].filter(
                (e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()));
              return Math.min(...texts.map((e) => right - e.getBoundingClientRect().right));
            }"""
        )
        assert gutter >= 40, "the chat's ↓ button (Gradio's, 36 px, in the right-hand corner) has a gutter free of text"
        row, column = page.locator("#kz-chat .message-row.bot-row").last.evaluate(
            "row => [row, row.parentElement].map((e) => e.getBoundingClientRect().width)"
        )
        assert row >= column - 1, "an answer takes the chat's width up to the gutter (Gradio's leaves 60 px beside it)"
        page.evaluate(LAST_ANSWER_ON_TOP)
        readme_screenshot(page, "phone.png")

        page.get_by_role("tab", name="Индекс").click()
        page.locator("#kz-status table").wait_for()
        overflowing = page.locator("#kz-status").evaluate(
            "s => [...s.querySelectorAll(':not(thead, thead *)')].filter((e) => e.getBoundingClientRect().right > "
            "s.getBoundingClientRect().right + 1).map((e) => e.tagName + ' ' + e.textContent.slice(0, 30))"
        )
        assert overflowing == [], "the documents table fits a phone (four columns did not: 400 of 302 px)"
        assert page.get_by_role("columnheader", name="Состояние").count() == 1, "its column names read (not shown)"
        assert serious_violations(page) == [], "the «Индекс» tab on a phone"
        context.close()
