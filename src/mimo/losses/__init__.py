"""Training losses (sentence-transformers idiom: ``nn.Module(model, ...)``, ``forward(features, labels)``).

* Stage 1 / KD: sentence-transformers' :class:`EmbedDistillLoss` (cosine distance through a
  trainable projection; ``save_projection`` / ``load_projection``), re-exported here.
* :class:`MimoLoss`: lambda * InfoNCE(X -> Y) + (1 - lambda) * KD, direct or GradCache.
* :class:`LakdaLoss`: InfoNCE + KL between a query's and its translation's score distributions.
* ``mse`` baseline: sentence-transformers' :class:`MSELoss` (Reimers & Gurevych 2020).
"""

from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss, MSELoss

from mimo.losses.lakda import LakdaLoss
from mimo.losses.mimo import MimoLoss, info_nce

__all__ = ["EmbedDistillLoss", "LakdaLoss", "MSELoss", "MimoLoss", "info_nce"]
