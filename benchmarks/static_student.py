"""The static MIMO student side by side with the transformer it would replace, its Stage-1-only state,
the plain model2vec distillation it starts from, and (teacher-space export) the teacher's English index.

1. Quality on each whole benchmark (``--bench``, default mlir-test and mlir-qa-test): pooled and
   cross-lingual nDCG@10 and language bias of the trained static student (Stage 1 + 2), the Stage-1-only
   static student (``--stage1``) and the untrained model2vec init. The MIMO transformer's figures are the
   seed mean of ``--method`` at ``--budget`` in ``--points`` (benchmarks/budget_curve.py's points.json).
   Its points hold per-query nDCG only, no rankings, so its language bias cannot be recomputed there:
   it is read from ``--bias-reference`` (a quality_summary.json row, for the benchmark it names), with
   the source stated; ``--transformer DIR`` re-scores a trained transformer here instead.
2. Encode throughput (passages/s, 1 thread, batch 32, passage prompt): the static student and a
   transformer of the MIMO student's architecture (mE5-small: the MIMO transformer has its weights'
   shape, so its speed), interleaved over ``--speed-rounds`` rounds in one process; the median per model.
3. Teacher space, per benchmark: queries in every language, documents = the English documents only.
   Ceiling: the teacher on the English queries; ``teacher-space``: the student + its projection
   (``mimo export --format teacher-space``) for the queries, the teacher's vectors for the documents
   (an English index built by the teacher, untouched); re-index: the student for both. For the
   Stage-2 and (``--stage1``) the Stage-1 static students.

Rows already in ``--out``'s static_student.json (same model path, same benchmark) are reused unless
``--refresh``; speed is always measured anew.

    python benchmarks/static_student.py --student runs/static-mimo --stage1 runs/static-mimo-s1 \\
        --points benchmarks/results/budget-curve/points.json --out benchmarks/results/static-student
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TEACHERS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2"}
Q, P = "\x1eq\x1e", "\x1ep\x1e"  # routing markers: queries and passages go to different encoders
STATIC, STAGE1, INIT = "static MIMO student (Stage 1 + 2)", "static, Stage 1 only", "model2vec init (untrained)"


class SplitEncoder:
    """Queries through one encoder, passages through another (e.g. teacher-space student + teacher index)."""

    def __init__(self, query_enc: Any, passage_enc: Any, name: str) -> None:
        self.q, self.p, self.prompts, self.fingerprint = query_enc, passage_enc, {"query": Q, "passage": P}, name

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        if all(t.startswith(Q) for t in texts):
            enc, prompt = self.q, "query"
        elif all(t.startswith(P) for t in texts):
            enc, prompt = self.p, "passage"
        else:
            raise ValueError("SplitEncoder: a batch mixes queries and passages")
        kw = {k: v for k, v in kw.items() if k in ("batch_size", "normalize_embeddings", "convert_to_numpy")}
        name = prompt if prompt in (getattr(enc, "prompts", None) or {}) else None
        return enc.encode([t[len(Q):] for t in texts], prompt_name=name, **kw)


def figures(ev: dict[str, Any], path: str) -> dict[str, Any]:
    """Pooled / cross-lingual nDCG@10 and bias of one evaluation (None where a view is empty: NaN)."""
    views = ev["views"]
    num = lambda v: None if v is None or v != v else float(v)  # noqa: E731
    return {"ndcg@10": num(views["pooled"]["overall"].get("nDCG@10")),
            "cross-lingual ndcg@10": num(views.get("cross-lingual", {}).get("overall", {}).get("nDCG@10")),
            "bias": num(ev.get("bias", {}).get("overall")),
            "queries": len(views["pooled"].get("per_query", {})) or None, "path": path}


def transformer_reference(points: Path, method: str, budget: int, bench: str) -> dict[str, Any]:
    """Seed mean of one budget-curve method on one benchmark (pooled and cross-lingual nDCG@10)."""
    rows = [p for p in json.loads(points.read_text())["points"]
            if p["method"] == method and p["budget"] == budget and p["bench"] == bench]
    if not rows:  # e.g. a dev benchmark: the static rows only
        return {"ndcg@10": None, "cross-lingual ndcg@10": None, "bias": None, "seeds": 0,
                "source": f"no {method} point at budget {budget} on {bench} in {points}"}
    mean = {k: statistics.fmean(r[k] for r in rows) for k in ("ndcg@10", "cross-lingual ndcg@10")}
    return mean | {"bias": None, "seeds": len(rows), "source": f"{points} ({method}, {budget} steps, seed mean)"}


def reference_bias(path: Path | None, row: str, bench: str, ref_bench: str) -> tuple[float | None, str]:
    """The transformer's bias from a quality_summary.json row, only for the benchmark it was measured on."""
    if path is None or bench != ref_bench:
        return None, f"no transformer bias on record for {bench}"
    rec = next((r for r in json.loads(path.read_text()) if r["name"] == row), None)
    if rec is None:
        raise SystemExit(f"--bias-reference {path}: no row {row!r}")
    return rec["bias"], f"{path} row {row!r} ({rec.get('seeds')} seeds, an earlier MIMO transformer recipe)"


