"""An index on a real Milvus server (the session's `milvus-server`, see conftest): the same figures as FAISS, an app
and the CLI answering from it at once, a rebuild by one served by the other, and a server killed while the app
serves, then back."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError
from pymilvus import MilvusClient

from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import default_index_path
from kzru_rag.stores.milvus.server import ROOT_TOKEN, LocalMilvus
from kzru_rag.stores.spec import TOKEN_ENV
from test_faults_app import RunningApp
from test_milvus_store import FIRST, SECOND, RememberingEncoder, corpus, run_cli

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def token() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, ROOT_TOKEN)
        yield


@pytest.fixture(scope="module")
def server_index(tmp_path_factory, embedder, milvus_server, token) -> Path:
    """The bundled document's index moved onto the server (vectors taken over from a copy of the committed index)."""
    path = tmp_path_factory.mktemp("server") / "bundled"
    shutil.copytree(default_index_path(), path)
    build_index(None, embedder, path, store=milvus_server.uri)
    return path


@pytest.mark.parametrize("questions", ["dev.jsonl", "holdout.jsonl", "holdout2.jsonl"])
def test_eval_gives_the_same_figures_from_the_server_as_from_faiss(server_index, embedder, questions):
    encoder = RememberingEncoder(embedder)
    in_faiss, on_server = (Retriever(load_index(path), encoder) for path in (default_index_path(), server_index))  # type: ignore[arg-type]
    assert on_server.index.manifest.store.startswith("http://127.0.0.1:")
    loaded = load_questions(DATA / questions)
    assert evaluate(on_server, loaded).to_dict() == evaluate(in_faiss, loaded).to_dict()


@pytest.fixture(scope="module")
def shared(tmp_path_factory, embedder, milvus_server, token) -> Iterator[tuple[Path, Path, RunningApp]]:
    """(index folder, documents folder, app): an index of FIRST on the server, served by `app.py` in a process."""
    folder = tmp_path_factory.mktemp("shared")
    documents, path = corpus(folder / "docs", FIRST), folder / "shared"
    build_index([documents], embedder, path, store=milvus_server.uri)
    app = RunningApp(path, folder / "app.log", {TOKEN_ENV: ROOT_TOKEN})
    yield path, documents, app
    app.stop()


def cited(answer: dict) -> str:
    return " ".join(citation["text"] for citation in answer["citations"])


def test_the_app_and_the_cli_answer_at_once_and_a_rebuild_by_the_cli_is_served_by_the_app(shared):
    path, documents, app = shared
    with ThreadPoolExecutor(2) as pool:
        from_app = pool.submit(app.ask, "Где проходит форум?")
        from_cli = pool.submit(run_cli, "ask", "Где проходит форум?", "--json", "--index", str(path), token=ROOT_TOKEN)
        assert "Уральске" in cited(from_app.result())
        assert from_cli.result().returncode == 0, from_cli.result().stderr
        assert "Уральске" in cited(json.loads(from_cli.result().stdout))
    assert "Омске" not in cited(app.ask("Где открываются филиалы вузов?"))

    corpus(documents, FIRST, SECOND)
    rebuilt = run_cli("index", "build", "--source", str(documents), "--index", str(path), token=ROOT_TOKEN)
    assert rebuilt.returncode == 0, rebuilt.stderr
    deadline = time.monotonic() + 10
    while "Омске" not in cited(answer := app.ask("Где открываются филиалы вузов?")):
        assert time.monotonic() < deadline, f"the app still answers from the old index: {answer}"
        time.sleep(1)
    assert app.alive(), "served without a restart"


def test_the_server_killed_while_the_app_serves_gives_each_question_a_clear_error_and_answers_once_it_is_back(
    shared, milvus_server
):
    """Killed, the session's server is started again on its own data and port, as a supervisor would: the app,
    never restarted, answers again once the server has loaded the collections back (the killed server's sessions
    expire first: up to a minute here)."""
    _, _, app = shared
    assert "Уральске" in cited(app.ask("Где проходит форум?"))
    uri = milvus_server.uri
    milvus_server.kill()
    try:
        for _ in range(2):
            with pytest.raises(AppError) as refused:
                app.ask("Где проходит форум?")
            message = str(refused.value)
            assert f"cannot use the Milvus server at {uri}" in message, message
            assert "check that it is running" in message and "\n" not in message.strip()
            assert app.alive()
    finally:
        milvus_server.start()
    assert milvus_server.uri == uri
    deadline = time.monotonic() + 120
    while True:
        try:
            answer = app.ask("Где проходит форум?")
            break
        except AppError as err:
            assert "\n" not in str(err).strip(), str(err)
            assert time.monotonic() < deadline, f"the app does not answer from the restarted server: {err}"
            time.sleep(2)
    assert "Уральске" in cited(answer)
    assert app.alive() and "Traceback" not in app.output()


def test_two_local_servers_run_at_once_and_each_serves_its_own_collections(tmp_path, milvus_server):
    """Beside the session's server, two more at once (as CI's and a benchmark's): every port of each is its own
    (the embedded etcd's too), so both start and answer, each holding only what was written to it."""
    with LocalMilvus(tmp_path / "one") as one, LocalMilvus(tmp_path / "two") as two:
        assert len({one.port, two.port, milvus_server.port}) == 3
        for server in (one, two):
            client = MilvusClient(server.uri)
            try:
                client.create_collection(f"only_on_{server.port}", dimension=2)
                client.insert(f"only_on_{server.port}", [{"id": 1, "vector": [0.6, 0.8]}])
                found = client.search(f"only_on_{server.port}", [[0.6, 0.8]], limit=1, consistency_level="Strong")
                assert found[0][0]["id"] == 1
                assert client.list_collections() == [f"only_on_{server.port}"]
            finally:
                client.close()
