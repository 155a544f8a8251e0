"""Assemble the datasets (parallel, retrieval-train, mlir-dev, mlir-test, mlir-qa-dev, mlir-qa-test)
and their manifest.

All sources yield :class:`~mimo.data.types.AlignedUnit` records in document order. Pages (keyed
by source + page id) are split once with a fixed seed: benchmark pages feed ``mlir-dev`` /
``mlir-test`` only, question/task pages (``mimo.data.qa``) drawn from the rest feed ``mlir-qa-dev`` /
``mlir-qa-test`` only, every other page feeds training; training units whose English text also
occurs on a benchmark page are dropped too, so no benchmark text leaks into any training output.

A retrieval pair is a query-like unit (title, keyword, description, heading) and the passage that
follows it on its page: the next run of paragraph units (up to ``passage_units`` of them, stopping
at the next query-like unit or once ``passage_chars`` English characters are reached). A language
version exists when the query and every paragraph of the passage exist in that language. Every
query (benchmark and training) carries its kind (``mimo.data.kinds``: question, task, heading, index term).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import pickle
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mimo.data.clean import FilterConfig, filter_pairs, is_untranslated
from mimo.data.kinds import KINDS, group_kind
from mimo.data.qa import distractor, qa_pair, split_qa
from mimo.data.types import PASSAGE_KINDS, QUERY_KINDS, AlignedUnit
from mimo.errors import MimoError
from mimo.langs import ALL_LANGS, TARGET_LANGS, check_lang
from mimo.paths import atomic_write_bytes, atomic_write_json, data_dir, home

DATASET_VERSION = "1.1"  # 1.1: mlir-qa-* benchmarks, query kinds, paragraph-level leak check (training rows shrank)
BENCHMARKS = ("mlir-dev", "mlir-test", "mlir-qa-dev", "mlir-qa-test")
OUTPUTS = ("parallel", "retrieval-train", *BENCHMARKS)
MANIFEST = "manifest.json"

#: name -> (module, iterator function, SOURCE_INFO attribute); order = dedup priority.
SOURCES: dict[str, tuple[str, str, str]] = {
    "libreoffice-help": ("mimo.data.libreoffice", "iter_help_units", "HELP_INFO"),
    "gnome-user-docs": ("mimo.data.gnome", "iter_units", "SOURCE_INFO"),
    "installation-guide": ("mimo.data.installguide", "iter_units", "SOURCE_INFO"),
    "libreoffice-l10n": ("mimo.data.libreoffice", "iter_l10n_units", "L10N_INFO"),
    "gettext": ("mimo.data.gettext", "iter_units", "SOURCE_INFO"),
}

Progress = Callable[[str], None]


@dataclass
class BuildConfig:
    """Everything that determines a build; saved in the manifest."""

    langs: tuple[str, ...] = TARGET_LANGS
    sources: tuple[str, ...] = tuple(SOURCES)
    seed: int = 13
    filters: FilterConfig = field(default_factory=FilterConfig)
    dev_queries: int = 200  # query groups (each asked in every available language)
    test_queries: int = 800
    bench_min_langs: int = 8  # non-English languages a benchmark query group must have
    queries_per_page: int = 2
    passages_per_page: int = 4  # corpus groups per benchmark page (gold ones always included)
    passage_units: int = 3
    passage_chars: int = 300
    query_chars: tuple[int, int] = (3, 200)
    qa_dev_queries: int = 100  # question/task pages held out for mlir-qa-dev (one query group each)
    qa_test_queries: int = 300
    qa_passage_chars: int = 600  # the answer: the page body up to this many English characters
    qa_passage_units: int = 8
    qa_min_passage_chars: int = 100

    def __post_init__(self) -> None:
        self.langs = tuple(check_lang(x, "--langs") for x in self.langs if x != "en")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise MimoError(f"unknown data source(s) {unknown}; known: {', '.join(SOURCES)}")


@dataclass
class Manifest:
    """What a build produced; ``manifest.json`` in the data dir."""

    dataset_version: str
    created: str
    seed: int
    langs: list[str]
    config: dict
    sources: list[dict]
    counts: dict
    drops: dict
    build_seconds: float
    #: held-out page ids per benchmark ("<source>|<page_id>"); every other page is training data
    splits: dict = field(default_factory=dict)
    path: str = ""

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "path"}

    def thin_langs(self, min_pairs: int = 2_000) -> dict[str, int]:
        """Built languages with fewer than ``min_pairs`` parallel pairs (flagged, never hidden)."""
        par = self.counts.get("parallel", {})
        return {lg: n for lg in self.langs if (n := sum(par.get(lg, {}).values())) < min_pairs}

    def lang_table(self) -> list[dict[str, Any]]:
        """One row per language: parallel pairs per source, retrieval pairs, benchmark sizes."""
        par, ret = self.counts.get("parallel", {}), self.counts.get("retrieval-train", {})
        rows = []
        for lang in ["en", *self.langs]:
            row: dict[str, Any] = {"lang": lang}
            for src in self.config.get("sources", SOURCES):
                row[src] = sum(n for s, n in par.get(lang, {}).items() if source_of(s) == src)
            row["parallel"] = sum(par.get(lang, {}).values())
            row["retrieval"] = sum(ret.get(lang, {}).values())
            for b in BENCHMARKS:
                bc = self.counts.get(b, {})
                row[f"{b} q"] = bc.get("queries", {}).get(lang, 0)
                row[f"{b} docs"] = bc.get("corpus", {}).get(lang, 0)
            rows.append(row)
        return rows


# ----------------------------------------------------------------------------- sources


def source_of(unit_source: str) -> str:
    """The builder source a unit's ``source`` belongs to (``gettext-django`` → ``gettext``)."""
    for name in SOURCES:
        if unit_source == name or unit_source.startswith(name + "-"):
            return name
    return unit_source


