"""A user's own training data: parallel pairs and retrieval pairs from common files or the hub.

Accepted inputs (``PATH``):

* a ``.jsonl`` / ``.json`` (JSON lines), ``.csv``, ``.tsv`` / ``.tab`` or ``.parquet`` file;
* a directory written by ``datasets.Dataset.save_to_disk`` (split ``train`` of a ``DatasetDict``);
* a directory of such files (read in name order; each file may carry its own language, below);
* a Hugging Face dataset name (``owner/name``), loaded through ``datasets.load_dataset``.

Schemas (mimo's field names; ``columns`` maps them to yours, e.g. ``english=en,translation=text``,
or to 1-based column numbers for a headerless CSV/TSV: ``english=1,translation=2``):

* ``parallel``: ``english`` (the English sentence), ``translation``, ``lang`` (ISO 639-1 of the
  translation); optional ``unit_id``, ``source``.
* ``retrieval``: ``pair_id`` (links the language versions of one query/passage pair; every pair
  needs an ``en`` row), ``lang``, ``query``, ``passage``; optional ``source``.

The language comes from the ``lang`` column, else from ``lang=`` (one language for everything),
else from the file name: ``<name>.<lang>.<ext>`` (``pairs.de.tsv``) or ``en-<lang>.<ext>`` (the hub's
subset style). Locale spellings (``pt_BR``, ``zh-CN``) are normalised by :mod:`mimo.langs`.
Every row keeps its location (``pairs.tsv:17``, ``data.parquet row 3``) for error messages.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimo.errors import InputError

SCHEMAS: dict[str, dict[str, tuple[str, ...]]] = {
    "parallel": {"required": ("english", "translation", "lang"), "optional": ("unit_id", "source")},
    "retrieval": {"required": ("pair_id", "lang", "query", "passage"), "optional": ("source",)},
}
TEXT_FIELDS = {"parallel": ("english", "translation"), "retrieval": ("query", "passage")}
FILE_TYPES = (".jsonl", ".json", ".csv", ".tsv", ".tab", ".parquet")
_LANG_IN_NAME = re.compile(r"^en[-_](?P<pair>[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?)$")


@dataclass
class Row:
    """One input row in mimo's field names, with where it came from."""

    values: dict[str, Any]
    where: str  # "pairs.tsv:17" / "train.parquet row 3" / "owner/name [default/train] row 3"


