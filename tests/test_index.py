"""The on-disk index: build, atomic replacement, validation, staleness, incremental rebuilds."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hashing_encoder import HashingEncoder
from kzru_rag.embedding.base import DEFAULT_MODEL
from kzru_rag.errors import IndexBuildError, IndexLoadError
from kzru_rag.index import embed
from kzru_rag.index.build import build_index
from kzru_rag.index.embed import VectorCache
from kzru_rag.index.load import StaleIndexWarning, load_index
from kzru_rag.ingest.chunking import Chunker
from kzru_rag.ingest.documents import bundled_document
from kzru_rag.stores.layout import INDEX_FILES, MANIFEST, default_index_path
from kzru_rag.stores.manifest import IndexManifest, SourceRecord, read_manifest, write_confidence
from kzru_rag.stores.terms import bridge_words

RU = "Первый абзац о сотрудничестве Казахстана и России в энергетике.\n\nВторой абзац о форуме в Уральске."
EXTRA = "Третий документ: филиалы вузов открываются в Астане и Омске.\n\nЕщё один абзац о кадрах."


def fingerprint(path: Path) -> dict[str, str]:
    return {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in INDEX_FILES}


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(RU, encoding="utf-8")
    return folder


@pytest.fixture()
def built(tmp_path, corpus, encoder):
    path = tmp_path / "index"
    build_index([corpus], encoder, path)
    return path


def test_build_writes_a_complete_manifest(built, encoder):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model_id"] == encoder.model_id
    assert manifest["dim"] == encoder.dim
    assert manifest["chunker"] == Chunker().to_dict()
    assert manifest["chunk_count"] == 2
    assert manifest["documents"][0]["sha256"] == hashlib.sha256(RU.encode()).hexdigest()
    assert manifest["built_at"] and manifest["format_version"] == 1
    loaded = load_index(built)
    assert [c.text for c in loaded.chunks] == RU.split("\n\n")
    assert loaded.vectors.ntotal == 2 and not loaded.stale


def test_the_committed_index_is_fresh():
    loaded = load_index(default_index_path())
    document = bundled_document()
    assert loaded.manifest.model_id == DEFAULT_MODEL
    assert not loaded.stale
    assert [r.sha256 for r in loaded.manifest.documents] == [document.sha256]
    chunker = Chunker.from_dict(loaded.manifest.chunker)
    assert chunker == Chunker(), "the committed index must use the default chunker"
    assert [c.text for c in loaded.chunks] == [c.text for c in chunker.run(document)]
    for chunk in loaded.chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text


def test_an_interrupted_build_leaves_the_old_index(built, corpus, encoder):
    before = fingerprint(built)
    (corpus / "b.txt").write_text(EXTRA, encoding="utf-8")

    def interrupt(report):
        if report.embedded > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], encoder, built, progress=interrupt)
    assert fingerprint(built) == before
    assert len(load_index(built, check_sources=False).chunks) == 2
    left = sorted(p.name for p in built.parent.iterdir())
    assert left == [".index.lock", "docs", "index"], "no staging folder left behind (the build lock's file stays)"


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("report.rtf", b"{\\rtf1 text}", "unsupported file type"),
        ("report.pdf", b"%PDF-1.4", "not a readable PDF"),
        ("garbled.txt", bytes(range(128, 256)) * 3, "not valid UTF-8"),
        ("empty.txt", b"  \n", "empty"),
        ("binary.txt", b"\x00\x01\x02", "binary"),
    ],
)
def test_a_bad_source_is_refused_and_the_old_index_kept(built, tmp_path, encoder, name, content, message):
    before = fingerprint(built)
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(IndexBuildError, match=message):
        build_index([bad], encoder, built)
    assert fingerprint(built) == before


def test_a_missing_source_is_a_clear_error(built, tmp_path, encoder):
    with pytest.raises(IndexBuildError, match="no such file or folder.*the existing index was left as it was"):
        build_index([tmp_path / "nope.txt"], encoder, built)


@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_missing_file_names_the_file_and_the_fix(built, name):
    (built / name).unlink()
    with pytest.raises(IndexLoadError, match=rf"{name}.*kzru-rag index build"):
        load_index(built)


@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_truncated_file_is_reported(built, name):
    data = (built / name).read_bytes()
    (built / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexLoadError, match="kzru-rag index build"):
        load_index(built)


def test_garbage_files_are_reported(built):
    (built / "vectors.faiss").write_bytes(b"not a faiss index at all")
    with pytest.raises(IndexLoadError, match="vectors.faiss.*corrupt"):
        load_index(built)


def test_the_manifest_keeps_its_document_records_compactly_and_as_written(built):
    written = (built / MANIFEST).read_text(encoding="utf-8")
    data = json.loads(written)
    old = {"doc_id": "старый", "source": "/корпус/старый.txt", "sha256": "ab" * 32, "chars": 7}  # no file_sha256
    data["documents"] += [old, {**old, "doc_id": "b", "file_sha256": "cd" * 32}]
    manifest = IndexManifest.from_dict(data)
    assert manifest.to_dict() == {
        **data,
        "documents": [data["documents"][0], {**old, "file_sha256": ""}, data["documents"][2]],
    }
    assert read_manifest(built / MANIFEST).to_dict() == json.loads(written)
    records = manifest.documents
    assert records[1] == SourceRecord("старый", "/корпус/старый.txt", "ab" * 32, 7) and records[-1].doc_id == "b"
    assert [records.position(r.doc_id) for r in records] == [0, 1, 2] and records.position("нет") is None
    assert records == list(records) and records[1:] == list(records)[1:]
    (built / MANIFEST).write_text(json.dumps({**data, "documents": [{**old, "pages": 3}]}), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="corrupt"):
        read_manifest(built / MANIFEST)


def test_no_index_at_all(tmp_path):
    with pytest.raises(IndexLoadError, match="no index at .*kzru-rag index build"):
        load_index(tmp_path / "nothing")


def test_a_changed_source_makes_a_stale_warning(built, corpus):
    (corpus / "a.txt").write_text(RU + "\n\nНовый абзац.", encoding="utf-8")
    with pytest.warns(StaleIndexWarning, match="kzru-rag index build"):
        loaded = load_index(built)
    assert loaded.stale == [str((corpus / "a.txt").resolve())]


def test_adding_a_document_embeds_only_its_chunks(built, corpus, encoder):
    known_words = set(bridge_words(load_index(built).sentences.terms))
    (corpus / "b.txt").write_text(EXTRA, encoding="utf-8")
    reports = []
    manifest = build_index([corpus], encoder, built, progress=reports.append)
    assert manifest.chunk_count == 4
    fresh = load_index(built)
    new_words = set(bridge_words(fresh.sentences.terms)) - known_words
    embedded = reports[-1].embedded
    assert new_words and embedded == 2 + len(new_words), "only the two new chunks and their new words are embedded"
    reference = encoder.encode_passages([c.text for c in fresh.chunks])
    stored = fresh.vectors.reconstruct_n(0, fresh.vectors.ntotal)
    assert abs(stored - reference).max() < 1e-4


def test_rebuilding_replaces_the_index_folder(built, corpus, encoder):
    shutil.rmtree(corpus)
    corpus.mkdir()
    (corpus / "b.md").write_text(EXTRA, encoding="utf-8")
    build_index([corpus], encoder, built)
    loaded = load_index(built)
    assert [d.doc_id for d in loaded.manifest.documents] == ["b"]
    assert sorted(p.name for p in built.iterdir()) == sorted(INDEX_FILES)


def test_a_utf8_bom_keeps_the_header_as_metadata_and_the_index_fresh(tmp_path, encoder):
    source = tmp_path / "bom.txt"
    source.write_bytes("\ufeffdate 2025-11-11 фото с сайта gov.kz\n\nАбзац о форуме.".encode("utf-8"))
    path = tmp_path / "index"
    build_index([source], encoder, path)
    loaded = load_index(path)
    document = loaded.documents["bom"]
    assert document.metadata["date"] == "2025-11-11" and not loaded.stale
    assert [c.text for c in loaded.chunks] == ["Абзац о форуме."]


def test_a_rebuild_keeps_the_confidence_model_even_when_the_old_index_no_longer_loads(built, corpus, encoder):
    model = {"method": "logistic", "signals": ["score"], "weights": [1.0], "bias": 0.0, "answer_from": 0.5}
    write_confidence(built, model)
    (built / "word_vectors.npy").write_bytes(b"damaged")
    with pytest.raises(IndexLoadError):
        load_index(built)

    build_index([corpus], encoder, built)

    assert load_index(built).manifest.confidence == model


class CountingEncoder(HashingEncoder):
    """The hashing encoder, counting the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return super()._encode(texts)


