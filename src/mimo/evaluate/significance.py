"""Paired significance of a difference between two systems on the same queries.

In an MLIR benchmark the language versions of one query form a group: they share the information
need and the relevant documents, so their scores are correlated. Both procedures here therefore
resample or flip whole groups, not single queries (a query-level test would overstate confidence):

- a two-sided paired randomization (sign-flip) test of the mean per-query difference, exact when the
  number of groups is small (Fisher; Smucker et al. 2007 recommend it for IR);
- a group (cluster) bootstrap percentile interval of the mean difference.

Both treat the two systems as fixed. Trained models are not: the training seed alone moves a recipe by
points. :func:`seed_aware_test` compares two *recipes*, several trained seeds each, with a hierarchical
bootstrap that resamples seeds (per recipe) and query groups together, and reports the seed-level spread.
"""

from __future__ import annotations

import itertools
import math
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
    for q in sorted(a):  # a fixed group order: the bootstrap's draws must not depend on dict order
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


def _seed_group_sums(per_seed: Sequence[Mapping[str, float]], groups: Mapping[str, str] | None, keys: list[str]) -> np.ndarray:
    """(seeds, groups) sums of each seed's per-query scores over the queries of each group."""
    col = {g: j for j, g in enumerate(dict.fromkeys(groups.get(q, q) if groups is not None else q for q in keys))}
    out = np.zeros((len(per_seed), len(col)))
    for i, s in enumerate(per_seed):
        for q in keys:
            out[i, col[groups.get(q, q) if groups is not None else q]] += float(s[q])
    return out


def _spread(means: np.ndarray) -> dict[str, Any]:
    return {
        "means": [float(x) for x in means],
        "sd": float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
        "range": float(np.ptp(means)),
    }


