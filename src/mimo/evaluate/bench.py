"""BEIR-layout benchmarks: load from a mimo name, a directory or a Hugging Face dataset, and validate.

Layout (docs/ARCHITECTURE.md): ``corpus.jsonl`` (``_id``, ``text``, ``title``, ``lang``, ``group``),
``queries.jsonl`` (``_id``, ``text``, ``lang``, ``group``, ``kind``), ``qrels/test.tsv`` (header
``query-id corpus-id score``). ``group`` is optional (defaults to the row's own id); so is a query's
``kind`` (question, task, heading, index term: ``mimo.data.kinds``), which adds a per-kind breakdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimo.errors import InputError
from mimo.langs import LANG_NAMES, normalize_lang

MAX_SHOWN = 5  # offending rows listed in an error message


@dataclass
class Benchmark:
    """One retrieval benchmark held in memory (dicts keyed by id, insertion order kept)."""

    name: str
    corpus: dict[str, dict[str, str]]  # id -> {text, title, lang, group}
    queries: dict[str, dict[str, str]]  # id -> {text, lang, group[, kind]}
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def langs(self) -> list[str]:
        return sorted({d["lang"] for d in self.corpus.values()} | {q["lang"] for q in self.queries.values()})

    @property
    def query_groups(self) -> dict[str, str]:
        """Query id -> its group (the language versions of one query share it; a query without a
        group is its own)."""
        return {qid: q.get("group", qid) for qid, q in self.queries.items()}

    @property
    def kinds(self) -> list[str]:
        """Query kinds present (``kind`` field of queries.jsonl), in ``mimo.data.kinds.KINDS`` order."""
        from mimo.data.kinds import KINDS

        found = {q["kind"] for q in self.queries.values() if q.get("kind")}
        return [k for k in KINDS if k in found] + sorted(found - set(KINDS))

    def doc_text(self, doc_id: str) -> str:
        d = self.corpus[doc_id]
        return f"{d['title']} {d['text']}".strip() if d.get("title") else d["text"]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "n_docs": len(self.corpus),
            "n_queries": len(self.queries),
            "n_judged_queries": len(self.qrels),
            "n_qrels": sum(len(v) for v in self.qrels.values()),
            "langs": self.langs,
        }


class _Problems:
    """Collect offending rows; raise one InputError listing the first few."""

    def __init__(self, what: str) -> None:
        self.what, self.rows, self.count = what, [], 0

    def add(self, msg: str) -> None:
        self.count += 1
        if len(self.rows) < MAX_SHOWN:
            self.rows.append(msg)

    def raise_if_any(self) -> None:
        if self.count:
            more = f"\n  ... and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            raise InputError(f"{self.what}: {self.count} bad row(s):\n  " + "\n  ".join(self.rows) + more)


def _records(rows: list[tuple[str, dict[str, Any]]], kind: str, probs: _Problems) -> dict[str, dict[str, str]]:
    """Validate (location, row) pairs into an id -> record dict. ``kind`` is "corpus" or "queries"."""
    out: dict[str, dict[str, str]] = {}
    first_seen: dict[str, str] = {}
    for where, row in rows:
        rid = row.get("_id")
        if rid is None or str(rid).strip() == "":
            probs.add(f"{where}: missing field '_id'")
            continue
        rid = str(rid)
        if rid in out:
            probs.add(f"{where}: duplicated _id {rid!r} (first at {first_seen[rid]})")
            continue
        text = row.get("text")
        title = row.get("title") or ""
        if not isinstance(text, str) or not (text.strip() or str(title).strip()):
            probs.add(f"{where}: empty 'text' for _id {rid!r}")
            continue
        lang = row.get("lang")
        if not lang:
            probs.add(f"{where}: missing field 'lang' for _id {rid!r} (an ISO 639-1 code per row, e.g. \"lang\": \"de\")")
            continue
        code = normalize_lang(str(lang), strict=False)  # pt_BR, zh-CN → pt, zh (mimo.langs, the one table)
        if code not in LANG_NAMES:
            probs.add(f"{where}: field 'lang': unknown language code {lang!r} for _id {rid!r}")
            continue
        lang = code
        rec = {"text": text, "lang": str(lang), "group": str(row.get("group") or rid)}
        if kind == "corpus":
            rec["title"] = str(title)
        elif row.get("kind"):
            rec["kind"] = str(row["kind"])
        out[rid] = rec
        first_seen[rid] = where
    return out


def _qrels(rows: list[tuple[str, str, str, str]], corpus: dict, queries: dict, probs: _Problems) -> dict[str, dict[str, int]]:
    """Rows are (location, query-id, corpus-id, score)."""
    qrels: dict[str, dict[str, int]] = {}
    for where, qid, did, score in rows:
        if qid not in queries:
            probs.add(f"{where}: unknown query-id {qid!r}")
            continue
        if did not in corpus:
            probs.add(f"{where}: unknown corpus-id {did!r}")
            continue
        try:
            s = int(float(score))
        except ValueError:
            probs.add(f"{where}: score {score!r} is not a number")
            continue
        if did in qrels.get(qid, {}):
            probs.add(f"{where}: duplicated judgement ({qid!r}, {did!r})")
            continue
        qrels.setdefault(qid, {})[did] = s
    return qrels


def _read_jsonl(path: Path, probs: _Problems) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                probs.add(f"{path.name}:{i}: not JSON ({e.msg})")
                continue
            if not isinstance(obj, dict):
                probs.add(f"{path.name}:{i}: not a JSON object")
                continue
            rows.append((f"{path.name}:{i}", obj))
    return rows


def _read_qrels_tsv(path: Path, probs: _Problems) -> list[tuple[str, str, str, str]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if i == 1 and parts[:2] == ["query-id", "corpus-id"]:
                continue
            if not line.strip():
                continue
            if len(parts) != 3:
                probs.add(f"qrels/{path.name}:{i}: expected 3 tab-separated fields, got {len(parts)}")
                continue
            rows.append((f"qrels/{path.name}:{i}", *parts))
    return rows


def load_dir(path: str | Path, split: str = "test", name: str | None = None) -> Benchmark:
    """Load and validate a BEIR directory; raise InputError listing the first bad rows."""
    path = Path(path)
    files = {"corpus": path / "corpus.jsonl", "queries": path / "queries.jsonl"}
    qrels_path = path / "qrels" / f"{split}.tsv"
    for p in [*files.values(), qrels_path]:
        if not p.is_file():
            raise InputError(f"{path}: not a BEIR benchmark directory (missing {p.relative_to(path)})")
    probs = _Problems(f"benchmark {path}")
    corpus = _records(_read_jsonl(files["corpus"], probs), "corpus", probs)
    queries = _records(_read_jsonl(files["queries"], probs), "queries", probs)
    qrels = _qrels(_read_qrels_tsv(qrels_path, probs), corpus, queries, probs)
    probs.raise_if_any()
    _check_nonempty(path, corpus, queries, qrels)
    meta = {}
    manifest = path / "manifest.json"
    if manifest.is_file():
        meta = {"manifest": str(manifest)}
    return Benchmark(name or path.name, corpus, queries, qrels, source=str(path), meta=meta)


def _check_nonempty(where: Any, corpus: dict, queries: dict, qrels: dict) -> None:
    if not corpus or not queries or not qrels:
        raise InputError(f"{where}: empty benchmark (corpus={len(corpus)}, queries={len(queries)}, judged={len(qrels)})")


def load_hf(name: str, split: str = "test", **kwargs: Any) -> Benchmark:
    """Load a BEIR-layout Hugging Face dataset (configs ``corpus``, ``queries``, and ``qrels`` or
    ``default`` holding the judgements in split ``split``)."""
    import datasets

    def first_split(ds: Any) -> Any:
        return ds[next(iter(ds))] if isinstance(ds, datasets.DatasetDict) else ds

    try:
        corpus_ds = first_split(datasets.load_dataset(name, "corpus", **kwargs))
        queries_ds = first_split(datasets.load_dataset(name, "queries", **kwargs))
        qrels_ds = None
        for cfg in ("qrels", "default"):
            try:
                qrels_ds = datasets.load_dataset(name, cfg, split=split, **kwargs)
                break
            except (ValueError, KeyError):
                continue
    except Exception as e:  # noqa: BLE001 - datasets raises many types; give one clear error
        raise InputError(f"cannot load Hugging Face dataset {name!r} in BEIR layout: {e}") from e
    if qrels_ds is None:
        raise InputError(f"{name}: no 'qrels' or 'default' config with split {split!r}")
    probs = _Problems(f"benchmark {name}")
    corpus = _records([(f"corpus[{i}]", r) for i, r in enumerate(corpus_ds)], "corpus", probs)
    queries = _records([(f"queries[{i}]", r) for i, r in enumerate(queries_ds)], "queries", probs)
    rows = [(f"qrels[{i}]", str(r["query-id"]), str(r["corpus-id"]), str(r["score"])) for i, r in enumerate(qrels_ds)]
    qrels = _qrels(rows, corpus, queries, probs)
    probs.raise_if_any()
    _check_nonempty(name, corpus, queries, qrels)
    return Benchmark(name, corpus, queries, qrels, source=f"hf:{name}")


def load_benchmark(name_or_path: str | Path | Benchmark, split: str = "test") -> Benchmark:
    """Resolve ``mlir-dev`` (under ``mimo.paths.data_dir()``), any BEIR directory, or an HF dataset name."""
    from mimo.paths import data_dir

    if isinstance(name_or_path, Benchmark):
        return name_or_path
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return load_dir(p, split)
    named = data_dir() / str(name_or_path)
    if named.is_dir():
        return load_dir(named, split, name=str(name_or_path))
    if str(name_or_path).startswith(("mlir-", ".", "/")) or "/" not in str(name_or_path):
        raise InputError(
            f"benchmark {name_or_path!r} not found (looked for a directory and {named}); "
            "build it with `mimo data build` or pass a BEIR directory or an HF dataset name (owner/name)"
        )
    return load_hf(str(name_or_path), split)
