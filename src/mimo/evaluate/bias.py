"""Language bias of a pooled ranking, and agreement of the rankings of a query's translations.

**Language bias** (per query q in language L, top-k of the pooled ranking)::

    bias(q) = |{d in top-k(q): lang(d) = L}| / |top-k(q)|  -  |{d relevant: lang(d) = L}| / |relevant|

0 is ideal (the query's language is as common in its results as in its answers); > 0 means the model
clusters by language and favours same-language documents. Reported as the mean per query language and
over all queries, along with the heat-map ``share[a][b]`` = mean share of language-b documents in the
top-k of language-a queries.

**Rank agreement (MRC-style)** across translations: queries sharing a ``group`` are translations of one
query. Map each ranking to passage groups (language versions collapsed, first occurrence kept) and take
its first k distinct groups ``G_k(q)``. For each unordered pair (q, q') of translations::

    overlap@k(q, q') = |G_k(q) ∩ G_k(q')| / k          top1(q, q') = [G_1(q) = G_1(q')]

``mrc@k`` is the mean of overlap@k over all pairs (1 = every translation retrieves the same passages);
per language, over the pairs that involve that language. ``top1_agreement`` likewise.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from mimo.evaluate.bench import Benchmark
from mimo.evaluate.metrics import trec_order


def _distinct_groups(bench: Benchmark, ranking: Mapping[str, float], k: int) -> list[str]:
    seen: list[str] = []
    for d, _ in trec_order(ranking):
        g = bench.corpus[d]["group"]
        if g not in seen:
            seen.append(g)
            if len(seen) == k:
                break
    return seen


def language_bias(bench: Benchmark, run: Mapping[str, Mapping[str, float]], k: int = 10) -> dict[str, Any]:
    """Bias per query language and overall, plus the top-k language-share heat-map."""
    langs = bench.langs
    per_q: dict[str, float] = {}
    share: dict[str, dict[str, list[float]]] = {a: {b: [] for b in langs} for a in langs}
    for q, rels in bench.qrels.items():
        relevant = [d for d, s in rels.items() if s > 0]
        top = [d for d, _ in trec_order(run.get(q, {}))[:k]]
        if not relevant or not top:
            continue
        L = bench.queries[q]["lang"]
        own_top = sum(bench.corpus[d]["lang"] == L for d in top) / len(top)
        own_rel = sum(bench.corpus[d]["lang"] == L for d in relevant) / len(relevant)
        per_q[q] = own_top - own_rel
        for b in langs:
            share[L][b].append(sum(bench.corpus[d]["lang"] == b for d in top) / len(top))
    by_lang = {}
    for a in langs:
        vals = [v for q, v in per_q.items() if bench.queries[q]["lang"] == a]
        if vals:
            by_lang[a] = float(np.mean(vals))
    heat = {a: {b: float(np.mean(v)) for b, v in row.items() if v} for a, row in share.items() if any(row.values())}
    return {
        "k": k,
        "overall": float(np.mean(list(per_q.values()))) if per_q else float("nan"),
        "per_lang": by_lang,
        "share": heat,
        "n": len(per_q),
    }


def rank_agreement(bench: Benchmark, run: Mapping[str, Mapping[str, float]], k: int = 10) -> dict[str, Any]:
    """MRC-style overlap@k and top-1 agreement across translations of the same query."""
    groups: dict[str, list[str]] = {}
    for q, r in bench.queries.items():
        if q in run:
            groups.setdefault(r["group"], []).append(q)
    tops = {q: _distinct_groups(bench, run[q], k) for qs in groups.values() if len(qs) > 1 for q in qs}
    overl: list[float] = []
    top1: list[float] = []
    per_lang: dict[str, list[tuple[float, float]]] = {}
    for qs in groups.values():
        for a, b in combinations(qs, 2):
            ga, gb = tops[a], tops[b]
            denom = min(k, len(ga), len(gb)) or 1
            o = len(set(ga) & set(gb)) / denom
            t = float(bool(ga and gb and ga[0] == gb[0]))
            overl.append(o)
            top1.append(t)
            for q in {a, b}:
                per_lang.setdefault(bench.queries[q]["lang"], []).append((o, t))
    return {
        "k": k,
        f"mrc@{k}": float(np.mean(overl)) if overl else float("nan"),
        "top1_agreement": float(np.mean(top1)) if top1 else float("nan"),
        "n_pairs": len(overl),
        "per_lang": {
            lang: {
                f"mrc@{k}": float(np.mean([o for o, _ in v])),
                "top1_agreement": float(np.mean([t for _, t in v])),
            }
            for lang, v in sorted(per_lang.items())
        },
    }
