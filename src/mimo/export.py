"""Fast CPU exports of a sentence-transformers model: ONNX (onnxruntime) and static (Model2Vec).

* ``export_onnx``: the whole encoder (transformer + pooling + dense + normalize) traced into one
  ONNX graph ``onnx/model.onnx`` taking ``input_ids``/``attention_mask`` and returning the sentence
  embedding, plus the tokenizer and ``mimo_export.json`` (prompts, max length). Load it with
  :func:`load_onnx_encoder` (an Encoder: ``encode(texts, prompt_name=...)``), which lives in
  :mod:`mimo.models.onnx` so that ``mimo.models`` loads exports without importing the exporters.
  sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins transformers<4.58,
  so we export with ``torch.onnx`` directly.
* ``export_onnx_int8``: the same graph with onnxruntime dynamic int8 weight quantization by a named
  recipe (:data:`INT8_RECIPES`, :func:`quantize_onnx`; ``quantize_export`` from an fp32 export dir).
* ``export_teacher_space``: student + its Stage-1 projection as a ``Dense`` module (teacher's space).
* ``export_static``: ``model2vec.distill.distill_from_model`` on the student's transformer and
  tokenizer (:func:`mimo.models.static.distill_static`, shared with the static student), saved as a
  plain sentence-transformers dir (``StaticEmbedding`` + ``Normalize``, the student's prompts kept),
  so ``SentenceTransformer(path)`` / ``mimo.models.load_encoder(path)`` load it unchanged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimo.errors import MimoError
from mimo.models import load_model
from mimo.models.loader import embedding_dim, first_transformer
from mimo.models.onnx import EXPORT_FILE, OnnxEncoder, is_onnx_export, load_onnx_encoder
from mimo.models.static import distill_static
from mimo.paths import atomic_dir, atomic_write_json

__all__ = [
    "DEFAULT_INT8_RECIPE", "EXPORT_FILE", "FORMATS", "INT8_RECIPES", "Int8Recipe", "OnnxEncoder", "export_model",
    "export_onnx", "export_onnx_int8", "export_static", "export_teacher_space", "int8_recipe", "is_onnx_export",
    "load_exported", "load_onnx_encoder", "quantize_export", "quantize_onnx",
]
FORMATS = ("onnx", "onnx-int8", "static", "teacher-space")


# ----------------------------------------------------------------------------- ONNX


def export_onnx(model: str, out: str | Path, opset: int = 17) -> Path:
    """Trace ``model`` (name or dir) end to end into ``out/onnx/model.onnx``; returns ``out``."""
    import torch

    st = load_model(model).eval()
    tr = first_transformer(st)
    try:  # eager attention traces to plain ops that onnxruntime runs identically
        tr.auto_model.set_attn_implementation("eager")
    except (AttributeError, ValueError):
        pass

    class _Graph(torch.nn.Module):
        def __init__(self, st: Any) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.st({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    cfg = getattr(tr.auto_model, "config", None)
    ex = tr.tokenizer(["an example sentence to trace", "zwei"], padding=True, return_tensors="pt")
    t0 = time.perf_counter()
    with atomic_dir(out) as tmp:
        (tmp / "onnx").mkdir()
        with torch.no_grad():
            torch.onnx.export(
                _Graph(st), (ex["input_ids"], ex["attention_mask"]), str(tmp / "onnx" / "model.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                              "sentence_embedding": {0: "batch"}},
                opset_version=opset, dynamo=False,
            )
        tr.tokenizer.save_pretrained(str(tmp))
        tmp.chmod(0o755)  # mkdtemp makes 0700
        atomic_write_json(tmp / EXPORT_FILE, {
            "format": "onnx", "source": str(model), "prompts": dict(st.prompts or {}),
            "max_seq_length": int(st.max_seq_length or 512),
            "dim": embedding_dim(st),
            "num_heads": int(getattr(cfg, "num_attention_heads", 0) or 0),
            "hidden_size": int(getattr(cfg, "hidden_size", 0) or 0),
            "normalized": any(type(m).__name__ == "Normalize" for m in st), "opset": opset,
            "seconds": round(time.perf_counter() - t0, 2),
        })
    return Path(out)


def export_static(model: str, out: str | Path, pca_dims: int | None = 256,
                  sif_coefficient: float | None = 1e-4, vocabulary_texts: list[str] | None = None,
                  min_count: int = 1) -> Path:
    """Distil ``model`` into static token embeddings (Model2Vec) saved as a sentence-transformers dir
    (:func:`mimo.models.static.distill_static`; the static student starts from the same distillation)."""
    return distill_static(model, out, pca_dims=pca_dims, sif_coefficient=sif_coefficient,
                          vocabulary_texts=vocabulary_texts, min_count=min_count)


# ----------------------------------------------------------------------------- int8 / teacher space


@dataclass(frozen=True)
class Int8Recipe:
    """How :func:`quantize_onnx` quantizes an fp32 graph (onnxruntime dynamic int8 weights)."""

    name: str
    summary: str
    op_types: tuple[str, ...] | None  # ops whose weights are quantized; None: every op onnxruntime can
    per_channel: bool  # one scale per output channel (else one per tensor)
    fuse: bool = False  # onnxruntime.transformers fusion (attention, LayerNorm, GELU) before quantizing
    reduce_range: bool = False  # 7-bit weights: no int16 saturation in AVX2/AVX-512 (non-VNNI) U8S8 kernels


INT8_RECIPES: dict[str, Int8Recipe] = {r.name: r for r in (
    Int8Recipe("matmul-per-channel", "MatMul weights int8 per output channel; embeddings fp32",
               ("MatMul",), per_channel=True),
    Int8Recipe("matmul-per-channel-7bit", "as matmul-per-channel with 7-bit weights (reduce_range)",
               ("MatMul",), per_channel=True, reduce_range=True),
    Int8Recipe("matmul-per-channel-gather", "as matmul-per-channel, and the embedding table (Gather) int8 "
               "per tensor: a quarter of the file", ("MatMul", "Gather"), per_channel=True),
    Int8Recipe("matmul-per-tensor", "MatMul weights int8, one scale per tensor; embeddings fp32",
               ("MatMul",), per_channel=False),
    Int8Recipe("fused-matmul-per-channel", "onnxruntime transformer fusion first, then MatMul (and fused "
               "Attention) weights int8 per channel", ("MatMul", "Attention"), per_channel=True, fuse=True),
    Int8Recipe("all-ops", "every op onnxruntime quantizes dynamically (MatMul, Gather embeddings, ...), "
               "per tensor: the smallest file", None, per_channel=False),
)}
DEFAULT_INT8_RECIPE = "matmul-per-channel-7bit"  # picked on mlir-qa-dev + mlir-dev (benchmarks/results/int8/dev-*)


def int8_recipe(name: str) -> Int8Recipe:
    """The recipe called ``name``; a :class:`MimoError` listing the recipes when there is none."""
    if name not in INT8_RECIPES:
        raise MimoError(f"unknown int8 recipe {name!r}; choose one of {', '.join(INT8_RECIPES)}")
    return INT8_RECIPES[name]


def _fuse(src: Path, dst: Path, num_heads: int = 0, hidden_size: int = 0) -> None:
    """onnxruntime.transformers' BERT fusions (attention, LayerNorm, GELU); 0 heads/hidden: detect."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    opt.save_model_to_file(str(dst))


