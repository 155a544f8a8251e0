"""The ``en-hard`` view: English queries of a QA benchmark against every English text of the data build.

``mlir-qa-test``'s English-only view is at ceiling (teachers and students within a point of each other),
so it cannot show how far a student is from its English teacher. ``en-hard`` keeps the English queries
and their English answers and adds, as distractors, every other English passage and sentence the data
build holds: the other benchmarks' English passages, retrieval-train's English passages and the English
side of the parallel data. A distractor that is a verbatim part of (or equal to) an answer passage is
dropped, so no distractor is an unjudged answer. The result is a BEIR directory that
:func:`mimo.evaluate.load_benchmark` reads by name (``en-hard``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mimo.errors import InputError

NAME = "en-hard"
#: the benchmarks whose English passages join as distractors (when built)
DISTRACTOR_BENCHES = ("mlir-test", "mlir-dev", "mlir-qa-dev")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: not JSON ({e.msg})") from None


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _id(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def english_distractors(data: Path, skip: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """(id, text) of every English text of the data build at ``data`` but the benchmarks in ``skip``:
    benchmark passages, retrieval-train passages, then the English side of the parallel data."""
    for name in DISTRACTOR_BENCHES:
        if name in skip or not (data / name / "corpus.jsonl").is_file():
            continue
        for row in _read_jsonl(data / name / "corpus.jsonl"):
            if row.get("lang") == "en":
                yield f"{name}:{row['_id']}", row["text"]
    for name, column, lang_col in (("retrieval-train", "passage", "lang"), ("parallel", "english", None)):
        if not (data / name).is_dir():
            continue
        from datasets import load_from_disk

        ds = load_from_disk(str(data / name))
        texts = ds[column] if lang_col is None else [t for t, lang in zip(ds[column], ds[lang_col], strict=True)
                                                     if lang == "en"]
        for t in texts:
            yield _id(name, t), t


def build_en_hard(data: Path | None = None, base: str = "mlir-qa-test", out: Path | None = None,
                  min_chars: int = 10) -> dict[str, Any]:
    """Write the en-hard BEIR directory (``out``, default ``<data>/en-hard``) from ``base``'s English
    queries and answers plus every English distractor of the build; returns its stats (also stats.json)."""
    from mimo.paths import atomic_write_json, atomic_write_text, data_dir

    data = data or data_dir()
    src = data / base
    if not (src / "corpus.jsonl").is_file():
        raise InputError(f"{src}: benchmark {base!r} not built; run `mimo data build` first")
    out = out or data / NAME
    corpus = {r["_id"]: r for r in _read_jsonl(src / "corpus.jsonl") if r.get("lang") == "en"}
    queries = {r["_id"]: r for r in _read_jsonl(src / "queries.jsonl") if r.get("lang") == "en"}
    qrels: dict[str, list[str]] = {}
    with (src / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        next(f, None)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if qid in queries and did in corpus and int(score) > 0:
                qrels.setdefault(qid, []).append(did)
    queries = {q: r for q, r in queries.items() if q in qrels}
    if not queries:
        raise InputError(f"{src}: no English query with an English answer")
    answers = "\x00".join(_norm(corpus[d]["text"]) for ds in qrels.values() for d in ds)  # one haystack
    seen = {_norm(r["text"]) for r in corpus.values()}
    docs = [{"_id": d, "text": r["text"], "title": r.get("title", ""), "lang": "en"} for d, r in corpus.items()]
    dropped = {"duplicate": 0, "part of an answer": 0, "short": 0}
    for did, text in english_distractors(data, skip=(base,)):
        key = _norm(text)
        if len(key) < min_chars:
            dropped["short"] += 1
        elif key in seen:
            dropped["duplicate"] += 1
        elif key in answers:
            dropped["part of an answer"] += 1
        else:
            seen.add(key)
            docs.append({"_id": did, "text": text, "title": "", "lang": "en"})
    atomic_write_text(out / "corpus.jsonl", "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    atomic_write_text(out / "queries.jsonl", "".join(
        json.dumps({k: r[k] for k in ("_id", "text", "lang", "group", "kind") if k in r}, ensure_ascii=False) + "\n"
        for r in queries.values()))
    atomic_write_text(out / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t1\n" for q, ds in qrels.items() for d in ds))
    stats = {"base": base, "queries": len(queries), "answers": len(corpus), "passages": len(docs),
             "distractors": len(docs) - len(corpus), "dropped": dropped, "min_chars": min_chars}
    atomic_write_json(out / "stats.json", stats)
    return stats
