"""int8 ONNX (onnxruntime dynamic quantization) vs fp32: encode speed and pooled nDCG@10, side by side.

The fp32 row is the torch model itself (its ONNX export matches it to cosine 1.0000, see
search_speed.py); the int8 row is ``mimo export --format onnx-int8`` of the same model. Quality on a
seeded sample of ``--groups`` query groups of the benchmark (all their language versions + distractors)
unless ``--groups 0`` (the whole benchmark).

    python benchmarks/int8_quality.py --model intfloat/multilingual-e5-small --out benchmarks/results/int8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="intfloat/multilingual-e5-small")
    ap.add_argument("--bench", default="mlir-test")
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--passages", type=int, default=128, help="for the throughput figure")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    command = "python " + " ".join(sys.argv)

    import torch

    from mimo.data.build import benchmark_dir
    from mimo.evaluate import evaluate, load_benchmark
    from mimo.evaluate.subsets import subsample
    from mimo.export import OnnxEncoder, export_onnx_int8
    from mimo.models import load_model
    from mimo.paths import home

    torch.set_num_threads(args.threads)
    target = home() / "exports" / args.model.strip("/").replace("/", "__") / "onnx-int8"
    if not (target / "mimo_export.json").is_file():
        export_onnx_int8(args.model, target)
    fp32, int8 = load_model(args.model), OnnxEncoder(target, threads=args.threads)
    bench = load_benchmark(benchmark_dir(args.bench))
    if args.groups:
        bench = subsample(bench, args.groups, max_docs=args.docs, seed=0)
    texts = [bench.doc_text(d) for d in list(bench.corpus)[: args.passages]]
    rows = {}
    for name, enc in (("fp32 (torch)", fp32), ("int8 ONNX (dynamic)", int8)):
        enc.encode(texts[:16], prompt_name="passage", batch_size=32)
        t0 = time.perf_counter()
        vec = enc.encode(texts, prompt_name="passage", batch_size=32, normalize_embeddings=True)
        rate = len(texts) / (time.perf_counter() - t0)
        ev = evaluate(enc, bench, progress=False, label=name)
        rows[name] = {"passages_per_s": rate, "ndcg@10": ev["views"]["pooled"]["overall"]["nDCG@10"],
                      "bias": ev.get("bias", {}).get("overall"), "vecs": vec}
        print(name, {k: v for k, v in rows[name].items() if k != "vecs"}, flush=True)
    a, b = rows["fp32 (torch)"].pop("vecs"), rows["int8 ONNX (dynamic)"].pop("vecs")
    cos = (a * b).sum(1)
    ratio = {"throughput int8 / fp32": rows["int8 ONNX (dynamic)"]["passages_per_s"] / rows["fp32 (torch)"]["passages_per_s"],
             "ndcg@10 points lost": 100 * (rows["fp32 (torch)"]["ndcg@10"] - rows["int8 ONNX (dynamic)"]["ndcg@10"]),
             "cosine int8 vs fp32 (min)": float(cos.min()), "cosine int8 vs fp32 (mean)": float(cos.mean())}
    size = {"fp32 MB": sum(p.numel() * 4 for p in fp32.parameters()) / 2**20,
            "int8 MB": (target / "onnx" / "model.onnx").stat().st_size / 2**20}
    args.out.mkdir(parents=True, exist_ok=True)
    res = {"model": args.model, "bench": bench.name, "queries": len(bench.queries), "docs": len(bench.corpus),
           "threads": args.threads, "rows": rows, "ratios": ratio, "size": size, "load_average": os.getloadavg()[0]}
    (args.out / "int8.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "command.txt").write_text(command + "\n")
    md = [f"# int8 ONNX vs fp32: {args.model} on {bench.name} ({len(bench.queries)} queries, {len(bench.corpus)} docs)\n",
          f"| encoder ({args.threads} thread, batch 32) | passages/s | pooled nDCG@10 | bias |", "|---|---:|---:|---:|"]
    md += [f"| {n} | {r['passages_per_s']:.1f} | {r['ndcg@10']:.4f} | {r['bias']:.4f} |" for n, r in rows.items()]
    md += ["", "| ratio | value |", "|---|---:|"] + [f"| {k} | {v:.3f} |" for k, v in ratio.items()]
    md += [f"| size fp32 / int8 (MB) | {size['fp32 MB']:.0f} / {size['int8 MB']:.0f} |", "",
           f"Load average {res['load_average']:.1f} on 2 cores (shared)."]
    (args.out / "int8.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