def quantize_onnx(src: str | Path, dst: str | Path, recipe: str = DEFAULT_INT8_RECIPE,
                  num_heads: int = 0, hidden_size: int = 0) -> dict[str, Any]:
    """Quantize the fp32 ONNX graph ``src`` into ``dst`` by :data:`INT8_RECIPES` ``recipe``; returns the
    recipe's settings (for the export's metadata). ``num_heads``/``hidden_size`` help the fusion of
    ``fused-*`` recipes find attention (0: detect from the graph)."""
    import tempfile

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    r = int8_recipe(recipe)
    with tempfile.TemporaryDirectory(prefix="mimo-q-") as t:
        graph = Path(src)
        if r.fuse:
            graph = Path(t) / "fused.onnx"
            _fuse(Path(src), graph, num_heads, hidden_size)
        # fused com.microsoft ops defeat ONNX shape inference: their outputs are float
        quantize_dynamic(str(graph), str(dst), weight_type=QuantType.QInt8, per_channel=r.per_channel,
                         reduce_range=r.reduce_range, op_types_to_quantize=list(r.op_types or []),
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    return {"recipe": r.name, "op_types": list(r.op_types) if r.op_types else "all",
            "per_channel": r.per_channel, "fused": r.fuse, "reduce_range": r.reduce_range,
            "weight_type": "QInt8", "activations": "uint8, quantized on the fly (dynamic)"}


def quantize_export(fp32: str | Path, out: str | Path, recipe: str = DEFAULT_INT8_RECIPE) -> Path:
    """An ``onnx-int8`` export dir ``out`` from the fp32 ONNX export dir ``fp32`` (tokenizer and
    settings copied, graph quantized by :func:`quantize_onnx`); the recipe goes into ``mimo_export.json``."""
    int8_recipe(recipe)
    fp32 = Path(fp32)
    meta = json.loads((fp32 / EXPORT_FILE).read_text())
    if meta.get("format") != "onnx":
        raise MimoError(f"{fp32} is not an fp32 ONNX export (format {meta.get('format')!r})")
    with atomic_dir(out) as tmp:
        for f in fp32.iterdir():
            if f.is_file() and f.name != EXPORT_FILE:
                (tmp / f.name).write_bytes(f.read_bytes())
        (tmp / "onnx").mkdir()
        quant = quantize_onnx(fp32 / "onnx" / "model.onnx", tmp / "onnx" / "model.onnx", recipe,
                              meta.get("num_heads", 0), meta.get("hidden_size", 0))
        tmp.chmod(0o755)
        atomic_write_json(tmp / EXPORT_FILE, meta | {"format": "onnx-int8", "int8_recipe": recipe,
                                                     "quantization": quant})
    return Path(out)


def export_onnx_int8(model: str, out: str | Path, opset: int = 17, recipe: str = DEFAULT_INT8_RECIPE) -> Path:
    """ONNX export (:func:`export_onnx`) quantized by :func:`quantize_onnx` with ``recipe``
    (:data:`INT8_RECIPES`): ``out/onnx/model.onnx``; the recipe is recorded in ``mimo_export.json``."""
    import tempfile

    int8_recipe(recipe)  # fail before the (slow) fp32 export
    with tempfile.TemporaryDirectory(prefix="mimo-onnx-") as t:
        return quantize_export(export_onnx(model, Path(t) / "fp32", opset=opset), out, recipe)


def export_teacher_space(model: str, out: str | Path, projection: str | Path | None = None) -> Path:
    """The student plus its Stage-1 projection (``projection.safetensors`` in the run dir) as a
    sentence-transformers ``Dense`` module, then ``Normalize``: ``SentenceTransformer(out)`` encodes
    any language into the teacher's space, so a teacher-built English index takes the queries as is.

    The projection is applied to the student's sentence embedding exactly as in training
    (:class:`mimo.losses.EmbedDistillLoss`: ``W s + b``), then normalised."""
    import torch
    from safetensors.torch import load_file
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules import Dense

    proj = Path(projection) if projection else Path(model) / "projection.safetensors"
    if not proj.is_file():
        raise MimoError(f"teacher-space export: no projection at {proj}; export a run dir trained with a "
                        "projection (Stage 1 writes projection.safetensors) or pass --projection")
    weights = load_file(str(proj))
    w = next((v for k, v in weights.items() if k.endswith("weight")), None)
    b = next((v for k, v in weights.items() if k.endswith("bias")), None)
    if w is None or w.ndim != 2:
        raise MimoError(f"{proj}: expected a linear layer's weight (out x in), found {sorted(weights)}")
    st = load_model(model)
    if w.shape[1] != embedding_dim(st):
        raise MimoError(f"{proj}: projection takes {w.shape[1]}-d input, the student emits {embedding_dim(st)}-d")
    dense = Dense(int(w.shape[1]), int(w.shape[0]), bias=b is not None, activation_function=torch.nn.Identity())
    with torch.no_grad():
        dense.linear.weight.copy_(w.float())
        if b is not None:
            dense.linear.bias.copy_(b.float())
    st.append(dense)
    st.append(Normalize())
    with atomic_dir(out) as tmp:
        st.save(str(tmp))
        tmp.chmod(0o755)
        atomic_write_json(tmp / EXPORT_FILE, {
            "format": "teacher-space", "source": str(model), "projection": str(proj),
            "prompts": dict(st.prompts or {}), "dim": int(w.shape[0]),
        })
    return Path(out)


def export_model(model: str, fmt: str, out: str | Path, **kwargs: Any) -> Path:
    """Export ``model`` as one of :data:`FORMATS` into ``out`` (written atomically)."""
    if fmt == "onnx":
        return export_onnx(model, out, **kwargs)
    if fmt == "onnx-int8":
        return export_onnx_int8(model, out, **kwargs)
    if fmt == "teacher-space":
        return export_teacher_space(model, out, **kwargs)
    if fmt == "static":
        return export_static(model, out, **kwargs)
    raise MimoError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def load_exported(path: str | Path, threads: int = 0) -> Any:
    """Load any export: ONNX → :class:`OnnxEncoder` (``threads`` intra-op threads, 0 = onnxruntime's
    default); static → ``SentenceTransformer``."""
    if is_onnx_export(path):
        return OnnxEncoder(path, threads=threads)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")