def _source_module(name: str) -> tuple[Callable[..., Iterable[AlignedUnit]], dict]:
    mod_name, fn_name, info_name = SOURCES[name]
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise MimoError(f"data source {name!r} is not available ({mod_name}: {e})") from None
    fn, info = getattr(mod, fn_name, None), getattr(mod, info_name, None)
    if fn is None or info is None:
        raise MimoError(f"data source {name!r}: {mod_name} lacks {fn_name}() or {info_name}")
    return fn, info


def iter_source(name: str, langs: Sequence[str]) -> Iterator[AlignedUnit]:
    """Units of one source, restricted to ``langs`` (+ English)."""
    fn, _ = _source_module(name)
    params = inspect.signature(fn).parameters
    units = fn(langs=tuple(langs)) if "langs" in params else fn()
    keep = {"en", *langs}
    for u in units:
        texts = {lg: t for lg, t in u.texts.items() if lg in keep}
        if "en" in texts and len(texts) > 1:
            yield u if len(texts) == len(u.texts) else AlignedUnit(
                u.source, u.page_id, u.unit_id, u.kind, texts, u.package_versions)


def cached_units(name: str, langs: Sequence[str], record: dict) -> list[AlignedUnit]:
    """All units of a source, cached under ``$MIMO_HOME/data-cache`` keyed by the packages'
    sha256, the languages and the parser code, so a warm rebuild skips the parsing."""
    mod = importlib.import_module(SOURCES[name][0])
    code = b"".join(Path(m.__file__).read_bytes() for m in (mod, importlib.import_module("mimo.data.clean"))
                    if m.__file__)
    key = hashlib.sha256(json.dumps(
        [DATASET_VERSION, sorted(langs), [p.get("sha256", "") for p in record["packages"]],
         hashlib.sha256(code).hexdigest()]).encode()).hexdigest()[:16]
    cache = home() / "data-cache" / f"{name}-{key}.pkl"
    if any("error" in p for p in record["packages"]):
        return list(iter_source(name, langs))  # let the source raise its own clear error
    if cache.exists():
        try:
            with open(cache, "rb") as f:
                return pickle.load(f)
        except Exception:  # noqa: BLE001 - a corrupt cache entry is rebuilt
            cache.unlink(missing_ok=True)
    units = list(iter_source(name, langs))
    for old in cache.parent.glob(f"{name}-*.pkl"):
        old.unlink(missing_ok=True)
    atomic_write_bytes(cache, pickle.dumps(units, protocol=pickle.HIGHEST_PROTOCOL))
    return units


def source_records(name: str, langs: Sequence[str]) -> dict:
    """Manifest entry of a source: licence, url and each package's version, sha256 and size."""
    from mimo.fetch import fetch_deb, fetch_wheel

    _, info = _source_module(name)
    pkgs = []
    for spec in info.get("packages", []):
        try:
            if info.get("kind") == "pypi":
                pname, _, version = spec.partition("==")
                f = fetch_wheel(pname, version)
            else:
                if not _wanted_deb(spec, langs):
                    continue
                f = fetch_deb(spec)
            pkgs.append({"name": f.name, "version": f.version, "sha256": f.sha256, "size": f.size})
        except MimoError as e:
            pkgs.append({"name": spec, "error": str(e)})
    return {"source": name, "licence": info.get("licence", ""), "url": info.get("url", ""),
            "description": info.get("description", ""), "packages": pkgs}


