"""Low-resource transfer: languages held out of Stage 2, or of both stages, evaluated per language.

    python benchmarks/lowresource.py --heldout vi hi ko --bench-groups 100 --bench-docs 2000

Every trained row gets the same data, seed and step budget (the ``quality.py`` cpu recipe: batch 32,
max length 96, frozen word embeddings, lstsq-initialised projection, MiniLM teacher; the Stage-1 /
Stage-2 split of ``--s1`` + ``--s2`` steps; XLCO-only trains ``s1 + s2`` Stage-2 steps from the
untrained student, as in ``quality.py``):

* MIMO, held out of Stage 2: Stage 1 on every language, Stage 2 without the held-out languages;
* MIMO, held out of both: Stage 1 and Stage 2 without them;
* XLCO-only, held out: no Stage 1 exists, so this is "held out of everything it trains";
* MIMO / XLCO-only on every language (the reference the held-out languages would reach).

Each model is evaluated on the same seeded sample of ``mlir-test`` (pooled view); the figure plots
per-query-language nDCG@10 against the language's parallel pairs in the build. Output:
``benchmarks/results/lowresource/{lowresource.json,lowresource.md,lowresource.png,command.txt}``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "lowresource"
TEACHER = "sentence-transformers/all-MiniLM-L6-v2"
STUDENT = "intfloat/multilingual-e5-small"


def plans(heldout: list[str], langs: list[str], s1: int, s2: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(row name, objective, [TrainConfig overrides run in order]); the held-out rows first."""
    kept = [x for x in langs if x not in heldout]
    s1_all = {"key": "stage1-all", "stage": "1", "objective": "kd", "stage1_steps": s1}
    s1_ex = {"key": "stage1-ex", "stage": "1", "objective": "kd", "stage1_steps": s1, "langs": kept}

    def stage2(key: str, objective: str, steps: int, ls: list[str] | None) -> dict[str, Any]:
        return {"key": key, "stage": "2", "objective": objective, "stage2_steps": steps, "langs": ls}

    s2_steps = s2
    return [
        ("untrained mE5-small", "reference", []),
        ("MIMO, held out of Stage 2", "mimo", [s1_all, stage2("mimo-ex2", "mimo", s2_steps, kept)]),
        ("MIMO, held out of both stages", "mimo", [s1_ex, stage2("mimo-exboth", "mimo", s2_steps, kept)]),
        ("XLCO-only, held out", "xlco", [stage2("xlco-ex", "xlco", s1 + s2_steps, kept)]),
        # the Stage-1 models themselves: KD toward the English anchor with / without the held-out languages
        ("Stage 1 only (KD), held out", "kd", [s1_ex]),
        ("Stage 1 only (KD), all languages", "kd", [s1_all]),
        ("MIMO, all languages", "mimo", [s1_all, stage2("mimo-all", "mimo", s2_steps, None)]),
        ("XLCO-only, all languages", "xlco", [stage2("xlco-all", "xlco", s1 + s2_steps, None)]),
    ]


def train_sizes(manifest) -> dict[str, dict[str, int]]:  # noqa: ANN001 - mimo.data.build.Manifest
    """Parallel pairs and retrieval-train rows per language in the build."""
    par, ret = manifest.counts.get("parallel", {}), manifest.counts.get("retrieval-train", {})
    return {lg: {"parallel": sum(par.get(lg, {}).values()), "retrieval": sum(ret.get(lg, {}).values())}
            for lg in ["en", *manifest.langs]}


