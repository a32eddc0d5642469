"""The OpenAI-compatible API (`faces/api.py`) of the running app, spoken to by the official `openai` client.

The app is served on a free 127.0.0.1 port with a password (tests/app_server.py, the same mounts as app.py), so
every call also checks the bearer key; each reply is compared with what `Assistant.ask` says to the chat.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from app_server import copy_index, serve, serve_two_documents

PASSWORD = "kzru-api-secret-7"  # HTTP headers are ASCII: a key in Cyrillic cannot be sent
QUESTION = "Где проходит XXI форум межрегионального сотрудничества?"
FOLLOW_UP = "А когда он пройдёт?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    with serve_two_documents(tmp_path_factory.mktemp("api"), embedder, ("admin", PASSWORD)) as (url, library):
        yield url.rstrip("/"), library


def client(url: str, key: str = PASSWORD) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_the_models_are_listed(app) -> None:
    url, _ = app

    assert [model.id for model in client(url).models.list()] == ["kzru-rag", "kzru-rag-extractive"]


def test_a_question_gets_the_chats_answer_with_markers_and_its_cited_passages(app) -> None:
    url, library = app
    expected = library.assistant.ask(QUESTION)

    completion = client(url).chat.completions.create(
        model="kzru-rag",
        messages=[{"role": "system", "content": "Отвечай кратко."}, {"role": "user", "content": QUESTION}],
    )

    content = completion.choices[0].message.content
    assert content == expected.text and "[1]" in content and "Уральск" in content
    extra = completion.model_extra["kzru_rag"]
    assert extra["status"] == expected.status == "answered"
    assert extra["confidence"] == pytest.approx(expected.confidence, abs=1e-4)
    assert len(extra["citations"]) == len(expected.citations) >= 1
    documents = library.retriever.index.documents
    for cited, hit in zip(extra["citations"], expected.citations):
        assert (cited["document"], cited["start"], cited["end"]) == (hit.doc_id, hit.start, hit.end)
        assert documents[cited["document"]].text[cited["start"] : cited["end"]] == cited["text"]
        assert cited["paragraph"] == hit.metadata["paragraph"] and cited["title"]


def test_earlier_messages_are_the_history_of_a_follow_up(app) -> None:
    url, library = app
    first = library.assistant.ask(QUESTION)
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first.text}]
    expected = library.assistant.ask(FOLLOW_UP, history)

    completion = client(url).chat.completions.create(
        model="kzru-rag", messages=[*history, {"role": "user", "content": FOLLOW_UP}]
    )

    assert completion.choices[0].message.content == expected.text
    assert completion.model_extra["kzru_rag"]["status"] == expected.status


def test_a_streamed_answer_is_the_same_and_its_last_chunk_carries_the_citations(app) -> None:
    url, library = app
    expected = library.assistant.ask(QUESTION)

    chunks = list(
        client(url).chat.completions.create(
            model="kzru-rag-extractive", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )

    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == expected.text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c["start"] for c in last.model_extra["kzru_rag"]["citations"]] == [h.start for h in expected.citations]
    assert all("kzru_rag" not in (chunk.model_extra or {}) for chunk in chunks[:-1])


def test_a_stream_asked_to_include_usage_ends_with_the_usage_chunk(app) -> None:
    """`stream_options.include_usage`, as OpenAI sends it: a last chunk with no choices and the usage (none came)."""
    url, library = app

    chunks = list(
        client(url).chat.completions.create(
            model="kzru-rag-extractive",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    *answer, usage = chunks
    assert usage.choices == [] and usage.usage is not None and usage.usage.total_tokens == 0
    assert all(chunk.usage is None for chunk in answer)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in answer) == library.assistant.ask(QUESTION).text
    assert answer[-1].choices[0].finish_reason == "stop" and "kzru_rag" in answer[-1].model_extra


def test_a_stream_is_framed_as_server_sent_events_that_no_proxy_or_cache_holds_back(app) -> None:
    """Each event a `data:` line and a blank line, ending with `data: [DONE]`; the headers keep caches and proxies
    such as nginx from buffering the stream (there were none)."""
    url, _ = app
    body = {"model": "kzru-rag", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    headers = {"Authorization": f"Bearer {PASSWORD}"}

    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120) as response:
        text = response.read().decode()

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    events = text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(event.startswith("data: {") for event in events[:-2])


def test_the_documents_field_answers_from_the_chosen_documents_alone(app) -> None:
    url, library = app
    api = client(url)
    asked = {"model": "kzru-rag", "messages": [{"role": "user", "content": QUESTION}]}
    everywhere = api.chat.completions.create(**asked).model_extra["kzru_rag"]
    expected = library.assistant.ask(QUESTION, documents=["note"])

    within = api.chat.completions.create(**asked, extra_body={"documents": ["note"]})

    assert "kz-ru-state-visit-2025-11" in {c["document"] for c in everywhere["citations"]}
    cited = within.model_extra["kzru_rag"]["citations"]
    assert cited and {c["document"] for c in cited} == {"note"}
    assert within.choices[0].message.content == expected.text
    with pytest.raises(openai.BadRequestError, match="no document named 'nowhere'"):
        api.chat.completions.create(**asked, extra_body={"documents": ["nowhere"]})


@pytest.mark.parametrize("key", ["wrong-key", "admin"])
def test_a_wrong_or_missing_key_gets_401_and_nothing_else(app, key: str) -> None:
    url, _ = app

    with pytest.raises(openai.AuthenticationError):
        client(url, key).chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.AuthenticationError):
        client(url, key).models.list()
    bare = httpx.post(f"{url}/v1/chat/completions", json={"model": "kzru-rag", "messages": []}, timeout=30)
    assert bare.status_code == 401 and set(bare.json()) == {"error"}
    assert "Уральск" not in bare.text


def test_the_key_is_taken_whatever_the_case_of_its_scheme(app) -> None:
    """HTTP's auth scheme is case-insensitive (RFC 9110, 11.1): `bearer KEY` is the key too (it got 401)."""
    url, _ = app

    for scheme in ("bearer", "BEARER"):
        listed = httpx.get(f"{url}/v1/models", headers={"Authorization": f"{scheme} {PASSWORD}"}, timeout=30)
        assert listed.status_code == 200, scheme
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Basic {PASSWORD}"}).status_code == 401
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"bearer {PASSWORD}x"}).status_code == 401


