"""One code path for direct and GradCache losses: subclasses implement ``loss_from_embeddings``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from sentence_transformers.base.losses.gradcache import CachedLossMixin
from sentence_transformers.base.losses.merged_forward import embed_columns
from torch import Tensor


class CachedOrDirectMixin(CachedLossMixin):
    """``mini_batch_size=None`` embeds the batch in one pass; an int uses GradCache (Gao et al. 2021).

    GradCache embeds mini-batches without gradients, computes the loss on the full batch, caches
    d loss / d embedding, then re-embeds each mini-batch with gradients and back-propagates the
    cached gradient: the same gradients as the direct loss with memory bounded by the mini-batch.
    """

    mini_batch_size: int | None

    def loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        raise NotImplementedError

    def calculate_loss(
        self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False
    ) -> Tensor:
        loss = self.loss_from_embeddings([torch.cat(r) for r in reps], labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        sentence_features = list(sentence_features)
        if self.mini_batch_size:
            return self.forward_cached(sentence_features, labels)
        return self.loss_from_embeddings(embed_columns(self.model, sentence_features), labels)
