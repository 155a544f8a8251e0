"""Reuse finished runs: a model dir whose saved config equals the requested one is not retrained."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimo.train.config import TrainConfig
from mimo.train.loop import ProgressFn, train


def _same_config(saved: dict[str, Any] | Path | None, config: TrainConfig) -> bool:
    """``saved`` (a config dict or YAML file) read back through :class:`TrainConfig` equals ``config``;
    False when it is missing, unreadable or from an incompatible schema."""
    if saved is None:
        return False
    try:
        back = TrainConfig.from_yaml(saved) if isinstance(saved, Path) else TrainConfig.from_dict(saved)
    except Exception:
        return False
    return back.to_yaml() == config.to_yaml()


def is_finished(config: TrainConfig) -> bool:
    """True when ``config.out`` holds a completed run of exactly this (resolved) config. The saved
    config is read back through :class:`TrainConfig`, so a field added later (with a default that
    keeps the old behaviour) does not invalidate finished runs."""
    out = Path(config.out)
    if not ((out / "train_config.yaml").is_file() and (out / "train_summary.json").is_file()):
        return False
    return _same_config(out / "train_config.yaml", config)


def can_resume(config: TrainConfig) -> bool:
    """True when ``config.out`` holds an interrupted run (a checkpoint) of exactly this config."""
    import torch

    from mimo.train.loop import CKPT

    f = Path(config.out) / CKPT
    if not f.is_file():
        return False
    try:  # a torn checkpoint or one from an older config schema is not resumable; train() reports it
        # memory-mapped: only the config is read here, train() loads the tensors once
        saved = torch.load(f, weights_only=False, map_location="cpu", mmap=True).get("config")
    except Exception:
        return False
    return _same_config(saved, config)


def train_or_reuse(
    config: TrainConfig, say: Callable[[str], None] = print, label: str = "train", progress: ProgressFn | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train ``config`` unless an identical finished run is in ``config.out`` (an interrupted one of
    the same config is resumed from its checkpoint); return its summary."""
    out = Path(config.out)
    config.validate()  # compare the resolved config (numbers coerced) with the saved one
    if is_finished(config):
        say(f"{label}: reusing {out}")
    else:
        t0 = time.perf_counter()
        resume = can_resume(config)
        if resume:
            say(f"{label}: resuming the interrupted run in {out}")
        train(config, progress=progress or step_printer(say, label), resume=resume, device=device)
        say(f"{label}: trained in {time.perf_counter() - t0:.0f}s -> {out}")
    return json.loads((out / "train_summary.json").read_text())


def step_printer(say: Callable[[str], None], label: str, every: int = 5) -> ProgressFn:
    """A progress callback that prints loss, throughput and ETA every ``every`` steps."""

    def show(info) -> None:
        if info.step in (1, info.total) or info.step % every == 0:
            say(f"  {label} stage {info.stage} step {info.step}/{info.total} loss {info.loss:.4f} "
                f"{info.pairs_per_s:.1f} pairs/s ETA {info.eta_s:.0f}s")

    return show