def test_a_request_to_another_host_name_is_refused_as_the_mcp_server_refuses_it(app) -> None:
    """Listening on 127.0.0.1, the API answers requests addressed to 127.0.0.1, localhost or [::1] alone, as the MCP
    server does: a web page that points its own name at 127.0.0.1 (DNS rebinding) cannot read the documents through
    it (it answered any Host)."""
    url, _ = app
    port = url.rsplit(":", 1)[1]
    key = {"Authorization": f"Bearer {PASSWORD}"}

    for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
        assert httpx.get(f"{url}/v1/models", headers={**key, "Host": name}, timeout=30).status_code == 200, name
    refused = httpx.get(f"{url}/v1/models", headers={**key, "Host": f"rebound.example:{port}"}, timeout=30)

    assert refused.status_code == 421 and set(refused.json()) == {"error"}
    assert "127.0.0.1" in refused.json()["error"]["message"]


def test_the_chat_page_and_its_gradio_routes_refuse_another_host_name_too(app) -> None:
    """The page, its config and Gradio's own API answered any Host: without a login a rebound page could read the
    documents through `/gradio_api/call/ask`."""
    url, _ = app
    port = url.rsplit(":", 1)[1]

    for path in ("/", "/config", "/gradio_api/info", "/gradio_api/call/ask"):
        assert httpx.get(f"{url}{path}", headers={"Host": f"localhost:{port}"}, timeout=30).status_code != 421, path
        refused = httpx.get(f"{url}{path}", headers={"Host": f"rebound.example:{port}"}, timeout=30)
        assert refused.status_code == 421, path


def test_a_bad_request_is_refused_in_one_line(app) -> None:
    url, _ = app
    api = client(url)

    with pytest.raises(openai.NotFoundError, match="kzru-rag-extractive"):
        api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError, match="the last message must be the user's question"):
        api.chat.completions.create(model="kzru-rag", messages=[{"role": "assistant", "content": "Здравствуйте"}])
    with pytest.raises(openai.BadRequestError, match="the question is empty"):
        api.chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": "   "}])
    with pytest.raises(openai.BadRequestError, match="the question is empty"):
        api.chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": ""}])


def test_a_question_of_content_parts_is_read_from_its_text_parts(app) -> None:
    """Content parts, as clients that send pictures write every message: the text parts are the question; a
    question with no text part is refused saying so (it was called empty, and the client sent something)."""
    url, library = app
    api = client(url)
    parts = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]

    answered = api.chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": parts}])

    assert answered.choices[0].message.content == library.assistant.ask(QUESTION).text
    with pytest.raises(openai.BadRequestError, match="the question has no text: kzru-rag reads only text parts"):
        api.chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": parts[1:]}])


def test_a_body_that_is_not_a_request_is_refused_with_what_is_wrong(app) -> None:
    url, _ = app
    headers = {"Authorization": f"Bearer {PASSWORD}", "Content-Type": "application/json"}

    def refused(body: str) -> str:
        response = httpx.post(f"{url}/v1/chat/completions", content=body, headers=headers, timeout=60)
        assert response.status_code == 400
        return response.json()["error"]["message"]

    assert refused('{"model": "kzru-rag",') == "invalid request: the body is not valid JSON (at character 21)"
    assert refused('"вопрос"').startswith("invalid request: Input should be") and "  " not in refused('"вопрос"')
    assert refused('{"model": "kzru-rag"}') == "invalid request: messages: Field required"
    wrong_k = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "kzru-rag", "messages": [], "k": "abc"}, headers=headers
    )
    assert wrong_k.json()["error"]["param"] == "k", "the field, in OpenAI's `param` (it was null)"
    assert wrong_k.json()["error"]["message"].endswith("(got 'abc')")


