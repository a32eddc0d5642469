"""The approximate (HNSW) vector index option: built, recorded, kept by rebuilds, same answers as flat."""

import shutil

import faiss
import pytest

from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever
from kzru_rag.stores import vectors as index_module
from kzru_rag.stores.vectors import HNSW_EF_SEARCH

QUESTIONS = [
    "Где проходит форум межрегионального сотрудничества?",
    "Who met in Moscow?",
    "Қандай келісімдерге қол қойылды?",
]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, encoder):
    folder = tmp_path_factory.mktemp("vector-index")
    build_index(None, encoder, folder / "flat")
    build_index(None, encoder, folder / "hnsw", vector_index="hnsw")
    return folder / "flat", folder / "hnsw"


def test_hnsw_is_recorded_in_the_manifest_and_loaded_as_a_graph(indexes):
    loaded = load_index(indexes[1])
    assert loaded.manifest.vector_index == "hnsw"
    assert isinstance(loaded.vectors, faiss.IndexHNSWFlat)
    assert loaded.vectors.hnsw.efSearch == HNSW_EF_SEARCH
    assert load_index(indexes[0]).manifest.vector_index == "flat"


def test_hnsw_answers_like_flat_on_a_small_index(indexes, encoder):
    flat, hnsw = (Retriever(load_index(path), encoder) for path in indexes)
    for question in QUESTIONS:
        assert [h.chunk_id for h in hnsw.search(question)] == [h.chunk_id for h in flat.search(question)]


def test_a_rebuild_keeps_hnsw_and_reuses_every_vector(indexes, encoder, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(indexes[1], copy)
    totals = []
    manifest = build_index(None, encoder, copy, progress=lambda report: totals.append(report.embedded))
    assert manifest.vector_index == "hnsw"
    assert set(totals) == {0}, "nothing is embedded again"
    assert build_index(None, encoder, copy, vector_index="flat").vector_index == "flat"
    assert isinstance(load_index(copy).vectors, faiss.IndexFlatIP)


def test_an_unknown_vector_index_is_refused(encoder, tmp_path):
    with pytest.raises(ValueError, match="vector_index must be one of flat, hnsw or auto"):
        build_index(None, encoder, tmp_path / "index", vector_index="ivf")
    assert not (tmp_path / "index").exists()


@pytest.mark.slow
def test_the_cli_builds_hnsw_and_shows_it(tmp_path, embedder, capsys):
    from kzru_rag.faces.cli import main

    assert main(["index", "build", "--ann", "hnsw", "--index", str(tmp_path / "index")]) == 0
    assert "(hnsw vector index)" in capsys.readouterr().out
    assert main(["index", "status", "--index", str(tmp_path / "index")]) == 0
    assert "hnsw vector index" in capsys.readouterr().out


def test_auto_switches_a_growing_corpus_to_hnsw(indexes, encoder, tmp_path, monkeypatch):
    copy = tmp_path / "index"
    shutil.copytree(indexes[0], copy)
    chunks = load_index(copy).manifest.chunk_count
    monkeypatch.setattr(index_module, "HNSW_FROM_PASSAGES", chunks + 1)
    assert build_index(None, encoder, copy).vector_index == "flat", "below the threshold a flat index stays flat"
    monkeypatch.setattr(index_module, "HNSW_FROM_PASSAGES", chunks)
    assert build_index(None, encoder, copy).vector_index == "hnsw"
    assert isinstance(load_index(copy).vectors, faiss.IndexHNSWFlat)
