"""LaKDA as the paper's baseline (Yang et al., MRL 2024): InfoNCE plus KL on unscaled cosine distributions."""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from torch import Tensor, nn

from mimo.losses._cached import CachedOrDirectMixin


class LakdaLoss(CachedOrDirectMixin, nn.Module):
    r"""Language-agnostic score distillation, the reference formulation (``--objective lakda``).

    Inputs: columns ``(query_a, query_b, passage)``, two language versions of one query and its
    passage (whose language is drawn independently of both); no labels. With
    :math:`P^x_i = \mathrm{softmax}_j(\cos(q^x_i, p_j))` over the in-batch passages (*unscaled*),

    .. math::
        L = (1-a)\,\mathrm{InfoNCE}(q^a, p;\ s) + a\,\tfrac1B\sum_i \mathrm{KL}(P^b_i \,\|\, P^a_i)

    with ``a = 0.5`` and ``s = 20``; InfoNCE on the first query language only, gradients through all
    three inputs. Because cosines lie in [-1, 1], the unscaled distributions are close to uniform and
    the KL term is gentle; :class:`~mimo.losses.lakda_sharp.LakdaSharpLoss` is the sharpened variant.

    Example::

        loss = LakdaLoss(model, alpha=0.5)
        loss([features(q_de), features(q_fr), features(p_es)], None)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        alpha: float = 0.5,
        scale: float = 20.0,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.model = model
        self.alpha = float(alpha)
        self.scale = float(scale)
        self.mini_batch_size = mini_batch_size
        self.last_parts: dict[str, float] = {}

    def loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        qa, qb, p = (nn.functional.normalize(e, dim=-1) for e in embeddings[:3])
        cos_a, cos_b = qa @ p.T, qb @ p.T
        target = torch.arange(len(qa), device=qa.device)
        nce = nn.functional.cross_entropy(self.scale * cos_a, target)
        kl = nn.functional.kl_div(cos_a.log_softmax(-1), cos_b.log_softmax(-1), log_target=True, reduction="batchmean")
        self.last_parts = {"infonce": float(nce.detach()), "kl": float(kl.detach())}
        return (1 - self.alpha) * nce + self.alpha * kl

    def get_config_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "scale": self.scale, "mini_batch_size": self.mini_batch_size}