def test_a_body_over_the_limit_is_refused_before_it_is_read(app) -> None:
    """A body over 4 MiB gets 413 in OpenAI's shape, declared or streamed in chunks (310 MB were read, answered in
    9 s and left the app 600 MB larger)."""
    url, _ = app
    headers = {"Authorization": f"Bearer {PASSWORD}", "Content-Type": "application/json"}
    question = "форум " * 400_000  # 4.8 MB in UTF-8
    body = json.dumps({"model": "kzru-rag", "messages": [{"role": "user", "content": question}]}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    declared = httpx.post(f"{url}/v1/chat/completions", content=body, headers=headers, timeout=60)
    streamed = httpx.post(f"{url}/v1/chat/completions", content=chunks(), headers=headers, timeout=60)

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["message"].startswith("the request body is over 4 MiB")
    assert "content-length" not in {name.lower() for name in streamed.request.headers}
    small = {"model": "kzru-rag", "messages": [{"role": "user", "content": QUESTION}]}
    assert httpx.post(f"{url}/v1/chat/completions", json=small, headers=headers, timeout=60).status_code == 200


def test_one_model_is_described_by_its_name(app) -> None:
    url, _ = app

    assert client(url).models.retrieve("kzru-rag-extractive").id == "kzru-rag-extractive"
    with pytest.raises(openai.NotFoundError, match="kzru-rag-extractive"):
        client(url).models.retrieve("gpt-4o")


def test_an_llm_answer_carries_its_status_and_confidence(tmp_path, embedder) -> None:
    from kzru_rag.answering.llm import OpenAICompatibleLLM
    from openai_stub import OpenAIStub

    reply = "Форум проходит в Уральске [{n}]."
    with OpenAIStub() as stub:
        llm = OpenAICompatibleLLM("stub-model", base_url=stub.base_url, timeout=30)
        with serve(copy_index(tmp_path), embedder, llm=llm) as (url, library):
            hits = library.retriever.search(QUESTION)
            n = next(n for n, hit in enumerate(hits, 1) if "Уральске" in hit.text)
            stub.queue(reply.format(n=n), reply.format(n=n))
            expected = library.assistant.ask(QUESTION)
            api = openai.OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key="anything", max_retries=0, timeout=120)
            completion = api.chat.completions.create(model="kzru-rag", messages=[{"role": "user", "content": QUESTION}])

    extra = completion.model_extra["kzru_rag"]
    assert expected.mode == extra["mode"] == "llm" and completion.choices[0].message.content == expected.text
    assert extra["status"] == expected.status == "answered"
    assert 0 < extra["confidence"] <= 1 and extra["confidence"] == pytest.approx(expected.confidence, abs=1e-4)


def test_without_a_password_the_api_needs_no_key(tmp_path, embedder) -> None:
    with serve(copy_index(tmp_path), embedder) as (url, _):
        models = openai.OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key="anything", max_retries=0).models.list()

    assert [model.id for model in models] == ["kzru-rag", "kzru-rag-extractive"]


def test_every_refusal_under_v1_is_in_openais_error_shape(app) -> None:
    """A body that is not UTF-8, a path the API does not serve and a wrong method each get {"error": {...}} saying what
    to send (they got FastAPI's {"detail": ...}, which OpenAI clients show as a bare status)."""
    url, _ = app
    headers = {"Authorization": f"Bearer {PASSWORD}", "Content-Type": "application/json"}
    body = '{"model": "kzru-rag", "messages": [{"role": "user", "content": "Где форум?"}]}'

    not_utf8 = httpx.post(f"{url}/v1/chat/completions", content=body.encode("cp1251"), headers=headers, timeout=60)
    no_route = httpx.post(f"{url}/v1/embeddings", json={"model": "kzru-rag", "input": "форум"}, headers=headers)
    wrong_method = httpx.get(f"{url}/v1/chat/completions", headers=headers)

    assert (not_utf8.status_code, no_route.status_code, wrong_method.status_code) == (400, 404, 405)
    messages = []
    for response in (not_utf8, no_route, wrong_method):
        assert set(response.json()) == {"error"}
        assert response.json()["error"]["type"] == "invalid_request_error"
        messages.append(response.json()["error"]["message"])
    assert "UTF-8" in messages[0]
    assert "POST /v1/embeddings" in messages[1] and "/v1/chat/completions" in messages[1]
    assert "GET /v1/chat/completions" in messages[2] and "POST" in messages[2]
    assert wrong_method.headers["allow"] == "POST"
    with pytest.raises(openai.NotFoundError, match="POST /v1/embeddings"):
        client(url).embeddings.create(model="kzru-rag", input="форум")


def test_more_than_one_choice_is_refused_not_silently_cut_to_one(app) -> None:
    """`n` > 1 asks for several answers; the API gives one, so it says so (it answered with one choice)."""
    url, _ = app
    api = client(url)
    asked = {"model": "kzru-rag", "messages": [{"role": "user", "content": QUESTION}]}

    with pytest.raises(openai.BadRequestError, match="n must be 1") as refused:
        api.chat.completions.create(**asked, n=2)

    assert refused.value.body["param"] == "n"
    assert len(api.chat.completions.create(**asked, n=1).choices) == 1