def run(args: argparse.Namespace, command: str) -> list[dict[str, Any]]:
    from mimo.data.build import benchmark_dir, load_manifest
    from mimo.evaluate import evaluate, load_benchmark
    from mimo.evaluate.subsets import subsample
    from mimo.train import TrainConfig
    from mimo.train.runs import train_or_reuse

    manifest = load_manifest()
    langs = list(manifest.langs)
    unknown = [x for x in args.heldout if x not in langs]
    if unknown:
        raise SystemExit(f"held-out language(s) {unknown} are not in the build ({', '.join(langs)})")
    bench = load_benchmark(benchmark_dir(args.bench))
    if args.bench_groups:
        bench = subsample(bench, args.bench_groups, max_docs=args.bench_docs, seed=0)
    out = Path(args.out)
    old = out / "lowresource.json"
    rows: list[dict[str, Any]] = json.loads(old.read_text())["rows"] if old.is_file() and not args.fresh else []
    sizes = train_sizes(manifest)
    for name, objective, plan in plans(args.heldout, langs, args.s1, args.s2):
        if args.only and not any(s in name for s in args.only):
            continue
        t0 = time.perf_counter()
        model = STUDENT
        for step in plan:
            step = dict(step)
            key = step.pop("key")
            over = dict(out=str(Path(args.work) / key), seed=args.seed, teacher=TEACHER, student=model,
                        batch_size=args.batch, stage2_batch_size=args.batch, max_length=args.max_length,
                        freeze_embeddings=True, projection_init="lstsq")
            if step["stage"] == "2" and model != STUDENT:
                over["init_projection"] = str(Path(model) / "projection.safetensors")
            train_or_reuse(TrainConfig(**(over | step)), say=print, label=key)
            model = over["out"]
        train_s = time.perf_counter() - t0
        ev = evaluate(model, bench, views=("pooled",), progress=False, label=name)
        per_lang = ev["views"]["pooled"]["per_lang"]
        n_q: dict[str, int] = {}
        for q in bench.queries.values():
            n_q[q["lang"]] = n_q.get(q["lang"], 0) + 1
        row = {"name": name, "objective": objective, "heldout": args.heldout, "model": model,
               "train seconds": round(train_s, 1),
               "ndcg@10": ev["views"]["pooled"]["overall"].get("nDCG@10"),
               "per_lang": {lg: {"ndcg@10": v.get("nDCG@10"), "queries": n_q.get(lg, 0),
                                 **sizes.get(lg, {})} for lg, v in sorted(per_lang.items())}}
        if old.is_file() and not args.fresh:  # another invocation may have added rows meanwhile
            rows = json.loads(old.read_text())["rows"]
        rows = [r for r in rows if r["name"] != name] + [row]
        print(json.dumps({"name": name, "ndcg@10": row["ndcg@10"],
                          **{lg: round(row["per_lang"][lg]["ndcg@10"], 4) for lg in args.heldout if lg in row["per_lang"]}}))
        sys.stdout.flush()
        write_outputs(rows, args, command, bench)
    return rows


def gaps(row: dict[str, Any], heldout: list[str]) -> dict[str, float]:
    """Mean nDCG@10 of the held-out languages, of the trained non-English ones, and the gap."""
    pl = row["per_lang"]
    ho = [pl[lg]["ndcg@10"] for lg in heldout if lg in pl]
    tr = [v["ndcg@10"] for lg, v in pl.items() if lg not in heldout and lg != "en"]
    h, t = sum(ho) / max(1, len(ho)), sum(tr) / max(1, len(tr))
    return {"held-out mean": h, "trained mean": t, "gap": h - t}