def throughput(encoders: dict[str, tuple[Any, list[str]]], rounds: int) -> dict[str, float]:
    """Passages/s of each encoder, measured interleaved (one encoder after the other, ``rounds`` times)."""
    runs: dict[str, list[float]] = {n: [] for n in encoders}
    for enc, texts in encoders.values():
        enc.encode(texts[:32], prompt_name="passage", batch_size=32)  # warm-up
    for _ in range(rounds):
        for name, (enc, texts) in encoders.items():
            t0 = time.perf_counter()
            enc.encode(texts, prompt_name="passage", batch_size=32)
            runs[name].append(len(texts) / (time.perf_counter() - t0))
    return {n: statistics.median(v) for n, v in runs.items()}


def teacher_space(student_dir: Path, teacher: Any, teacher_key: str, bench: Any) -> dict[str, Any]:
    """Ceiling, teacher-space student queries vs the teacher's English index, the student re-indexing."""
    from sentence_transformers import SentenceTransformer

    from mimo.evaluate import evaluate
    from mimo.evaluate.subsets import _keep, restrict_langs
    from mimo.export import export_teacher_space

    en_docs = {d for d, v in bench.corpus.items() if v["lang"] == "en"}
    all_q_en_docs = _keep(bench, f"{bench.name}-all-queries-en-docs", set(bench.queries), en_docs)
    with tempfile.TemporaryDirectory(prefix="mimo-ts-") as t:
        ts_dir = export_teacher_space(str(student_dir), Path(t) / "ts")
        ts = SentenceTransformer(str(ts_dir), device="cpu")
        split = SplitEncoder(ts, teacher, f"split:{student_dir}:{teacher_key}:{time.time()}")
        return {
            "path": str(student_dir),
            "ceiling": figures(evaluate(teacher, restrict_langs(bench, ["en"]), progress=False), teacher_key),
            "teacher-space": figures(evaluate(split, all_q_en_docs, progress=False, use_cache=False), str(student_dir)),
            "re-index": figures(evaluate(str(student_dir), all_q_en_docs, progress=False), str(student_dir)),
        }