def test_a_build_keeps_passage_vectors_for_its_recent_texts_and_every_words():
    encoder, reference = CountingEncoder(), HashingEncoder()
    cache = VectorCache(encoder, recent=3)

    def document(texts: list[str], words: tuple[str, ...] = ()) -> np.ndarray:
        passages, new_words = cache.missing(texts, list(words))
        cache.add(passages, new_words, lambda count: None)
        return cache.passage_vectors(texts)

    document(["Общий абзац.", "Первый."], ("форум",))
    document(["Общий абзац.", "Второй."])
    assert encoder.embedded == ["Общий абзац.", "Первый.", "форум", "Второй."], "a recent text is embedded once"
    large = [f"Абзац {i}." for i in range(8)]
    assert np.array_equal(document(large + large[:2]), reference.encode_passages(large + large[:2]))
    assert encoder.embedded[4:] == large, "a document past the reach is embedded whole, each text once"
    encoder.embedded.clear()
    texts = ["Общий абзац.", large[-1]]
    assert np.array_equal(document(texts, ("форум",)), reference.encode_passages(texts))
    assert encoder.embedded == ["Общий абзац."], "only a text beyond the reach is embedded again, to the same vector"
    assert np.array_equal(cache.word_vectors(["форум"]), reference.encode_queries(["форум"]))


