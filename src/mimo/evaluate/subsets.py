"""Benchmarks derived from a benchmark: a seeded sample, a language subset, held-out translation pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mimo.errors import InputError
from mimo.evaluate.bench import Benchmark, load_benchmark


def _keep(bench: Benchmark, name: str, queries: set[str], docs: set[str]) -> Benchmark:
    qrels = {q: {d: r for d, r in rel.items() if d in docs} for q, rel in bench.qrels.items() if q in queries}
    qrels = {q: rel for q, rel in qrels.items() if rel}
    if not qrels:
        raise InputError(f"{bench.name}: the subset {name!r} keeps no judged query")
    return Benchmark(
        name,
        {d: v for d, v in bench.corpus.items() if d in docs},
        {q: v for q, v in bench.queries.items() if q in qrels},
        qrels,
        source=bench.source,
        meta=bench.meta | {"derived_from": bench.name},
    )


def subsample(bench: Benchmark | str, n_groups: int, *, max_docs: int | None = None, seed: int = 0) -> Benchmark:
    """Keep ``n_groups`` seeded query groups (all their language versions) and, in the corpus, every
    relevant document plus seeded distractors up to ``max_docs`` (default: the whole corpus)."""
    b = load_benchmark(bench)
    rng = np.random.default_rng(seed)
    of = b.query_groups
    groups = sorted({g for qid, g in of.items() if qid in b.qrels})
    chosen = {groups[i] for i in rng.permutation(len(groups))[:n_groups]}
    queries = {qid for qid, g in of.items() if g in chosen}
    relevant = {d for q in queries for d in b.qrels.get(q, {})}
    docs = set(b.corpus)
    if max_docs is not None and len(docs) > max_docs:
        others = sorted(docs - relevant)
        n = max(0, max_docs - len(relevant))
        docs = relevant | {others[i] for i in rng.permutation(len(others))[:n]}
    return _keep(b, f"{b.name}-sample{n_groups}", queries, docs)


def restrict_langs(bench: Benchmark | str, langs: Sequence[str]) -> Benchmark:
    """Only queries and documents in ``langs`` (e.g. ``["en"]``: the English anchor's ceiling)."""
    b = load_benchmark(bench)
    keep = set(langs)
    queries = {q for q, v in b.queries.items() if v["lang"] in keep}
    docs = {d for d, v in b.corpus.items() if v["lang"] in keep}
    return _keep(b, f"{b.name}-{'+'.join(sorted(keep))}", queries, docs)


def translation_pairs(bench: Benchmark | str, per_lang: int = 100, seed: int = 0) -> list[dict[str, str]]:
    """Held-out translation pairs ``{english, translation, lang}``: the English and the other-language
    versions of each corpus ``group`` (benchmarks come from pages never used in training)."""
    b = load_benchmark(bench)
    by_group: dict[str, dict[str, str]] = {}
    for did, d in b.corpus.items():
        by_group.setdefault(d.get("group", did), {})[d["lang"]] = b.doc_text(did)
    by_lang: dict[str, list[dict[str, str]]] = {}
    for versions in by_group.values():
        if "en" not in versions:
            continue
        for lang, text in versions.items():
            if lang != "en":
                by_lang.setdefault(lang, []).append({"english": versions["en"], "translation": text, "lang": lang})
    if not by_lang:
        raise InputError(f"{b.name}: no corpus group has both an English and another-language version")
    rng = np.random.default_rng(seed)
    out = []
    for lang in sorted(by_lang):
        rows = by_lang[lang]
        out += [rows[i] for i in sorted(rng.permutation(len(rows))[:per_lang])]
    return out
