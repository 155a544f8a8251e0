"""Writing a build's outputs: ``parallel`` and ``retrieval-train`` (HF ``datasets`` dirs) and the
pooled BEIR benchmarks, each returning the counts the manifest records."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mimo.data.clean import filter_pairs
from mimo.data.config import BuildConfig, min_langs
from mimo.data.kinds import KINDS, group_kind
from mimo.data.types import AlignedUnit, Pair
from mimo.langs import ALL_LANGS


def _save(path: Path, columns: dict[str, list]) -> None:
    from datasets import Dataset
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_off = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        Dataset.from_dict(columns).save_to_disk(str(path))
    finally:
        if not was_off:
            enable_progress_bars()


def count(rows: Iterable[dict]) -> dict[str, dict[str, int]]:
    """Rows per language and source, languages in ``ALL_LANGS`` order."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        d = out[r["lang"]]
        d[r["source"]] = d.get(r["source"], 0) + 1
    return {lg: out[lg] for lg in sorted(out, key=lambda x: ALL_LANGS.index(x) if x in ALL_LANGS else 99)}


def write_parallel(path: Path, units: Sequence[AlignedUnit], cfg: BuildConfig, drops: dict) -> dict:
    """The filtered translation pairs of ``units`` plus English identity rows (capped like a language);
    the filters' drop counts go into ``drops["parallel"]``."""
    rows = ({"english": u.texts["en"], "translation": t, "lang": lg, "source": u.source,
             "unit_id": u.unit_id, "kind": u.kind}
            for u in units for lg, t in u.texts.items() if lg != "en")
    kept, dropped = filter_pairs(rows, cfg.filters, cfg.seed)
    seen: set[str] = set()
    identity = []
    for r in kept:
        if r["english"] not in seen:
            seen.add(r["english"])
            identity.append({**r, "translation": r["english"], "lang": "en"})
    if cfg.filters.cap is not None and len(identity) > cfg.filters.cap:
        idx = sorted(random.Random(f"{cfg.seed}:en").sample(range(len(identity)), cfg.filters.cap))
        identity = [identity[i] for i in idx]
    drops["parallel"] = dict(dropped)
    rows_all = identity + kept
    cols = {c: [r[c] for r in rows_all] for c in ("english", "translation", "lang", "source", "unit_id")}
    cols["split"] = ["train"] * len(rows_all)
    _save(path, cols)
    return count(rows_all)


def write_retrieval(path: Path, pairs: Sequence[Pair]) -> dict:
    """One row per (pair, language), each with the kind of its query group."""
    kinds = {p.pair_id: group_kind(p.query, p.kind) for p in pairs}
    rows = [{"pair_id": p.pair_id, "lang": lg, "query": p.query[lg], "passage": p.passage[lg],
             "source": p.source, "kind": kinds[p.pair_id]} for p in pairs for lg in p.langs()]
    _save(path, {c: [r[c] for r in rows] for c in ("pair_id", "lang", "query", "passage", "source", "kind")})
    return count(rows)


def _short(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def write_benchmark(path: Path, pairs: Sequence[Pair], cfg: BuildConfig,
                    distractors: dict[str, dict[str, str]] | None = None) -> dict:
    """A pooled BEIR benchmark: every language version of a gold passage is relevant;
    ``distractors`` (group key -> texts per language) join the corpus, relevant to no query."""
    rng = random.Random(f"{cfg.seed}:{path.name}")
    by_page: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for p in pairs:
        by_page[p.page].append(p)
    queries: list[dict] = []
    corpus_groups: dict[str, dict[str, str]] = {}
    qrels: list[tuple[str, str]] = []
    for page in sorted(by_page):
        ps = by_page[page]
        good = [p for p in ps if len(p.langs()) - 1 >= min_langs(cfg)]
        rng.shuffle(good)
        good.sort(key=lambda p: p.kind not in {"title", "keyword", "description"})  # real queries first
        chosen = good[: cfg.queries_per_page]
        groups = {p.group: p for p in chosen}
        others = sorted({p.group: p for p in ps if p.group not in groups}.items())
        rng.shuffle(others)
        for g, p in others[: max(0, cfg.passages_per_page - len(groups))]:
            groups[g] = p
        for g, p in groups.items():
            corpus_groups[_short(g)] = p.passage
        for p in chosen:
            qg = _short(p.pair_id)
            docs = [f"{_short(p.group)}-{lg}" for lg in p.passage]
            kind = group_kind(p.query, p.kind)
            for lg in p.langs():
                qid = f"{qg}-{lg}"
                queries.append({"_id": qid, "text": p.query[lg], "lang": lg, "group": qg, "kind": kind})
                qrels.extend((qid, d) for d in docs)
    for key, texts in (distractors or {}).items():
        corpus_groups.setdefault(_short(key), texts)
    corpus = [{"_id": f"{g}-{lg}", "text": t, "title": "", "lang": lg, "group": g}
              for g, texts in sorted(corpus_groups.items()) for lg, t in texts.items()]
    path.mkdir(parents=True)
    (path / "qrels").mkdir()
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        with open(path / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(path / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q}\t{d}\t1\n" for q, d in qrels)
    return {"queries": dict(Counter(q["lang"] for q in queries)),
            "corpus": dict(Counter(c["lang"] for c in corpus)),
            "query_groups": len({q["group"] for q in queries}), "corpus_groups": len(corpus_groups),
            "distractor_groups": len(distractors or {}),
            "qrels": len(qrels), "pages": len(by_page),
            "kinds": {k: n for k in KINDS if (n := len({q["group"] for q in queries if q["kind"] == k}))},
            "sources": dict(Counter(p.source for ps in by_page.values() for p in ps[:1]))}