@pytest.mark.parametrize("store", ["faiss", pytest.param("milvus", marks=pytest.mark.slow)])
def test_rebuilding_an_unchanged_corpus_embeds_nothing_and_keeps_the_vectors(
    tmp_path, corpus, encoder, store, monkeypatch
):
    monkeypatch.setattr(embed, "PAGE", 1)  # the old index's passage vectors read one a page: pages come and go
    (corpus / "b.txt").write_text(EXTRA, encoding="utf-8")
    path, spec = tmp_path / "index", "faiss" if store == "faiss" else f"milvus:{tmp_path / 'milvus.db'}"
    build_index([corpus], encoder, path, store=spec)
    before = load_index(path, whole=True)
    reports = []
    build_index([corpus], encoder, path, progress=reports.append)
    after = load_index(path, whole=True)
    assert reports[-1].embedded == 0 and after.manifest.chunk_count == 4
    assert np.array_equal(after.vectors.reconstruct_n(0, 4), before.vectors.reconstruct_n(0, 4))
    assert np.array_equal(np.asarray(after.sentences.vectors), np.asarray(before.sentences.vectors))
    assert np.array_equal(after.sentences.words.vectors, before.sentences.words.vectors)


def test_a_second_build_of_the_same_index_is_refused_while_one_runs(built, corpus, encoder):
    """Another process (the app's rebuild, another `kzru-rag` command) building the same index holds its lock."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(built)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (corpus / "b.txt").write_text(EXTRA, encoding="utf-8")
        before = fingerprint(built)

        with pytest.raises(IndexBuildError) as refused:
            build_index([corpus], encoder, built)

        assert "another build of" in str(refused.value) and "wait for it to end" in str(refused.value)
        assert refused.value.russian and "уже перестраивается" in refused.value.russian
        assert fingerprint(built) == before
    finally:
        holder.kill()
        holder.wait()
    build_index([corpus], encoder, built)  # the lock went with the process that held it
    assert len(load_index(built).chunks) == 4


HOLD_LOCK = """
import sys, time
from pathlib import Path
from kzru_rag.index.swap import build_lock
with build_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""
