"""Held-out figures: cross-lingual alignment and the Stage-1 loss on translation pairs never trained on."""

from __future__ import annotations

import numpy as np
import torch

from mimo.train.steps import TrainResult, features


def heldout_figures(
    model, kd, rows: list[tuple[str, str, str]], labels: dict[str, np.ndarray] | None, prompt_name: str
) -> dict[str, float]:
    """Cross-lingual alignment and (with ``kd`` and teacher ``labels``) the Stage-1 loss on held-out
    ``(en, xx, lang)`` rows, from one encoding of each side.

    ``alignment`` = mean ||f(en) - f(xx)||^2 of unit-normalised student embeddings (lower = more
    aligned). ``kd`` = the training loss module itself on columns (xx, en), both against t(en):
    mean(1 - cos(W s + b, t)) for the cosine distillation, MSE for make_multilingual."""
    from mimo.analyze import alignment

    if not rows:
        return {}
    kw = {"prompt_name": prompt_name} if prompt_name in model.prompts else {}
    with torch.no_grad():
        en = model.encode([r[0] for r in rows], convert_to_tensor=True, **kw).float()
        xx = model.encode([r[1] for r in rows], convert_to_tensor=True, **kw).float()
        out = {"alignment": alignment(en.cpu().numpy(), xx.cpu().numpy())}
        if kd is None or labels is None:
            return out
        t = torch.as_tensor(np.stack([labels[r[0]] for r in rows])).float().to(en.device)
        if hasattr(kd, "compute_loss_from_embeddings"):
            value = kd.compute_loss_from_embeddings([xx, en], [t, t])
        else:  # a loss without the embeddings entry point (MSELoss): its forward re-encodes
            feats = [features(model, [r[1] for r in rows], prompt_name), features(model, [r[0] for r in rows], prompt_name)]
            feats = [{k: v.to(model.device) if torch.is_tensor(v) else v for k, v in f.items()} for f in feats]
            value = kd(feats, t)
    return out | {"kd": float(value)}


def record_heldout(result: TrainResult, when: str, figures: dict[str, float]) -> None:
    if "alignment" in figures:
        result.alignment[when] = figures["alignment"]
    if "kd" in figures:
        result.heldout_kd[when] = figures["kd"]
