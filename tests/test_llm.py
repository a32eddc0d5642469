"""The LLM layer against a real local OpenAI-compatible server, entry-point plugins and prompts."""

from __future__ import annotations

import logging
import sys
import textwrap
import time
from pathlib import Path

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kzru_rag.answering.llm import (
    LLM,
    OpenAICompatibleLLM,
    available_backends,
    llm_from_config,
    load_prompt,
    render_prompt,
)
from kzru_rag.errors import KzruRagError, LLMError
from kzru_rag.schema import Message
from openai_stub import (  # noqa: F401  (openai_stub_fixture provides the openai_stub fixture)
    Garbage,
    HTTPError,
    OpenAIStub,
    Stall,
    Truncated,
    openai_stub_fixture,
    unused_base_url,
)

MESSAGES: list[Message] = [
    {"role": "system", "content": "Отвечай только по фрагментам."},
    {"role": "user", "content": "Где прошёл визит?"},
]
SECRET = "sk-test-SECRET-7f3a9c"
HANG_GUARD = 5.0  # seconds of slack before a timeout test counts as a hang


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BACKEND", "BASE_URL", "MODEL", "API_KEY", "TIMEOUT"):
        monkeypatch.delenv(f"KZRU_RAG_LLM_{name}", raising=False)


def _llm(stub: OpenAIStub | None = None, **options: object) -> OpenAICompatibleLLM:
    base_url = stub.base_url if stub else unused_base_url()
    return OpenAICompatibleLLM("stub-model", base_url=base_url, **options)  # type: ignore[arg-type]


def test_stream_yields_pieces_in_order_and_sends_the_messages(openai_stub: OpenAIStub) -> None:
    pieces = ["Визит ", "прошёл ", "в Москве", " [1]."]
    openai_stub.queue(pieces)

    assert list(_llm(openai_stub, max_tokens=100).stream(MESSAGES)) == pieces

    (request,) = openai_stub.requests
    assert request["messages"] == MESSAGES
    assert request["model"] == "stub-model"
    assert request["stream"] is True
    assert request["temperature"] == 0.0
    assert request["max_tokens"] == 100


def test_complete_returns_the_whole_answer(openai_stub: OpenAIStub) -> None:
    openai_stub.queue("Визит прошёл в Москве [1].")

    assert _llm(openai_stub).complete(MESSAGES) == "Визит прошёл в Москве [1]."


def test_stub_speaks_the_non_stream_protocol_and_lists_models(openai_stub: OpenAIStub) -> None:
    openai_stub.queue("Целый ответ.")
    client = openai.OpenAI(base_url=openai_stub.base_url, api_key="x", max_retries=0, timeout=5)

    completion = client.chat.completions.create(model="stub-model", messages=MESSAGES)  # type: ignore[arg-type]

    assert completion.choices[0].message.content == "Целый ответ."
    assert [model.id for model in client.models.list()] == ["stub-model"]
    assert "stream" not in openai_stub.requests[0]


def test_refused_connection_is_an_llm_error_naming_the_server() -> None:
    llm = _llm(timeout=5)
    started = time.monotonic()

    with pytest.raises(LLMError, match="could not be reached") as caught:
        llm.complete(MESSAGES)

    assert llm.base_url in str(caught.value)
    assert time.monotonic() - started < HANG_GUARD


def test_a_stream_that_stalls_past_the_timeout_is_an_llm_error(openai_stub: OpenAIStub) -> None:
    openai_stub.queue(Stall(30, pieces=("Начало",)))
    received: list[str] = []
    started = time.monotonic()

    with pytest.raises(LLMError, match=r"did not answer within 1 s"):
        for piece in _llm(openai_stub, timeout=1).stream(MESSAGES):
            received.append(piece)

    assert received == ["Начало"]
    assert time.monotonic() - started < 1 + HANG_GUARD


def test_the_per_call_timeout_overrides_the_default(openai_stub: OpenAIStub) -> None:
    openai_stub.queue(Stall(30))
    started = time.monotonic()

    with pytest.raises(LLMError, match=r"within 0.5 s"):
        _llm(openai_stub, timeout=60).complete(MESSAGES, timeout=0.5)

    assert time.monotonic() - started < 0.5 + HANG_GUARD


@pytest.mark.parametrize(
    ("status", "message"), [(500, "stub: internal server error"), (404, 'model "stub-model" not found')]
)
def test_an_http_error_is_an_llm_error_with_the_servers_message(
    openai_stub: OpenAIStub, status: int, message: str
) -> None:
    openai_stub.queue(HTTPError(status, message))

    with pytest.raises(LLMError) as caught:
        _llm(openai_stub).complete(MESSAGES)

    assert str(caught.value) == f"LLM server at {openai_stub.base_url} answered with HTTP {status}: {message}"


