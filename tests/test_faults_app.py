"""Faults while the app runs: its LLM refuses, stalls or talks garbage; its index files are damaged.

The app is the real `app.py` in a subprocess on 127.0.0.1 (a free port) over a temporary copy of the
index; questions go through gradio_client's `/ask`, as an API user's would. The LLM is
tests/openai_stub.py, a real OpenAI-compatible server in this process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from openai_stub import Garbage, HTTPError, OpenAIStub, Stall, Truncated

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STARTUP_GUARD_SECONDS = 300
ANSWER_GUARD_SECONDS = 120
LLM_TIMEOUT_SECONDS = 3
QUESTION = "Где проходит XXI форум межрегионального сотрудничества?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    """`app.py` in a subprocess on a free loopback port; stopped by `stop()`."""

    def __init__(self, index: Path, log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(self.port), "--index", str(index)]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("KZRU_RAG_")}
        self.log = log
        self.process = subprocess.Popen(
            command, env={**clean, **env}, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), cwd=ROOT
        )
        deadline = time.monotonic() + STARTUP_GUARD_SECONDS
        while not self._serving():
            assert self.process.poll() is None, f"the app exited with {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"the app did not start within {STARTUP_GUARD_SECONDS} s:\n{self.output()}"
            time.sleep(0.5)
        self.client = Client(self.url, verbose=False)

    def _serving(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "config", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def ask(self, question: str = QUESTION) -> dict:
        """The `/ask` answer, failing the test if it takes longer than the hang guard."""
        return self.client.submit(question, api_name="/ask").result(timeout=ANSWER_GUARD_SECONDS)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


@pytest.fixture(scope="module")
def index_copy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("app") / "index"
    shutil.copytree(ROOT / "index", path)
    return path


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture(scope="module")
def llm_app(index_copy, stub, tmp_path_factory) -> Iterator[RunningApp]:
    env = {
        "KZRU_RAG_LLM_BASE_URL": stub.base_url,
        "KZRU_RAG_LLM_MODEL": stub.model,
        "KZRU_RAG_LLM_TIMEOUT": str(LLM_TIMEOUT_SECONDS),
    }
    app = RunningApp(index_copy, tmp_path_factory.mktemp("logs") / "llm-app.log", env)
    yield app
    app.stop()


def _assert_extractive_with_notice(answer: dict) -> None:
    assert answer["mode"] == "extractive"
    assert answer["notice"] and "Языковая модель не ответила" in answer["notice"]
    assert answer["citations"] and "Уральск" in answer["text"]
    assert "[1]" in answer["text"]


def test_a_working_llm_answers_through_the_app(llm_app, stub):
    stub.queue("Форум проходит в Уральске [1].")
    answer = llm_app.ask()
    assert answer["mode"] == "llm" and answer["notice"] is None
    assert answer["text"].startswith("Форум проходит в Уральске") and answer["citations"]


@pytest.mark.parametrize(
    "reply",
    [Garbage(), Truncated(("Форум",)), HTTPError(503, "overloaded"), Stall(seconds=600)],
    ids=["garbage", "truncated", "http-503", "stall"],
)
def test_a_failing_llm_gives_the_extractive_answer_with_a_notice(llm_app, stub, reply):
    stub.queue(reply)
    asked = len(stub.requests)
    answer = llm_app.ask()  # a 600 s stall answered within the 120 s guard: the 3 s LLM timeout cut it
    assert len(stub.requests) == asked + 1, "the app did ask the LLM"
    _assert_extractive_with_notice(answer)
    assert llm_app.alive()


def test_a_refused_connection_gives_the_extractive_answer_with_a_notice(llm_app, stub):
    stub.stop()  # nothing listens on its port any more
    _assert_extractive_with_notice(llm_app.ask())
    assert "could not be reached" in llm_app.ask()["notice"]
    assert llm_app.alive()
