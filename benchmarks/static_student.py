"""The static MIMO student side by side with the transformer it would replace, the plain model2vec
distillation it starts from, and (teacher-space export) the teacher's own English index.

1. Quality on the whole benchmark (pooled / cross-lingual nDCG@10, language bias): the trained static
   student vs its untrained model2vec init; the MIMO transformer's figures are read from
   ``--reference`` (a ``quality_summary.json`` of benchmarks/quality.py) unless ``--transformer`` names
   a trained model dir to re-score here (~6 min on 2 idle cores).
2. Encode throughput (passages/s, 1 thread, batch 32, passage prompt) of the static student vs a
   transformer of the MIMO student's architecture (mE5-small; the MIMO transformer has its weights'
   shape, so its speed).
3. Teacher space: queries in every language, documents = the benchmark's English documents only.
   Ceiling: the teacher on the English queries; ``teacher-space``: the student + its projection
   (``mimo export --format teacher-space``) for the queries, the teacher's vectors for the documents
   (an English index built by the teacher, untouched); re-index: the student for both.

    python benchmarks/static_student.py --student runs/static-mimo --out benchmarks/results/static-student
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TEACHERS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2"}
Q, P = "\x1eq\x1e", "\x1ep\x1e"  # routing markers: queries and passages go to different encoders


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


def figures(ev: dict[str, Any]) -> dict[str, Any]:
    views = ev["views"]
    return {"ndcg@10": views["pooled"]["overall"].get("nDCG@10"),
            "cross-lingual ndcg@10": views.get("cross-lingual", {}).get("overall", {}).get("nDCG@10"),
            "bias": ev.get("bias", {}).get("overall"),
            "queries": len(views["pooled"].get("per_query", {})) or None}


def throughput(enc: Any, texts: list[str]) -> float:
    enc.encode(texts[:32], prompt_name="passage", batch_size=32)
    t0 = time.perf_counter()
    enc.encode(texts, prompt_name="passage", batch_size=32)
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", required=True, help="a trained static student dir (mimo train --student static:...)")
    ap.add_argument("--init", help="its untrained init (default: train_summary.json's static_init)")
    ap.add_argument("--bench", default="mlir-test")
    ap.add_argument("--teacher", default="minilm")
    ap.add_argument("--reference", default="benchmarks/results/stage2-b64-full/quality_summary.json")
    ap.add_argument("--reference-row", default="MIMO λ=0.2, 20% Stage 1 (split tuned on mlir-dev) [minilm]")
    ap.add_argument("--transformer", help="re-score this trained transformer dir here instead of --reference")
    ap.add_argument("--speed-model", default="intfloat/multilingual-e5-small")
    ap.add_argument("--speed-passages", type=int, default=256)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    command = "python " + " ".join(sys.argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from mimo.data.build import benchmark_dir
    from mimo.evaluate import evaluate, load_benchmark
    from mimo.evaluate.subsets import _keep, restrict_langs
    from mimo.export import export_teacher_space
    from mimo.models import load_model

    torch.set_num_threads(1)
    student_dir = Path(args.student)
    init = args.init or json.loads((student_dir / "train_summary.json").read_text())["student_surgery"]["static_init"]
    bench = load_benchmark(benchmark_dir(args.bench) if args.bench in ("mlir-dev", "mlir-test") else args.bench)
    rows: dict[str, dict[str, Any]] = {}

    # 1. quality on the whole benchmark
    for name, path in (("static MIMO student", student_dir), ("model2vec distillation (untrained init)", init)):
        rows[name] = figures(evaluate(str(path), bench, progress=False, label=name))
        print(name, rows[name], flush=True)
    if args.transformer:
        rows["MIMO transformer (re-scored here)"] = figures(evaluate(args.transformer, bench, progress=False))
        ref_name = "MIMO transformer (re-scored here)"
    else:
        ref = next(r for r in json.loads(Path(args.reference).read_text()) if r["name"] == args.reference_row)
        ref_name = f"MIMO transformer ({ref['seeds']} seeds, from {args.reference})"
        rows[ref_name] = {k: ref.get(k) for k in ("ndcg@10", "cross-lingual ndcg@10", "bias")}
    tr = rows[ref_name]

    # 2. encode throughput, 1 thread
    texts = [bench.doc_text(d) for d in list(bench.corpus)[: args.speed_passages]]
    static = SentenceTransformer(str(student_dir), device="cpu")
    speed = {"static MIMO student": throughput(static, texts),
             f"{args.speed_model} (transformer)": throughput(load_model(args.speed_model), texts[:64])}
    print("passages/s", speed, flush=True)
    s = rows["static MIMO student"]
    ratio = {"ndcg@10 vs transformer": s["ndcg@10"] / tr["ndcg@10"],
             "bias minus transformer's": s["bias"] - tr["bias"],
             "throughput vs transformer": speed["static MIMO student"] / speed[f"{args.speed_model} (transformer)"],
             "ndcg@10 vs model2vec init": s["ndcg@10"] / rows["model2vec distillation (untrained init)"]["ndcg@10"]}

    # 3. teacher space: every query language vs the English documents
    teacher = load_model(TEACHERS.get(args.teacher, args.teacher))
    en_docs = {d for d, v in bench.corpus.items() if v["lang"] == "en"}
    all_q_en_docs = _keep(bench, f"{bench.name}-all-queries-en-docs", set(bench.queries), en_docs)
    space: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mimo-ts-") as t:
        ts_dir = export_teacher_space(str(student_dir), Path(t) / "ts")
        ts = SentenceTransformer(str(ts_dir), device="cpu")
        space["teacher, English queries (ceiling)"] = figures(evaluate(teacher, restrict_langs(bench, ["en"]), progress=False))
        space["teacher-space student queries, teacher's English index"] = figures(evaluate(
            SplitEncoder(ts, teacher, f"split:{ts_dir.name}:{args.teacher}:{time.time()}"), all_q_en_docs,
            progress=False, use_cache=False))
        space["student re-indexes everything"] = figures(evaluate(str(student_dir), all_q_en_docs, progress=False))
    print(json.dumps(space, indent=1), flush=True)
    ceiling = space["teacher, English queries (ceiling)"]["ndcg@10"]
    ts_score = space["teacher-space student queries, teacher's English index"]["ndcg@10"]
    ratio["teacher-space vs teacher English ceiling"] = ts_score / ceiling

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    result = {"bench": bench.name, "quality": rows, "passages_per_s": speed, "teacher_space": space, "ratios": ratio,
              "threads": 1, "load_average": os.getloadavg()[0]}
    (out / "static_student.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (out / "command.txt").write_text(command + "\n")
    f = lambda v: "–" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    md = [f"# Static MIMO student on {bench.name}\n", "| model | pooled nDCG@10 | cross-lingual nDCG@10 | bias |",
          "|---|---:|---:|---:|"]
    md += [f"| {n} | {f(r['ndcg@10'])} | {f(r['cross-lingual ndcg@10'])} | {f(r['bias'])} |" for n, r in rows.items()]
    md += ["", "| encoder (1 thread, batch 32) | passages/s |", "|---|---:|"]
    md += [f"| {n} | {v:,.1f} |" for n, v in speed.items()]
    md += ["", "| teacher space: queries in every language, English documents | nDCG@10 |", "|---|---:|"]
    md += [f"| {n} | {f(r['ndcg@10'])} |" for n, r in space.items()]
    md += ["", "| ratio | value |", "|---|---:|"] + [f"| {n} | {v:.3f} |" for n, v in ratio.items()]
    md += ["", f"Measured with load average {result['load_average']:.1f} on 2 cores (other jobs running)."]
    (out / "static_student.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
