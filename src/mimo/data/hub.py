"""Hugging Face hub datasets mapped to mimo's schemas (``parallel``, ``retrieval-train``).

Both loaders take a hub name (``sentence-transformers/parallel-sentences-talks``), a local dataset
directory in the hub layout (``README.md`` with ``configs:`` + parquet/jsonl files), or a single
``.parquet`` / ``.jsonl`` / ``.csv`` file, and go through ``datasets.load_dataset_builder`` in every
case, so local fixtures exercise the hub code path. With ``streaming=True`` only ``limit`` rows are
read (mMARCO's train triples are ~40M rows per language).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimo.errors import InputError, MimoError
from mimo.langs import LANG_NAMES, check_lang, normalize_lang

if TYPE_CHECKING:
    import datasets

PARALLEL_COLUMNS = ("english", "translation", "lang", "source", "unit_id", "split")
RETRIEVAL_COLUMNS = ("pair_id", "lang", "query", "passage", "source")
_SHARD = re.compile(r"^(train|validation|dev|test)(-\d+-of-\d+)?$")
_FILE_BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
#: Accepted spellings of the triplet columns (mMARCO-style, sentence-transformers-style).
_TRIPLET_ALIASES = {"query": ("query", "anchor"), "positive": ("positive", "pos"),
                    "negative": ("negative", "neg")}


def _source_name(name_or_path: str | Path) -> str:
    """``hub:<dataset name>``; for a shard file (``en-de/train-00000-of-00001.parquet``) the dirs above it."""
    p = Path(str(name_or_path))
    if p.suffix not in _FILE_BUILDERS:
        return "hub:" + p.name
    return "hub:" + (f"{p.parent.parent.name}/{p.parent.name}" if _SHARD.match(p.stem) else p.stem)


def load_rows(
    name_or_path: str | Path,
    config: str | None = None,
    split: str = "train",
    *,
    limit: int | None = None,
    streaming: bool = False,
    revision: str | None = None,
    data_files: Any = None,
    cache_dir: str | Path | None = None,
) -> tuple[datasets.Dataset, str]:
    """Load one split (hub name, local dir or file); return it and a description of its files."""
    import datasets

    if streaming and limit is None:
        raise InputError("streaming=True needs a limit (the rows are materialised)")
    path = str(name_or_path)
    local = Path(path)
    if local.is_file():
        builder_name = _FILE_BUILDERS.get(local.suffix)
        if builder_name is None:
            raise InputError(f"{path}: unsupported file type; use {', '.join(_FILE_BUILDERS)}")
        path, data_files, config = builder_name, {split: str(local)}, None
    elif not local.exists() and (path.startswith((".", "/", "~")) or path.count("/") > 1):
        raise InputError(f"{path}: no such file or directory, and not a hub name (owner/name)")
    try:
        builder = datasets.load_dataset_builder(
            path, config, revision=revision, data_files=data_files,
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    except ConnectionError as e:
        raise _unreachable(name_or_path, e) from None
    except (ValueError, FileNotFoundError) as e:  # unknown config, no data files, not found
        raise InputError(f"{name_or_path}: {e}") from None
    files = (builder.config.data_files or {}).get(split) if builder.config.data_files else None
    where = ", ".join(str(f) for f in files) if files else f"{name_or_path} [{config or 'default'}/{split}]"
    try:
        if streaming:
            it = builder.as_streaming_dataset(split=split)
            ds = datasets.Dataset.from_list(list(itertools.islice(it, limit)))
        else:
            builder.download_and_prepare()
            ds = builder.as_dataset(split=split)
    except (ValueError, KeyError) as e:  # e.g. unknown split
        raise InputError(f"{name_or_path} [{config or 'default'}]: {e}") from None
    if limit is not None and len(ds) > limit:
        ds = ds.select(range(limit))
    return ds, where


def _unreachable(name_or_path: str | Path, e: Exception) -> MimoError:
    return MimoError(f"cannot reach the Hugging Face hub for {str(name_or_path)!r} ({e}); "
                     "pass a local copy (dataset dir or parquet/jsonl file) instead")


def _require(ds: datasets.Dataset, column: str, where: str, aliases: tuple[str, ...] = ()) -> str:
    for cand in aliases or (column,):
        if cand in ds.column_names:
            return cand
    want = " or ".join(repr(a) for a in (aliases or (column,)))
    raise InputError(f"{where}: missing column {want} (found: {', '.join(ds.column_names) or 'none'})")


def _parallel_subset(name_or_path: str | Path, lang: str, revision: str | None) -> str:
    """``en-<lang>``, or the one subset whose locale maps to ``lang`` (``en-zh-cn``, ``en-pt-br``)."""
    import datasets

    local = Path(str(name_or_path))
    if local.is_file():
        return f"en-{lang}"
    try:
        names = datasets.get_dataset_config_names(str(name_or_path), revision=revision)
    except ConnectionError as e:
        raise _unreachable(name_or_path, e) from None
    except (OSError, ValueError):  # not found, no configs: load_rows reports it
        return f"en-{lang}"
    if f"en-{lang}" in names:
        return f"en-{lang}"
    matches = [n for n in names if n.startswith("en-") and normalize_lang(n[3:], strict=False) == lang]
    return matches[0] if len(matches) == 1 else f"en-{lang}"


def load_parallel_sentences(
    name_or_path: str | Path,
    lang: str,
    split: str = "train",
    limit: int | None = None,
    *,
    subset: str | None = None,
    source: str | None = None,
    **load_kwargs: Any,
) -> datasets.Dataset:
    """A ``sentence-transformers/parallel-sentences-*`` dataset as ``parallel`` rows.

    ``subset`` defaults to ``en-<lang>`` (the hub's subset names), else the one subset whose locale
    maps to ``lang`` (``en-zh-cn``; never ``en-zh-tw``); columns ``english`` and
    ``non_english`` become ``english`` / ``translation``. Empty rows are dropped.
    """
    lang = check_lang(lang, "load_parallel_sentences(lang=...)")
    if subset is None:
        subset = _parallel_subset(name_or_path, lang, load_kwargs.get("revision"))
    ds, where = load_rows(name_or_path, subset, split, limit=limit, **load_kwargs)
    en_col, tr_col = _require(ds, "english", where), _require(ds, "non_english", where)
    src = source or _source_name(name_or_path)

    def to_rows(batch: dict[str, list], idx: list[int]) -> dict[str, list]:
        out: dict[str, list] = {c: [] for c in PARALLEL_COLUMNS}
        for i, en, tr in zip(idx, batch[en_col], batch[tr_col], strict=True):
            en, tr = (en or "").strip(), (tr or "").strip()
            if en and tr:
                for c, v in zip(PARALLEL_COLUMNS, (en, tr, lang, src, f"{src}:{subset}:{split}:{i}", split),
                                strict=True):
                    out[c].append(v)
        return out

    out = ds.map(to_rows, batched=True, with_indices=True, remove_columns=ds.column_names,
                 desc=f"parallel {subset}")
    return out.select_columns(list(PARALLEL_COLUMNS))


def load_mmarco_style(
    name_or_path: str | Path,
    lang: str,
    split: str = "train",
    limit: int | None = None,
    *,
    config: str | None = None,
    source: str | None = None,
    keep_negative: bool = False,
    **load_kwargs: Any,
) -> datasets.Dataset:
    """mMARCO-style (query, positive, negative) triplets as ``retrieval-train`` rows.

    ``config`` defaults to the language's English name in lower case (``german``, ``chinese``), as
    mMARCO names its subsets. ``pair_id`` is ``<source>:<split>:<row>``: mMARCO's languages are
    row-aligned translations, so loading ``en`` and ``de`` gives matching pair ids. ``anchor``/``pos``
    spellings are accepted; the negative is dropped unless ``keep_negative`` (adds a ``negative``
    column beyond the retrieval-train schema).
    """
    lang = check_lang(lang, "load_mmarco_style(lang=...)")
    config = config or LANG_NAMES[lang].lower()
    ds, where = load_rows(name_or_path, config, split, limit=limit, **load_kwargs)
    q_col = _require(ds, "query", where, _TRIPLET_ALIASES["query"])
    p_col = _require(ds, "positive", where, _TRIPLET_ALIASES["positive"])
    n_col = _require(ds, "negative", where, _TRIPLET_ALIASES["negative"]) if keep_negative else None
    src = source or _source_name(name_or_path)
    cols = RETRIEVAL_COLUMNS + (("negative",) if n_col else ())

    def to_rows(batch: dict[str, list], idx: list[int]) -> dict[str, list]:
        out: dict[str, list] = {c: [] for c in cols}
        negs = batch[n_col] if n_col else [None] * len(idx)
        for i, q, p, n in zip(idx, batch[q_col], batch[p_col], negs, strict=True):
            q, p = (q or "").strip(), (p or "").strip()
            if q and p:
                vals = [f"{src}:{split}:{i}", lang, q, p, src] + ([(n or "").strip()] if n_col else [])
                for c, v in zip(cols, vals, strict=True):
                    out[c].append(v)
        return out

    out = ds.map(to_rows, batched=True, with_indices=True, remove_columns=ds.column_names,
                 desc=f"triplets {config}")
    return out.select_columns(list(cols))
