"""What a run writes: seeds and RNG state, checkpoints (atomic, rank 0), the step log, the final model dir."""

from __future__ import annotations

import io
import json
import os
import random
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimo.errors import MimoError
from mimo.paths import atomic_dir, atomic_write_text
from mimo.train import card
from mimo.train.config import TrainConfig
from mimo.train.ddp import dist_info

CKPT = "checkpoint.pt"


class TrainingInterrupted(MimoError):
    """Raised after a SIGINT/SIGTERM checkpoint; resume with ``--resume``."""


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    s = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    return s | ({"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {})


def set_rng_state(s: dict[str, Any]) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    if s.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


@contextmanager
def signals_to_flag(flag: dict[str, bool]):
    """SIGINT/SIGTERM set ``flag['stop']``; the loop checkpoints and stops after the current step."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        flag["stop"] = True

    for s in old:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def save_ckpt(path: Path, state: dict[str, Any]) -> None:
    if dist_info()[0] != 0:
        return
    buf = io.BytesIO()
    torch.save(state, buf)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def load_ckpt(out: Path, resume: bool) -> dict[str, Any] | None:
    """The checkpoint to resume from (``resume``), else None; refuses to overwrite an unfinished run."""
    if resume:
        if not (out / CKPT).exists():
            raise MimoError(f"--resume: no checkpoint at {out / CKPT}")
        return torch.load(out / CKPT, weights_only=False, map_location="cpu")  # resumable on another device
    if (out / CKPT).exists():
        raise MimoError(f"{out} holds an unfinished run ({CKPT}); pass --resume or choose another --out")
    return None


def restore_weights(ckpt: dict[str, Any], model, kd) -> None:
    model.load_state_dict(ckpt["model"])
    if ckpt.get("projection") is not None and kd is not None and kd.projection is not None:
        kd.projection.load_state_dict(ckpt["projection"])


def projection_state(loss) -> dict[str, torch.Tensor] | None:
    kd = getattr(loss, "kd", loss)
    proj = getattr(kd, "projection", None)
    return None if proj is None else {k: v.detach().clone() for k, v in proj.state_dict().items()}


class StepLog:
    """``train_log.jsonl``, one JSON line per step; appended to on resume. Ranks > 0 log to a temp file."""

    def __init__(self, out: Path, resume: bool, rank: int, world: int) -> None:
        self.world = world
        self.path = out / "train_log.jsonl"
        if rank != 0:  # only rank 0 writes into the output dir
            import tempfile

            self.path = Path(tempfile.gettempdir()) / f"mimo-train-rank{rank}-{os.getpid()}.jsonl"
        if not resume:
            self.path.write_text("")
        self._f = self.path.open("a")

    def __call__(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec | ({"world_size": self.world} if self.world > 1 else {})) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def write_model_dir(out: Path, config: TrainConfig, model, proj_src, log_text: str, copy_stage1: bool,
                    summary: dict[str, Any]) -> None:
    """Replace ``out`` atomically (dropping the checkpoint) with the loadable model dir: weights, the
    projection, config, log, summary and model card."""
    stage1_proj = out / "projection-stage1.safetensors"
    with atomic_dir(out) as tmp:
        model.save(str(tmp))
        if proj_src is not None and getattr(proj_src, "projection", None) is not None:
            proj_src.save_projection(tmp / "projection.safetensors")
        if stage1_proj.exists() and copy_stage1:
            (tmp / stage1_proj.name).write_bytes(stage1_proj.read_bytes())
        atomic_write_text(tmp / "train_config.yaml", config.to_yaml())
        atomic_write_text(tmp / "train_log.jsonl", log_text)
        atomic_write_text(tmp / "train_summary.json", json.dumps(summary, indent=2, default=str) + "\n")
        atomic_write_text(tmp / "README.md", card.render(config, summary))