def write_outputs(rows: list[dict[str, Any]], args: argparse.Namespace, command: str, bench) -> None:  # noqa: ANN001
    from mimo.paths import atomic_write_json, atomic_write_text

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"command": command, "heldout": args.heldout, "bench": args.bench, "bench_groups": args.bench_groups,
            "bench_docs": args.bench_docs, "queries": len(bench.queries), "docs": len(bench.corpus),
            "s1": args.s1, "s2": args.s2, "batch": args.batch, "max_length": args.max_length, "seed": args.seed}
    atomic_write_json(out / "lowresource.json", {"meta": meta, "rows": rows})
    atomic_write_text(out / "command.txt", command + "\n")
    langs = sorted({lg for r in rows for lg in r["per_lang"]}, key=lambda x: (x not in args.heldout, x))
    ref = rows[0]["per_lang"]
    head = "| model | overall | " + " | ".join(f"{lg}{' (held out)' if lg in args.heldout else ''}" for lg in langs)
    lines = [f"# Low-resource transfer: {', '.join(args.heldout)} held out\n",
             f"Pooled nDCG@10 per query language on a seeded sample of {args.bench} ({meta['queries']} queries, "
             f"{meta['docs']} docs). Budget: Stage 1 {args.s1} + Stage 2 {args.s2} steps (XLCO-only: "
             f"{args.s1 + args.s2} Stage-2 steps), batch {args.batch}, max length {args.max_length}, seed {args.seed}.\n",
             "| lang | parallel pairs | retrieval rows | queries in sample |", "|---|---:|---:|---:|"]
    lines += [f"| {lg} | {ref[lg].get('parallel', 0):,} | {ref[lg].get('retrieval', 0):,} | {ref[lg]['queries']} |"
              for lg in langs]
    lines += ["", head + " | held-out mean | trained mean | gap |", "|---" * (len(langs) + 5) + "|"]
    for r in rows:
        g = gaps(r, args.heldout)
        cells = " | ".join(f"{r['per_lang'][lg]['ndcg@10']:.3f}" if lg in r["per_lang"] else "-" for lg in langs)
        lines.append(f"| {r['name']} | {r['ndcg@10']:.4f} | {cells} | {g['held-out mean']:.3f} | "
                     f"{g['trained mean']:.3f} | {g['gap']:+.3f} |")
    lines += ["", f"Command: `{command}`", ""]
    atomic_write_text(out / "lowresource.md", "\n".join(lines))
    plot(rows, args.heldout, out / "lowresource.png")


def plot(rows: list[dict[str, Any]], heldout: list[str], path: Path) -> None:
    """Per-language nDCG@10 vs the language's parallel pairs; one panel per held-out condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {r["name"]: r for r in rows}
    panels = [("held out of Stage 2", [("MIMO, held out of Stage 2", "tab:blue", "o"),
                                        ("XLCO-only, held out", "tab:orange", "s"),
                                        ("MIMO, all languages", "tab:blue", "x"),
                                        ("XLCO-only, all languages", "tab:orange", "+")]),
              ("held out of Stage 1 (and 2)", [("MIMO, held out of both stages", "tab:blue", "o"),
                                               ("Stage 1 only (KD), held out", "tab:green", "D"),
                                               ("Stage 1 only (KD), all languages", "tab:green", "x"),
                                               ("XLCO-only, held out", "tab:orange", "s")])]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, (title, series) in zip(axes, panels, strict=True):
        series = [*series, ("untrained mE5-small", "grey", ".")]
        for name, color, marker in series:
            if name not in by:
                continue
            pl = by[name]["per_lang"]
            xs = [max(1, v.get("parallel", 0)) for lg, v in pl.items() if lg != "en"]
            ys = [v["ndcg@10"] for lg, v in pl.items() if lg != "en"]
            filled = marker in ("o", "s", "D")
            ax.scatter(xs, ys, c=color if filled else None, edgecolors=color if filled else None,
                       marker=marker, s=36 if filled else 30, label=name, alpha=0.9 if filled else 0.55,
                       **({} if filled else {"color": color}))
            if filled:
                for lg, v in pl.items():
                    if lg != "en":
                        ax.annotate(lg + ("*" if lg in heldout else ""), (max(1, v.get("parallel", 0)), v["ndcg@10"]),
                                    textcoords="offset points", xytext=(4, 3), fontsize=7, color=color,
                                    fontweight="bold" if lg in heldout else "normal")
        ax.set_xscale("log")
        ax.set_title(f"{', '.join(heldout)} {title} (* = held out)")
        ax.set_xlabel("parallel pairs of the language in the build (log)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pooled nDCG@10 of the language's queries")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", nargs="+", default=["vi", "hi", "ko"])
    ap.add_argument("--bench", default="mlir-test")
    ap.add_argument("--bench-groups", type=int, default=100)
    ap.add_argument("--bench-docs", type=int, default=2000)
    ap.add_argument("--s1", type=int, default=10)
    ap.add_argument("--s2", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="runs/lowresource")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--only", nargs="*", help="run only rows whose name contains one of these")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    command = "python " + shlex.join(sys.argv)
    run(args, command)


if __name__ == "__main__":
    main()
