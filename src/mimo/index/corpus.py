"""Corpus reading: JSONL / CSV / Parquet files, BEIR dirs or dirs of .txt files -> validated :class:`Doc` s.

Every error names the file, the row and the field, so a bad corpus fails before any encoding.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimo.errors import InputError
from mimo.langs import normalize_lang


@dataclass
class Doc:
    """One passage of the corpus."""

    id: str
    text: str
    lang: str | None = None
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, raw record) from a JSONL / CSV / parquet file or a directory."""
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / "corpus.jsonl").exists():  # BEIR layout
            yield from _rows(path / "corpus.jsonl")
            return
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise InputError(f"{path}: directory has no corpus.jsonl and no .txt files")
        for p in files:
            rel = p.relative_to(path).with_suffix("")
            parts = rel.name.rsplit(".", 1)  # name.de.txt -> lang de
            lang = parts[1] if len(parts) == 2 and normalize_lang(parts[1], strict=False) else None
            rid = str(rel.with_name(parts[0])) if lang else str(rel)
            yield str(p), {"id": rid, "text": p.read_text(encoding="utf-8", errors="replace"), "lang": lang}
    elif suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}: line {n}: invalid JSON ({e.msg})") from None
                if not isinstance(rec, dict):
                    raise InputError(f"{path}: line {n}: expected a JSON object, got {type(rec).__name__}")
                yield f"{path}: line {n}", rec
    elif suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
            for n, rec in enumerate(reader, 2):
                yield f"{path}: row {n}", dict(rec)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, rec in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"{path}: row {n}", rec
    else:
        raise InputError(f"{path}: unsupported corpus format {suffix!r}; "
                         "use .jsonl, .csv, .parquet or a directory")


def _to_doc(where: str, rec: dict[str, Any]) -> Doc:
    rid = rec.get("id", rec.get("_id"))
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        raise InputError(f"{where}: missing field 'id'")
    if not isinstance(rid, str | int):
        raise InputError(f"{where}: field 'id' must be a string or integer, got {type(rid).__name__}")
    text = rec.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: missing or non-string field 'text'")
    if not text.strip():
        raise InputError(f"{where}: field 'text' is empty (id {rid!r})")
    lang = rec.get("lang") or None
    if lang is not None:
        try:
            lang = normalize_lang(str(lang))
        except ValueError as e:
            raise InputError(f"{where}: field 'lang': {e}") from None
    title = rec.get("title") or None
    meta = {k: v for k, v in rec.items() if k not in ("id", "_id", "text", "lang", "title")}
    return Doc(str(rid), text, lang, str(title) if title is not None else None, meta)


def read_corpus(path: str | Path) -> list[Doc]:
    """Read and validate a corpus; errors name the file, row and field."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"corpus {path} does not exist")
    docs: list[Doc] = []
    seen: dict[str, str] = {}
    for where, rec in _rows(path):
        doc = _to_doc(where, rec)
        if doc.id in seen:
            raise InputError(f"{where}: duplicate id {doc.id!r} (first seen at {seen[doc.id]})")
        seen[doc.id] = where
        docs.append(doc)
    if not docs:
        raise InputError(f"{path}: corpus is empty")
    return docs


def passage_text(doc: Doc) -> str:
    """What is encoded for a passage: its title (if any) and its text."""
    return f"{doc.title} {doc.text}" if doc.title else doc.text


def lang_counts(docs: Iterable[Doc]) -> dict[str, int]:
    """Passages per language (``unknown`` for none), sorted by code."""
    counts: dict[str, int] = {}
    for d in docs:
        counts[d.lang or "unknown"] = counts.get(d.lang or "unknown", 0) + 1
    return dict(sorted(counts.items()))


def digest(docs: Sequence[Doc]) -> str:
    """A fingerprint of what gets encoded and stored (ids, languages, encoded text), in order."""
    h = hashlib.sha256()
    for d in docs:
        h.update(json.dumps([d.id, d.lang, passage_text(d)], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
