"""Validate a user's dataset (``mimo data check``) and turn it into mimo's training schema.

Every problem names its row (``pairs.tsv:17``) and field. Errors (a missing or empty field, an
unknown language code) stop training; warnings are counted and, where a filter acts on them, the
rows are dropped with the count said out loud — nothing is lost silently:

==================  =======  ==============================================================
issue               level    at training time
==================  =======  ==============================================================
missing / empty     error    training refuses the file (first rows named)
unknown language    error    training refuses the file
duplicate           warning  dropped (the first occurrence is kept), counted
untranslated        warning  dropped (translation is the English text), counted
overlong            warning  kept, counted (the student truncates at ``max_length`` tokens)
no English row      warning  retrieval pairs without an ``en`` version are dropped, counted
==================  =======  ==============================================================
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from mimo.data.clean import FilterConfig, is_untranslated
from mimo.data.user import TEXT_FIELDS, Row, UserData
from mimo.errors import InputError

log = logging.getLogger("mimo.data")

ERRORS = ("missing", "empty", "unknown language")
#: warning -> dropped at training time?
WARNINGS = {"duplicate": True, "untranslated": True, "overlong": False, "no English row": True}
MAX_CHARS = FilterConfig.max_chars  # the build's own length filter, one value for both


@dataclass
class Issue:
    kind: str  # one of ERRORS or WARNINGS
    where: str
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: field {self.field!r}: {self.kind}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class CheckReport:
    """What ``check`` found: per-language counts, every issue, and the rows that pass."""

    kind: str
    path: str
    files: list[str]
    rows_read: int
    langs: dict[str, int] = field(default_factory=dict)  # language -> rows kept
    issues: list[Issue] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    normalised: dict[str, str] = field(default_factory=dict)  # given code -> ISO code

    def counts(self) -> dict[str, int]:
        c = Counter(i.kind for i in self.issues)
        return {k: c.get(k, 0) for k in (*ERRORS, *WARNINGS)}

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.kind in ERRORS]

    def removed(self) -> dict[str, int]:
        """Rows each training-time filter drops (errors are not filters: they stop training)."""
        c = self.counts()
        return {k: c[k] for k, dropped in WARNINGS.items() if dropped and c[k]}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "files": self.files, "rows_read": self.rows_read,
                "rows_kept": len(self.kept), "langs": self.langs, "counts": self.counts(),
                "removed_at_training": self.removed(), "normalised_codes": self.normalised,
                "issues": [vars(i) for i in self.issues]}

    def raise_on_errors(self, shown: int = 5) -> None:
        errs = self.errors
        if errs:
            more = f"\n  ... and {len(errs) - shown} more" if len(errs) > shown else ""
            raise InputError(f"{self.kind} data {self.path}: {len(errs)} bad row(s):\n  "
                             + "\n  ".join(map(str, errs[:shown])) + more
                             + f"\n  (`mimo data check {self.path}` lists them all)")

    def log_filters(self) -> None:
        """Say what each filter removed (and what it only counted), as warnings."""
        c = self.counts()
        for k, dropped in WARNINGS.items():
            if c[k]:
                first = next(i for i in self.issues if i.kind == k)
                log.warning("%s data %s: %s %d row(s) (%s; first: %s)", self.kind, self.path,
                            "dropped" if dropped else "kept", c[k], k, first)


def check(data: UserData, *, max_chars: int = MAX_CHARS) -> CheckReport:
    """Validate every row of ``data``; the report's ``kept`` rows are what training would use."""
    from mimo.langs import LANG_NAMES, normalize_lang

    rep = CheckReport(data.kind, data.path, data.files, len(data.rows))
    texts = TEXT_FIELDS[data.kind]
    good: list[tuple[Row, dict[str, Any]]] = []
    for row in data.rows:
        bad = False
        vals = dict(row.values)
        for f in ("lang", *texts, *(("pair_id",) if data.kind == "retrieval" else ())):
            v = vals.get(f)
            if f not in vals or v is None:
                rep.issues.append(Issue("missing", row.where, f, ""))
                bad = True
            elif not str(v).strip():
                rep.issues.append(Issue("empty", row.where, f, ""))
                bad = True
            else:
                vals[f] = str(v).strip()
        if bad:
            continue
        code = normalize_lang(vals["lang"], strict=False)
        if code not in LANG_NAMES:
            why = "an excluded locale (a different written standard)" if code is None else "not an ISO 639-1 code mimo knows"
            rep.issues.append(Issue("unknown language", row.where, "lang", f"{vals['lang']!r} is {why}"))
            continue
        if code != vals["lang"]:
            rep.normalised[vals["lang"]] = code
        vals["lang"] = code
        good.append((row, vals))

    seen: dict[tuple, str] = {}
    kept: list[tuple[Row, dict[str, Any]]] = []
    for row, vals in good:
        key = (vals["lang"], *(vals[f] for f in texts), vals.get("pair_id"))
        if key in seen:
            rep.issues.append(Issue("duplicate", row.where, texts[1], f"same row as {seen[key]}"))
            continue
        seen[key] = row.where
        if data.kind == "parallel" and vals["lang"] != "en" and is_untranslated(vals["english"], vals["translation"],
                                                                              vals["lang"]):
            rep.issues.append(Issue("untranslated", row.where, "translation", "the English text, not a translation"))
            continue
        for f in texts:
            if len(vals[f]) > max_chars:
                rep.issues.append(Issue("overlong", row.where, f, f"{len(vals[f])} characters > {max_chars}"))
        kept.append((row, vals))

    if data.kind == "retrieval":
        kept = _retrieval_en(kept, rep)
    rep.kept = [dict(v, where=r.where) for r, v in kept]
    rep.langs = dict(sorted(Counter(v["lang"] for _, v in kept).items(), key=lambda kv: (kv[0] != "en", kv[0])))
    return rep


