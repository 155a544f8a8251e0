"""Paired significance of a difference between two systems on the same queries.

In an MLIR benchmark the language versions of one query form a group: they share the information
need and the relevant documents, so their scores are correlated. Both procedures here therefore
resample or flip whole groups, not single queries (a query-level test would overstate confidence):

- a two-sided paired randomization (sign-flip) test of the mean per-query difference, exact when the
  number of groups is small (Fisher; Smucker et al. 2007 recommend it for IR);
- a group (cluster) bootstrap percentile interval of the mean difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mimo.errors import InputError

_CHUNK_CELLS = 2_000_000


def _grouped(a: Mapping[str, float], b: Mapping[str, float], groups: Mapping[str, str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums of (a - b) and per-group query counts, over the queries both systems scored."""
    missing = sorted(set(a) ^ set(b))
    if missing:
        raise InputError(
            f"the two systems were scored on different queries ({len(missing)} differ, e.g. {missing[0]!r}); "
            "compare results on the same benchmark"
        )
    if not a:
        raise InputError("no queries to compare")
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for q in a:
        g = groups.get(q, q) if groups is not None else q
        sums[g] = sums.get(g, 0.0) + float(a[q]) - float(b[q])
        counts[g] = counts.get(g, 0) + 1
    keys = list(sums)
    return np.array([sums[k] for k in keys]), np.array([counts[k] for k in keys], dtype=float)


def paired_test(
    a: Mapping[str, float],
    b: Mapping[str, float],
    groups: Mapping[str, str] | None = None,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare per-query scores ``a`` and ``b`` (query id -> metric value) of two systems.

    ``groups`` maps a query id to its group (queries without an entry are their own group).
    Returns ``diff`` (mean over queries of a - b), ``ci_low``/``ci_high`` (group bootstrap),
    ``p_value`` (two-sided sign-flip test over groups), ``exact`` (True when all 2^groups flips
    were enumerated) and the numbers of queries and groups.
    """
    sums, counts = _grouped(a, b, groups)
    n = counts.sum()
    observed = sums.sum() / n
    rng = np.random.default_rng(seed)
    g = len(sums)
    exact = 2**g <= n_resamples
    # resamples are drawn in chunks of ~2M cells so memory stays bounded for large benchmarks
    # (the random stream, and thus every figure, is the same as drawing them in one go)
    step = max(1, _CHUNK_CELLS // g)
    chunks = [min(step, n_resamples - i) for i in range(0, n_resamples, step)]
    if exact:
        null = np.array(list(itertools.product((1.0, -1.0), repeat=g))) @ sums / n
    else:
        null = np.concatenate([rng.choice((1.0, -1.0), size=(c, g)) @ sums / n for c in chunks])
    tol = 1e-12 * max(1.0, abs(observed))
    extreme = int(np.sum(np.abs(null) >= abs(observed) - tol))
    p = extreme / len(null) if exact else (extreme + 1) / (len(null) + 1)
    boot = np.concatenate(
        [sums[idx].sum(axis=1) / counts[idx].sum(axis=1) for idx in (rng.integers(0, g, size=(c, g)) for c in chunks)]
    )
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return {
        "diff": float(observed),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "confidence": confidence,
        "p_value": float(p),
        "exact": exact,
        "n_queries": int(n),
        "n_groups": g,
    }


def mean_over_seeds(per_seed: list[Mapping[str, float]]) -> dict[str, float]:
    """Average per-query scores over several trained seeds of one system (same queries in each)."""
    if not per_seed:
        raise InputError("no per-query results to average")
    keys = set(per_seed[0])
    for i, s in enumerate(per_seed[1:], 1):
        if set(s) != keys:
            raise InputError(f"seed result {i} was scored on other queries than seed result 0")
    return {q: float(np.mean([s[q] for s in per_seed])) for q in per_seed[0]}


def per_query_metric(result: Mapping[str, Any], metric: str = "nDCG@10", view: str = "pooled") -> dict[str, float]:
    """Query id -> ``metric`` in ``view`` of one :func:`mimo.evaluate.evaluate` result."""
    try:
        pq = result["views"][view]["per_query"]
    except KeyError:
        raise InputError(f"{result.get('model', 'result')}: no per-query {view} results to compare") from None
    return {q: v[metric] for q, v in pq.items()}


def paired_vs_reference(
    results: Sequence[Mapping[str, Any]],
    groups: Mapping[str, str],
    reference: int | str = 0,
    *,
    metric: str = "nDCG@10",
    view: str = "pooled",
    n_resamples: int = 10_000,
) -> list[dict[str, Any]]:
    """:func:`paired_test` of one evaluated model (index or label in ``results``) against each other,
    on the per-query ``metric`` of ``view`` that :func:`mimo.evaluate.evaluate` returns."""
    labels = [r["model"] for r in results]
    if isinstance(reference, str):
        if reference not in labels:
            raise InputError(f"paired reference {reference!r} is not among the evaluated models ({', '.join(labels)})")
        reference = labels.index(reference)
    if not 0 <= reference < len(results):
        raise InputError(f"paired reference index {reference} out of range for {len(results)} models")

    ref = per_query_metric(results[reference], metric, view)
    out = []
    for i, r in enumerate(results):
        if i != reference:
            t = paired_test(ref, per_query_metric(r, metric, view), groups, n_resamples=n_resamples)
            out.append({"a": labels[reference], "b": r["model"], "metric": metric, "view": view, **t})
    return out


def paired_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A table of :func:`paired_vs_reference` rows (differences in points = 100 x metric)."""
    lines = [
        "| a − b | mean diff (points) | 95% CI (group bootstrap) | p (sign flip, two-sided) | queries | groups |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['a']} − {r['b']} | {100 * r['diff']:+.2f} | [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}] "
            f"| {format_p(r['p_value'])} | {r['n_queries']} | {r['n_groups']} |"
        )
    return "\n".join(lines)


def format_p(p: float) -> str:
    """``0.0421`` / ``< 0.001`` (a sampled test cannot show a smaller p than 1 / resamples)."""
    return "< 0.001" if p < 0.001 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"
