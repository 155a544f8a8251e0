"""int8 ONNX recipes vs fp32 on a trained student (issue 14): quality on a whole benchmark, speed side by side.

    python benchmarks/int8_recipes.py --model runs/budget-curve/b50/seed0/mimo-minilm --out benchmarks/results/int8
    python benchmarks/int8_recipes.py --model ... --recipes all-ops --no-speed --no-report   # score one more recipe
    python benchmarks/int8_recipes.py --model ... --recipes A B C --no-quality   # time A B C, report what is scored

For ``--model`` this exports fp32 ONNX and each ``--recipes`` recipe (``mimo.export.INT8_RECIPES``) of
it under ``--exports`` (reused when already there), then

* quality: pooled nDCG@10 (and the other views) of fp32 torch, fp32 ONNX and every recipe on the whole
  ``--bench`` through ``mimo.evaluate.evaluate`` (its encode cache keys each export by its fingerprint),
  each stored in ``<exports>/evals/<name>.json`` as it lands, so a stopped run resumes and two processes
  can score different recipes at once; the difference to fp32 torch is ``mimo.evaluate.paired_test``
  (language versions of a query kept together: group bootstrap 95% CI, sign-flip p);
* speed: ``--passages`` passages of the benchmark's corpus (seeded sample, passage prompt, batch 32),
  encoded once per round by every encoder in a rotated order, ``--rounds`` rounds, 1 thread
  (``torch.set_num_threads``, onnxruntime ``intra_op_num_threads``): passages/s by wall clock and per
  CPU-second (``time.process_time``), medians over rounds; ratios are medians of per-round ratios;
  the load average is recorded before and after; plus each encoder's size on disk and its cosine to
  fp32 torch on those passages.

The report (``int8.json``, ``int8.md``, ``command.txt`` in ``--out``, written atomically) covers whatever
has been scored so far.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

TORCH, ONNX = "fp32 torch", "fp32 ONNX"


def exports(model: str, root: Path, recipes: list[str]) -> dict[str, Path]:
    """Encoder name -> export dir (None-free): fp32 ONNX and one int8 export per recipe, made once."""
    from mimo.export import EXPORT_FILE, export_onnx, quantize_export

    fp32 = root / "onnx-fp32"
    if not (fp32 / EXPORT_FILE).is_file():
        print(f"exporting {model} to {fp32}", flush=True)
        export_onnx(model, fp32)
    dirs = {ONNX: fp32}
    for r in recipes:
        d = root / f"int8-{r}"
        if not (d / EXPORT_FILE).is_file():
            print(f"quantizing {fp32} with {r} -> {d}", flush=True)
            quantize_export(fp32, d, r)
        dirs[f"int8 {r}"] = d
    return dirs


def load(name: str, model: str, dirs: dict[str, Path]) -> Any:
    from mimo.export import OnnxEncoder
    from mimo.models import load_model

    return load_model(model) if name == TORCH else OnnxEncoder(dirs[name], threads=1)


def size_mb(name: str, model: str, dirs: dict[str, Path], enc: Any) -> float:
    """On-disk size: the ONNX graph files of an export; the fp32 weights (parameter bytes) of torch."""
    if name == TORCH:
        return sum(p.numel() * p.element_size() for p in enc.parameters()) / 2**20
    return sum(f.stat().st_size for f in (dirs[name] / "onnx").rglob("*") if f.is_file()) / 2**20


# ---- quality ----------------------------------------------------------------------------------------

def score(names: list[str], model: str, dirs: dict[str, Path], bench: Any, store: Path) -> None:
    """Evaluate every encoder not yet in ``store`` (one JSON each: overall views + per-query nDCG@10)."""
    from mimo.evaluate import evaluate
    from mimo.evaluate.significance import per_query_metric
    from mimo.paths import atomic_write_json

    for name in names:
        f = store / f"{name.replace(' ', '_')}.json"
        if f.is_file():
            continue
        enc = load(name, model, dirs)
        t0 = time.perf_counter()
        ev = evaluate(enc, bench, label=name, progress=sys.stderr.isatty())
        row = {"name": name, "fingerprint": ev["fingerprint"], "seconds": round(time.perf_counter() - t0, 1),
               "views": {v: ev["views"][v]["overall"] for v in ev["views"]},
               "encode": {k: ev["encode"][k] for k in ("queries", "corpus")},
               "per_query": per_query_metric(ev, "nDCG@10", "pooled")}
        atomic_write_json(f, row)
        print(f"{name}: pooled nDCG@10 {row['views']['pooled']['nDCG@10']:.4f} ({row['seconds']} s)", flush=True)


def quality(names: list[str], bench: Any, store: Path) -> dict[str, Any]:
    """Per encoder: pooled nDCG@10 and the paired difference to fp32 torch (when both are scored)."""
    from mimo.evaluate import paired_test

    rows = {}
    for name in names:
        f = store / f"{name.replace(' ', '_')}.json"
        if f.is_file():
            rows[name] = json.loads(f.read_text())
    out = {}
    for name, r in rows.items():
        q = {"ndcg@10": r["views"]["pooled"]["nDCG@10"], "recall@100": r["views"]["pooled"].get("Recall@100"),
             "cross-lingual ndcg@10": r["views"].get("cross-lingual", {}).get("nDCG@10"),
             "fingerprint": r["fingerprint"], "eval_seconds": r["seconds"]}
        if name != TORCH and TORCH in rows:
            t = paired_test(r["per_query"], rows[TORCH]["per_query"], bench.query_groups)
            q["vs fp32 torch"] = {k: t[k] for k in ("diff", "ci_low", "ci_high", "p_value", "n_queries", "n_groups")}
        out[name] = q
    return out


# ---- speed ------------------------------------------------------------------------------------------

def speed(names: list[str], model: str, dirs: dict[str, Path], texts: list[str], rounds: int) -> dict[str, Any]:
    """Interleaved encode timing, 1 thread: medians of passages/s (wall, per CPU-second) and ratios."""
    import torch

    torch.set_num_threads(1)
    encs = {n: load(n, model, dirs) for n in names}
    for enc in encs.values():  # warm-up: graph init, allocator
        enc.encode(texts[:32], prompt_name="passage", batch_size=32)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    vecs: dict[str, np.ndarray] = {}
    load_before = os.getloadavg()
    for i in range(rounds):
        for n in names[i % len(names):] + names[: i % len(names)]:
            t0, c0 = time.perf_counter(), time.process_time()
            vecs[n] = encs[n].encode(texts, prompt_name="passage", batch_size=32, normalize_embeddings=True)
            wall[n].append(len(texts) / (time.perf_counter() - t0))
            cpu[n].append(len(texts) / (time.process_time() - c0))
        print(f"round {i + 1}/{rounds}: " + ", ".join(f"{n} {cpu[n][-1]:.1f}/CPU-s" for n in names), flush=True)
    load_after = os.getloadavg()
    out: dict[str, Any] = {}
    for n in names:
        cos = (vecs[n] * vecs[TORCH]).sum(1) if TORCH in vecs else None
        out[n] = {"passages_per_s": statistics.median(wall[n]), "passages_per_cpu_s": statistics.median(cpu[n]),
                  "size_mb": size_mb(n, model, dirs, encs[n]),
                  "cosine_to_fp32_torch": None if cos is None else {"mean": float(cos.mean()), "min": float(cos.min())}}
        for ref in (TORCH, ONNX):
            if ref in names:
                out[n][f"x {ref} (CPU-s)"] = statistics.median(a / b for a, b in zip(cpu[n], cpu[ref], strict=True))
                out[n][f"x {ref} (wall)"] = statistics.median(a / b for a, b in zip(wall[n], wall[ref], strict=True))
    return {"rows": out, "passages": len(texts), "rounds": rounds, "threads": 1, "batch_size": 32,
            "load_average_before": load_before, "load_average_after": load_after, "cpus": os.cpu_count()}


# ---- report -----------------------------------------------------------------------------------------

def markdown(res: dict[str, Any]) -> str:
    q, s = res["quality"], res.get("speed", {}).get("rows", {})
    b = res["bench"]
    lines = [f"# int8 ONNX vs fp32: {res['model']} on the whole {b['name']} ({b['queries']} queries, {b['docs']} docs)",
             "", "Quality: pooled nDCG@10; int8 − fp32 torch with its paired 95% CI (group bootstrap over query "
             "groups) and sign-flip p. Speed: 1 thread, batch 32, passage prompt, interleaved rounds; "
             "ratios are per CPU-second, medians of per-round ratios.", "",
             "| encoder | pooled nDCG@10 | − fp32 torch (points) [95% CI] | p | passages/s | per CPU-s | "
             "x fp32 torch | x fp32 ONNX | size MB | cosine to fp32 (mean / min) |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---|"]
    from mimo.evaluate.significance import format_p

    for name in res["encoders"]:
        qr, sr = q.get(name, {}), s.get(name, {})
        nd = f"{qr['ndcg@10']:.4f}" if qr else "not scored"
        d = qr.get("vs fp32 torch")
        diff = f"{100 * d['diff']:+.2f} [{100 * d['ci_low']:+.2f}, {100 * d['ci_high']:+.2f}]" if d else "-"
        p = format_p(d["p_value"]) if d else "-"
        cos = sr.get("cosine_to_fp32_torch")
        sp = (f"{sr['passages_per_s']:.1f} | {sr['passages_per_cpu_s']:.1f} | {sr.get('x fp32 torch (CPU-s)', 0):.2f} | "
              f"{sr.get('x fp32 ONNX (CPU-s)', 0):.2f} | {sr['size_mb']:.0f}") if sr else "- | - | - | - | -"
        c = f"{cos['mean']:.4f} / {cos['min']:.4f}" if cos else "-"
        lines.append(f"| {name} | {nd} | {diff} | {p} | {sp} | {c} |")
    if s:
        sp = res["speed"]
        lines += ["", f"Speed: {sp['passages']} passages x {sp['rounds']} rounds; load average (1/5/15 min) "
                  f"{'/'.join(f'{x:.2f}' for x in sp['load_average_before'])} before, "
                  f"{'/'.join(f'{x:.2f}' for x in sp['load_average_after'])} after, on {sp['cpus']} shared cores."]
    from mimo.export import INT8_RECIPES

    lines += ["", "Recipes:", ""] + [f"- `{r}`: {INT8_RECIPES[r].summary}" for r in res["recipes"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from mimo.export import DEFAULT_INT8_RECIPE, INT8_RECIPES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a trained student dir (or model name)")
    ap.add_argument("--recipes", nargs="+", default=[DEFAULT_INT8_RECIPE], help=f"among {', '.join(INT8_RECIPES)}")
    ap.add_argument("--quality-recipes", nargs="*", help="recipes to score on the whole bench (default: the first "
                    "of --recipes); every recipe is timed")
    ap.add_argument("--bench", default="mlir-test")
    ap.add_argument("--exports", type=Path, help="export dirs and stored evaluations (default runs/int8/<model>)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "int8")
    ap.add_argument("--passages", type=int, default=256, help="passages timed per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-quality", action="store_true", help="score nothing new (report what is stored)")
    ap.add_argument("--no-speed", action="store_true", help="time nothing (report the last timing run, if any)")
    ap.add_argument("--no-report", action="store_true", help="write nothing to --out")
    args = ap.parse_args(argv)
    bad = [r for r in args.recipes + (args.quality_recipes or []) if r not in INT8_RECIPES]
    if bad:
        raise SystemExit(f"--recipes: unknown {', '.join(bad)}; choose among {', '.join(INT8_RECIPES)}")

    from mimo.data.build import benchmark_dir
    from mimo.evaluate import load_benchmark
    from mimo.paths import atomic_write_json, atomic_write_text

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = args.exports or Path("runs/int8") / Path(args.model).name
    dirs = exports(args.model, root, list(dict.fromkeys(args.recipes + (args.quality_recipes or []))))
    names = [TORCH, ONNX] + [f"int8 {r}" for r in args.recipes]
    p = Path(args.bench)
    bench = load_benchmark(p if (p / "corpus.jsonl").is_file() else benchmark_dir(args.bench))
    store = root / "evals" / bench.name
    store.mkdir(parents=True, exist_ok=True)
    if not args.no_quality:
        import torch

        torch.set_num_threads(1)
        scored = [f"int8 {r}" for r in (args.recipes[:1] if args.quality_recipes is None else args.quality_recipes)]
        # fp32 torch last: a run that trained the model (budget_curve.py) has usually cached its vectors
        score(scored[:1] + [ONNX] + scored[1:] + [TORCH], args.model, dirs, bench, store)
    res: dict[str, Any] = {"model": args.model, "bench": {"name": bench.name, "queries": len(bench.queries),
                                                          "docs": len(bench.corpus)},
                           "recipes": args.recipes, "encoders": names, "quality": quality(names, bench, store),
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not args.no_speed:
        rng = np.random.default_rng(0)
        dids = list(bench.corpus)
        texts = [bench.doc_text(dids[i]) for i in rng.choice(len(dids), size=min(args.passages, len(dids)), replace=False)]
        res["speed"] = speed(names, args.model, dirs, texts, args.rounds)
        atomic_write_json(root / "speed.json", res["speed"])
    elif (root / "speed.json").is_file():  # the last timing run of these exports
        res["speed"] = json.loads((root / "speed.json").read_text())
    md = markdown(res)
    print(md)
    if not args.no_report:
        command = "python benchmarks/int8_recipes.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        atomic_write_json(args.out / "int8.json", res)
        atomic_write_text(args.out / "int8.md", md)
        atomic_write_text(args.out / "command.txt", command + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