def seed_aware_test(
    a_seeds: Sequence[Mapping[str, float]],
    b_seeds: Sequence[Mapping[str, float]],
    groups: Mapping[str, str] | None = None,
    *,
    seeds_a: Sequence[int | str] | None = None,
    seeds_b: Sequence[int | str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two recipes, each trained with several seeds: ``a_seeds[i]`` is seed i's per-query scores.

    The difference is ``mean over A's seeds of the per-query mean - the same for B``. Its interval is a
    hierarchical (two-stage) bootstrap: every resample draws, with replacement, A's seeds, B's seeds and
    the query groups (shared by both recipes, so queries stay paired); the statistic is recomputed on that
    draw, so seed-to-seed variance and query sampling variance both widen it. With one seed per recipe it
    is :func:`paired_test`'s group bootstrap. ``p_value`` inverts that interval (two-sided bootstrap p:
    twice the smaller tail share at 0, floor 1 / resamples). ``p_seed_perm`` is an exact permutation test
    over the recipe labels of the seed models (queries held fixed); its floor ``p_seed_perm_min`` is
    2 / C(n_a + n_b, n_a), so 3 + 3 seeds can never go below 0.1: say so rather than claim more.

    Beside the difference: each recipe's per-seed means, their sd and range, ``per_seed_diff`` (seed i of
    A minus seed i of B, when both list the same seeds) and ``query_only`` (:func:`paired_test` on the
    seed-averaged scores, the test that ignores seeds) for contrast. A bootstrap over 2-3 seeds
    understates the seed variance (by (n-1)/n); read the interval with the spread beside it.
    """
    if not a_seeds or not b_seeds:
        raise InputError("seed-aware test: each recipe needs at least one seed result")
    keys = sorted(a_seeds[0])  # a fixed query (and so group) order: draws must not depend on dict order
    for name, rs in (("A", a_seeds), ("B", b_seeds)):
        for i, r in enumerate(rs):
            if set(r) != set(keys):
                raise InputError(f"seed-aware test: recipe {name} seed result {i} was scored on other queries than A's seed 0")
    if not keys:
        raise InputError("no queries to compare")
    seeds_a = list(seeds_a) if seeds_a is not None else list(range(len(a_seeds)))
    seeds_b = list(seeds_b) if seeds_b is not None else list(range(len(b_seeds)))
    if len(seeds_a) != len(a_seeds) or len(seeds_b) != len(b_seeds):
        raise InputError("seed-aware test: one seed label per seed result")
    sa, sb = _seed_group_sums(a_seeds, groups, keys), _seed_group_sums(b_seeds, groups, keys)
    counts = _seed_group_sums([dict.fromkeys(keys, 1.0)], groups, keys)[0]
    n, g, na, nb = counts.sum(), len(counts), len(a_seeds), len(b_seeds)
    ma, mb = sa.sum(1) / n, sb.sum(1) / n
    observed = float(ma.mean() - mb.mean())

    rng = np.random.default_rng(seed)
    step = max(1, _CHUNK_CELLS // (g * max(na, nb)))
    boot = []
    for c in [min(step, n_resamples - i) for i in range(0, n_resamples, step)]:
        idx = rng.integers(0, g, size=(c, g))
        ia, ib = rng.integers(0, na, size=(c, na)), rng.integers(0, nb, size=(c, nb))
        tot_n = counts[idx].sum(1)
        ta = sa[:, idx].sum(-1)  # (seeds, c): each seed's total over this resample's groups
        tb = sb[:, idx].sum(-1)
        cols = np.arange(c)[:, None]
        boot.append((ta[ia, cols].mean(1) - tb[ib, cols].mean(1)) / tot_n)
    boot = np.concatenate(boot)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    tail = min(np.mean(boot <= 0), np.mean(boot >= 0))
    p_boot = min(1.0, max(2 * tail, 1 / len(boot)))

    # exact permutation of recipe labels over the seed models (queries fixed)
    pooled = np.concatenate([ma, mb])
    if math.comb(na + nb, na) <= n_resamples:
        picks = np.array(list(itertools.combinations(range(na + nb), na)))
    else:  # too many labelings to enumerate: a random sample of them
        picks = np.argsort(rng.random((n_resamples, na + nb)), axis=1)[:, :na]
    in_a = np.zeros((len(picks), na + nb), dtype=bool)
    np.put_along_axis(in_a, picks, True, axis=1)
    stats = (in_a @ pooled) / na - (~in_a @ pooled) / nb
    tol = 1e-12 * max(1.0, abs(observed))
    p_perm = float(np.mean(np.abs(stats) >= abs(observed) - tol))
    p_perm_min = float(np.mean(np.abs(stats) >= np.abs(stats).max() - tol))

    per_seed_diff = None
    if seeds_a == seeds_b:
        per_seed_diff = {str(s): float(x - y) for s, x, y in zip(seeds_a, ma, mb, strict=True)}
    query_only = paired_test(
        mean_over_seeds(list(a_seeds)), mean_over_seeds(list(b_seeds)), groups, n_resamples=n_resamples, seed=seed
    )
    return {
        "diff": observed,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "confidence": confidence,
        "p_value": float(p_boot),
        "p_seed_perm": p_perm,
        "p_seed_perm_min": p_perm_min,
        "seeds_a": [str(s) for s in seeds_a],
        "seeds_b": [str(s) for s in seeds_b],
        "seed_spread_a": _spread(ma),
        "seed_spread_b": _spread(mb),
        "per_seed_diff": per_seed_diff,
        "query_only": {k: query_only[k] for k in ("diff", "ci_low", "ci_high", "p_value")},
        "n_queries": int(n),
        "n_groups": g,
        "method": "hierarchical bootstrap over seeds and query groups",
    }


def seed_caveat(row: Mapping[str, Any]) -> str:
    """What a :func:`seed_aware_test` interval lacks when a recipe has one seed ('' when both have >= 2):
    with one seed on both sides it is :func:`paired_test`'s query-group interval, with no seed variance."""
    na, nb = len(row["seeds_a"]), len(row["seeds_b"])
    if na > 1 and nb > 1:
        return ""
    return "query groups only" if na == nb == 1 else f"1 seed for {'a' if na == 1 else 'b'}"


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def seed_aware_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A table of :func:`seed_aware_test` rows (labelled with ``a``/``b``; points = 100 x metric)."""
    lines = [
        "| a − b | seeds a/b | mean diff (points) | 95% CI (seeds + query groups) | p (bootstrap) | p (seed labels, floor) "
        "| per-seed diff | a: seed means (sd) | b: seed means (sd) | query-only 95% CI |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def means(s: Mapping[str, Any]) -> str:  # one seed has no sd: none is printed
        return ", ".join(f"{100 * m:.2f}" for m in s["means"]) + (f" ({100 * s['sd']:.2f})" if len(s["means"]) > 1 else "")

    for r in rows:
        psd = ", ".join(f"{100 * v:+.2f}" for v in r["per_seed_diff"].values()) if r.get("per_seed_diff") else "-"
        q = r["query_only"]
        lines.append(
            f"| {r['a']} − {r['b']} | {len(r['seeds_a'])}/{len(r['seeds_b'])} | {100 * r['diff']:+.2f} "
            f"| [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]{_paren(seed_caveat(r))} | {format_p(r['p_value'])} "
            f"| {r['p_seed_perm']:.3f} ({r['p_seed_perm_min']:.3f}) | {psd} | {means(r['seed_spread_a'])} "
            f"| {means(r['seed_spread_b'])} | [{100 * q['ci_low']:+.2f}, {100 * q['ci_high']:+.2f}] |"
        )
    return "\n".join(lines)


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
