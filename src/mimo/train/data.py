"""Load and check the training datasets before any expensive step (one clear error per problem)."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimo.errors import InputError, MimoError
from mimo.langs import LANG_NAMES

log = logging.getLogger("mimo.train")

PARALLEL_COLUMNS = ("english", "translation", "lang")
RETRIEVAL_COLUMNS = ("pair_id", "lang", "query", "passage")


def _load(path: str | None, kind: str, columns: Any = None, lang: str | None = None) -> Any:
    import datasets

    if path is not None:
        saved = Path(path).is_dir() and any((Path(path) / f).is_file() for f in ("state.json", "dataset_dict.json"))
        if not saved or columns or lang:  # a user's file, folder or hub name: mimo.data.user + checks
            from mimo.data.check import load_checked

            return load_checked(path, "parallel" if kind == "parallel" else "retrieval", columns=columns, lang=lang)
        try:
            return datasets.load_from_disk(path)
        except Exception as e:  # noqa: BLE001 - datasets raises many types for a bad dir
            raise InputError(f"{kind} dataset {path} is not a saved HF dataset: {e}") from None
    try:
        from mimo.data import build
    except ImportError:
        raise MimoError(f"no {kind} dataset path given and mimo.data.build is not available") from None
    loader = build.load_parallel if kind == "parallel" else build.load_retrieval_train
    return loader()


def _h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _sample_units(ds: Any, unit_col: str, max_rows: int) -> Any:
    """At most ``max_rows`` rows, keeping whole units (all language versions of one ``unit_col``
    value) in a seed-free, content-hash order, so a capped run sees every language, not the first
    language of a sorted dataset."""
    units = list(ds[unit_col])
    rows_of: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        rows_of.setdefault(u, []).append(i)
    keep: list[int] = []
    for u in sorted(rows_of, key=_h):
        if len(keep) >= max_rows:
            break
        keep += rows_of[u]
    return ds.select(sorted(keep))


def _columns(
    ds: Any, kind: str, required: tuple[str, ...], max_rows: int | None, unit_col: str | None = None
) -> dict[str, list]:
    if hasattr(ds, "keys") and "train" in ds and not hasattr(ds, "column_names"):
        ds = ds["train"]
    names = list(getattr(ds, "column_names", []) or [])
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"{kind} dataset lacks field(s) {', '.join(missing)} (has: {', '.join(names)})")
    if max_rows is not None and max_rows < len(ds):
        ds = _sample_units(ds, unit_col, max_rows) if unit_col else ds.select(range(max_rows))
    cols = {c: list(ds[c]) for c in required if c in names}
    for c in ("source", "unit_id"):
        if c in names:
            cols[c] = list(ds[c])
    n = len(cols[required[0]])
    if n == 0:
        raise InputError(f"{kind} dataset is empty")
    for c in required:
        if len(cols[c]) != n:
            raise InputError(f"{kind} dataset: field {c!r} has {len(cols[c])} rows, expected {n}")
        for i, v in enumerate(cols[c]):
            if not isinstance(v, str) or not v.strip():
                raise InputError(f"{kind} dataset row {i}: field {c!r} is empty or not text ({v!r})")
    for i, code in enumerate(cols["lang"]):
        if code not in LANG_NAMES:
            raise InputError(
                f"{kind} dataset row {i}: field 'lang' has unknown language code {code!r}; "
                f"known: {', '.join(LANG_NAMES)}"
            )
    return cols


def _keep(langs: list[str] | None, code: str) -> bool:
    return langs is None or code == "en" or code in langs


def _say_dropped(kind: str, codes: list[str], langs: list[str] | None) -> None:
    """Name the rows the ``langs`` filter leaves out (nothing is dropped silently)."""
    out = Counter(c for c in codes if not _keep(langs, c))
    if out:
        log.warning("%s: left out %d row(s) of languages not in --langs (%s)", kind, sum(out.values()),
                    ", ".join(f"{lg} {n}" for lg, n in sorted(out.items())))


@dataclass
class ParallelData:
    english: list[str]
    translation: list[str]
    lang: list[str]
    heldout: list[tuple[str, str, str]] = field(default_factory=list)  # (english, translation, lang)


def load_parallel(
    path: str | None, langs: list[str] | None, max_rows: int | None, eval_rows: int,
    columns: Any = None, lang: str | None = None,
) -> ParallelData:
    """Parallel rows (en identity rows included), minus ``eval_rows`` held-out non-en units."""
    cols = _columns(_load(path, "parallel", columns, lang), "parallel", PARALLEL_COLUMNS, max_rows, unit_col="english")
    rows = [
        (e, t, lg, uid)
        for e, t, lg, uid in zip(
            cols["english"], cols["translation"], cols["lang"], cols.get("unit_id", cols["english"]),
            strict=True,
        )
        if _keep(langs, lg)
    ]
    _say_dropped("parallel", cols["lang"], langs)
    if not any(r[2] != "en" for r in rows):
        raise InputError(f"parallel dataset has no non-English rows after keeping languages {langs}")
    # held out by a hash of the English text, so all language versions of a unit leave together
    ranked = sorted({r[0] for r in rows if r[2] != "en"}, key=_h)
    out_en = set(ranked[: max(0, min(eval_rows, len(ranked) // 4))])
    heldout = [(e, t, lg) for e, t, lg, _ in rows if e in out_en and lg != "en"][:eval_rows]
    train = [r for r in rows if r[0] not in out_en]
    if not train:
        raise InputError("parallel dataset has no training rows left after the held-out split")
    return ParallelData([r[0] for r in train], [r[1] for r in train], [r[2] for r in train], heldout)


@dataclass
class RetrievalData:
    #: pair_id -> lang -> (query, passage)
    pairs: dict[str, dict[str, tuple[str, str]]]
    dropped_without_en: int = 0


def _select_kinds(ds: Any, kinds: list[str]) -> Any:
    """Rows whose query ``kind`` (question, task, heading, index term) is one of ``kinds``."""
    if hasattr(ds, "keys") and "train" in ds and not hasattr(ds, "column_names"):
        ds = ds["train"]
    if "kind" not in (getattr(ds, "column_names", None) or []):
        raise InputError("retrieval-train dataset has no 'kind' field to select query kinds from "
                         "(rebuild it with `mimo data build`)")
    keep = [i for i, k in enumerate(ds["kind"]) if k in kinds]
    if not keep:
        found = sorted(set(ds["kind"]))
        raise InputError(f"retrieval-train dataset has no rows of query kind(s) {', '.join(kinds)} (has: {', '.join(found)})")
    return ds.select(keep)


def load_retrieval(path: str | None, langs: list[str] | None, max_rows: int | None,
                   kinds: list[str] | None = None, columns: Any = None, lang: str | None = None) -> RetrievalData:
    """Retrieval pairs per language; ``kinds`` keeps only those query kinds (before ``max_rows``)."""
    ds = _load(path, "retrieval-train", columns, lang)
    if kinds:
        ds = _select_kinds(ds, kinds)
    cols = _columns(ds, "retrieval-train", RETRIEVAL_COLUMNS, max_rows, unit_col="pair_id")
    _say_dropped("retrieval-train", cols["lang"], langs)
    pairs: dict[str, dict[str, tuple[str, str]]] = {}
    for pid, lg, q, p in zip(cols["pair_id"], cols["lang"], cols["query"], cols["passage"], strict=True):
        if _keep(langs, lg):
            pairs.setdefault(pid, {})[lg] = (q, p)
    dropped = sum(1 for v in pairs.values() if "en" not in v)
    if dropped:
        log.warning("retrieval-train: dropped %d pair(s) without an 'en' row (the teacher needs the English side)",
                    dropped)
    pairs = {k: v for k, v in pairs.items() if "en" in v}
    if not any(len(v) > 1 for v in pairs.values()):
        raise InputError(
            f"retrieval-train dataset is empty after keeping languages {langs} and pairs with an 'en' row"
        )
    return RetrievalData(pairs, dropped)
