"""Objective -> loss wiring, lambda schedules, projection init and student surgery."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from mimo.errors import InputError
from mimo.losses import EmbedDistillLoss, LakdaLoss, LakdaSharpLoss, MimoLoss, MSELoss
from mimo.train.config import TrainConfig


def kd_loss(model, config: TrainConfig, teacher_dim: int) -> EmbedDistillLoss:
    """Stage-1 / KD loss: cosine distance through a projection (``mse``: MSE, no projection).

    Raises before training when the dims differ and no projection is allowed."""
    student_dim = model.get_embedding_dimension()
    if config.objective == "mse" or not config.projection:
        if student_dim != teacher_dim:
            why = "the mse objective uses no projection" if config.objective == "mse" else "projection is off"
            raise InputError(
                f"teacher dim {teacher_dim} != student dim {student_dim} and {why}; "
                "use a projection (objective mimo/kd with projection: true) or a teacher of the same dim"
            )
        return MSELoss(model) if config.objective == "mse" else EmbedDistillLoss(model, "cosine")
    return EmbedDistillLoss(model, "cosine", projection_dim=teacher_dim)


def stage2_loss(model, config: TrainConfig, kd: EmbedDistillLoss | None) -> nn.Module:
    if config.objective == "lakda":
        return LakdaLoss(model, config.lakda_alpha, config.scale, config.mini_batch_size)
    if config.objective == "lakda-sharp":
        return LakdaSharpLoss(model, config.lakda_alpha, config.scale, config.mini_batch_size)
    return MimoLoss(model, kd, config.effective_lambda, config.scale, config.mini_batch_size)


def lstsq_projection(
    proj: nn.Linear, student_emb: np.ndarray, teacher_emb: np.ndarray, ridge: float = 0.1, heldout: float = 0.1
) -> dict[str, float]:
    """Set ``proj`` to the ridge-regularised least-squares fit [S, 1] @ W = T.

    A plain least-squares fit on fewer texts than ``student_dim + 1`` interpolates them exactly
    (cosine 1.0 on the fit set) and generalises poorly (~0.4 cosine on unseen text, measured for
    mE5-small -> MiniLM with 256 texts); ridge 0.1 on 2k texts gives ~0.7. The fit is scored on a
    held-out ``heldout`` fraction first, then refitted on all texts. Returns both cosines.
    """
    s = torch.as_tensor(student_emb, dtype=torch.float64)
    t = torch.as_tensor(teacher_emb, dtype=torch.float64)
    a = torch.cat([s, torch.ones(len(s), 1, dtype=s.dtype)], dim=1)

    def solve(a_: torch.Tensor, t_: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(a_.shape[1], dtype=a_.dtype)
        return torch.linalg.solve(a_.T @ a_ + ridge * eye, a_.T @ t_)  # (ds + 1, dt)

    def cos(w: torch.Tensor, a_: torch.Tensor, t_: torch.Tensor) -> float:
        return float(nn.functional.cosine_similarity(a_ @ w, t_, dim=-1).mean())

    n_out = int(len(s) * heldout)
    scores = {}
    if n_out >= 8:
        scores["lstsq_heldout_cos"] = cos(solve(a[n_out:], t[n_out:]), a[:n_out], t[:n_out])
    w = solve(a, t)
    with torch.no_grad():
        proj.weight.copy_(w[:-1].T.to(proj.weight.dtype))
        proj.bias.copy_(w[-1].to(proj.bias.dtype))
    scores["lstsq_fit_cos"] = cos(w, a, t)
    return scores


def shrink_student(model, n_layers: int | None, freeze_embeddings: bool) -> dict[str, Any]:
    """Keep the first ``n_layers`` transformer layers and/or freeze the word-embedding table."""
    auto = model[0].auto_model
    info: dict[str, Any] = {}
    if n_layers is not None:
        encoder = getattr(auto, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if layers is None:
            raise InputError(f"--student-layers: cannot find encoder layers in {type(auto).__name__}")
        if not 1 <= n_layers <= len(layers):
            raise InputError(f"--student-layers {n_layers}: the student has {len(layers)} layers")
        encoder.layer = nn.ModuleList(list(layers)[:n_layers])
        auto.config.num_hidden_layers = n_layers
        info["layers"] = n_layers
    if freeze_embeddings:
        emb = auto.get_input_embeddings()
        emb.weight.requires_grad_(False)
        info["frozen_embedding_params"] = emb.weight.numel()
    return info


class LambdaSchedule:
    """lambda over Stage-2 steps.

    * ``constant``: lambda.
    * ``linear``: 0 -> lambda over the first ``warmup`` fraction of steps.
    * ``adaptive``: start at lambda; after each step compare the KD term's running mean with
      its first value: above ``(1 + tol)`` times it (alignment degrading) -> lambda *= 0.8,
      otherwise lambda *= 1.05 (more contrastive); clipped to [0.01, 0.99].
    """

    def __init__(self, kind: str, lam: float, steps: int, warmup: float = 0.5, tol: float = 0.05):
        self.kind, self.base, self.steps, self.warmup, self.tol = kind, lam, steps, warmup, tol
        self.lam, self.kd0, self.kd_ema = lam, None, None

    def value(self, step: int) -> float:
        if self.kind == "linear":
            ramp = max(1, round(self.warmup * self.steps))
            return self.base * min(1.0, (step + 1) / ramp)
        return self.lam if self.kind == "adaptive" else self.base

    def update(self, kd: float | None) -> None:
        if self.kind != "adaptive" or kd is None:
            return
        self.kd0 = kd if self.kd0 is None else self.kd0
        self.kd_ema = kd if self.kd_ema is None else 0.8 * self.kd_ema + 0.2 * kd
        factor = 0.8 if self.kd_ema > self.kd0 * (1 + self.tol) else 1.05
        self.lam = float(min(0.99, max(0.01, self.lam * factor)))

    def state_dict(self) -> dict[str, Any]:
        return {"lam": self.lam, "kd0": self.kd0, "kd_ema": self.kd_ema}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lam, self.kd0, self.kd_ema = state["lam"], state["kd0"], state["kd_ema"]
