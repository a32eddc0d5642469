"""The index in Milvus (Milvus Lite, and the session's real Milvus server where marked): same answers as FAISS,
alias swaps, incremental builds, faults, tokens."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np
import pytest
from pymilvus import DataType

from killed_build import HashEncoder
from kzru_rag.errors import IndexBuildError, IndexLoadError
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate
from kzru_rag.faces.ui.failures import in_russian
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores import milvus
from kzru_rag.stores.layout import MANIFEST, default_index_path
from kzru_rag.stores.milvus.server import ROOT_TOKEN
from kzru_rag.stores.spec import TOKEN_ENV, StoreSpec, parse_store
from kzru_rag.stores.terms import TermIndex, WordVectors

pytestmark = pytest.mark.slow  # Milvus Lite and a Milvus server with the bundled model

DATA = Path(__file__).parent / "data"
FIRST = "Первый документ о сотрудничестве Казахстана и России в энергетике.\n\nВторой абзац о форуме в Уральске."
SECOND = "Второй документ: филиалы вузов открываются в Астане и Омске.\n\nЕщё один абзац о подготовке кадров."


class RememberingEncoder:
    """The session's model, each query text encoded once, so both stores are measured on the same vectors."""

    def __init__(self, embedder) -> None:
        self.embedder, self.model_id, self.dim = embedder, embedder.model_id, embedder.dim
        self.seen: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if missing := [text for text in dict.fromkeys(texts) if text not in self.seen]:
            self.seen.update(zip(missing, self.embedder.encode_queries(missing)))
        return np.stack([self.seen[text] for text in texts])


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory, embedder) -> Path:
    """The bundled document's index moved into Milvus Lite by `kzru-rag index build` with $KZRU_RAG_STORE set
    (its vectors are taken over from a copy of the committed index, so nothing is embedded)."""
    from kzru_rag.faces.cli import main

    folder = tmp_path_factory.mktemp("milvus")
    shutil.copytree(default_index_path(), folder / "index")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KZRU_RAG_STORE", f"milvus:{folder / 'kzru.db'}")
        assert main(["index", "build", "--index", str(folder / "index")]) == 0
    return folder / "index"


@pytest.fixture(params=["lite", pytest.param("server", marks=pytest.mark.slow)])
def store(request, tmp_path, monkeypatch) -> str:
    """A store spec: a Milvus Lite file in `tmp_path`, or the session's Milvus server (with its token set)."""
    if request.param == "lite":
        return f"milvus:{tmp_path / 'kzru.db'}"
    monkeypatch.setenv(TOKEN_ENV, ROOT_TOKEN)
    return request.getfixturevalue("milvus_server").uri


def index_folder(tmp_path: Path) -> Path:
    """An index folder named after the test (its collections on the shared server are named after the folder)."""
    return tmp_path / tmp_path.name


def generations(store: str, path: Path) -> set[str]:
    """The generations of the index at `path` the store holds."""
    prefix = milvus.collection_name(path) + "_g"
    return {n.rsplit("_", 1)[0] for n in milvus.connect(parse_store(store)).list_collections() if n.startswith(prefix)}


def test_store_specs_parse_and_unknown_ones_are_refused(tmp_path):
    assert parse_store("faiss") == StoreSpec("faiss")
    assert parse_store(f"milvus:{tmp_path}/a.db") == StoreSpec("milvus", str(tmp_path / "a.db"))
    assert parse_store("milvus://db.example:19530") == StoreSpec("milvus", "http://db.example:19530")
    assert str(parse_store("https://cluster.example")) == "https://cluster.example"
    with pytest.raises(ValueError, match="unknown store 'qdrant'"):
        parse_store("qdrant")