def _wanted_deb(package: str, langs: Sequence[str]) -> bool:
    """Per-language LibreOffice packages only for the requested languages."""
    if not package.startswith(("libreoffice-help-", "libreoffice-l10n-")):
        return True
    from mimo.langs import normalize_lang

    code = normalize_lang(package.split("-", 2)[2], strict=False)
    return code == "en" or code in langs


# ----------------------------------------------------------------------------- retrieval pairs


@dataclass
class Pair:
    """A query unit and its passage (consecutive paragraph units), per language."""

    pair_id: str
    page: tuple[str, str]
    source: str
    kind: str
    group: str  # passage group id (shared by pairs with the same passage)
    query: dict[str, str]
    passage: dict[str, str]
    units: tuple[str, ...] = ()  # the English texts the passage is made of (for the leak check)

    def langs(self) -> list[str]:
        return [lg for lg in self.query if lg in self.passage]


def page_pairs(units: Sequence[AlignedUnit], cfg: BuildConfig) -> list[Pair]:
    """Pairs of one page (units in document order), before the cross-page query filter."""
    out = []
    for i, q in enumerate(units):
        if q.kind not in QUERY_KINDS:
            continue
        j = i + 1
        while j < len(units) and units[j].kind in QUERY_KINDS:
            j += 1  # a title (or a keyword before a heading) is answered by the paragraphs that follow
        run: list[AlignedUnit] = []
        while j < len(units) and units[j].kind in PASSAGE_KINDS and len(run) < cfg.passage_units:
            run.append(units[j])
            j += 1
            if sum(len(u.texts["en"]) for u in run) >= cfg.passage_chars:
                break
        if not run:
            continue
        passage = {lg: " ".join(u.texts[lg] for u in run) for lg in run[0].texts
                   if all(lg in u.texts for u in run)}
        en_q, en_p = q.texts["en"], passage["en"]
        lo, hi = cfg.query_chars
        if not lo <= len(en_q) <= hi or len(en_p) < 60:
            continue
        if len(en_q.split()) >= 3 and en_q.casefold() in en_p.casefold():
            continue  # the query is copied from the passage
        passage = {lg: t for lg, t in passage.items()
                   if lg == "en" or (len(t) >= 20 and not is_untranslated(en_p, t, lg))}
        query = {lg: t for lg, t in q.texts.items() if lg in passage}
        if len(query) < 2:
            continue
        group = f"{run[0].unit_id}+{len(run)}"
        out.append(Pair(q.unit_id, (q.source, q.page_id), q.source, q.kind, group, query, passage,
                        tuple(u.texts["en"] for u in run)))
    return out


# ----------------------------------------------------------------------------- build


