"""Exact inner-product search, batched, producing every view's ranking from one pass.

For each query batch the full score block (batch x docs) is computed once with numpy (BLAS); from it
we take the top-k over: all documents (pooled), documents in another language than the query's
(cross-lingual), and each document language alone (the (query lang, doc lang) pairs, whose diagonal
is the multi-monolingual view).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k (indices, scores) in descending order; ``-inf`` entries are dropped later."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), int), np.zeros((scores.shape[0], 0), scores.dtype)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_s = np.take_along_axis(scores, part, 1)
    order = np.argsort(-part_s, axis=1, kind="stable")
    return np.take_along_axis(part, order, 1), np.take_along_axis(part_s, order, 1)


@dataclass
class Rankings:
    """Top-k rankings per view: ``{view: {query id: {doc id: score}}}``; ``by_doc_lang[lang]`` too."""

    pooled: dict[str, dict[str, float]] = field(default_factory=dict)
    cross_lingual: dict[str, dict[str, float]] = field(default_factory=dict)
    by_doc_lang: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def search_all(
    qvecs: np.ndarray,
    qids: Sequence[str],
    qlangs: Sequence[str],
    dvecs: np.ndarray,
    dids: Sequence[str],
    dlangs: Sequence[str],
    k: int = 100,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> Rankings:
    """Exact search of all queries against the corpus, returning pooled, cross-lingual and per-doc-language
    top-k rankings (scores are inner products; cosine for normalised vectors)."""
    dl = np.asarray(dlangs)
    langs = sorted(set(dlangs))
    lang_cols = {lang: np.flatnonzero(dl == lang) for lang in langs}
    dids_arr = np.asarray(dids, dtype=object)
    out = Rankings(by_doc_lang={lang: {} for lang in langs})
    dT = np.ascontiguousarray(dvecs.T)

    def emit(target: dict, ids: Sequence[str], idx: np.ndarray, sc: np.ndarray, cols: np.ndarray | None):
        for r, q in enumerate(ids):
            keep = np.isfinite(sc[r])
            docs = dids_arr[idx[r][keep]] if cols is None else dids_arr[cols[idx[r][keep]]]
            target[q] = dict(zip(docs.tolist(), sc[r][keep].astype(float).tolist(), strict=True))

    for s in range(0, len(qids), batch_size):
        ids = list(qids[s : s + batch_size])
        block = qvecs[s : s + batch_size] @ dT
        emit(out.pooled, ids, *topk(block, k), None)
        same = dl[None, :] == np.asarray(qlangs[s : s + batch_size])[:, None]
        emit(out.cross_lingual, ids, *topk(np.where(same, -np.inf, block), k), None)
        for lang, cols in lang_cols.items():
            emit(out.by_doc_lang[lang], ids, *topk(block[:, cols], k), cols)
        if progress:
            progress(len(ids))
    return out