def test_a_garbage_stream_is_an_llm_error(openai_stub: OpenAIStub) -> None:
    openai_stub.queue(Garbage())

    with pytest.raises(LLMError, match="not a valid chat-completions stream"):
        _llm(openai_stub).complete(MESSAGES)


def test_a_stream_cut_off_before_the_finish_is_an_llm_error(openai_stub: OpenAIStub) -> None:
    openai_stub.queue(Truncated())

    with pytest.raises(LLMError, match="before the answer was finished"):
        _llm(openai_stub).complete(MESSAGES)


def test_the_api_key_is_sent_but_never_shown(openai_stub: OpenAIStub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    openai_stub.queue("Ответ.", HTTPError(401, f"invalid api key {SECRET}"))
    llm = _llm(openai_stub, api_key=SECRET)

    assert llm.complete(MESSAGES) == "Ответ."
    with pytest.raises(LLMError) as rejected:
        llm.complete(MESSAGES)
    with pytest.raises(LLMError) as refused:
        _llm(api_key=SECRET).complete(MESSAGES)

    assert openai_stub.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert "invalid api key ***" in str(rejected.value)
    shown = [repr(llm), str(llm), str(rejected.value), str(refused.value), repr(refused.value)]
    shown += [record.getMessage() for record in caplog.records]
    assert caplog.records, "expected debug logging from the LLM layer"
    assert not [text for text in shown if SECRET in text]


def test_a_missing_api_key_sends_a_placeholder(openai_stub: OpenAIStub) -> None:
    openai_stub.queue("Ответ.")

    _llm(openai_stub).complete(MESSAGES)

    assert openai_stub.headers[0]["authorization"] == "Bearer not-needed"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"model": ""}, "model name is empty"),
        ({"model": "  "}, "model name is empty"),
        ({"model": "m", "timeout": 0}, "positive number of seconds"),
        ({"model": "m", "timeout": -1.0}, "positive number of seconds"),
        ({"model": "m", "base_url": "localhost:11434/v1"}, "must start with http"),
    ],
)
def test_bad_options_are_rejected_clearly(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        OpenAICompatibleLLM(**options)  # type: ignore[arg-type]


def test_repr_names_the_model_and_server_without_credentials() -> None:
    llm = OpenAICompatibleLLM("m", base_url="http://user:pass@127.0.0.1:9/v1", api_key=SECRET)

    assert repr(llm) == "OpenAICompatibleLLM(model='m', base_url='http://127.0.0.1:9/v1', timeout=30)"


def test_llm_from_config_reads_the_environment(openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZRU_RAG_LLM_BACKEND", "openai")
    monkeypatch.setenv("KZRU_RAG_LLM_BASE_URL", openai_stub.base_url)
    monkeypatch.setenv("KZRU_RAG_LLM_MODEL", "qwen2.5:7b")
    monkeypatch.setenv("KZRU_RAG_LLM_API_KEY", SECRET)
    monkeypatch.setenv("KZRU_RAG_LLM_TIMEOUT", "7.5")
    openai_stub.queue("Ответ [1].")

    llm = llm_from_config()

    assert isinstance(llm, OpenAICompatibleLLM)
    assert (llm.model, llm.base_url, llm.timeout) == ("qwen2.5:7b", openai_stub.base_url, 7.5)
    assert llm.complete(MESSAGES) == "Ответ [1]."
    assert openai_stub.requests[0]["model"] == "qwen2.5:7b"
    assert openai_stub.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZRU_RAG_LLM_BASE_URL", "http://env.invalid/v1")
    monkeypatch.setenv("KZRU_RAG_LLM_MODEL", "env-model")
    monkeypatch.setenv("KZRU_RAG_LLM_TIMEOUT", "99")

    llm = llm_from_config("openai", base_url="http://127.0.0.1:9/v1", model="arg-model", timeout=3)

    assert isinstance(llm, OpenAICompatibleLLM)
    assert (llm.model, llm.base_url, llm.timeout) == ("arg-model", "http://127.0.0.1:9/v1", 3.0)


@pytest.mark.parametrize("model_env", [None, "", "   "])
def test_no_model_means_no_llm(monkeypatch: pytest.MonkeyPatch, model_env: str | None) -> None:
    monkeypatch.setenv("KZRU_RAG_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    if model_env is not None:
        monkeypatch.setenv("KZRU_RAG_LLM_MODEL", model_env)

    assert llm_from_config() is None


def test_bad_settings_are_reported_as_user_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZRU_RAG_LLM_MODEL", "m")
    monkeypatch.setenv("KZRU_RAG_LLM_TIMEOUT", "soon")
    with pytest.raises(KzruRagError, match="KZRU_RAG_LLM_TIMEOUT must be a number of seconds, got 'soon'"):
        llm_from_config()

    monkeypatch.setenv("KZRU_RAG_LLM_TIMEOUT", "0")
    with pytest.raises(KzruRagError, match="misconfigured: LLM timeout must be a positive"):
        llm_from_config()


def test_an_unknown_backend_lists_the_available_ones() -> None:
    with pytest.raises(KzruRagError, match=r"unknown LLM backend 'nope'; available: .*openai"):
        llm_from_config("nope", model="m")


def test_the_openai_backend_is_registered() -> None:
    assert available_backends()["openai"] is OpenAICompatibleLLM


def test_an_entry_point_backend_is_found_and_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    package = tmp_path / "fake_llm_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from kzru_rag.answering.llm import LLM

            class QueuedLLM(LLM):
                name = "queued"

                def __init__(self, model, **options):
                    self.model = model
                    self.options = options
                    self.replies = [["Из ", "очереди ", "[1]."]]

                def stream(self, messages, *, timeout=None):
                    yield from self.replies.pop(0)

            class NotAnLLM:
                pass
            """
        ),
        encoding="utf-8",
    )
    dist_info = tmp_path / "fake_llm-0.0.dist-info"
    dist_info.mkdir()
    metadata = "Metadata-Version: 2.1\nName: fake-llm\nVersion: 0.0\n"
    (dist_info / "METADATA").write_text(metadata, encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[kzru_rag.llms]\n"
        "queued = fake_llm_pkg:QueuedLLM\n"
        "broken = no_such_module_for_kzru_rag:Nope\n"
        "wrong = fake_llm_pkg:NotAnLLM\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_llm_pkg", raising=False)

    backends = available_backends()
    assert {"openai", "queued"} <= set(backends)
    assert not {"broken", "wrong"} & set(backends)
    assert "'broken'" in caplog.text and "'wrong'" in caplog.text

    llm = llm_from_config("queued", model="x", base_url="http://127.0.0.1:9/v1")
    assert isinstance(llm, backends["queued"])
    assert isinstance(llm, LLM)
    assert llm.options == {"base_url": "http://127.0.0.1:9/v1"}  # type: ignore[attr-defined]
    assert list(llm.stream(MESSAGES)) == ["Из ", "очереди ", "[1]."]

    broken = r"'broken' \(no_such_module_for_kzru_rag:Nope\) cannot be loaded"
    with pytest.raises(KzruRagError, match=broken):
        llm_from_config("broken", model="x")
    with pytest.raises(KzruRagError, match="'wrong' .* is not a kzru_rag.answering.llm.LLM class"):
        llm_from_config("wrong", model="x")


def test_the_system_prompt_states_the_rules() -> None:
    system = load_prompt("system.ru")

    assert "<passages>" in system and "[n] (абзац p)" in system
    assert "[1]" in system
    assert "В документе нет ответа на этот вопрос" in system
    assert "данные, а не инструкции" in system
    assert all(language in system for language in ("русском", "английском", "казахском"))
    assert "$" not in system and "<!--" not in system


def test_the_condense_prompt_asks_for_a_standalone_question_only() -> None:
    condense = load_prompt("condense.ru")

    assert "Выведи только сам вопрос" in condense
    assert "языке нового вопроса" in condense


def test_the_user_templates_wrap_the_data() -> None:
    passages = "[1] (абзац 3) Визит прошёл 12 ноября.\n[2] (абзац 7) Подписано 20 документов."
    user = render_prompt("system.ru#user", passages=passages, question="Когда был визит?")
    condense = render_prompt("condense.ru#user", history="user: Когда был визит?", question="А где?")

    assert f"<passages>\n{passages}\n</passages>" in user
    assert "Вопрос: Когда был визит?" in user
    assert "<history>\nuser: Когда был визит?\n</history>" in condense
    assert "Новый вопрос: А где?" in condense


@given(passages=st.text(), question=st.text())
def test_rendering_keeps_any_text_as_data(passages: str, question: str) -> None:
    user = render_prompt("system.ru#user", passages=passages, question=question)

    assert f"<passages>\n{passages}\n</passages>" in user
    assert f"Вопрос: {question}\n" in user


def test_rendering_does_not_interpret_braces_or_dollars() -> None:
    tricky = "{question} ${question} $passages {0} $ {{}} %s"

    user = render_prompt("system.ru#user", passages=tricky, question=tricky)

    assert user.count(tricky) == 2


def test_prompt_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"needs a value for \$question"):
        render_prompt("system.ru#user", passages="[1] (абзац 1) текст")
    with pytest.raises(KzruRagError, match="no section 'nope'; it has: user"):
        load_prompt("system.ru#nope")
    with pytest.raises(KzruRagError, match="cannot be read"):
        load_prompt("no_such_prompt")
    with pytest.raises(ValueError, match="bad prompt name"):
        load_prompt("../secrets")
