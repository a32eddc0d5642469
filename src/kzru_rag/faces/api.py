"""An OpenAI-compatible API over a `Library`, served under `/v1` on the app's own port (a thin layer over `Assistant`).

- `GET /v1/models`: `kzru-rag` (answers with the configured LLM, quotes without one) and `kzru-rag-extractive`
  (always quotes).
- `POST /v1/chat/completions` (`"stream": true` for server-sent events): the messages are the conversation — the
  last user message is the question, the earlier user and assistant turns its history (system messages are
  ignored: the assistant keeps its own instructions). The reply's content is the answer the chat gives, with its
  [n] markers (and its warning, «⚠ …», when it has one); the extra field `kzru_rag` of the response, and of a
  stream's last chunk, is a `replies.Reply`: status, confidence, mode and the cited passages (marker [n] is
  `citations[n - 1]`: document, title, paragraph, page, start, end, text). Optional `k`: passages to retrieve;
  optional `documents`: answer from these documents alone (names as `kzru-rag documents list` and the MCP tool
  `list_documents` give them; an unknown name is a 400). `n` must be 1 (one answer per question). Other request
  fields (temperature, max_tokens, …) are accepted and ignored; `usage` counts no tokens (zeros), and
  `stream_options.include_usage` ends a stream with the usage chunk, as OpenAI's does.

Every refusal, a path or method the API does not serve included, is an error in OpenAI's shape; a body over
MAX_BODY (4 MiB) is a 413.

With a password (`KZRU_RAG_AUTH=user:password`) every request needs it as its bearer key
(`Authorization: Bearer <password>`); otherwise the answer is 401 and nothing else.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from kzru_rag.errors import KzruRagError
from kzru_rag.faces.replies import Reply, check_passages
from kzru_rag.library import Library
from kzru_rag.schema import Answer, Message

log = logging.getLogger(__name__)

MODELS = {"kzru-rag": True, "kzru-rag-extractive": False}
"""Model id → whether it answers with the configured LLM."""
STREAMING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Headers of a stream: no cache or proxy (nginx) holds its events back."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Addresses to listen on that only this machine reaches."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""How a request names this machine in its Host header."""
MAX_BODY = 4 * 2**20
"""The largest request body the API reads, in bytes (as the MCP server's): a conversation far longer than any."""
ANSWERS_AT_ONCE = 2
"""Answers computed at the same time (the others wait), as the chat's queue allows."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False
    """End a stream with a chunk of no choices and the usage (the other chunks' `usage` is null)."""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, … are accepted and not used
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    """Choices to give: only 1 (None: 1)."""
    k: int | None = None
    documents: list[str] | None = None
    """Answer from these documents alone (None or empty: all)."""


def error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> JSONResponse:
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def require_key(app: ASGIApp, password: str | None) -> ASGIApp:
    """`app` behind a bearer key: every HTTP request without `Authorization: Bearer <password>` (the scheme in any
    case) gets 401 (no check when `password` is None)."""
    if not password:
        return app
    expected = password.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scheme, _, key = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
            if not (hmac.compare_digest(key, expected) and scheme.lower() == b"bearer"):
                await error(401, "a wrong or missing API key: use the app's password", code="invalid_api_key")(
                    scope, receive, send
                )
                return
        await app(scope, receive, send)

    return guarded


def require_host(app: ASGIApp, host: str) -> ASGIApp:
    """`app` answering only requests addressed to this machine by name (127.0.0.1, localhost, [::1]) when it listens
    on loopback (`host`), so no web page reaches it by DNS rebinding; 421 otherwise. The app's launch puts it before
    every route (`ui.app.launch_app`): the page, Gradio's API, `/v1` and MCP."""
    if host not in LOOPBACK:
        return app

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
        name = given if given.endswith("]") else given.rpartition(":")[0] or given
        if scope["type"] == "http" and name not in LOOPBACK_NAMES:
            message = "kzru-rag answers requests to 127.0.0.1, localhost or [::1] only: use one of them in the URL"
            await error(421, message, code="misdirected_request")(scope, receive, send)
            return
        await app(scope, receive, send)

    return checked


def limit_body(app: ASGIApp, limit: int = MAX_BODY) -> ASGIApp:
    """`app` refusing a request body over `limit` bytes with 413: at once when its declared length is over, else
    as soon as what has come is (a body sent in chunks)."""
    refusal = f"the request body is over {limit // 2**20} MiB: send a shorter conversation"

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if scope["type"] == "http" and declared.isdigit() and int(declared) > limit:
            await error(413, refusal)(scope, receive, send)
            return
        read = 0

        async def counted() -> ASGIMessage:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:  # raised while the body is read: the API's handler answers it
                raise HTTPException(413, refusal)
            return message

        await app(scope, counted, send)

    return limited


def conversation(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """(question, history) of a chat request's messages; ValueError when the last message is not the user's, or has
    content parts but no text part."""
    if not messages or messages[-1].role != "user":
        raise ValueError("the last message must be the user's question")
    history = [
        {"role": m.role, "content": _text(m.content)}
        for m in messages[:-1]
        if m.role in ("user", "assistant") and m.content
    ]
    question = _text(messages[-1].content)
    if isinstance(messages[-1].content, list) and messages[-1].content and not question:
        raise ValueError('the question has no text: kzru-rag reads only text parts ({"type": "text", "text": …})')
    return question, history


def field_of(problem: Mapping[str, Any]) -> str:
    """The request field a validation error is about, dotted ("messages.0.content"; "" for the body itself)."""
    return ".".join(str(part) for part in problem.get("loc", ()) if part != "body")


def what_is_wrong(problem: Mapping[str, Any]) -> str:
    """What is wrong with a request, from one of its validation errors (pydantic's dict: `type`, `loc`, `msg`,
    `input`), with the value given when it is short."""
    if problem.get("type") == "json_invalid":
        at = next((part for part in problem.get("loc", ()) if isinstance(part, int)), None)
        return "the body is not valid JSON" + (f" (at character {at})" if at is not None else "")
    where = field_of(problem)
    message = str(problem.get("msg", "")).strip()
    given = problem.get("input")
    if where and isinstance(given, (str, int, float)) and len(repr(given)) <= 40:
        message += f" (got {given!r})"
    return f"{where}: {message}" if where else message or "the body must be a JSON object"


def _refusal(request: Request, exc: HTTPException) -> str:
    """What a refusal by the framework (no such path, a wrong method, an unreadable body) says to the client."""
    asked = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return f"Invalid URL ({asked}): this API serves GET /v1/models and POST /v1/chat/completions"
    if exc.status_code == 405:
        return f"{asked} is not served: use {(exc.headers or {}).get('Allow', 'another method')}"
    if exc.status_code == 400:
        return "invalid request: the body could not be read: send a JSON object encoded in UTF-8"
    return str(exc.detail)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "kzru-rag"}


def _text(content: str | list[dict[str, Any]] | None) -> str:
    """A message's text: a string, or the text parts of a list of content parts joined."""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content or [] if part.get("type") == "text")


