"""Write the "bring your own data" example files from a mimo build (real translations, never typed).

    MIMO_HOME=... mimo data build && python examples/byod/make_fixtures.py

* ``pairs.tsv`` — parallel pairs (``english``, ``translation``, ``lang``): whole LibreOffice help
  units in German, French, Spanish and Japanese, drawn with a fixed seed from the ``parallel`` dataset;
* ``retrieval.jsonl`` — retrieval pairs (``pair_id``, ``lang``, ``query``, ``passage``) from
  ``retrieval-train`` in English and the same four languages;
* ``bench/`` — a small BEIR folder (``corpus.jsonl``, ``queries.jsonl`` with ``lang``,
  ``qrels/test.tsv``) cut from ``mlir-dev``: query groups with all five languages, their gold
  passages and distractors.

The rows are copied verbatim; only the selection is made here. The script is deterministic.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

LANGS = ("de", "fr", "es", "ja")
HERE = Path(__file__).parent


def pairs(data: Path, units: int = 15, seed: int = 0) -> list[dict[str, str]]:
    from datasets import load_from_disk

    ds = load_from_disk(str(data / "parallel"))
    by_unit: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for r in ds:
        if r["lang"] in LANGS and r["source"] == "libreoffice-help" and 40 <= len(r["english"]) <= 160:
            by_unit[r["unit_id"]][r["lang"]] = r
    full = sorted(u for u, v in by_unit.items() if len(v) == len(LANGS))
    chosen = sorted(random.Random(seed).sample(full, units))
    return [{"english": by_unit[u][lg]["english"], "translation": by_unit[u][lg]["translation"], "lang": lg}
            for u in chosen for lg in LANGS]


def retrieval(data: Path, n: int = 12, seed: int = 0) -> list[dict[str, str]]:
    from datasets import load_from_disk

    ds = load_from_disk(str(data / "retrieval-train"))
    by_pair: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for r in ds:
        if r["lang"] in ("en", *LANGS) and len(r["passage"]) <= 300:
            by_pair[r["pair_id"]][r["lang"]] = r
    full = sorted(p for p, v in by_pair.items() if len(v) == len(LANGS) + 1)
    chosen = sorted(random.Random(seed).sample(full, n))
    return [{"pair_id": p, "lang": lg, "query": by_pair[p][lg]["query"], "passage": by_pair[p][lg]["passage"]}
            for p in chosen for lg in ("en", *LANGS)]


def bench(data: Path, out: Path, groups: int = 10, distractors: int = 20, seed: int = 0) -> None:
    keep = ("en", *LANGS)
    src = data / "mlir-dev"
    corpus = [json.loads(x) for x in (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(x) for x in (src / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (src / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        q, d, _ = line.split("\t")
        qrels[q].add(d)
    q_by_group: dict[str, dict[str, dict]] = defaultdict(dict)
    for q in queries:
        q_by_group[q["group"]][q["lang"]] = q
    full = sorted(g for g, v in q_by_group.items() if all(lg in v for lg in keep))
    rng = random.Random(seed)
    chosen = sorted(rng.sample(full, groups))
    qs = [q_by_group[g][lg] for g in chosen for lg in keep]
    docs_by_id = {d["_id"]: d for d in corpus}
    gold_groups = {docs_by_id[d]["group"] for q in qs for d in qrels[q["_id"]]}
    others = sorted({d["group"] for d in corpus} - gold_groups)
    doc_groups = gold_groups | set(rng.sample(others, distractors))
    docs = [d for d in corpus if d["group"] in doc_groups and d["lang"] in keep]
    ids = {d["_id"] for d in docs}
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", docs), ("queries.jsonl", qs)):
        with open(out / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q['_id']}\t{d}\t1\n" for q in qs for d in sorted(qrels[q["_id"]]) if d in ids)


def main() -> None:
    from mimo.paths import data_dir

    data = data_dir()
    rows = pairs(data)
    with open(HERE / "pairs.tsv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        w.writerow(["english", "translation", "lang"])
        w.writerows([r["english"], r["translation"], r["lang"]] for r in rows)
    with open(HERE / "retrieval.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in retrieval(data))
    bench(data, HERE / "bench")
    print(f"wrote {HERE}/pairs.tsv ({len(rows)} pairs), retrieval.jsonl, bench/")


if __name__ == "__main__":
    main()