def _retrieval_en(kept: list[tuple[Row, dict]], rep: CheckReport) -> list[tuple[Row, dict]]:
    """Drop (and name) pairs without an English row; flag untranslated passages against it."""
    by_pair: dict[str, dict[str, tuple[Row, dict]]] = defaultdict(dict)
    for row, v in kept:
        by_pair[v["pair_id"]][v["lang"]] = (row, v)
    out = []
    for row, v in kept:
        versions = by_pair[v["pair_id"]]
        if "en" not in versions:
            rep.issues.append(Issue("no English row", row.where, "pair_id", f"pair {v['pair_id']!r} has no 'en' row"))
            continue
        en = versions["en"][1]
        if v["lang"] != "en" and is_untranslated(en["passage"], v["passage"], v["lang"]):
            rep.issues.append(Issue("untranslated", row.where, "passage",
                                    f"the English passage of pair {v['pair_id']!r}, not a translation"))
            continue
        out.append((row, v))
    return out


def to_dataset(rep: CheckReport, *, identity: bool = True) -> Any:
    """The kept rows as a ``datasets.Dataset`` in mimo's schema (``parallel``: English identity rows
    added once per English sentence, as the build does, unless the data has its own ``en`` rows)."""
    from datasets import Dataset

    src = f"user:{rep.path}"
    if rep.kind == "parallel":
        rows = [{"english": r["english"], "translation": r["translation"], "lang": r["lang"],
                 "source": r.get("source") or src, "unit_id": r.get("unit_id") or r["where"]} for r in rep.kept]
        if identity and not any(r["lang"] == "en" for r in rows):
            seen: set[str] = set()
            ident = []
            for r in rows:
                if r["english"] not in seen:
                    seen.add(r["english"])
                    ident.append({**r, "translation": r["english"], "lang": "en"})
            rows = ident + rows
        cols = ("english", "translation", "lang", "source", "unit_id")
    else:
        rows = [{"pair_id": r["pair_id"], "lang": r["lang"], "query": r["query"], "passage": r["passage"],
                 "source": r.get("source") or src} for r in rep.kept]
        cols = ("pair_id", "lang", "query", "passage", "source")
    if not rows:
        raise InputError(f"{rep.kind} data {rep.path}: no rows left after the checks ({rep.counts()})")
    return Dataset.from_dict({c: [r[c] for r in rows] for c in cols})


def load_checked(path: str, kind: str, *, columns: Any = None, lang: str | None = None,
                 max_chars: int = MAX_CHARS) -> Any:
    """Read, check (errors raise, filters are logged with their counts) and convert a user's data."""
    from mimo.data.user import read

    rep = check(read(path, kind, columns=columns, lang=lang), max_chars=max_chars)
    rep.raise_on_errors()
    rep.log_filters()
    return to_dataset(rep)
