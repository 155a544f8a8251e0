"""Training speed, side by side in one run (each variant in its own process for a clean peak RSS).

    python benchmarks/train_speed.py                 # short default (~5-10 min on 2 cores)
    python benchmarks/train_speed.py --steps 5 --gc-batch 512 --teacher mpnet --layers 6

Prints three tables, each measured now, on the same texts:
1. Stage-2 steps/s with teacher labels read from the cache vs computed by the teacher online.
2. Stage-1 pairs/s and peak RSS: full student vs frozen word embeddings vs the first N layers.
3. Peak RSS of one Stage-2 step at a large batch: GradCache (mini-batch) vs plain.
Texts: the built parallel / retrieval-train data under $MIMO_HOME when present, else synthetic
sentences of realistic length. Labels for (2) and (3) are unit vectors of the teacher's dim
(speed and memory do not depend on their values).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _texts(n: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(translation, english) parallel texts and (query, passage) retrieval texts, n each."""
    try:
        from mimo.data.build import load_parallel, load_retrieval_train

        par, ret = load_parallel(), load_retrieval_train()
        tr, en = list(par["translation"][:n]), list(par["english"][:n])
        q, p = list(ret["query"][:n]), list(ret["passage"][:n])
        if len(tr) >= n and len(q) >= n:
            return tr, en, q, p
    except Exception:  # noqa: BLE001 - fall back to synthetic text when the data is not built
        pass
    import random

    rng = random.Random(0)
    words = ("open the file menu and choose save as to store a copy of the document under another name "
             "click format then character to change the font size colour and language of the selection").split()

    def sent(k: int) -> list[str]:
        return [" ".join(rng.choice(words) for _ in range(rng.randint(k // 2, k))) for _ in range(n)]

    return sent(24), sent(24), sent(12), sent(60)


def _student(layers: int | None, frozen: bool, max_length: int):
    from mimo.train.loop import load_student_model
    from mimo.train.objectives import shrink_student

    m = load_student_model("intfloat/multilingual-e5-small")
    m.max_seq_length = max_length
    shrink_student(m, layers, frozen)
    m.train()
    return m


def _step(model, loss, feats, labels, opt) -> None:
    opt.zero_grad(set_to_none=True)
    loss(feats, labels).backward()
    opt.step()


def _params(model, loss):
    seen = {}
    for p in list(model.parameters()) + list(loss.parameters()):
        if p.requires_grad:
            seen[id(p)] = p
    return list(seen.values())


def worker_stage1(a: dict) -> dict:
    import torch

    from mimo.losses import EmbedDistillLoss

    model = _student(a["layers"], a["frozen"], a["max_length"])
    base_rss = _rss_mb()
    tr, en, _, _ = _texts(a["batch"] * (a["steps"] + 1))
    loss = EmbedDistillLoss(model, "cosine", projection_dim=a["teacher_dim"])
    opt = torch.optim.AdamW(_params(model, loss), lr=1e-5)
    b = a["batch"]
    times = []
    for s in range(a["steps"] + 1):  # the first step warms up
        sl = slice(s * b, (s + 1) * b)
        feats = [model.preprocess(tr[sl], prompt="query: "), model.preprocess(en[sl], prompt="query: ")]
        labels = torch.nn.functional.normalize(torch.randn(b, a["teacher_dim"]), dim=-1)
        t = time.perf_counter()
        _step(model, loss, feats, labels, opt)
        times.append(time.perf_counter() - t)
    per = sum(times[1:]) / len(times[1:])
    return {"s_per_step": per, "pairs_per_s": b / per, "peak_rss_mb": _rss_mb(), "model_rss_mb": base_rss}


def worker_interleaved(a: dict) -> dict:
    """Time the student variants in one process, alternating steps, so machine load hits all alike."""
    import statistics

    import torch

    from mimo.losses import EmbedDistillLoss

    b = a["batch"]
    tr, en, _, _ = _texts(b * a["steps"])
    variants = {}
    for name, layers, frozen in a["variants"]:
        torch.manual_seed(0)
        model = _student(layers, frozen, a["max_length"])
        loss = EmbedDistillLoss(model, "cosine", projection_dim=a["teacher_dim"])
        variants[name] = (model, loss, torch.optim.AdamW(_params(model, loss), lr=1e-5), [])
    for s in range(a["steps"] + 1):  # step 0 warms every variant up
        sl = slice((s % a["steps"]) * b, (s % a["steps"] + 1) * b)
        labels = torch.nn.functional.normalize(torch.randn(b, a["teacher_dim"]), dim=-1)
        for model, loss, opt, times in variants.values():
            feats = [model.preprocess(tr[sl], prompt="query: "), model.preprocess(en[sl], prompt="query: ")]
            t = time.perf_counter()
            _step(model, loss, feats, labels, opt)
            if s:
                times.append(time.perf_counter() - t)
    return {name: statistics.median(v[3]) for name, v in variants.items()}


def worker_gradcache(a: dict) -> dict:
    import torch

    from mimo.losses import EmbedDistillLoss, MimoLoss

    model = _student(None, True, a["max_length"])
    base_rss = _rss_mb()
    _, _, q, p = _texts(a["batch"])
    kd = EmbedDistillLoss(model, "cosine", projection_dim=a["teacher_dim"])
    loss = MimoLoss(model, kd, 0.2, mini_batch_size=a["mini"])
    opt = torch.optim.AdamW(_params(model, loss), lr=1e-5)
    feats = [model.preprocess(q, prompt="query: "), model.preprocess(p, prompt="passage: ")]
    labels = torch.nn.functional.normalize(torch.randn(a["batch"], 2, a["teacher_dim"]), dim=-1)
    t = time.perf_counter()
    _step(model, loss, feats, labels, opt)
    return {"s_per_step": time.perf_counter() - t, "peak_rss_mb": _rss_mb(), "model_rss_mb": base_rss}


def worker_cache(a: dict) -> dict:
    import tempfile

    import numpy as np
    import torch

    from mimo.losses import EmbedDistillLoss, MimoLoss
    from mimo.teacher import TeacherCache, model_encode_fn
    from mimo.train.loop import load_student_model

    model = _student(None, True, a["max_length"])
    teacher = load_student_model(a["teacher"])
    teacher.max_seq_length = a["max_length"]
    dim = teacher.get_embedding_dimension()
    b, steps = a["batch"], a["steps"]
    _, _, q, p = _texts(b * steps)
    enc = model_encode_fn(teacher)
    kd = EmbedDistillLoss(model, "cosine", projection_dim=dim)
    loss = MimoLoss(model, kd, 0.2, mini_batch_size=a["mini"])
    opt = torch.optim.AdamW(_params(model, loss), lr=1e-5)
    with tempfile.TemporaryDirectory() as root:
        cache = TeacherCache(a["teacher"], enc, root=root)
        t = time.perf_counter()
        cache.get_or_compute(q + p)  # built once, reused by every later epoch / stage / run
        build_s = time.perf_counter() - t
        timing: dict[str, list[float]] = {"online": [], "cache": [], "teacher": []}
        for s in range(steps):  # alternate the two modes step by step: machine load hits both alike
            sq, sp = q[s * b : (s + 1) * b], p[s * b : (s + 1) * b]
            for mode in ("online", "cache"):
                t = time.perf_counter()
                if mode == "cache":
                    lab = np.stack([cache.get(sq), cache.get(sp)], axis=1)
                else:
                    lab = np.stack([enc(sq), enc(sp)], axis=1)
                    timing["teacher"].append(time.perf_counter() - t)  # the labels alone: what a cache can save
                feats = [model.preprocess(sq, prompt="query: "), model.preprocess(sp, prompt="passage: ")]
                _step(model, loss, feats, torch.as_tensor(lab), opt)
                timing[mode].append(time.perf_counter() - t)
        timing = {k: sum(v) / len(v) for k, v in timing.items()}
    return {
        "s_per_step_online": timing["online"],
        "s_per_step_cache": timing["cache"],
        "s_teacher_labels": timing["teacher"],
        "cache_build_s": build_s,
    }


WORKERS = {"interleaved": worker_interleaved, "stage1": worker_stage1, "gradcache": worker_gradcache, "cache": worker_cache}


def run(kind: str, **kw) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps({"kind": kind, **kw})],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32, help="Stage-1 / cache-comparison batch")
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--layers", type=int, default=6, help="N for the N-layer student")
    ap.add_argument("--teacher", default="sentence-transformers/all-mpnet-base-v2")
    ap.add_argument("--gc-batch", type=int, default=256, help="batch for GradCache vs plain (512 = issue's)")
    ap.add_argument("--gc-mini", type=int, default=32)
    ap.add_argument("--gc-max-length", type=int, default=32)
    ap.add_argument("--skip", nargs="*", default=[], choices=["cache", "students", "gradcache"])
    args = ap.parse_args()
    if args.worker:
        a = json.loads(args.worker)
        print(json.dumps(WORKERS[a["kind"]](a)))
        return

    print(f"# train_speed: steps={args.steps} batch={args.batch} max_length={args.max_length}")
    if "cache" not in args.skip:
        r = run("cache", teacher=args.teacher, batch=args.batch, steps=args.steps, max_length=args.max_length,
                mini=None)
        print(f"\n## Stage-2 step with teacher labels from the cache vs online ({args.teacher})")
        if "error" in r:
            print("error:", r["error"])
        else:
            ratio = r["s_per_step_online"] / r["s_per_step_cache"]
            print(f"| labels | s/step | steps/s |\n|---|---|---|\n"
                  f"| online teacher | {r['s_per_step_online']:.2f} | {1 / r['s_per_step_online']:.3f} |\n"
                  f"| teacher cache | {r['s_per_step_cache']:.2f} | {1 / r['s_per_step_cache']:.3f} |\n"
                  f"cache speed-up: {ratio:.2f}x (one-off cache build for these texts: {r['cache_build_s']:.1f} s)")
            share = r["s_teacher_labels"] / r["s_per_step_online"]
            print(f"the teacher's labels are {100 * share:.0f}% of an online step; the student's own step stays, so a "
                  f"label store that cost nothing gives about 1 / (1 - {share:.2f}) = {1 / (1 - share):.2f}x, "
                  f"not more (the measured ratio also moves with machine load)")
    if "students" not in args.skip:
        print("\n## Stage-1 throughput (median s/step, variants interleaved in one process) and peak RSS "
              "(one process each), MiniLM-sized 384-d projection")
        variants = [("full", None, False), ("frozen embeddings", None, True),
                    (f"{args.layers} layers + frozen", args.layers, True)]
        speed = run("interleaved", variants=variants, batch=args.batch, steps=args.steps,
                    max_length=args.max_length, teacher_dim=384)
        print("| student | s/step | pairs/s | x full | peak RSS MB | RSS after load MB |\n|---|---|---|---|---|---|")
        for name, layers, frozen in variants:
            r = run("stage1", layers=layers, frozen=frozen, batch=args.batch, steps=1,
                    max_length=args.max_length, teacher_dim=384)
            if "error" in speed or "error" in r:
                print(f"| {name} | error: {speed.get('error') or r.get('error')} |")
                continue
            sec = speed[name]
            print(f"| {name} | {sec:.2f} | {args.batch / sec:.1f} | {speed['full'] / sec:.2f} "
                  f"| {r['peak_rss_mb']:.0f} | {r['model_rss_mb']:.0f} |")
    if "gradcache" not in args.skip:
        print(f"\n## One Stage-2 step at batch {args.gc_batch} (max length {args.gc_max_length}, frozen embeddings)")
        print("| loss | s/step | peak RSS MB | RSS after load MB |\n|---|---|---|---|")
        res = {}
        for name, mini in ((f"GradCache mini-batch {args.gc_mini}", args.gc_mini), ("plain", None)):
            r = res[name] = run("gradcache", batch=args.gc_batch, mini=mini, max_length=args.gc_max_length,
                                teacher_dim=384)
            if "error" in r:
                print(f"| {name} | error: {r['error']} |")
            else:
                print(f"| {name} | {r['s_per_step']:.2f} | {r['peak_rss_mb']:.0f} | {r['model_rss_mb']:.0f} |")
        if all("error" not in v for v in res.values()):
            gc, plain = res.values()
            extra = [(v["peak_rss_mb"] - v["model_rss_mb"]) for v in (gc, plain)]
            print(f"activation memory (peak - after load): GradCache {extra[0]:.0f} MB vs plain {extra[1]:.0f} MB "
                  f"({extra[1] / max(extra[0], 1):.1f}x less with GradCache)")


if __name__ == "__main__":
    main()
