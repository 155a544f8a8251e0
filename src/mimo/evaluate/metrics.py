"""Retrieval metrics via pytrec_eval (trec_eval semantics), plus TREC run-file I/O.

Conventions (stated once, tested in tests/test_evaluate.py):

* Ties in a run are broken as trec_eval does: score descending, then document id descending.
* ``MRR@10`` is trec_eval's ``recip_rank`` on the run cut to its top 10 (trec_eval has no cutoff for
  it), using the same tie-breaking, so it equals the reciprocal rank of the first relevant document if
  that is within the top 10, else 0.
* A document counts as relevant when its qrels score is > 0 (trec_eval's default).
* Queries with **no relevant document** in the qrels are excluded from every average (they carry no
  information; pytrec_eval would score them 0). Their count is reported as ``n_no_rel``. Queries with
  relevant documents but absent from the run score 0 on every metric (trec_eval ``-c``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pytrec_eval

from mimo.paths import atomic_write_text

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

#: our name -> (pytrec_eval measure, key in its output, run cutoff applied before evaluation or None)
METRICS: dict[str, tuple[str, str, int | None]] = {
    "nDCG@10": ("ndcg_cut.10", "ndcg_cut_10", None),
    "nDCG@20": ("ndcg_cut.20", "ndcg_cut_20", None),
    "Recall@100": ("recall.100", "recall_100", None),
    "MRR@10": ("recip_rank", "recip_rank", 10),
    "MAP@100": ("map_cut.100", "map_cut_100", None),
}
DEFAULT_METRICS: tuple[str, ...] = tuple(METRICS)


def trec_order(docs: Mapping[str, float]) -> list[tuple[str, float]]:
    """A ranking in trec_eval's order: score descending, ties by document id descending."""
    return sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)


def cut_run(run: Run, k: int) -> dict[str, dict[str, float]]:
    return {q: dict(trec_order(docs)[:k]) for q, docs in run.items()}


def per_query(qrels: Qrels, run: Run, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """Metric values for every query that has at least one relevant document.

    Returns ``{query id: {metric name: value}}``; queries missing from the run get 0.
    """
    metrics = list(metrics)
    judged = {q: {d: int(s) for d, s in docs.items()} for q, docs in qrels.items() if any(s > 0 for s in docs.values())}
    out: dict[str, dict[str, float]] = {q: dict.fromkeys(metrics, 0.0) for q in judged}
    by_cut: dict[int | None, list[str]] = {}
    for m in metrics:
        by_cut.setdefault(METRICS[m][2], []).append(m)
    for cut, names in by_cut.items():
        r = {q: {d: float(s) for d, s in run[q].items()} for q in judged if q in run and run[q]}
        if cut is not None:
            r = cut_run(r, cut)
        if not r:
            continue
        ev = pytrec_eval.RelevanceEvaluator(judged, {METRICS[m][0] for m in names})
        for q, vals in ev.evaluate(r).items():
            for m in names:
                out[q][m] = float(vals[METRICS[m][1]])
    return out


def mean_of(
    pq: Mapping[str, Mapping[str, float]],
    qids: Iterable[str] | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Average per-query values over ``qids`` (default: all); adds ``n`` (queries averaged)."""
    ids = [q for q in (pq if qids is None else qids) if q in pq]
    res = {m: float(np.mean([pq[q][m] for q in ids])) if ids else float("nan") for m in metrics}
    res["n"] = len(ids)
    return res


def evaluate_run(qrels: Qrels, run: Run, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Averages over queries with >= 1 relevant document; adds ``n`` and ``n_no_rel``."""
    metrics = list(metrics)
    pq = per_query(qrels, run, metrics)
    res = mean_of(pq, metrics=metrics)
    res["n_no_rel"] = sum(1 for q in qrels if q not in pq)
    return res


def format_trec_run(run: Run, tag: str) -> str:
    """TREC run format: ``qid Q0 docid rank score tag``, ranks in trec_eval order from 1."""
    lines = []
    for q in run:
        for rank, (d, s) in enumerate(trec_order(run[q]), 1):
            lines.append(f"{q} Q0 {d} {rank} {s:.6f} {tag}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_trec_run(path: str | Path, run: Run, tag: str) -> None:
    atomic_write_text(path, format_trec_run(run, tag.replace(" ", "_")))


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            q, _, d, _, s, *_ = line.split()
            run.setdefault(q, {})[d] = float(s)
    return run
