"""The app's API the way a script uses it: gradio_client against a served app (in this process, and app.py itself)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from app_server import copy_index, free_port, serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STARTUP_GUARD = 300.0  # seconds: app.py loads torch and the model on a busy machine


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Client]:
    with serve(copy_index(tmp_path_factory.mktemp("api")), embedder) as (url, _):
        client = Client(url, verbose=False)
        yield client
        client.close()


def test_ask_returns_the_answer_with_its_citations(client: Client) -> None:
    answer = client.predict("Где проходит XXI форум межрегионального сотрудничества?", api_name="/ask")

    assert "в Уральске" in answer["text"] and "[1]" in answer["text"]
    assert answer["abstained"] is False and answer["mode"] == "extractive"
    first = answer["citations"][0]
    assert "в Уральске" in first["text"]
    assert first["metadata"]["paragraph"] == 17 and first["metadata"]["date"] == "2025-11-11"
    start, end = first["highlight"]
    assert first["start"] <= start < end <= first["end"]


def test_ask_takes_k_and_the_conversation(client: Client) -> None:
    history = [
        {"role": "user", "content": "Какова тема форума межрегионального сотрудничества?"},
        {"role": "assistant", "content": "Тема — «Рабочие профессии – драйвер роста экономики» [1]."},
    ]
    assert len(client.predict("Где открыт филиал МГИМО?", 2, api_name="/ask")["hits"]) == 2
    answer = client.predict("А где он пройдёт?", 5, history, api_name="/ask")

    assert len(answer["hits"]) == 5
    assert answer["query_used"].startswith("А где он пройдёт? Какова тема форума")
    assert any("в Уральске" in hit["text"] for hit in answer["hits"])


def test_ask_abstains_when_the_document_has_no_answer(client: Client) -> None:
    answer = client.predict("Кто выиграл чемпионат мира по футболу?", api_name="/ask")

    assert answer["abstained"] is True and answer["text"].startswith("В документе нет ответа на этот вопрос")


@pytest.mark.parametrize(
    "inputs, message",
    [
        (("   ",), "the question is empty"),
        (("Где открыт филиал МГИМО?", 0), "must be at least 1"),
        (("Где открыт филиал МГИМО?", 5, [{"role": "robot"}]), "history"),
    ],
)
def test_bad_input_is_a_clear_error_and_one_log_line(client: Client, capfd, caplog, inputs, message: str) -> None:
    capfd.readouterr()
    with caplog.at_level("WARNING", logger="kzru_rag"):
        with pytest.raises(Exception, match=message) as error:
            client.predict(*inputs, api_name="/ask")

    assert "Traceback" not in str(error.value)
    assert "Traceback" not in capfd.readouterr().err, "the server log holds no traceback"
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("kzru_rag")]
    assert len(logged) == 1 and message in logged[0]


def test_the_chat_endpoints_are_not_part_of_the_public_api(client: Client) -> None:
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]


def test_a_login_protects_the_app(tmp_path: Path, embedder) -> None:
    with serve(copy_index(tmp_path), embedder, auth=("анна", "секрет")) as (url, _):
        with pytest.raises(Exception):
            Client(url, verbose=False)
        client = Client(url, auth=("анна", "секрет"), verbose=False)
        assert "Астане" in client.predict("Где открыт филиал МГИМО?", api_name="/ask")["text"]
        client.close()


def _non_loopback_address() -> str | None:
    """This machine's address on its network (no packet is sent), None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "config", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # it answers (401 before login)
    except OSError:
        return False


def test_app_py_serves_on_loopback_with_the_login_from_kzru_rag_auth(tmp_path: Path) -> None:
    index = copy_index(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZRU_RAG_")}
    env.update({"KZRU_RAG_INDEX": str(index), "KZRU_RAG_AUTH": "user:pass"})
    log = tmp_path / "app.log"
    with open(log, "wb") as output:
        app = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, stdout=output, stderr=output, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + STARTUP_GUARD
        while not _serving(url):
            assert app.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "app.py did not start in time:\n" + log.read_text(errors="replace")
            time.sleep(0.5)
        client = Client(url, auth=("user", "pass"), verbose=False)
        assert "Астане" in client.predict("Где открыт филиал МГИМО?", api_name="/ask")["text"]
        client.close()
        if outside := _non_loopback_address():
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://{outside}:{port}/config", timeout=5)
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    assert "Traceback" not in log.read_text(errors="replace")