@dataclass
class UserData:
    """Rows read from a user's path, before validation (see :mod:`mimo.data.check`)."""

    kind: str
    path: str
    rows: list[Row] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def parse_columns(spec: str | dict[str, str] | None) -> dict[str, str]:
    """``"english=en,translation=text"`` (mimo field = your column) → dict; a dict passes through."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    out: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise InputError(f"--columns: {part.strip()!r} is not FIELD=COLUMN (e.g. english=en,translation=text)")
        out[ours.strip()] = theirs.strip()
    return out


def lang_from_filename(path: str | Path) -> str | None:
    """``pairs.de.tsv`` → ``de``; ``en-pt_BR.jsonl`` → ``pt``; otherwise None."""
    from mimo.langs import LANG_NAMES, normalize_lang

    name = Path(path).name
    for ext in FILE_TYPES:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    candidates = []
    if (m := _LANG_IN_NAME.match(name)) is not None:
        candidates.append(m["pair"])
    if "." in name:
        candidates.append(name.rsplit(".", 1)[1])
    for c in candidates:
        code = normalize_lang(c, strict=False)
        if code in LANG_NAMES and code != "en":
            return code
    return None


def _is_saved_dataset(p: Path) -> bool:
    return p.is_dir() and any((p / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json"))


def data_files(p: Path) -> list[Path]:
    """The data files of a plain directory (name order), hidden files excluded."""
    return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in FILE_TYPES and not f.name.startswith("."))


def read(path: str | Path, kind: str, *, columns: str | dict[str, str] | None = None, lang: str | None = None,
         split: str = "train", config: str | None = None) -> UserData:
    """Read ``path`` (see the module docstring) into :class:`UserData` in mimo's field names.

    Raises InputError for a missing file, an unsupported type, a missing column (naming the file
    and the columns it has) or an unknown ``lang``; row-level problems are left to the checks.
    """
    from mimo.langs import normalize_lang

    if kind not in SCHEMAS:
        raise InputError(f"unknown data kind {kind!r}; expected one of {', '.join(SCHEMAS)}")
    cols = parse_columns(columns)
    fields = (*SCHEMAS[kind]["required"], *SCHEMAS[kind]["optional"])
    every = {f for sc in SCHEMAS.values() for f in (*sc["required"], *sc["optional"])}
    unknown = [k for k in cols if k not in every]
    if unknown:
        raise InputError(f"--columns: unknown field(s) {', '.join(unknown)}; {kind} fields: {', '.join(fields)}")
    cols = {k: v for k, v in cols.items() if k in fields}  # one mapping may serve both kinds
    if lang is not None:
        code = normalize_lang(lang, strict=False)
        from mimo.langs import LANG_NAMES

        if code not in LANG_NAMES:
            raise InputError(f"--lang: unknown language code {lang!r} (ISO 639-1, e.g. de, pt, zh)")
        lang = code
    p = Path(str(path)).expanduser()
    out = UserData(kind, str(path))
    if _is_saved_dataset(p):
        sources = [(str(p), _iter_saved(p, split))]
    elif p.is_dir():
        files = data_files(p)
        if not files:
            raise InputError(f"{p}: no data files ({', '.join(FILE_TYPES)}) and not a saved dataset directory")
        sources = [(str(f), _iter_file(f, cols)) for f in files]
    elif p.is_file():
        sources = [(str(p), _iter_file(p, cols))]
    elif p.exists() or str(path).startswith((".", "/", "~")) or str(path).count("/") != 1:
        raise InputError(f"{path} does not exist (no such file or directory, and not a hub dataset name owner/name)")
    else:
        sources = [(str(path), _iter_hub(str(path), config, split))]
    for name, rows in sources:
        out.files.append(name)
        file_lang = lang or lang_from_filename(name)
        header_checked = False
        for values, where in rows:
            if not header_checked:
                _check_columns(values, cols, kind, name, has_lang=file_lang is not None)
                header_checked = True
            row = {f: values.get(cols.get(f, f)) for f in fields if cols.get(f, f) in values}
            if file_lang is not None and row.get("lang") in (None, ""):
                row["lang"] = file_lang
            out.rows.append(Row(row, where))
    return out


def _check_columns(first: dict[str, Any], cols: dict[str, str], kind: str, name: str, *, has_lang: bool) -> None:
    need = [f for f in SCHEMAS[kind]["required"] if not (f == "lang" and has_lang)]
    missing = [f for f in need if cols.get(f, f) not in first]
    if missing:
        want = ", ".join(f"{f!r}" + (f" (mapped to {cols[f]!r})" if f in cols else "") for f in missing)
        hint = ("; give the language with --lang XX or a file name like pairs.de.tsv"
                if missing == ["lang"] else "; map your column names with --columns FIELD=COLUMN")
        raise InputError(f"{name}: missing field(s) {want} for {kind} data "
                         f"(found: {', '.join(map(str, first)) or 'none'}){hint}")


def _iter_file(p: Path, cols: dict[str, str]) -> Iterator[tuple[dict[str, Any], str]]:
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json"):
        yield from _iter_jsonl(p)
    elif suffix in (".csv", ".tsv", ".tab"):
        yield from _iter_csv(p, "," if suffix == ".csv" else "\t", cols)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise InputError(f"{p}: not a readable Parquet file ({e})") from None
        for i, r in enumerate(table.to_pylist()):
            yield r, f"{p.name} row {i}"
    else:
        raise InputError(f"{p}: unsupported file type {suffix!r}; use {', '.join(FILE_TYPES)}")


def _iter_jsonl(p: Path) -> Iterator[tuple[dict[str, Any], str]]:
    with open(p, encoding="utf-8-sig") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{p.name}:{i}: not a JSON object per line ({e.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{p.name}:{i}: expected a JSON object, got {type(obj).__name__}")
            yield obj, f"{p.name}:{i}"


def _iter_csv(p: Path, delimiter: str, cols: dict[str, str]) -> Iterator[tuple[dict[str, Any], str]]:
    """CSV with a header row, or headerless when every mapped column is a number (1-based)."""
    positional = bool(cols) and all(v.isdigit() for v in cols.values())
    csv.field_size_limit(1 << 24)
    with open(p, encoding="utf-8-sig", newline="") as f:
        quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        header: list[str] | None = None
        start = 0
        for cells in reader:
            line = reader.line_num
            if header is None:
                header = [str(i + 1) for i in range(len(cells))] if positional else [c.strip() for c in cells]
                if not positional:
                    start = line
                    continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(f"{p.name}:{line}: expected {len(header)} {'tab' if delimiter != ',' else 'comma'}-"
                                 f"separated fields (as in the header on line {start or 1}), got {len(cells)}")
            yield dict(zip(header, cells, strict=True)), f"{p.name}:{line}"


def _iter_saved(p: Path, split: str) -> Iterator[tuple[dict[str, Any], str]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as e:  # noqa: BLE001 - datasets raises many types for a bad dir
        raise InputError(f"{p}: not a readable saved dataset ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise InputError(f"{p}: no split {split!r} (has: {', '.join(ds)})")
        ds = ds[split]
    for i, r in enumerate(ds):
        yield r, f"{p.name} row {i}"


def _iter_hub(name: str, config: str | None, split: str) -> Iterator[tuple[dict[str, Any], str]]:
    from mimo.data.hub import load_rows

    ds, _where = load_rows(name, config, split)  # datasets.load_dataset_builder; clear error offline
    for i, r in enumerate(ds):
        yield r, f"{name} [{config or 'default'}/{split}] row {i}"
