"""ONNX exports as encoders: :func:`is_onnx_export` tells an ``onnx`` / ``onnx-int8`` export dir (written
by :func:`mimo.export.export_onnx`) and :class:`OnnxEncoder` runs it with onnxruntime behind the
``mimo.models.Encoder`` interface, so :func:`mimo.models.load_encoder`, evaluation and serving take an
export wherever they take a model. Writing exports is :mod:`mimo.export`'s job; it imports this module,
never the other way round.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from mimo.errors import MimoError
from mimo.models.registry import EXPORT_FILE

__all__ = ["EXPORT_FILE", "OnnxEncoder", "is_onnx_export", "load_onnx_encoder"]


def is_onnx_export(path: str | Path) -> bool:
    """Whether ``path`` is an ``onnx`` or ``onnx-int8`` export dir (its :data:`EXPORT_FILE` says so)."""
    f = Path(path) / EXPORT_FILE
    return f.is_file() and json.loads(f.read_text()).get("format") in ("onnx", "onnx-int8")


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