def test_the_folder_holds_only_the_manifest_which_records_the_store(milvus_index):
    assert [p.name for p in milvus_index.iterdir()] == [MANIFEST]
    manifest = json.loads((milvus_index / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["store"] == f"milvus:{milvus_index.parent / 'kzru.db'}"
    assert manifest["collection"] == "kzru_index"
    loaded = load_index(milvus_index)
    assert isinstance(loaded.vectors, milvus.PassageVectors) and isinstance(loaded.sentences.vectors, milvus.Column)


def test_a_loaded_milvus_index_holds_no_chunks_documents_or_terms_and_a_query_reads_only_what_it_needs(
    milvus_index, embedder
):
    loaded = load_index(milvus_index)
    units = loaded.sentences
    assert not isinstance(loaded.chunks, list) and not isinstance(loaded.documents, dict)
    assert not isinstance(units.terms, TermIndex) and not isinstance(units.words, WordVectors)
    assert not any(
        isinstance(column, np.ndarray)
        for column in (units.spans, units.chunk_of, units.first, units.vectors, units.canonical)
    )
    unit_rows, chunk_rows = units.spans.rows.cache, loaded.chunks.rows.cache
    assert len(unit_rows) == len(chunk_rows) == len(loaded.documents.cache) == 0, "nothing is read at load"

    retriever = Retriever(loaded, embedder)
    narrow = Retriever(loaded, embedder, replace(retriever.settings, candidates=2))
    hits = narrow.search("Где проходит форум?", k=1)
    assert "Уральске" in hits[0].text
    assert len(chunk_rows) == 2 < len(loaded.chunks), "only the candidate passages: the search brings their rows"
    assert 0 < len(unit_rows) < len(units.spans)
    assert len(loaded.documents.cache) == 0, "no document: what the hit cites came with its passage"


class RoundTrips:
    """The searches and queries a real MilvusClient makes (its methods wrapped on the instance), each numbered when it
    starts and when it ends. The first call of a kind in one of the `together` groups waits until the group's other
    kinds have started too (at most TOGETHER_TIMEOUT seconds), so reads issued side by side are seen to overlap
    however the threads are scheduled, while reads issued one after the other are not."""

    TOGETHER_TIMEOUT = 10.0

    def __init__(self, client, monkeypatch, together: list[tuple[str, ...]]) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.clock = 0
        self.lock = threading.Lock()
        self.started = {kind: threading.Event() for group in together for kind in group}
        self.group = {kind: group for group in together for kind in group}
        for name in ("search", "query"):
            monkeypatch.setattr(client, name, self._wrapped(name, getattr(client, name)))

    def _tick(self) -> int:
        with self.lock:
            self.clock += 1
            return self.clock

    def _wrapped(self, name: str, method):
        def call(collection: str, *args, **kwargs):
            kind = f"{name} {collection.rsplit('_', 1)[-1]}"
            start = self._tick()
            if kind in self.started and not self.started[kind].is_set():
                self.started[kind].set()
                for other in self.group[kind]:
                    self.started[other].wait(self.TOGETHER_TIMEOUT)
            try:
                return method(collection, *args, **kwargs)
            finally:
                self.calls.append((kind, start, self._tick()))

        return call

    def sequential(self) -> int:
        """The longest chain of calls each started after the one before it ended: round trips one after another."""
        depth: dict[int, int] = {}
        for i, (_, start, _) in sorted(enumerate(self.calls), key=lambda item: item[1][1]):
            depth[i] = 1 + max((depth[j] for j, (_, _, end) in enumerate(self.calls) if end < start), default=0)
        return max(depth.values(), default=0)


def test_a_cold_question_reads_the_term_statistics_beside_the_search_which_brings_the_candidates_rows(
    milvus_index, embedder, monkeypatch
):
    loaded = load_index(milvus_index)
    trips = RoundTrips(loaded.store.client, monkeypatch, [("query terms", "search chunks")])
    hits = Retriever(loaded, embedder).search("Где проходит форум?", k=3)
    assert "Уральске" in hits[0].text
    kinds = [kind for kind, _, _ in trips.calls]
    # every passage is a candidate here: the search brings their rows, each with its sentence units and its
    # document's facts, and a unit's text reaches to the next one of its paragraph: nothing more is read
    assert sorted(set(kinds)) == ["query terms", "search chunks"]
    assert trips.sequential() == 1, trips.calls


@pytest.mark.slow
@pytest.mark.parametrize("questions", ["dev.jsonl", "holdout.jsonl", "holdout2.jsonl"])
def test_eval_gives_the_same_figures_with_both_stores(milvus_index, embedder, questions):
    encoder = RememberingEncoder(embedder)
    in_faiss, in_milvus = (Retriever(load_index(path), encoder) for path in (default_index_path(), milvus_index))  # type: ignore[arg-type]
    loaded = load_questions(DATA / questions)
    assert evaluate(in_milvus, loaded).to_dict() == evaluate(in_faiss, loaded).to_dict()


def test_the_cli_shows_and_searches_an_index_in_milvus(milvus_index, capsys):
    from kzru_rag.faces.cli import main

    assert main(["index", "status", "--index", str(milvus_index)]) == 0
    assert f"store:     milvus:{milvus_index.parent / 'kzru.db'} (collections kzru_index)" in capsys.readouterr().out
    assert main(["search", "Где проходит форум?", "-k", "1", "--json", "--index", str(milvus_index)]) == 0
    assert "Уральске" in json.loads(capsys.readouterr().out)[0]["text"]


def test_the_app_rebuilds_an_index_in_milvus_with_an_upload(tmp_path, embedder):
    """On Milvus Lite: a rebuild on a server takes the same path (`test_milvus_server.py`: one by the CLI, served by
    the app; `test_adding_and_removing…[server]`: a grown and a shrunk index)."""
    from kzru_rag.library import Library

    path, store = index_folder(tmp_path), f"milvus:{tmp_path / 'kzru.db'}"
    build_index([corpus(tmp_path / "docs", FIRST)], embedder, path, store=store)
    library = Library(Retriever(load_index(path, check_sources=False), embedder))
    (tmp_path / "upload.txt").write_text(SECOND, encoding="utf-8")
    assert not library.add(tmp_path / "upload.txt").replaced
    assert len(library.rebuild().documents) == 2
    assert library.retriever.index.manifest.store == store and sorted(library.retriever.index.documents) == [
        "doc0",
        "upload",
    ]
    assert any("Омске" in hit.text for hit in library.assistant.ask("филиалы вузов в Омске").citations)


def corpus(folder: Path, *texts: str) -> Path:
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for number, text in enumerate(texts):
        (folder / f"doc{number}.txt").write_text(text, encoding="utf-8")
    return folder


def test_adding_and_removing_a_document_swaps_the_alias_and_reuses_vectors(tmp_path, store):
    encoder = HashEncoder()
    sources, path = corpus(tmp_path / "docs", FIRST), index_folder(tmp_path)
    build_index([sources], encoder, path, store=store)
    first = load_index(path, check_sources=False)
    totals: list[int] = []
    corpus(sources, FIRST, SECOND)

    def finished(report):
        if report.stage == "done":
            totals.append(report.embedded)

    build_index([sources], encoder, path, progress=finished)
    build_index([sources], encoder, tmp_path / "fresh", store="faiss", progress=finished)
    grown = load_index(path, check_sources=False)
    assert grown.manifest.store == store, "a rebuild keeps the index's store"
    assert 0 < totals[0] < totals[-1], "only the new document's texts are embedded, not all a fresh build embeds"
    assert sorted(grown.documents) == ["doc0", "doc1"]
    assert any("Омске" in hit.text for hit in Retriever(grown, encoder).search("филиалы вузов в Омске", k=2))  # type: ignore[arg-type]
    assert f"Milvus index {milvus.collection_name(path)} at {parse_store(store).uri} (rebuilt since)" in (
        first.changed_on_disk()
    )
    assert first.superseded() and not grown.superseded()
    assert first.vectors.search(encoder.encode_queries(["форум"]), 2)[1].tolist()[0] != [-1, -1], (
        "the old generation still serves"
    )
    corpus(sources, SECOND)
    build_index([sources], encoder, path)
    shrunk = Retriever(load_index(path, check_sources=False), encoder)  # type: ignore[arg-type]
    assert not any("Уральске" in hit.text for hit in shrunk.search("форум в Уральске", k=5))
    assert sorted(shrunk.index.documents) == ["doc0"]
    assert len(generations(store, path)) == 2, "the serving generation and the one before it; older ones are dropped"


def test_a_build_failing_midway_leaves_the_old_index_serving(tmp_path, store):
    encoder = HashEncoder()
    sources, path = corpus(tmp_path / "docs", FIRST), index_folder(tmp_path)
    build_index([sources], encoder, path, store=store)
    before = load_index(path, check_sources=False)
    corpus(sources, FIRST, "Очень длинный абзац. " * 4000)
    with pytest.raises(IndexBuildError, match="longer than Milvus stores in one field"):
        build_index([sources], encoder, path, Chunker(max_chars=100_000))
    after = load_index(path, check_sources=False)
    assert after.manifest == before.manifest and not before.changed_on_disk()
    build_index([sources], encoder, path)
    assert len(generations(store, path)) == 2, "the next build drops what the failed one left"


PARAGRAPHS = (
    "Первое предложение абзаца о форуме. Второе предложение о делегациях из Омска и Астаны. "
    "Третье предложение о подписанных соглашениях. Четвёртое о планах на следующий год.\n\n"
    "Короткий второй абзац о кадрах."
)


def test_a_streamed_build_stores_every_unit_as_the_in_memory_index_has_it(tmp_path):
    """The Milvus store writes a build document by document; ids, paragraph order (overlapping chunks repeat
    sentences), words, and vectors across documents must still be those of the whole index built in memory."""
    encoder, chunker = HashEncoder(), Chunker(max_chars=120, overlap=1)
    sources, path = corpus(tmp_path / "docs", FIRST, PARAGRAPHS, SECOND), index_folder(tmp_path)
    build_index([sources], encoder, path, chunker, store=f"milvus:{tmp_path / 'kzru.db'}")
    build_index([sources], encoder, tmp_path / "faiss", chunker, store="faiss")
    streamed, whole = load_index(path, check_sources=False), load_index(tmp_path / "faiss", check_sources=False)
    units, expected = streamed.sentences, whole.sentences
    everything = np.arange(len(expected.spans))
    assert not np.array_equal(expected.canonical, everything), "overlapping chunks repeat a sentence"
    for column in ("spans", "chunk_of", "canonical", "previous", "following", "vectors"):
        assert np.array_equal(getattr(units, column)[everything], getattr(expected, column)), column
    chunk_ids = np.arange(len(whole.chunks) + 1)
    assert np.array_equal(units.first[chunk_ids], expected.first)
    assert [streamed.chunks[i] for i in range(len(whole.chunks))] == whole.chunks
    assert {doc_id: streamed.documents[doc_id] for doc_id in whole.documents} == whole.documents
    # a window's text and its document's facts come from the units' and chunks' rows, no document read; a window
    # from a repeated sentence's copy (whose text reaches no further than itself) is read from its document
    streamed, whole = load_index(path, check_sources=False), load_index(tmp_path / "faiss", check_sources=False)
    windows = [[int(u), int(expected.following[u])] for u in np.flatnonzero(expected.following >= 0)]
    windows += [[int(u)] for u in everything]
    assert [streamed.text_of(w) for w in windows] == [whole.text_of(w) for w in windows]
    assert [streamed.chunks[i] for i in range(len(whole.chunks))] == whole.chunks  # their rows bring the facts
    assert all(streamed.facts_of(d) == whole.facts_of(d) for d in whole.documents)
    assert len(streamed.documents.cache) == 0
    copies = [[int(u), int(expected.following[c])] for u, c in enumerate(expected.canonical) if u != c]
    copies = [window for window in copies if window[1] >= 0]
    assert copies and [streamed.text_of(w) for w in copies] == [whole.text_of(w) for w in copies]
    assert len(streamed.documents.cache) > 0
    assert [units.terms.frequency(frozenset({t})) for t in expected.terms.vocabulary] == [
        expected.terms.frequency(frozenset({t})) for t in expected.terms.vocabulary
    ]
    assert np.array_equal(units.words.vectors_of(set(expected.words.words)), expected.words.vectors)


def test_an_interrupted_streaming_build_leaves_the_serving_index_and_drops_what_it_wrote(tmp_path, store):
    encoder = HashEncoder()
    sources, path = corpus(tmp_path / "docs", FIRST), index_folder(tmp_path)
    build_index([sources], encoder, path, store=store)
    serving = generations(store, path)
    question = "форум в Уральске"
    before = [hit.text for hit in Retriever(load_index(path, check_sources=False), encoder).search(question)]  # type: ignore[arg-type]
    corpus(sources, SECOND, PARAGRAPHS, FIRST)
    written: list[set[str]] = []

    def interrupt(report):
        if report.files_done == 2:  # two documents written to the new generation: Ctrl-C
            written.append(generations(store, path))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index([sources], encoder, path, progress=interrupt)
    assert len(written[0] - serving) == 1, "the build was writing a generation of its own"
    assert generations(store, path) == serving, "and dropped it"
    after = load_index(path, check_sources=False)
    assert sorted(after.documents) == ["doc0"] and not after.changed_on_disk()
    assert [hit.text for hit in Retriever(after, encoder).search(question)] == before  # type: ignore[arg-type]


def test_an_index_written_before_passages_carried_their_units_is_refused_with_the_rebuild_hint(tmp_path):
    path, store = tmp_path / "index", f"milvus:{tmp_path / 'old.db'}"
    build_index([corpus(tmp_path / "docs", FIRST)], HashEncoder(), path, store=store)
    loaded = load_index(path, check_sources=False)
    client, chunks = loaded.store.client, loaded.store.collection("chunks")
    client.drop_collection(chunks)  # the chunks as an older kzru-rag wrote them: vector, record, first unit
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=loaded.manifest.dim)
    schema.add_field("record", DataType.VARCHAR, max_length=65_535)
    schema.add_field("first", DataType.INT64)
    client.create_collection(chunks, schema=schema)
    with pytest.raises(
        IndexLoadError, match=r"was written by an older kzru-rag: rebuild it with `kzru-rag index build"
    ):
        load_index(path, check_sources=False)


def test_a_deleted_milvus_lite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "index"
    build_index([corpus(tmp_path / "docs", FIRST)], HashEncoder(), path, store=f"milvus:{tmp_path / 'gone.db'}")
    milvus.forget(parse_store(f"milvus:{tmp_path / 'gone.db'}"))
    shutil.rmtree(tmp_path / "gone.db")
    with pytest.raises(
        IndexLoadError,
        match=r"Milvus Lite file .*gone\.db is missing: rebuild the index with `kzru-rag index build --store milvus:",
    ):
        load_index(path)


def run_cli(*args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    """`kzru-rag ARGS` in a process of its own (with `token` in $KZRU_RAG_MILVUS_TOKEN when given)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **({TOKEN_ENV: token} if token else {})}
    return subprocess.run(
        [sys.executable, "-m", "kzru_rag.faces.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_milvus_lite_file_locked_by_another_process_is_a_clear_error(milvus_index):
    load_index(milvus_index)  # this process holds the file open
    result = run_cli("index", "status", "--index", str(milvus_index))
    assert result.returncode == 2
    assert f"cannot open the Milvus Lite file {milvus_index.parent / 'kzru.db'}" in result.stderr
    assert "another process holds the lock" in result.stderr and "stop the other kzru-rag process" in result.stderr
    assert "Traceback" not in result.stderr


class Refusing(grpc.GenericRpcHandler):
    """A gRPC server's every method, answered as a Milvus server answers a token it does not accept (`code`)."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
            context.abort(self.code, "auth check failure, please check api key is correct")

        return grpc.unary_unary_rpc_method_handler(refuse)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["unauthenticated", "permission_denied", "unreachable", "wrong_token"])
def server(request) -> Iterator[tuple[str, str]]:
    """(kind, URI) of a Milvus "server" on 127.0.0.1 that refuses every token (UNAUTHENTICATED or PERMISSION_DENIED,
    as Milvus does), of a port nobody listens on, or the session's real Milvus server, which asks for a token the
    tests never send (`wrong_token`)."""
    if request.param == "unreachable":
        yield request.param, f"http://127.0.0.1:{free_port()}"
        return
    if request.param == "wrong_token":
        yield request.param, request.getfixturevalue("milvus_server").uri
        return
    fake = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    fake.add_generic_rpc_handlers((Refusing(grpc.StatusCode[request.param.upper()]),))
    port = fake.add_insecure_port("127.0.0.1:0")
    fake.start()
    yield request.param, f"http://127.0.0.1:{port}"
    fake.stop(grace=None)


def on_server(path: Path, uri: str) -> None:
    """Point the manifest of the index at `path` at the Milvus server `uri`."""
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    (path / MANIFEST).write_text(json.dumps({**manifest, "store": uri}), encoding="utf-8")


def test_a_server_refusing_the_token_or_unreachable_is_named_with_the_fix_and_the_token_never_shown(tmp_path, server):
    kind, uri = server
    path = tmp_path / "index"
    build_index([corpus(tmp_path / "docs", FIRST)], HashEncoder(), path, store=f"milvus:{tmp_path / 'kzru.db'}")
    on_server(path, uri)
    for command in (["index", "status"], ["search", "форум"]):
        result = run_cli(*command, "--index", str(path), token="secret-token")
        assert result.returncode == 2 and result.stdout == ""
        if kind == "unreachable":
            assert f"cannot use the Milvus server at {uri} (" in result.stderr
            assert (
                "check that it is running and reachable from here, and that $KZRU_RAG_MILVUS_TOKEN holds a token"
                in (result.stderr)
            )
        else:
            assert (
                f"the Milvus server at {uri} refused kzru-rag's token (auth check failure, please check"
                in result.stderr
            )
            assert "check the token in $KZRU_RAG_MILVUS_TOKEN" in result.stderr
        assert "secret-token" not in result.stderr and "Traceback" not in result.stderr


def test_a_rebuild_onto_a_refusing_server_fails_clearly_and_the_app_keeps_serving(
    tmp_path, embedder, server, monkeypatch
):
    from kzru_rag.library import Library

    kind, uri = server
    path = tmp_path / "index"
    build_index([corpus(tmp_path / "docs", FIRST)], embedder, path, store=f"milvus:{tmp_path / 'kzru.db'}")
    library = Library(Retriever(load_index(path, check_sources=False), embedder))
    before = library.assistant.ask("форум в Уральске")
    monkeypatch.setenv("KZRU_RAG_MILVUS_TOKEN", "secret-token")
    monkeypatch.setenv("KZRU_RAG_STORE", uri)
    with pytest.raises(IndexLoadError, match=f"Milvus server at {uri}") as error:  # built here or in a child process
        library.rebuild()
    assert "secret-token" not in str(error.value)
    said = in_russian(error.value)  # as the «Индекс» tab says it
    assert said.startswith(f"сервер Milvus {uri} ") and "secret-token" not in said
    assert ("недоступен: проверьте, что он запущен" if kind == "unreachable" else "не принял токен") in said, said
    assert library.assistant.ask("форум в Уральске") == before, "the app answers from the index it has"
    assert load_index(path, check_sources=False).manifest.store == f"milvus:{tmp_path / 'kzru.db'}", (
        "and that index is kept"
    )
    assert not (path / "vectors.faiss").exists(), "a build for a server never falls back to FAISS"


def test_a_milvus_gone_while_serving_gives_a_clear_error_and_the_app_keeps_running(tmp_path):
    from kzru_rag.answering.assistant import Assistant

    store = f"milvus:{tmp_path / 'kzru.db'}"
    path = tmp_path / "index"
    build_index([corpus(tmp_path / "docs", FIRST)], HashEncoder(), path, store=store)
    assistant = Assistant(Retriever(load_index(path, check_sources=False), HashEncoder()))  # type: ignore[arg-type]
    assert assistant.ask("форум в Уральске").citations
    milvus.forget(parse_store(store))
    with pytest.raises(IndexLoadError, match=f"Milvus Lite file {tmp_path / 'kzru.db'}"):
        assistant.ask("форум в Уральске")


def test_the_chat_says_in_russian_that_the_store_is_gone_and_what_to_do(tmp_path):
    from kzru_rag.faces.ui.asking import ChatAnswers
    from kzru_rag.library import Library

    store = f"milvus:{tmp_path / 'kzru.db'}"
    path = tmp_path / "index"
    build_index([corpus(tmp_path / "docs", FIRST)], HashEncoder(), path, store=store)
    library = Library(Retriever(load_index(path, check_sources=False), HashEncoder()))  # type: ignore[arg-type]
    milvus.forget(parse_store(store))
    *_, last = ChatAnswers(library).respond("Где проходит форум?", None, 3, False, None, None)  # type: ignore[arg-type]
    notice = last[0][-1]["content"]
    assert notice.startswith('<div class="kz-notice">⚠ Файл') and "Milvus Lite" in notice, notice
    assert "перестройте индекс" in notice or "остановите" in notice, notice
    assert "cannot" not in notice and "one process at a time" not in notice, notice


@pytest.mark.slow
def test_a_server_asking_for_a_token_serves_kzru_rag_with_the_right_one_and_refuses_others(
    tmp_path, milvus_server, embedder, monkeypatch
):
    path, uri = index_folder(tmp_path), milvus_server.uri
    monkeypatch.setenv(TOKEN_ENV, ROOT_TOKEN)
    try:
        build_index([corpus(tmp_path / "docs", FIRST, SECOND)], embedder, path, store=uri)
        retriever = Retriever(load_index(path, check_sources=False), embedder)
        assert any("Омске" in hit.text for hit in retriever.search("филиалы вузов в Омске", k=2))
    finally:
        milvus.forget(parse_store(uri))
    status = run_cli("index", "status", "--index", str(path), token=ROOT_TOKEN)
    found = run_cli("search", "форум в Уральске", "-k", "1", "--json", "--index", str(path), token=ROOT_TOKEN)
    wrong = run_cli("search", "форум в Уральске", "--index", str(path), token="root:not-the-password")
    monkeypatch.delenv(TOKEN_ENV)
    unset = run_cli("index", "status", "--index", str(path))
    assert status.returncode == 0 and f"store:     {uri} (collections {milvus.collection_name(path)})" in status.stdout
    assert found.returncode == 0 and "Уральске" in json.loads(found.stdout)[0]["text"]
    assert wrong.returncode == 2 and wrong.stdout == "" and "Traceback" not in wrong.stderr
    assert f"the Milvus server at {uri} refused kzru-rag's token (auth check failure" in wrong.stderr
    assert "check the token in $KZRU_RAG_MILVUS_TOKEN" in wrong.stderr and "not-the-password" not in wrong.stderr
    assert unset.returncode == 2 and "Traceback" not in unset.stderr
    assert f"the Milvus server at {uri} asks for a token" in unset.stderr and f"${TOKEN_ENV} is not set" in unset.stderr