def render(result: dict[str, Any]) -> str:
    f = lambda v: "–" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    benches = list(result["quality"])
    md = ["# Static MIMO student vs the MIMO transformer\n",
          "| model | " + " | ".join(f"{b} pooled | {b} cross-lingual | {b} bias" for b in benches) + " |",
          "|---|" + "---:|" * 3 * len(benches)]
    names = list(dict.fromkeys(n for b in benches for n in result["quality"][b]))
    for n in names:
        cells = [f(result["quality"][b].get(n, {}).get(k)) for b in benches for k in ("ndcg@10", "cross-lingual ndcg@10", "bias")]
        md.append(f"| {n} | " + " | ".join(cells) + " |")
    md += ["", "| ratio | " + " | ".join(benches) + " |", "|---|" + "---:|" * len(benches)]
    for k in next(iter(result["ratios"].values())):
        md.append(f"| {k} | " + " | ".join(f(result["ratios"][b].get(k)) for b in benches) + " |")
    md += ["", "Transformer reference: " + "; ".join(f"{b}: {result['reference'][b]['source']}; bias: "
                                                     f"{result['reference'][b]['bias_source']}" for b in benches)]
    sp = result["speed"] or {"passages_per_s": {}, "passages": {}, "threads": 1, "rounds": 0, "ratio": 0.0,
                              "load_before": 0.0, "load_after": 0.0}
    md += ["", f"| encoder ({sp['threads']} thread, batch 32, {sp['rounds']} interleaved rounds, median) "
           "| passages | passages/s |", "|---|---:|---:|"]
    md += [f"| {n} | {sp['passages'][n]} | {v:,.1f} |" for n, v in sp["passages_per_s"].items()]
    md += [f"| ratio static / transformer | | {sp['ratio']:.0f}x |", "",
           f"Load average (1 min) before / after the speed runs: {sp['load_before']:.2f} / {sp['load_after']:.2f} "
           "on 2 shared cores (other jobs running)."]
    md += ["", "| teacher space: queries in every language, English documents only | "
           + " | ".join(f"{b} nDCG@10 | {b} vs ceiling" for b in benches) + " |", "|---|" + "---:|" * 2 * len(benches)]
    rows = [("teacher, English queries (ceiling)", None, "ceiling")]
    for model in result["teacher_space"][benches[0]]:
        rows += [(f"{model}: teacher-space queries, teacher's English index", model, "teacher-space"),
                 (f"{model}: student re-indexes everything", model, "re-index")]
    for label, model, kind in rows:
        cells = []
        for b in benches:
            ts = result["teacher_space"][b]
            ceil = next(iter(ts.values()))["ceiling"]["ndcg@10"]
            v = (next(iter(ts.values())) if model is None else ts[model])[kind]["ndcg@10"]
            cells += [f(v), f"{v / ceil:.1%}"]
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def speed_figures(args: argparse.Namespace, benchmarks: dict[str, Any]) -> dict[str, Any]:
    """Passages/s of the static student and the transformer, interleaved, with the load average around it."""
    from sentence_transformers import SentenceTransformer

    from mimo.models import load_model

    first = benchmarks[args.bench.split(",")[0]]
    texts = [first.doc_text(d) for d in list(first.corpus)[: args.speed_passages]]
    encoders = {STATIC: (SentenceTransformer(str(args.student), device="cpu"), texts),
                f"{args.speed_model} (transformer)": (load_model(args.speed_model), texts[:64])}
    load_before = os.getloadavg()[0]
    speed = throughput(encoders, args.speed_rounds)
    out = {"passages_per_s": speed, "passages": {n: len(t) for n, (_, t) in encoders.items()},
           "ratio": speed[STATIC] / speed[f"{args.speed_model} (transformer)"], "threads": 1,
           "rounds": args.speed_rounds, "load_before": load_before, "load_after": os.getloadavg()[0],
           "bench": first.name}
    print("passages/s", out, flush=True)
    return out


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", required=True, type=Path, help="the trained static student (Stage 1 + 2)")
    ap.add_argument("--stage1", type=Path, help="the Stage-1-only static student (adds its rows)")
    ap.add_argument("--init", help="the untrained init (default: train_summary.json's static_init)")
    ap.add_argument("--bench", default="mlir-test,mlir-qa-test", help="comma-separated benchmarks")
    ap.add_argument("--teacher", default="minilm")
    ap.add_argument("--points", type=Path, default=Path("benchmarks/results/budget-curve/points.json"))
    ap.add_argument("--method", default="mimo-minilm")
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--bias-reference", type=Path, default=Path("benchmarks/results/stage2-b64-full/quality_summary.json"))
    ap.add_argument("--bias-reference-row", default="MIMO λ=0.2, 20% Stage 1 (split tuned on mlir-dev) [minilm]")
    ap.add_argument("--bias-reference-bench", default="mlir-test")
    ap.add_argument("--transformer", help="re-score this trained transformer dir here instead of --points")
    ap.add_argument("--speed-model", default="intfloat/multilingual-e5-small")
    ap.add_argument("--speed-passages", type=int, default=256)
    ap.add_argument("--speed-rounds", type=int, default=3)
    ap.add_argument("--refresh", action="store_true", help="re-score rows already in --out")
    ap.add_argument("--out", type=Path, required=True)
    return ap.parse_args()


