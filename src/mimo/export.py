"""Fast CPU exports of a sentence-transformers model: ONNX (onnxruntime) and static (Model2Vec).

* ``export_onnx``: the whole encoder (transformer + pooling + dense + normalize) traced into one
  ONNX graph ``onnx/model.onnx`` taking ``input_ids``/``attention_mask`` and returning the sentence
  embedding, plus the tokenizer and ``mimo_export.json`` (prompts, max length). Load it with
  :func:`load_onnx_encoder` (an Encoder: ``encode(texts, prompt_name=...)``). sentence-transformers'
  own ``backend="onnx"`` needs ``optimum-onnx``, which pins transformers<4.58, so we export with
  ``torch.onnx`` directly.
* ``export_onnx_int8``: the same graph with onnxruntime dynamic int8 weight quantization by a named
  recipe (:data:`INT8_RECIPES`, :func:`quantize_onnx`; ``quantize_export`` from an fp32 export dir).
* ``export_teacher_space``: student + its Stage-1 projection as a ``Dense`` module (teacher's space).
* ``export_static``: ``model2vec.distill.distill_from_model`` on the student's transformer and
  tokenizer, saved as a plain sentence-transformers dir (``StaticEmbedding`` + ``Normalize``, the
  student's prompts kept), so ``SentenceTransformer(path)`` / ``mimo.models.load_encoder(path)``
  load it unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import MimoError
from mimo.paths import atomic_dir, atomic_write_json

EXPORT_FILE = "mimo_export.json"
FORMATS = ("onnx", "onnx-int8", "static", "teacher-space")


def _load_st(model: str) -> Any:
    try:
        from mimo.models import load_model
    except ImportError:  # pragma: no cover - the models area is not there yet
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(model), device="cpu")
    return load_model(model)


def _first_transformer(st: Any) -> Any:
    first = st[0]
    if not hasattr(first, "auto_model") or not hasattr(first, "tokenizer"):
        raise MimoError(f"cannot export: the first module is {type(first).__name__}, not a Transformer")
    return first


def _dim(st: Any) -> int:
    fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(fn() or 0)


def is_onnx_export(path: str | Path) -> bool:
    f = Path(path) / EXPORT_FILE
    return f.is_file() and json.loads(f.read_text()).get("format") in ("onnx", "onnx-int8")


# ----------------------------------------------------------------------------- ONNX


def export_onnx(model: str, out: str | Path, opset: int = 17) -> Path:
    """Trace ``model`` (name or dir) end to end into ``out/onnx/model.onnx``; returns ``out``."""
    import torch

    st = _load_st(model).eval()
    tr = _first_transformer(st)
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
            "dim": int(_dim(st)),
            "num_heads": int(getattr(cfg, "num_attention_heads", 0) or 0),
            "hidden_size": int(getattr(cfg, "hidden_size", 0) or 0),
            "normalized": any(type(m).__name__ == "Normalize" for m in st), "opset": opset,
            "seconds": round(time.perf_counter() - t0, 2),
        })
    return Path(out)


class OnnxEncoder:
    """An onnxruntime encoder with the ``mimo.models.Encoder`` interface."""

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.path = Path(path)
        self.config = json.loads((self.path / EXPORT_FILE).read_text())
        self.prompts: dict[str, str] = self.config.get("prompts", {})
        self.max_seq_length: int = self.config.get("max_seq_length", 512)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path / "onnx" / "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 over the graph, the tokenizer files and the settings that change the output (prompts,
        max length), read from disk once: two exports share it only when they encode alike, whatever
        their path or name (the evaluation cache keys embeddings by it)."""
        h = hashlib.sha256(b"mimo-onnx-export")
        keep = {k: self.config.get(k) for k in ("format", "prompts", "max_seq_length", "dim", "normalized")}
        h.update(json.dumps(keep, sort_keys=True).encode())
        for f in sorted(p for p in self.path.rglob("*") if p.is_file() and p.name != EXPORT_FILE):
            h.update(f.relative_to(self.path).as_posix().encode() + b"\0")
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        return "onnx-" + h.hexdigest()[:24]

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.config["dim"])

    def encode(self, texts: str | list[str], prompt_name: str | None = None, prompt: str | None = None,
               batch_size: int = 32, normalize_embeddings: bool = True, convert_to_numpy: bool = True,
               show_progress_bar: bool = False, **_: Any) -> np.ndarray:
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        if prompt is None and prompt_name is not None:
            if prompt_name not in self.prompts:
                raise ValueError(f"prompt {prompt_name!r} not among {sorted(self.prompts)}")
            prompt = self.prompts[prompt_name]
        if prompt:
            items = [prompt + t for t in items]
        order = np.argsort([-len(t) for t in items], kind="stable")  # similar lengths per batch
        out = np.zeros((len(items), self.get_sentence_embedding_dimension()), dtype=np.float32)
        for i in range(0, len(items), batch_size):
            idx = order[i:i + batch_size]
            enc = self.tokenizer([items[j] for j in idx], padding=True, truncation=True,
                                 max_length=self.max_seq_length, return_tensors="np")
            feeds = {"input_ids": enc["input_ids"].astype(np.int64),
                     "attention_mask": enc["attention_mask"].astype(np.int64)}
            out[idx] = self.session.run(None, feeds)[0]
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out[0] if single else out


