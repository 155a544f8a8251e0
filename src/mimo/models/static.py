"""Static students: ``static:<init>`` names a sentence-transformers ``StaticEmbedding`` student.

``<init>`` is either a static model dir (``mimo export --format static``, a model2vec / potion model
saved by sentence-transformers), used as it is, or a transformer (hub name or dir) that is distilled
with model2vec (:func:`distill_static`, which ``mimo export --format static`` runs too) into static
token embeddings first. When the training texts are given, the XLM-R (or any) tokenizer's vocabulary is pruned to the tokens those
texts use (skeletoken, rows of the transformer's embedding table remapped) before distilling, so the
distillation forwards ~60k tokens instead of 250k and the trained table is 4x smaller. The
distillation is cached under ``$MIMO_HOME/static-init/`` keyed by init and vocabulary.

The student trains with the transformer's objectives through :mod:`mimo.train` unchanged: its
``preprocess`` / ``forward`` are sentence-transformers', the embedding bag is ``nn.EmbeddingBag``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimo.errors import InputError, MimoError
from mimo.models.loader import embedding_dim, first_transformer, load_model
from mimo.models.registry import EXPORT_FILE
from mimo.paths import atomic_dir, atomic_write_json, home

PREFIX = "static:"


def is_static(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PREFIX)


def is_static_dir(path: str | Path) -> bool:
    """A sentence-transformers dir whose first module is a ``StaticEmbedding``."""
    f = Path(path) / "modules.json"
    if not f.is_file():
        return False
    mods = json.loads(f.read_text())
    return bool(mods) and mods[0].get("type", "").endswith("StaticEmbedding")


def token_counts(tokenizer: Any, texts: Sequence[str]) -> Counter:
    """How often each token id occurs in ``texts`` (no special tokens), with a fast tokenizer."""
    fast = getattr(tokenizer, "_tokenizer", tokenizer)
    counts: Counter = Counter()
    for i in range(0, len(texts), 20_000):
        for enc in fast.encode_batch(list(texts[i:i + 20_000]), add_special_tokens=False):
            counts.update(enc.ids)
    return counts


def prune_vocabulary(tokenizer: Any, model: Any, texts: Sequence[str], min_count: int = 1) -> tuple[Any, Any, int]:
    """Keep the tokens ``texts`` use (>= ``min_count`` times) plus the special tokens: returns the pruned
    transformers tokenizer, a copy of ``model`` with its embedding rows remapped to it, and the kept size.

    On a Unigram tokenizer (XLM-R) a kept text tokenizes exactly as before (its best segmentation only
    uses kept pieces); unseen words fall back to smaller kept pieces or ``<unk>``."""
    from skeletoken import TokenizerModel
    from skeletoken.external.transformers import reshape_embeddings

    counts = token_counts(tokenizer, texts)
    keep = {i for i, c in counts.items() if c >= min_count} | set(tokenizer.all_special_ids)
    remove = [tok for tok, i in tokenizer.get_vocab().items() if i not in keep]
    tm = TokenizerModel.from_transformers_tokenizer(tokenizer).remove_tokens_from_vocabulary(remove)
    return tm.to_transformers(), reshape_embeddings(model, tm), len(keep)


def distill_static(model: str, out: str | Path, pca_dims: int | None = 256,
                  sif_coefficient: float | None = 1e-4, vocabulary_texts: list[str] | None = None,
                  min_count: int = 1) -> Path:
    """Distil ``model`` into static token embeddings (Model2Vec) saved as a sentence-transformers dir.

    With ``vocabulary_texts`` the tokenizer is first pruned to the tokens those texts use
    (:func:`prune_vocabulary`), so only those are distilled. ``mimo export --format static``
    (:func:`mimo.export.export_static`) and :func:`static_init` both write their dirs with it."""
    try:
        from model2vec.distill import distill_from_model
    except ImportError as e:
        raise MimoError(f"static export needs model2vec's distill extra ({e}); "
                        "`pip install model2vec skeletoken`") from None
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    st = load_model(model)
    tr = first_transformer(st)
    dim = embedding_dim(st)
    if pca_dims is not None and dim:
        pca_dims = min(pca_dims, dim)
    t0 = time.perf_counter()
    auto, tokenizer, kept = tr.auto_model, tr.tokenizer, None
    if vocabulary_texts is not None:
        tokenizer, auto, kept = prune_vocabulary(tokenizer, auto, vocabulary_texts, min_count)
    static = distill_from_model(model=auto, tokenizer=tokenizer, pca_dims=pca_dims,
                                sif_coefficient=sif_coefficient)
    weights = StaticEmbedding._fold_model2vec_weights(
        static.embedding, getattr(static, "token_mapping", None), getattr(static, "weights", None))
    emb = StaticEmbedding(static.tokenizer, embedding_weights=weights.float(), base_model=str(model))
    out_st = SentenceTransformer(modules=[emb, Normalize()], prompts=dict(st.prompts or {}), device="cpu")
    with atomic_dir(out) as tmp:
        out_st.save(str(tmp))
        tmp.chmod(0o755)
        atomic_write_json(tmp / EXPORT_FILE, {
            "format": "static", "source": str(model), "prompts": dict(st.prompts or {}),
            "dim": int(weights.shape[1]), "vocab": int(weights.shape[0]), "pca_dims": pca_dims,
            "sif_coefficient": sif_coefficient, "pruned_to_texts": kept,
            "seconds": round(time.perf_counter() - t0, 2),
        })
    return Path(out)


def _vocab_key(texts: Sequence[str] | None, min_count: int) -> str:
    if texts is None:
        return "full"
    h = hashlib.sha256(f"{min_count}\n".encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def static_init(init: str, texts: Sequence[str] | None = None, pca_dims: int | None = 256,
                min_count: int = 1) -> Path:
    """The static model dir to start from: ``init`` itself if it is one, else its (cached) distillation."""
    if is_static_dir(init):
        return Path(init)
    slug = str(init).strip("/").replace("/", "__")
    out = home() / "static-init" / f"{slug}-pca{pca_dims}-{_vocab_key(texts, min_count)}"
    if not (out / "modules.json").is_file():
        distill_static(init, out, pca_dims=pca_dims, vocabulary_texts=texts, min_count=min_count)
    return out


def load_static_student(name: str, texts: Sequence[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """``static:<init>`` -> (a trainable ``SentenceTransformer`` [StaticEmbedding, Normalize], info)."""
    from sentence_transformers import SentenceTransformer

    init = name[len(PREFIX):] if is_static(name) else name
    if not init:
        raise InputError(f"student {name!r}: give an init after 'static:', e.g. static:intfloat/multilingual-e5-small")
    path = static_init(init, texts)
    st = SentenceTransformer(str(path), device="cpu")
    emb = st[0]
    return st, {"static_init": str(path), "vocab": int(emb.num_embeddings), "dim": int(emb.embedding_dim)}


def student_texts(par: Any, ret: Any) -> list[str]:
    """Every distinct text a run trains on (parallel both sides, retrieval-train queries and passages)."""
    texts: list[str] = []
    if par is not None:
        texts += par.english + par.translation
    if ret is not None:
        texts += [t for v in ret.pairs.values() for q_p in v.values() for t in q_p]
    return list(dict.fromkeys(texts))