def main() -> None:
    args = parse()
    command = "python " + " ".join(sys.argv)

    import torch

    from mimo.data.build import BENCHMARKS, benchmark_dir
    from mimo.evaluate import evaluate, load_benchmark
    from mimo.models import load_model
    from mimo.paths import atomic_write_text

    torch.set_num_threads(1)
    init = args.init or json.loads((args.student / "train_summary.json").read_text())["student_surgery"]["static_init"]
    models = {STATIC: str(args.student)} | ({STAGE1: str(args.stage1)} if args.stage1 else {}) | {INIT: str(init)}
    old_file = args.out / "static_student.json"
    old = json.loads(old_file.read_text()) if old_file.is_file() and not args.refresh else {}
    cached = lambda sec, b, n, path: (old.get(sec, {}).get(b, {}).get(n) or {}).get("path") == path  # noqa: E731
    teacher = load_model(TEACHERS.get(args.teacher, args.teacher))
    result: dict[str, Any] = {"quality": {}, "reference": {}, "ratios": {}, "teacher_space": {}}
    benchmarks: dict[str, Any] = {}
    for b in args.bench.split(","):
        bench = benchmarks[b] = load_benchmark(benchmark_dir(b) if b in BENCHMARKS else b)
        rows = {}
        for name, path in models.items():  # 1. quality on the whole benchmark
            rows[name] = old["quality"][b][name] if cached("quality", b, name, path) else \
                figures(evaluate(path, bench, progress=False, label=name), path)
            print(b, name, rows[name], flush=True)
        if args.transformer:
            ref = figures(evaluate(args.transformer, bench, progress=False), args.transformer)
            ref |= {"source": f"{args.transformer}, re-scored here", "bias_source": "re-scored here"}
        else:
            ref = transformer_reference(args.points, args.method, args.budget, b)
            ref["bias"], ref["bias_source"] = reference_bias(args.bias_reference, args.bias_reference_row, b,
                                                             args.bias_reference_bench)
        if ref["ndcg@10"] is not None:
            rows["MIMO transformer (mE5-small, MiniLM teacher)"] = ref
        result["quality"][b], result["reference"][b] = rows, ref
        s = rows[STATIC]
        per = lambda a, c: None if c is None else a / c  # noqa: E731
        result["ratios"][b] = {
            "static ndcg@10 / transformer's": per(s["ndcg@10"], ref["ndcg@10"]),
            "static bias - transformer's": None if ref["bias"] is None else s["bias"] - ref["bias"],
            "static ndcg@10 / model2vec init's": s["ndcg@10"] / rows[INIT]["ndcg@10"],
        } | ({"Stage-1-only ndcg@10 / transformer's": per(rows[STAGE1]["ndcg@10"], ref["ndcg@10"])} if args.stage1 else {})
        space = {}
        for name in (STATIC, STAGE1):  # 3. teacher space
            if name in models:
                hit = cached("teacher_space", b, name, models[name])
                space[name] = old["teacher_space"][b][name] if hit else \
                    teacher_space(Path(models[name]), teacher, args.teacher, bench)
                print(b, name, json.dumps(space[name]), flush=True)
        result["teacher_space"][b] = space
        for name, ts in space.items():
            result["ratios"][b][f"{name}: teacher-space / teacher's English ceiling"] = \
                ts["teacher-space"]["ndcg@10"] / ts["ceiling"]["ndcg@10"]

    # 2. encode throughput, 1 thread, interleaved (--speed-rounds 0: skipped)
    result["speed"] = None if args.speed_rounds == 0 else speed_figures(args, benchmarks)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(old_file, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(args.out / "command.txt", command + "\n")
    md = render(result)
    atomic_write_text(args.out / "static_student.md", md)
    print(md)


if __name__ == "__main__":
    main()
