"""A real local OpenAI-compatible chat-completions server for tests.

It answers POST /v1/chat/completions (SSE when the request has "stream": true, one JSON body
otherwise) and GET /v1/models from a queue of replies, and records every request body in
`requests` and its headers (names in lower case) in `headers`. A reply is a string (streamed
word by word), a list of pieces (streamed as given) or a behaviour: `Stall`, `HTTPError`,
`Garbage`, `Truncated`; with the queue empty the stub answers HTTP 500.
For a refused connection use `unused_base_url()`: nothing listens there.

Tests get the `openai_stub` fixture by importing it:
`from openai_stub import openai_stub_fixture  # noqa: F401`.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

import pytest


@dataclass(frozen=True)
class Stall:
    """Send `pieces`, go silent for `seconds` (cut short when the stub stops), then finish normally."""

    seconds: float
    pieces: tuple[str, ...] = ("Начало",)


@dataclass(frozen=True)
class HTTPError:
    """Answer with this HTTP status and an OpenAI-style error body."""

    status: int = 500
    message: str = "stub: internal server error"


@dataclass(frozen=True)
class Garbage:
    """Answer 200, but with data that is not JSON."""


@dataclass(frozen=True)
class Truncated:
    """Send `pieces`, then hang up without a finish reason or [DONE]."""

    pieces: tuple[str, ...] = ("Начало",)


Reply = Union[str, list[str], Stall, HTTPError, Garbage, Truncated]


def unused_base_url() -> str:
    """A base URL on a loopback port nothing listens on, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class OpenAIStub:
    """A chat-completions server on 127.0.0.1 in a daemon thread; a context manager."""

    def __init__(self, replies: list[Reply] | None = None, model: str = "stub-model") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._replies: deque[Reply] = deque(replies or [])
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        """Add replies, answered in order, one per chat-completions request."""
        self._replies.extend(replies)

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake stalled replies, stop serving and free the port."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_reply(self) -> Reply:
        try:
            return self._replies.popleft()
        except IndexError:
            return HTTPError(500, "stub: no reply queued")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    @property
    def stub(self) -> OpenAIStub:
        return self.server.stub  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            return self._send_json(404, _error_body("stub: no such path"))
        model = {"id": self.stub.model, "object": "model", "created": 0, "owned_by": "stub"}
        self._send_json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send_json(404, _error_body("stub: no such path"))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.stub.requests.append(body)
        self.stub.headers.append({name.lower(): value for name, value in self.headers.items()})
        reply = self.stub._next_reply()
        try:
            if isinstance(reply, HTTPError):
                self._send_json(reply.status, _error_body(reply.message))
            elif body.get("stream"):
                self._stream(reply)
            else:
                self._whole(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, e.g. after its timeout

    def _stream(self, reply: Reply) -> None:
        self._start(200, "text/event-stream")
        if isinstance(reply, Garbage):
            self._event("this is not json")
            return self._event("[DONE]")
        self._event(self._chunk({"role": "assistant", "content": ""}))
        if isinstance(reply, (Stall, Truncated)):
            for piece in reply.pieces:
                self._event(self._chunk({"content": piece}))
            if isinstance(reply, Truncated):
                return
            self.stub._stopping.wait(reply.seconds)
        else:
            for piece in _pieces(reply):
                self._event(self._chunk({"content": piece}))
        self._event(self._chunk({}, finish_reason="stop"))
        self._event("[DONE]")

    def _whole(self, reply: Reply) -> None:
        if isinstance(reply, Garbage):
            self._start(200, "application/json")
            return self._write(b"this is not json")
        if isinstance(reply, Truncated):
            self._start(200, "application/json")
            return self._write(b'{"id": "chatcmpl-stub", "choices": [')
        if isinstance(reply, Stall):
            self.stub._stopping.wait(reply.seconds)
        text = "".join(reply.pieces if isinstance(reply, Stall) else _pieces(reply))
        self._send_json(
            200,
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.stub.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            },
        )

    def _chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> str:
        return json.dumps(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.stub.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            },
            ensure_ascii=False,
        )

    def _start(self, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _event(self, data: str) -> None:
        self._write(f"data: {data}\n\n".encode())

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._write(data)


def _pieces(reply: str | list[str]) -> list[str]:
    """A list of pieces as given; a string split into words with their trailing spaces."""
    return reply if isinstance(reply, list) else re.findall(r"\S+\s*|\s+", reply)


def _error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


@pytest.fixture(name="openai_stub")
def openai_stub_fixture() -> Iterator[OpenAIStub]:
    """A running `OpenAIStub` with no replies queued, stopped after the test."""
    with OpenAIStub() as stub:
        yield stub