def build_all(
    langs: Sequence[str] = TARGET_LANGS,
    *,
    cap: int | None = 50_000,
    seed: int = 13,
    sources: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    force: bool = False,
    config: BuildConfig | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Build all four datasets + ``manifest.json`` into ``out_dir`` (default ``data_dir()``).

    The outputs are written into a staging dir first and only moved over the previous build once
    everything succeeded; a failure leaves the previous build untouched. Without ``force`` an
    existing build with the same config is returned as is.
    """
    cfg = config or BuildConfig(langs=tuple(langs), seed=seed, filters=FilterConfig(cap=cap),
                                sources=tuple(sources or SOURCES))
    out = Path(out_dir) if out_dir else data_dir()
    say = progress or (lambda _m: None)
    complete = all((out / name).exists() for name in OUTPUTS)
    if not force and complete and (old := _load_manifest(out)) and old.config == _config_dict(cfg):
        say(f"up to date: {out} (use --force to rebuild)")
        return old
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        manifest = _build_into(staging, cfg, say, t0)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest.path = str(out / MANIFEST)
    return manifest


def _config_dict(cfg: BuildConfig) -> dict:
    d = asdict(cfg)
    d["langs"], d["sources"], d["query_chars"] = list(cfg.langs), list(cfg.sources), list(cfg.query_chars)
    return d


def _build_into(dest: Path, cfg: BuildConfig, say: Progress, t0: float) -> Manifest:
    pages: dict[tuple[str, str], list[AlignedUnit]] = defaultdict(list)
    records = []
    for name in cfg.sources:
        say(f"fetching {name} packages …")
        records.append(source_records(name, cfg.langs))
        say(f"reading {name} …")
        units = cached_units(name, cfg.langs, records[-1])
        for u in units:
            pages[(u.source, u.page_id)].append(u)
        say(f"{name}: {len(units)} aligned units")

    pairs = [p for units in pages.values() for p in page_pairs(units, cfg)]
    # A query text shared by several pages ("Syntax", "Example") is ambiguous: drop it.
    q_pages: dict[str, set] = defaultdict(set)
    for p in pairs:
        q_pages[p.query["en"].casefold()].add(p.page)
    pairs = [p for p in pairs if len(q_pages[p.query["en"].casefold()]) == 1]

    dev_pages, test_pages = split_pages(pairs, cfg)
    qa_pairs = _qa_pairs(pages, cfg)
    qa_dev, qa_test = split_qa(qa_pairs, cfg, min_langs(cfg), dev_pages, test_pages)
    bench_pages = dev_pages | test_pages | qa_dev | qa_test
    leaked = {u.texts["en"].casefold() for pg in bench_pages for u in pages[pg]}
    train_units = [u for pg, units in pages.items() if pg not in bench_pages for u in units
                   if u.texts["en"].casefold() not in leaked]

    drops: dict[str, Any] = {}
    say("writing parallel …")
    counts = {"parallel": _write_parallel(dest / "parallel", train_units, cfg, drops)}
    say("writing retrieval-train …")
    # a training question/task page answers its title with the longer QA answer instead of the next paragraphs
    qa_train = {p.page: p for p in qa_pairs if p.page not in bench_pages}
    train_pairs = [p for p in pairs if p.page not in bench_pages
                   and not (p.page in qa_train and p.kind == "title")] + list(qa_train.values())
    train_pairs = [p for p in train_pairs if p.query["en"].casefold() not in leaked
                   and p.passage["en"].casefold() not in leaked and not any(t.casefold() in leaked for t in p.units)]
    counts["retrieval-train"] = _write_retrieval(dest / "retrieval-train", train_pairs)
    licences = {r["source"]: r["licence"] for r in records}
    # the QA corpora add the opening passage of each other held-out page of the same split
    extra = {"mlir-qa-dev": _distractors(pages, dev_pages - qa_dev, [p for p in qa_pairs if p.page in qa_dev], cfg),
             "mlir-qa-test": _distractors(pages, test_pages - qa_test, [p for p in qa_pairs if p.page in qa_test], cfg)}
    for name, chosen, from_ in (("mlir-dev", dev_pages, pairs), ("mlir-test", test_pages, pairs),
                                ("mlir-qa-dev", qa_dev, qa_pairs), ("mlir-qa-test", qa_test, qa_pairs)):
        say(f"writing {name} …")
        counts[name] = write_benchmark(dest / name, [p for p in from_ if p.page in chosen], cfg, extra.get(name, {}))
        counts[name]["licences"] = {s: licences.get(s, licences.get(source_of(s), "")) for s in counts[name]["sources"]}
    manifest = Manifest(
        dataset_version=DATASET_VERSION, created=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=cfg.seed, langs=list(cfg.langs), config=_config_dict(cfg), sources=records,
        counts=counts, drops=drops, build_seconds=round(time.time() - t0, 1),
        splits={name: sorted(f"{s}|{p}" for s, p in chosen) for name, chosen in
                (("mlir-dev", dev_pages), ("mlir-test", test_pages), ("mlir-qa-dev", qa_dev), ("mlir-qa-test", qa_test))})
    atomic_write_json(dest / MANIFEST, manifest.to_dict())
    return manifest


def min_langs(cfg: BuildConfig) -> int:
    """Non-English languages a benchmark query group needs (fewer when fewer are built)."""
    return max(1, min(cfg.bench_min_langs, len(cfg.langs) - 1))


def _qa_pairs(pages: dict[tuple[str, str], list[AlignedUnit]], cfg: BuildConfig) -> list[Pair]:
    """Question/task pages (``mimo.data.qa``), except those whose title names several pages."""
    titles: dict[str, set] = defaultdict(set)
    for pg, units in pages.items():
        for u in units:
            if u.kind == "title":
                titles[u.texts["en"].casefold()].add(pg)
    out = [p for units in pages.values() if (p := qa_pair(units, cfg)) is not None]
    return [p for p in out if len(titles[p.query["en"].casefold()]) == 1]


def _distractors(pages: dict[tuple[str, str], list[AlignedUnit]], chosen: set, answers: Sequence[Pair],
                 cfg: BuildConfig) -> dict[str, dict[str, str]]:
    """Corpus-only passages (group key -> texts per language) of the held-out pages ``chosen``; one
    that shares a paragraph with a gold answer (pages that repeat each other) is left out."""
    gold = {t.casefold() for p in answers for t in p.units}
    out = {}
    for pg in sorted(chosen):
        texts = distractor(pages[pg], cfg)
        if texts is not None and not any(t.casefold() in gold for t in texts["en"].split("\n")):
            out[f"{pg[0]}:{pg[1]}#intro"] = texts
    return out


def split_pages(pairs: Sequence[Pair], cfg: BuildConfig) -> tuple[set, set]:
    """Seeded choice of benchmark pages: pages with pairs in >= ``bench_min_langs`` languages."""
    per_page: dict[tuple[str, str], int] = Counter()
    for p in pairs:
        if len(p.langs()) - 1 >= min_langs(cfg):
            per_page[p.page] += 1
    eligible = sorted(per_page)
    random.Random(cfg.seed).shuffle(eligible)
    dev: set = set()
    test: set = set()
    n_dev = n_test = 0
    for pg in eligible:
        k = min(per_page[pg], cfg.queries_per_page)
        if n_dev < cfg.dev_queries:
            dev.add(pg)
            n_dev += k
        elif n_test < cfg.test_queries:
            test.add(pg)
            n_test += k
        else:
            break
    return dev, test


def _swap_in(staging: Path, out: Path) -> None:
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=out))
    try:
        for name in (*OUTPUTS, MANIFEST):
            if (out / name).exists():
                os.replace(out / name, trash / name)
        for name in (*OUTPUTS, MANIFEST):
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


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


def _write_parallel(path: Path, units: Sequence[AlignedUnit], cfg: BuildConfig, drops: dict) -> dict:
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
    return _count(rows_all)


def _count(rows: Iterable[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        d = out[r["lang"]]
        d[r["source"]] = d.get(r["source"], 0) + 1
    return {lg: out[lg] for lg in sorted(out, key=lambda x: ALL_LANGS.index(x) if x in ALL_LANGS else 99)}


def _write_retrieval(path: Path, pairs: Sequence[Pair]) -> dict:
    kinds = {p.pair_id: group_kind(p.query, p.kind) for p in pairs}
    rows = [{"pair_id": p.pair_id, "lang": lg, "query": p.query[lg], "passage": p.passage[lg],
             "source": p.source, "kind": kinds[p.pair_id]} for p in pairs for lg in p.langs()]
    _save(path, {c: [r[c] for r in rows] for c in ("pair_id", "lang", "query", "passage", "source", "kind")})
    return _count(rows)


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


# ----------------------------------------------------------------------------- loaders


def _load_manifest(out: Path) -> Manifest | None:
    p = out / MANIFEST
    if not p.exists():
        return None
    d = json.loads(p.read_text(encoding="utf-8"))
    return Manifest(**{k: d[k] for k in Manifest.__dataclass_fields__ if k in d}, path=str(p))


def load_manifest(out_dir: str | Path | None = None) -> Manifest:
    """The manifest of the current build; a clear error when there is none."""
    out = Path(out_dir) if out_dir else data_dir()
    m = _load_manifest(out)
    if m is None:
        raise MimoError(f"no dataset build in {out}; run `mimo data build` first")
    return m


def _dataset(name: str, out_dir: str | Path | None):
    from datasets import load_from_disk

    p = (Path(out_dir) if out_dir else data_dir()) / name
    if not p.exists():
        raise MimoError(f"{p} does not exist; run `mimo data build` first")
    return load_from_disk(str(p))


def load_parallel(out_dir: str | Path | None = None):
    """The ``parallel`` dataset (HF ``datasets.Dataset``)."""
    return _dataset("parallel", out_dir)


def load_retrieval_train(out_dir: str | Path | None = None):
    """The ``retrieval-train`` dataset (HF ``datasets.Dataset``)."""
    return _dataset("retrieval-train", out_dir)


def benchmark_dir(name: str = "mlir-dev", out_dir: str | Path | None = None) -> Path:
    """Path of a built BEIR benchmark (``mlir-dev``, ``mlir-test``, ``mlir-qa-dev``, ``mlir-qa-test``)."""
    if name not in BENCHMARKS:
        raise MimoError(f"unknown benchmark {name!r}; built ones are {', '.join(BENCHMARKS)}")
    p = (Path(out_dir) if out_dir else data_dir()) / name
    if not (p / "corpus.jsonl").exists():
        raise MimoError(f"{p} does not exist; run `mimo data build` first")
    return p