def content_of(answer: Answer) -> str:
    """The reply's content: the answer's text, and its warning after it."""
    return answer.text + (f"\n\n⚠ {answer.notice}" if answer.notice else "")


def create_api(library: Library, password: str | None = None) -> ASGIApp:
    """The `/v1` application over `library` (mount it at /v1), behind `password` as a bearer key when given; the app
    it is mounted on checks the Host (`require_host`)."""
    api = FastAPI(title="kzru-rag OpenAI-compatible API", docs_url=None, redoc_url=None, openapi_url=None)
    slots = threading.BoundedSemaphore(ANSWERS_AT_ONCE)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = exc.errors()[0] if exc.errors() else {}
        return error(400, f"invalid request: {what_is_wrong(problem)}", param=field_of(problem) or None)

    @api.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        refusal = error(exc.status_code, _refusal(request, exc))
        refusal.headers.update(exc.headers or {})  # a 405's Allow
        return refusal

    @api.get("/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model(name) for name in MODELS]}

    @api.get("/models/{name}", response_model=None)
    def model(name: str) -> dict[str, Any] | JSONResponse:
        if name not in MODELS:
            return error(404, f"no model {name!r}: use one of {', '.join(MODELS)}", code="model_not_found")
        return _model(name)

    @api.post("/chat/completions", response_model=None)
    def chat(request: ChatRequest) -> JSONResponse | StreamingResponse:
        if request.model not in MODELS:
            return error(404, f"no model {request.model!r}: use one of {', '.join(MODELS)}", code="model_not_found")
        if request.n not in (None, 1):
            return error(400, f"n must be 1: kzru-rag gives one answer per question (asked for {request.n})", param="n")
        try:
            question, history = conversation(request.messages)
            k = check_passages(library.k if request.k is None else request.k)
            items = _answering(library, slots, Asked(question, history, k, MODELS[request.model], request.documents))
            first = next(items)  # a bad question is refused here, before a stream starts
        except (KzruRagError, ValueError) as err:
            log.info("/v1/chat/completions refused: %s", err)
            return error(400, str(err))
        completion = Completion(request.model, bool(request.stream_options and request.stream_options.include_usage))
        if request.stream:
            return StreamingResponse(completion.events(first, items), media_type="text/event-stream", headers=STREAMING)
        answer = [item for item in _chain(first, items) if isinstance(item, Answer)][-1]
        return JSONResponse(completion.whole(answer))

    return require_key(limit_body(api), password)


@dataclass(frozen=True)
class Asked:
    """What a chat request asks: the question, its history, passages to retrieve, whether the LLM answers, and the
    documents to answer from (None: all)."""

    question: str
    history: list[Message]
    k: int
    llm: bool
    documents: list[str] | None


def _answering(library: Library, slots: threading.BoundedSemaphore, asked: Asked) -> Iterator[str | Answer]:
    """`Assistant.stream`, holding one of the answer slots while it runs."""
    with slots:
        yield from library.assistant.stream(
            asked.question, asked.history, k=asked.k, use_llm=asked.llm, documents=asked.documents or None
        )


USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
"""The usage of every answer: kzru-rag counts no tokens."""


class Completion:
    """The chat.completion (or its chunks) of one answer; `usage`: a stream ends with the usage chunk."""

    def __init__(self, model: str, usage: bool = False) -> None:
        self.model = model
        self.usage = usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def whole(self, answer: Answer) -> dict[str, Any]:
        return {
            **self._head("chat.completion"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content_of(answer)}, "finish_reason": "stop"}
            ],
            "usage": USAGE,
            "kzru_rag": Reply.of(answer).to_dict(),
        }

    def _chunk(self, delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        return self._event(choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra)

    def _event(self, **fields: Any) -> str:
        """One chunk as a server-sent event (`usage` null, when the stream ends with the usage chunk)."""
        body = {**self._head("chat.completion.chunk"), **({"usage": None} if self.usage else {}), **fields}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def events(self, first: str | Answer, items: Iterator[str | Answer]) -> Iterator[str]:
        """Server-sent events: the pieces as they come, then the last chunk with `kzru_rag`. When the answer
        replaced what was streamed (the LLM failed part-way), the answer follows in full after a blank line."""
        yield self._chunk({"role": "assistant", "content": ""})
        streamed = ""
        try:
            for item in _chain(first, items):
                if isinstance(item, Answer):
                    if streamed.strip() != item.text.strip():
                        yield self._chunk({"content": f"\n\n{item.text}" if streamed else item.text})
                    if item.notice:
                        yield self._chunk({"content": f"\n\n⚠ {item.notice}"})
                    yield self._chunk({}, "stop", kzru_rag=Reply.of(item).to_dict())
                    if self.usage:
                        yield self._event(choices=[], usage=USAGE)
                else:
                    streamed += item
                    yield self._chunk({"content": item})
        except (KzruRagError, ValueError) as err:
            log.warning("/v1/chat/completions stream stopped: %s", err)
            failure = {"error": {"message": str(err), "type": "server_error"}}
            yield f"data: {json.dumps(failure, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"


def _chain(first: str | Answer, items: Iterator[str | Answer]) -> Iterator[str | Answer]:
    """`first`, then the rest of `items` (to their end, so the answer slot is given back)."""
    yield first
    yield from items
