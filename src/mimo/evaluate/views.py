"""Score the three views of one search, overall, per query language and per (query lang, doc lang).

* ``pooled`` — every language version in one corpus, every version of a gold passage relevant (the
  paper's MMLIR protocol).
* ``cross-lingual`` — documents in the query's own language are removed from the pool for that query
  and from its relevant set; only other-language documents count.
* ``multi-monolingual`` — each language searched alone (queries in L against the L documents, relevant
  = the L versions), then the macro-average over languages (what MIRACL/MTEB report).
* ``pairs`` — queries in language a against the documents in language b only: ``pairs[a][b]``; the
  diagonal is the multi-monolingual per-language figure.

Each view also has ``per_kind`` when the queries carry a ``kind`` (question, task, heading, index
term): the mean over that kind's queries (multi-monolingual: the macro-average over languages, as its
overall figure). Queries left with no relevant document in a view are excluded from its averages
(see ``metrics``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mimo.evaluate.bench import Benchmark
from mimo.evaluate.metrics import DEFAULT_METRICS, mean_of, per_query
from mimo.evaluate.search import Rankings

VIEWS: tuple[str, ...] = ("pooled", "cross-lingual", "multi-monolingual")


def _filter_qrels(bench: Benchmark, keep) -> dict[str, dict[str, int]]:
    out = {}
    for q, docs in bench.qrels.items():
        kept = {d: s for d, s in docs.items() if keep(q, d)}
        if kept:
            out[q] = kept
    return out


def _by_lang(bench: Benchmark, pq: dict, metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    res = {}
    for lang in bench.langs:
        ids = [q for q in pq if bench.queries[q]["lang"] == lang]
        if ids:
            res[lang] = mean_of(pq, ids, metrics)
    return res


def _by_kind(bench: Benchmark, pq: dict, metrics: Sequence[str], macro_lang: bool = False) -> dict[str, dict[str, float]]:
    res = {}
    for kind in bench.kinds:
        ids = [q for q in pq if bench.queries[q].get("kind") == kind]
        if not ids:
            continue
        if not macro_lang:
            res[kind] = mean_of(pq, ids, metrics)
            continue
        per_lang = [mean_of(pq, [q for q in ids if bench.queries[q]["lang"] == lg], metrics) for lg in bench.langs]
        per_lang = [v for v in per_lang if v["n"]]
        res[kind] = {m: float(np.mean([v[m] for v in per_lang])) for m in metrics} | {"n": len(ids)}
    return res


def monolingual_run(bench: Benchmark, rk: Rankings) -> dict[str, dict[str, float]]:
    """Each query's ranking within its own language's documents."""
    return {q: rk.by_doc_lang.get(bench.queries[q]["lang"], {}).get(q, {}) for q in bench.queries}


def score_views(
    bench: Benchmark,
    rk: Rankings,
    views: Sequence[str] = VIEWS,
    metrics: Sequence[str] = DEFAULT_METRICS,
    pairs: bool = True,
) -> dict[str, Any]:
    """Metrics per view (``overall``, ``per_lang``, ``n_no_rel``) and, optionally, the pair matrix."""
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown view(s) {sorted(unknown)}; choose among {', '.join(VIEWS)}")
    ql = {q: r["lang"] for q, r in bench.queries.items()}
    dlang = {d: r["lang"] for d, r in bench.corpus.items()}
    out: dict[str, Any] = {"views": {}}
    pair_pq: dict[tuple[str, str], dict] = {}
    langs = bench.langs
    need_pairs = pairs or "multi-monolingual" in views
    if need_pairs:
        for b in sorted(rk.by_doc_lang):
            qr = _filter_qrels(bench, lambda q, d, b=b: dlang[d] == b)
            pq = per_query(qr, rk.by_doc_lang[b], metrics)
            for a in langs:
                pair_pq[(a, b)] = {q: v for q, v in pq.items() if ql[q] == a}
    for view in views:
        if view == "pooled":
            pq = per_query(bench.qrels, rk.pooled, metrics)
            judged = bench.qrels
        elif view == "cross-lingual":
            judged = _filter_qrels(bench, lambda q, d: dlang[d] != ql[q])
            pq = per_query(judged, rk.cross_lingual, metrics)
        else:
            pq = {}
            for a in langs:
                pq.update(pair_pq.get((a, a), {}))
            per_lang = {a: mean_of(pq, [q for q in pq if ql[q] == a], metrics) for a in langs}
            per_lang = {a: v for a, v in per_lang.items() if v["n"]}
            overall = {m: float(np.mean([v[m] for v in per_lang.values()])) if per_lang else float("nan") for m in metrics}
            overall["n"] = len(pq)
            out["views"][view] = {
                "overall": overall,
                "per_lang": per_lang,
                "per_kind": _by_kind(bench, pq, metrics, macro_lang=True),
                "n_no_rel": len(bench.queries) - len(pq),
                "per_query": pq,
            }
            continue
        overall = mean_of(pq, metrics=metrics)
        out["views"][view] = {
            "overall": overall,
            "per_lang": _by_lang(bench, pq, metrics),
            "per_kind": _by_kind(bench, pq, metrics),
            "n_no_rel": sum(1 for q in bench.queries if q not in pq),
            "per_query": pq,
        }
        del judged
    if pairs:
        out["pairs"] = {
            a: {b: mean_of(pair_pq[(a, b)], metrics=metrics) for b in sorted(rk.by_doc_lang) if pair_pq.get((a, b))}
            for a in langs
        }
    return out