def load_onnx_encoder(path: str | Path) -> OnnxEncoder:
    if not is_onnx_export(path):
        raise MimoError(f"{path} is not an ONNX export (no {EXPORT_FILE} with format onnx)")
    return OnnxEncoder(path)


# ----------------------------------------------------------------------------- static


def export_static(model: str, out: str | Path, pca_dims: int | None = 256,
                  sif_coefficient: float | None = 1e-4, vocabulary_texts: list[str] | None = None,
                  min_count: int = 1) -> Path:
    """Distil ``model`` into static token embeddings (Model2Vec) saved as a sentence-transformers dir.

    With ``vocabulary_texts`` the tokenizer is first pruned to the tokens those texts use
    (:func:`mimo.models.static.prune_vocabulary`), so only those are distilled."""
    try:
        from model2vec.distill import distill_from_model
    except ImportError as e:
        raise MimoError(f"static export needs model2vec's distill extra ({e}); "
                        "`pip install model2vec skeletoken`") from None
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    st = _load_st(model)
    tr = _first_transformer(st)
    dim = int(_dim(st))
    if pca_dims is not None and dim:
        pca_dims = min(pca_dims, dim)
    t0 = time.perf_counter()
    auto, tokenizer, kept = tr.auto_model, tr.tokenizer, None
    if vocabulary_texts is not None:
        from mimo.models.static import prune_vocabulary

        tokenizer, auto, kept = prune_vocabulary(tokenizer, auto, vocabulary_texts, min_count)
    static = distill_from_model(model=auto, tokenizer=tokenizer, pca_dims=pca_dims,
                                sif_coefficient=sif_coefficient)
    weights = StaticEmbedding._fold_model2vec_weights(
        static.embedding, getattr(static, "token_mapping", None), getattr(static, "weights", None))
    emb = StaticEmbedding(static.tokenizer, embedding_weights=weights.float(), base_model=str(model))
    out_st = SentenceTransformer(modules=[emb, Normalize()], prompts=dict(st.prompts or {}), device="cpu")
    with atomic_dir(out) as tmp:
        out_st.save(str(tmp))
        tmp.chmod(0o755)
        atomic_write_json(tmp / EXPORT_FILE, {
            "format": "static", "source": str(model), "prompts": dict(st.prompts or {}),
            "dim": int(weights.shape[1]), "vocab": int(weights.shape[0]), "pca_dims": pca_dims,
            "sif_coefficient": sif_coefficient, "pruned_to_texts": kept,
            "seconds": round(time.perf_counter() - t0, 2),
        })
    return Path(out)


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
    st = _load_st(model)
    if w.shape[1] != _dim(st):
        raise MimoError(f"{proj}: projection takes {w.shape[1]}-d input, the student emits {_dim(st)}-d")
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
