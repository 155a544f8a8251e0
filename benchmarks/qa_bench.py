"""What the question-style benchmark sees: reference encoders on ``mlir-qa-test`` (and ``mlir-test`` beside it).

    python benchmarks/qa_bench.py --out benchmarks/results/qa-bench --work runs/qa-bench

* English-only view (``mimo.evaluate.subsets.restrict_langs``, the view ``benchmarks/quality.py`` scores
  the teachers on): the untrained student, MiniLM and mpnet, on ``mlir-qa-test`` and on ``mlir-test``,
  with paired tests of mpnet against the other two. Does the QA benchmark rank them as real questions do
  (mpnet > MiniLM > student), where ``mlir-test`` puts the student close to the teachers?
* Pooled (every language): the untrained student and USE-multilingual on ``mlir-qa-test``.
* Benchmark sizes per language and per query kind, from the build's manifest.

Writes ``summary.json`` and ``summary.md`` plus each evaluation's ``comparison.md`` / ``results.json`` /
``paired.json`` under ``--out``; the TREC runs stay under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

STUDENT, MINILM, MPNET, USE = ("intfloat/multilingual-e5-small", "sentence-transformers/all-MiniLM-L6-v2",
                               "sentence-transformers/all-mpnet-base-v2", "use-multilingual-v3")
LABELS = {STUDENT: "untrained mE5-small", MINILM: "MiniLM-L6 (teacher)", MPNET: "mpnet-base (teacher)",
          USE: "USE-multilingual v3"}


def runs(qa_only: bool) -> list[tuple[str, str, list[str], int]]:
    """(benchmark, view, models, index of the paired-test reference)."""
    out = [("mlir-qa-test", "en", [STUDENT, MINILM, MPNET], 2), ("mlir-qa-test", "pooled", [STUDENT, USE], 0)]
    if not qa_only:
        out.append(("mlir-test", "en", [STUDENT, MINILM, MPNET], 2))
    return out


def sizes(manifest) -> dict[str, Any]:  # noqa: ANN001 - mimo.data.build.Manifest
    return {name: {k: manifest.counts[name][k] for k in ("queries", "corpus", "query_groups", "corpus_groups",
                                                         "pages", "kinds", "sources", "licences")}
            for name in ("mlir-qa-dev", "mlir-qa-test")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/qa-bench")
    ap.add_argument("--work", default="runs/qa-bench")
    ap.add_argument("--qa-only", action="store_true", help="skip the mlir-test English-only contrast")
    args = ap.parse_args(argv)
    command = "python benchmarks/qa_bench.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))

    from mimo.data.build import benchmark_dir, build_all
    from mimo.evaluate import evaluate_models, load_benchmark
    from mimo.evaluate.subsets import restrict_langs
    from mimo.paths import atomic_write_json, atomic_write_text

    manifest = build_all()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"command": command, "sizes": sizes(manifest), "evaluations": []}
    for name, view, models, ref in runs(args.qa_only):
        bench = load_benchmark(benchmark_dir(name))
        if view == "en":
            bench = restrict_langs(bench, ["en"])
        key = f"{name}-{view}"
        t0 = time.perf_counter()
        res = evaluate_models(models, bench, work / key, labels=[LABELS[m] for m in models], paired_ref=ref,
                              progress=False)
        secs = time.perf_counter() - t0
        for f in ("comparison.md", "results.json", "paired.json"):
            if (res["out_dir"] / f).is_file():
                (out / key).mkdir(exist_ok=True)
                shutil.copyfile(res["out_dir"] / f, out / key / f)
        rows = []
        for r in res["results"]:
            v = r["views"]["pooled"]
            rows.append({"model": r["model"], "nDCG@10": v["overall"]["nDCG@10"], "Recall@100": v["overall"]["Recall@100"],
                         "MRR@10": v["overall"]["MRR@10"], "n": v["overall"]["n"],
                         "per_kind": {k: d["nDCG@10"] for k, d in v.get("per_kind", {}).items()},
                         "cross-lingual nDCG@10": r["views"].get("cross-lingual", {}).get("overall", {}).get("nDCG@10"),
                         "multi-monolingual nDCG@10": r["views"].get("multi-monolingual", {}).get("overall", {}).get("nDCG@10"),
                         "lang bias@10": r["bias"]["overall"]})
        paired = [{k: p.get(k) for k in ("a", "b", "diff", "ci_low", "ci_high", "p_value", "n_queries", "n_groups")}
                  for p in res["paired"]]
        summary["evaluations"].append({"bench": bench.name, "view": view, "n_queries": len(bench.queries),
                                       "n_docs": len(bench.corpus), "seconds": round(secs, 1), "rows": rows,
                                       "paired": paired})
        print(json.dumps({"bench": bench.name, "rows": [(r["model"], round(r["nDCG@10"], 4)) for r in rows]}))
        sys.stdout.flush()
        atomic_write_json(out / "summary.json", summary)
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", to_markdown(summary))
    atomic_write_text(out / "command.txt", f"MIMO_HOME=<cache> HF_HUB_OFFLINE=1 {command}\n")


def to_markdown(s: dict[str, Any]) -> str:
    lines = ["# mlir-qa: what the question-style benchmark sees\n", f"`{s['command']}`\n"]
    for name, c in s["sizes"].items():
        lines += [f"\n## {name}: {c['query_groups']} query groups from {c['pages']} pages "
                  f"({', '.join(f'{k} {n}' for k, n in c['sources'].items())})\n",
                  "query kinds (groups): " + ", ".join(f"{k} {n}" for k, n in c["kinds"].items()) + "\n",
                  "| lang | queries | docs |", "|---|---:|---:|"]
        lines += [f"| {lg} | {n} | {c['corpus'].get(lg, 0)} |" for lg, n in c["queries"].items()]
        lines.append(f"| all | {sum(c['queries'].values())} | {sum(c['corpus'].values())} |")
    for e in s["evaluations"]:
        kinds = sorted({k for r in e["rows"] for k in r["per_kind"]})
        lines += [f"\n## {e['bench']} ({e['view']}): {e['n_queries']} queries, {e['n_docs']} docs\n",
                  "| model | nDCG@10 | R@100 | MRR@10 | " + " | ".join(f"nDCG@10 {k}" for k in kinds) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(kinds)]
        for r in e["rows"]:
            lines.append(f"| {r['model']} | {r['nDCG@10']:.4f} | {r['Recall@100']:.4f} | {r['MRR@10']:.4f} | "
                         + " | ".join(f"{r['per_kind'].get(k, float('nan')):.4f}" for k in kinds) + " |")
        for p in e["paired"]:
            if p.get("diff") is not None:
                lines.append(f"\n{p['a']} − {p['b']}: {100 * p['diff']:+.2f} points, 95% CI "
                             f"[{100 * p['ci_low']:+.2f}, {100 * p['ci_high']:+.2f}], p = {p['p_value']:.4f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
