"""The MIMO joint loss: lambda * InfoNCE(query_X, passage_Y) + (1 - lambda) * KD to the teacher."""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import (
    EmbedDistillLoss,
    MultipleNegativesRankingLoss,
)
from torch import Tensor, nn

from mimo.losses._cached import CachedOrDirectMixin


class MimoLoss(CachedOrDirectMixin, nn.Module):
    r"""Joint cross-lingual contrastive + distillation loss (MIMO Stage 2).

    .. math::
        L = \lambda\,L_{XLCO} + (1-\lambda)\,L_{KD}

    * :math:`L_{XLCO}` = :class:`MultipleNegativesRankingLoss` (in-batch InfoNCE, ``scale`` 20) from
      ``query`` (language X) to ``passage`` (language Y).
    * :math:`L_{KD}` = ``kd.compute_loss_from_embeddings`` (an :class:`EmbedDistillLoss`, cosine
      distance through its projection) averaged over query and passage, against the teacher's
      embeddings of their English versions.

    Inputs: columns ``(query, passage)``; labels ``(batch, 2, teacher_dim)`` = teacher(query_en),
    teacher(passage_en). With ``lam == 1`` no labels are needed (pure XLCO / InfoNCE).
    ``mini_batch_size`` switches on GradCache so batches of 256-2048 fit in CPU memory.

    Example::

        kd = EmbedDistillLoss(student, "cosine", projection_dim=384)
        loss = MimoLoss(student, kd, lam=0.2, mini_batch_size=32)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        kd: EmbedDistillLoss | None = None,
        lam: float = 0.2,
        scale: float = 20.0,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lambda must be in [0, 1], got {lam}")
        if kd is None and lam < 1.0:
            raise ValueError("MimoLoss with lambda < 1 needs a distillation loss (kd)")
        self.model = model
        self.kd = kd
        self.xlco = MultipleNegativesRankingLoss(model, scale=scale)
        self.lam = float(lam)
        self.mini_batch_size = mini_batch_size
        self.last_parts: dict[str, float] = {}

    def loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        q, p = embeddings[0], embeddings[1]
        zero = q.new_zeros(())
        xlco = self.xlco.compute_loss_from_embeddings([q, p], None) if self.lam > 0 else zero
        if self.lam < 1:
            if labels is None or labels.dim() != 3 or labels.size(1) != 2:
                raise ValueError("MimoLoss needs labels of shape (batch, 2, teacher_dim) for the KD term")
            kd = self.kd.compute_loss_from_embeddings([q, p], [labels[:, 0].detach(), labels[:, 1].detach()])
        else:
            kd = zero
        self.last_parts = {"xlco": float(xlco.detach()), "kd": float(kd.detach())}
        return self.lam * xlco + (1.0 - self.lam) * kd

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "lambda": self.lam,
            "scale": self.xlco.scale,
            "mini_batch_size": self.mini_batch_size,
            "kd": None if self.kd is None else self.kd.get_config_dict(),
        }


def info_nce(q: Tensor, p: Tensor, scale: float = 20.0) -> Tensor:
    """Reference InfoNCE: mean_i -log softmax_j(scale * cos(q_i, p_j))[i] (for tests and docs)."""
    s = scale * nn.functional.normalize(q, dim=-1) @ nn.functional.normalize(p, dim=-1).T
    return nn.functional.cross_entropy(s, torch.arange(len(q)))
