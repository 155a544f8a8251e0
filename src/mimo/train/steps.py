"""The step loop of one stage: optimizer, schedules, per-step log and progress, checkpoints, interruption."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mimo.train.checkpoint import (
    CKPT,
    TrainingInterrupted,
    projection_state,
    rng_state,
    save_ckpt,
    set_rng_state,
    signals_to_flag,
)
from mimo.train.config import TrainConfig
from mimo.train.ddp import average_gradients, dist_info, mean_across
from mimo.train.objectives import LambdaSchedule


@dataclass
class StepInfo:
    stage: int
    step: int
    total: int
    loss: float
    parts: dict[str, float]
    lam: float | None
    pairs_per_s: float
    eta_s: float


@dataclass
class TrainResult:
    out: Path
    steps: dict[str, int]
    final_losses: dict[str, float]
    seconds: float
    alignment: dict[str, float] = field(default_factory=dict)
    heldout_kd: dict[str, float] = field(default_factory=dict)  # Stage-1 loss on held-out pairs
    mix: dict[str, dict[str, int]] = field(default_factory=dict)


ProgressFn = Callable[[StepInfo], None]


def features(model, texts: list[str], prompt_name: str) -> dict[str, Any]:
    prompt = model.prompts.get(prompt_name) or None
    return model.preprocess(texts, prompt=prompt)


def optimizer(model, loss, lr: float, weight_decay: float, warmup: int):
    seen, params = set(), []
    for p in list(model.parameters()) + list(loss.parameters()):  # loss-owned projection included
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            params.append(p)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    return opt, sched


def run_stage(
    stage: int,
    model,
    loss,
    batches: list,
    make_batch: Callable[[Any, int], tuple[list[dict[str, Any]], torch.Tensor | None]],
    lr: float,
    config: TrainConfig,
    out: Path,
    log,
    progress: ProgressFn | None,
    resume_state: dict[str, Any] | None,
    schedule: LambdaSchedule | None = None,
    extra_state: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, float]:
    opt, sched = optimizer(model, loss, lr, config.weight_decay, config.warmup_steps)
    start = 0
    if resume_state is not None:
        opt.load_state_dict(resume_state["optimizer"])
        sched.load_state_dict(resume_state["scheduler"])
        if schedule is not None and resume_state.get("lambda") is not None:
            schedule.load_state_dict(resume_state["lambda"])
        set_rng_state(resume_state["rng"])
        start = resume_state["step"]
    flag = {"stop": False}
    last: dict[str, float] = {}

    def checkpoint(step: int, done: bool = False) -> None:
        state = {
            "stage": stage, "step": step, "done": done, "model": model.state_dict(),
            "projection": projection_state(loss), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": rng_state(),
            "lambda": schedule.state_dict() if schedule else None, "config": config.to_dict(),
        } | (extra_state() if extra_state else {})
        save_ckpt(out / CKPT, state)

    rank, world = dist_info()
    device = str(model.device)
    model.train()
    t0, total = time.perf_counter(), len(batches)
    with signals_to_flag(flag):
        for step in range(start, total):
            feats, labels = make_batch(batches[step][rank::world], step)
            if device != "cpu":  # sentence-transformers tokenises on the CPU; the loop moves the batch
                feats = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in f.items()} for f in feats]
                labels = labels.to(device) if labels is not None else None
            if schedule is not None and hasattr(loss, "lam"):
                loss.lam = schedule.value(step)
            opt.zero_grad(set_to_none=True)
            value = loss(feats, labels)
            value.backward()
            if world > 1:  # data parallel: every rank holds a shard of the global batch
                average_gradients(opt, world)
                value = mean_across(value.detach(), world)
            opt.step()
            sched.step()
            parts = dict(getattr(loss, "last_parts", {}))
            if schedule is not None:
                schedule.update(parts.get("kd") if getattr(loss, "lam", 1.0) < 1 else None)
            elapsed = time.perf_counter() - t0
            done_steps = step + 1 - start
            rate = done_steps * len(batches[step]) / max(elapsed, 1e-9)
            eta = elapsed / done_steps * (total - step - 1)
            last = {"loss": float(value.detach()), **parts}
            lam = getattr(loss, "lam", None)
            info = StepInfo(stage, step + 1, total, last["loss"], parts, lam, rate, eta)
            log(asdict(info) | {"time": time.time()})
            if progress:
                progress(info)
            if flag["stop"]:
                checkpoint(step + 1)
                raise TrainingInterrupted(
                    f"interrupted at stage {stage} step {step + 1}/{total}; checkpoint in {out / CKPT}; "
                    "continue with --resume"
                )
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
                checkpoint(step + 1)
    checkpoint(total, done=True)
    model.eval()
    return last
