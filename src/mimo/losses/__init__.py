"""Training losses (sentence-transformers idiom: ``nn.Module(model, ...)``, ``forward(features, labels)``).

* Stage 1 / KD: sentence-transformers' :class:`EmbedDistillLoss` (cosine distance through a
  trainable projection; ``save_projection`` / ``load_projection``), re-exported here.
* :class:`MimoLoss`: lambda * InfoNCE(X -> Y) + (1 - lambda) * KD, direct or GradCache.
* :class:`LakdaLoss`: the paper's LaKDA baseline, InfoNCE + KL between two language versions of a query's
  unscaled cosine distributions over the in-batch passages.
* :class:`LakdaSharpLoss`: our sharpened LaKDA (KL on scale-20 scores, InfoNCE on both query languages).
* ``mse`` baseline: sentence-transformers' :class:`MSELoss` (Reimers & Gurevych 2020).
"""

from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss, MSELoss

from mimo.losses.lakda import LakdaLoss
from mimo.losses.lakda_sharp import LakdaSharpLoss
from mimo.losses.mimo import MimoLoss, info_nce

__all__ = ["EmbedDistillLoss", "LakdaLoss", "LakdaSharpLoss", "MSELoss", "MimoLoss", "info_nce"]
