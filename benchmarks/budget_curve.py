"""MIMO vs the baselines as the optimizer-step budget grows (issue 13): the budget curve.

    python benchmarks/budget_curve.py --plan                # every run, its status, a time estimate
    python benchmarks/budget_curve.py                       # all of configs/budget-curve.yaml (GPU or CPU)
    python benchmarks/budget_curve.py --budgets 50 --methods mimo-minilm xlco --seeds 0 1 2 --bench mlir-test

Every method gets the same optimizer steps B per point: MIMO and KD-only run Stage 1 for
``stage1_share`` x B steps (shared by MIMO and KD-only of the same teacher, seed and budget) and
Stage 2 for the rest; XLCO-only and LaKDA train Stage 2 from the untrained student for all B steps.
Each trained model is scored on the whole of every ``--bench`` (a benchmark that is not built is
skipped with a message), pooled / cross-lingual / multi-monolingual, through the evaluation API and its
encode cache. Device: ``--device auto`` (cuda when visible, else cpu).

Resumable across sessions: runs checkpoint every ``checkpoint_every`` steps and ``train_or_reuse``
resumes an interrupted run or reuses a finished one; a point already in ``points.json`` is skipped.
Each point is written (atomically) to ``<out>/points.json`` as it lands, with its per-query pooled
nDCG@10 under ``<out>/per-query/``; then the seed-aware comparisons (``mimo.evaluate.seed_aware_test``:
MIMO - XLCO-only and MIMO - best baseline per budget and bench), ``summary.json``, ``budget-curve.md``
and one figure ``budget-curve.png`` (pooled nDCG@10 vs steps, a line per method, a panel per bench,
seed sd as error bars; below, MIMO - XLCO-only with its seed-aware 95% interval) are refreshed.

Teachers listed in ``prefill_teachers`` (mpnet) are run once over every English text into the teacher
cache before any training (``mimo teacher-cache build``), so no run waits on the teacher; the one-off
cost lands in ``points.json`` under ``teacher_cache``.
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "budget-curve"


@dataclass(frozen=True)
class Method:
    label: str
    objective: str  # Stage-2 objective
    teacher: str | None  # a teacher key: Stage 1 + Stage 2; None: Stage 2 from the untrained student


METHODS = {
    "mimo-minilm": Method("MIMO (MiniLM)", "mimo", "minilm"),
    "mimo-mpnet": Method("MIMO (mpnet)", "mimo", "mpnet"),
    "mimo-self": Method("MIMO (--teacher self)", "mimo", "self"),
    "xlco": Method("XLCO-only", "xlco", None),
    "lakda": Method("LaKDA", "lakda", None),  # the paper's reference formulation (unscaled-cosine KL)
    "lakda-sharp": Method("LaKDA-sharp", "lakda-sharp", None),  # ours: KL on scale-20 scores, InfoNCE on both
    "kd-minilm": Method("KD-only (MiniLM)", "kd", "minilm"),
    "kd-mpnet": Method("KD-only (mpnet)", "kd", "mpnet"),
}
BASELINES = ("xlco", "lakda", "lakda-sharp", "kd-minilm", "kd-mpnet")
# seconds per optimizer step (Stage-2 batch 64, max length 96, frozen embeddings) and texts encoded per
# second in evaluation, before any measurement of this run calibrates them (CPU: this 2-core machine)
DEFAULT_RATES = {"cpu": {"step_s": 4.5, "encode_per_s": 65.0}, "cuda": {"step_s": 0.15, "encode_per_s": 1500.0}}


# ---- the recipe -------------------------------------------------------------------------------------

def load_recipe(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not path.is_file():
        raise SystemExit(f"--config {path}: no such file")
    recipe = yaml.safe_load(path.read_text()) or {}
    for key in ("budgets", "seeds", "methods"):
        if getattr(args, key):
            recipe[key] = getattr(args, key)
    if args.bench:
        recipe["benches"] = args.bench
    recipe["train"] = dict(recipe.get("train") or {}) | parse_sets(args.set)
    unknown = sorted(set(recipe["methods"]) - set(METHODS))
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}")
    for m in recipe["methods"]:
        t = METHODS[m].teacher
        if t not in (None, "self") and t not in recipe.get("teachers", {}):
            raise SystemExit(f"method {m} needs teacher {t!r}: add it under 'teachers' in {path}")
    return recipe


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``--set stage2_lr=1e-4 lam=0.5`` -> TrainConfig overrides for every trained step (values as YAML)."""
    from mimo.errors import InputError
    from mimo.train.config import parse_overrides

    try:
        return parse_overrides(items)
    except InputError as e:
        raise SystemExit(str(e)) from None


def split_steps(budget: int, share: float) -> tuple[int, int]:
    """(Stage-1, Stage-2) steps of a teacher method at ``budget`` total steps (each at least 1)."""
    s1 = min(max(1, round(budget * share)), budget - 1)
    return s1, budget - s1


def plan_point(recipe: dict[str, Any], method: str, budget: int, seed: int, work: Path) -> list[Any]:
    """The TrainConfigs one point runs, in order; the last one's ``out`` is the model to score."""
    from mimo.train import TrainConfig

    m = METHODS[method]
    base = dict(recipe["train"]) | {"seed": seed, "student": recipe["student"]}
    d = work / f"b{budget}" / f"seed{seed}"
    lr = recipe["stage2_lr"][m.objective]
    if m.teacher is None:
        return [TrainConfig(**(base | {"out": str(d / method), "stage": "2", "objective": m.objective,
                                       "stage2_steps": budget, "stage2_lr": lr})).validate()]
    teacher = "self" if m.teacher == "self" else recipe["teachers"][m.teacher]
    s1, s2 = split_steps(budget, recipe["stage1_share"])
    stage1 = d / f"stage1-{m.teacher}"
    return [
        TrainConfig(**(base | {"out": str(stage1), "stage": "1", "objective": "kd", "teacher": teacher,
                               "stage1_steps": s1})).validate(),
        TrainConfig(**(base | {"out": str(d / method), "stage": "2", "objective": m.objective, "teacher": teacher,
                               "student": str(stage1), "init_projection": str(stage1 / "projection.safetensors"),
                               "stage2_steps": s2, "stage2_lr": lr})).validate(),
    ]


def run_status(config: Any) -> str:
    from mimo.train.runs import can_resume, is_finished

    return "trained" if is_finished(config) else "resumable" if can_resume(config) else "to train"


def resolve_bench(name: str, quiet: bool = False) -> Path | None:
    """A benchmark dir by name (``mlir-test``) or path; None (and a message unless ``quiet``) when it is
    not built."""
    from mimo.errors import MimoError

    p = Path(name)
    if (p / "corpus.jsonl").is_file():
        return p
    try:
        from mimo.data.build import benchmark_dir

        return benchmark_dir(name)
    except MimoError as e:
        if not quiet:
            print(f"skipping benchmark {name!r}: not built ({e})")
        return None


def query_kinds(queries: dict[str, dict[str, str]]) -> dict[str, str]:
    return {q: r.get("kind", "") for q, r in queries.items()}


def backfill_kinds(store: Store) -> None:
    """Add kinds.json to points scored before it was written, from the benchmark's queries when built."""
    from mimo.evaluate import load_benchmark

    for name in store.benches():
        if not store.kinds(name) and (path := resolve_bench(name, quiet=True)) is not None:
            store.add_kinds(name, query_kinds(load_benchmark(path).queries))


# ---- results on disk ------------------------------------------------------------------------------

def point_key(method: str, budget: int, seed: int, bench: str) -> str:
    return f"{method}|{budget}|{seed}|{bench}"


class Store:
    """``points.json`` (one row per method x budget x seed x bench) and the per-query scores beside it."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out / "points.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.data.setdefault("points", [])
        self.data.setdefault("teacher_cache", {})

    def has(self, key: str) -> bool:
        return any(p["key"] == key for p in self.data["points"]) and self.per_query_file(key).is_file()

    def per_query_file(self, key: str) -> Path:
        method, budget, seed, bench = key.split("|")
        return self.out / "per-query" / bench / f"{method}-b{budget}-s{seed}.npy"

    def add(self, row: dict[str, Any], qids: list[str], scores: list[float], groups: dict[str, str],
            kinds: dict[str, str] | None = None) -> None:
        import numpy as np

        from mimo.paths import atomic_write_bytes, atomic_write_json

        bench_dir = self.out / "per-query" / row["bench"]
        qfile = bench_dir / "qids.json"
        if not qfile.is_file():
            atomic_write_json(bench_dir / "groups.json", [groups.get(q, q) for q in qids])
            atomic_write_json(qfile, qids)
        elif json.loads(qfile.read_text()) != qids:
            raise SystemExit(f"{qfile}: the benchmark's queries changed since earlier points; use another --out")
        self.add_kinds(row["bench"], kinds or {})
        buf = io.BytesIO()
        np.save(buf, np.asarray(scores, dtype=np.float32))
        atomic_write_bytes(self.per_query_file(row["key"]), buf.getvalue())
        self.data["points"] = [p for p in self.data["points"] if p["key"] != row["key"]] + [row]
        self.save()

    def save(self) -> None:
        """Write points.json, first adopting the points another process saved there since this one read
        it (under a lock), so that two runners may share one --out without losing each other's points."""
        import fcntl

        from mimo.paths import atomic_write_json

        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / ".points.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.is_file():
                mine = {p["key"] for p in self.data["points"]}
                disk = json.loads(self.path.read_text()).get("points", [])
                self.data["points"] += [p for p in disk if p["key"] not in mine]
            atomic_write_json(self.path, self.data)

    def per_query(self, key: str) -> dict[str, float]:
        import numpy as np

        bench = key.split("|")[3]
        qids = json.loads((self.out / "per-query" / bench / "qids.json").read_text())
        return dict(zip(qids, np.load(self.per_query_file(key)).astype(float).tolist(), strict=True))

    def groups(self, bench: str) -> dict[str, str]:
        """Query id -> query group (the language versions of one query) of ``bench``'s scored points."""
        d = self.out / "per-query" / bench
        return dict(zip(json.loads((d / "qids.json").read_text()), json.loads((d / "groups.json").read_text()), strict=True))

    def add_kinds(self, bench: str, kinds: dict[str, str]) -> None:
        """Write ``per-query/<bench>/kinds.json`` (each scored query's kind: question, task, heading, index
        term; '' for none) once, when the benchmark's queries carry kinds."""
        from mimo.paths import atomic_write_json

        d = self.out / "per-query" / bench
        if (d / "kinds.json").is_file() or not (d / "qids.json").is_file() or not any(kinds.values()):
            return
        atomic_write_json(d / "kinds.json", [kinds.get(q, "") for q in json.loads((d / "qids.json").read_text())])

    def kinds(self, bench: str) -> dict[str, str]:
        """Query id -> query kind of ``bench``'s scored points; empty when the queries carry no kind."""
        d = self.out / "per-query" / bench
        if not (d / "kinds.json").is_file():
            return {}
        return dict(zip(json.loads((d / "qids.json").read_text()), json.loads((d / "kinds.json").read_text()), strict=True))

    def benches(self) -> list[str]:
        return sorted({p["bench"] for p in self.data["points"]})

    def rate(self, device: str) -> dict[str, float]:
        """Seconds per step and texts per second measured by earlier points on ``device`` (else defaults)."""
        kind = "cuda" if device.startswith("cuda") else "cpu"
        rates = dict(DEFAULT_RATES[kind])
        pts = [p for p in self.data["points"] if p.get("device", "").startswith(kind) and p.get("train_steps_run")]
        if pts:
            rates["step_s"] = sum(p["train_seconds"] for p in pts) / sum(p["train_steps_run"] for p in pts)
        ev = [p for p in self.data["points"] if p.get("device", "").startswith(kind) and p.get("texts_encoded")]
        if ev and sum(p["eval_seconds"] for p in ev) > 0:
            rates["encode_per_s"] = sum(p["texts_encoded"] for p in ev) / sum(p["eval_seconds"] for p in ev)
        return rates


# ---- running --------------------------------------------------------------------------------------

def points(recipe: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(method, budget, seed) in the order they run: budget by budget, seed by seed, methods in order,
    so a run cut short still has complete small-budget comparisons."""
    return [(m, b, s) for b in recipe["budgets"] for s in recipe["seeds"] for m in recipe["methods"]]


def plan(recipe: dict[str, Any], work: Path, store: Store, benches: dict[str, Any], device: str) -> float:
    """Print every run with its status and an estimate; returns the estimated seconds left."""
    rates = store.rate(device)
    todo_steps: dict[str, int] = {}
    evals, n_texts = 0, {name: len(b.queries) + len(b.corpus) for name, b in benches.items()}
    print(f"device {device}; {rates['step_s']:.2f} s/step, {rates['encode_per_s']:.0f} texts/s "
          "(measured by earlier points on this device, else defaults)")
    for method, budget, seed in points(recipe):
        configs = plan_point(recipe, method, budget, seed, work)
        states = []
        for c in configs:
            st = run_status(c)
            if st != "trained" and c.out not in todo_steps:
                todo_steps[c.out] = c.steps1 if c.stage == "1" else c.steps2
            states.append(f"{Path(c.out).name} {c.steps1 if c.stage == '1' else c.steps2} steps: {st}")
        scored = [name for name in benches if store.has(point_key(method, budget, seed, name))]
        evals += sum(n_texts[name] for name in benches if name not in scored)
        print(f"  {method:<12} B={budget:<5} seed {seed}: {'; '.join(states)}; scored on {scored or 'none'}")
    steps = sum(todo_steps.values())
    est = steps * rates["step_s"] + evals / rates["encode_per_s"]
    print(f"to do: {len(todo_steps)} training runs, {steps} optimizer steps, {evals} texts to encode "
          f"-> about {est / 3600:.1f} h on {device}")
    return est


def count_printer(label: str, every: int = 2048) -> Callable[[int, int], None]:
    """``progress(done, total)`` for a log file: a line every ``every`` items with rate and ETA
    (items are encoded shortest first, so the ETA is a lower bound)."""
    t0, last = time.perf_counter(), [0]

    def show(done: int, total: int) -> None:
        if done - last[0] < every and done < total:
            return
        last[0] = done
        s = time.perf_counter() - t0
        rate = done / s if s > 0 else 0.0
        eta = f"{(total - done) / rate:.0f}s" if rate else "?"
        print(f"{label} {done}/{total} texts, {rate:.1f}/s, ETA >= {eta}", flush=True)

    return show


def prefill(recipe: dict[str, Any], store: Store, device: str) -> None:
    from mimo.train.labels import build_teacher_cache, english_texts

    wanted = {METHODS[m].teacher for m in recipe["methods"]} & set(recipe.get("prefill_teachers") or [])
    t = recipe["train"]
    for key in sorted(wanted):
        name = recipe["teachers"][key]
        print(f"teacher cache: {key} over every English text (once)")
        texts = english_texts(t.get("parallel_path"), t.get("retrieval_path"), t.get("max_rows"))
        cost = build_teacher_cache(name, texts, prompt=t.get("teacher_query_prompt", ""),
                                   dtype=t.get("cache_dtype", "float16"), root=t.get("teacher_cache"), device=device,
                                   progress=count_printer(f"  {key}"))
        print(f"  {cost['computed']} of {cost['texts']} texts computed in {cost['seconds']} s")
        if cost["computed"] or key not in store.data["teacher_cache"]:  # keep the one-off cost, not a no-op rerun
            store.data["teacher_cache"][key] = cost
            store.save()


def run_point(recipe: dict[str, Any], method: str, budget: int, seed: int, work: Path, store: Store,
              benches: dict[str, Any], device: str) -> None:
    from mimo.evaluate import evaluate
    from mimo.evaluate.significance import per_query_metric
    from mimo.models import load_model
    from mimo.train.runs import train_or_reuse

    keys = {name: point_key(method, budget, seed, name) for name in benches}
    if all(store.has(k) for k in keys.values()):
        print(f"{method} B={budget} seed {seed}: done, skipped")
        return
    t0, steps_run = time.perf_counter(), 0
    configs = plan_point(recipe, method, budget, seed, work)
    for c in configs:
        if run_status(c) != "trained":
            steps_run += c.steps1 if c.stage == "1" else c.steps2
        train_or_reuse(c, say=print, label=f"{method} B={budget} s{seed} {Path(c.out).name}", device=device)
    train_s = time.perf_counter() - t0
    model_dir = configs[-1].out
    enc = load_model(model_dir, device=device)
    for name, bench in benches.items():
        if store.has(keys[name]):
            continue
        t1 = time.perf_counter()
        ev = evaluate(enc, bench, label=f"{method} B={budget} seed {seed}", progress=sys.stderr.isatty())
        ev_s = time.perf_counter() - t1
        pq = per_query_metric(ev, "nDCG@10", "pooled")
        qids = sorted(pq)
        v = ev["views"]
        row = {
            "key": keys[name], "method": method, "label": METHODS[method].label, "budget": budget, "seed": seed,
            "bench": name, "ndcg@10": v["pooled"]["overall"]["nDCG@10"], "recall@100": v["pooled"]["overall"].get("Recall@100"),
            "cross-lingual ndcg@10": v.get("cross-lingual", {}).get("overall", {}).get("nDCG@10"),
            "multi-monolingual ndcg@10": v.get("multi-monolingual", {}).get("overall", {}).get("nDCG@10"),
            "steps": {f"stage{c.stage}": c.steps1 if c.stage == "1" else c.steps2 for c in configs},
            "stage2_lr": configs[-1].stage2_lr, "model_dir": model_dir, "device": device,
            "train_seconds": round(train_s, 1), "train_steps_run": steps_run, "eval_seconds": round(ev_s, 1),
            "texts_encoded": ev["encode"]["queries"]["n_encoded"] + ev["encode"]["corpus"]["n_encoded"],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        train_s, steps_run = 0.0, 0  # counted once, on the first bench
        store.add(row, qids, [pq[q] for q in qids], bench.query_groups, query_kinds(bench.queries))
        print(json.dumps({k: row[k] for k in ("method", "budget", "seed", "bench", "ndcg@10")}))
        sys.stdout.flush()


# ---- summary: seed-aware comparisons, table, figure -------------------------------------------------

def summarize(store: Store, resamples: int) -> dict[str, Any]:
    """Per (bench, budget, method): mean, seed sd and n; per (bench, budget): each MIMO variant minus
    XLCO-only and minus the best baseline, and MIMO (mpnet) minus MIMO (MiniLM), seed-aware. Writes
    summary.json, budget-curve.md, the figure."""
    import numpy as np

    from mimo.evaluate import seed_aware_test
    from mimo.paths import atomic_write_json, atomic_write_text

    pts = store.data["points"]
    cells: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for p in pts:
        cells.setdefault((p["bench"], p["budget"], p["method"]), []).append(p)
    curve = []
    for (bench, budget, method), rows in sorted(cells.items()):
        rows = sorted(rows, key=lambda r: r["seed"])
        vals = np.array([r["ndcg@10"] for r in rows])
        curve.append({"bench": bench, "budget": budget, "method": method, "label": METHODS[method].label,
                      "seeds": [r["seed"] for r in rows], "ndcg@10": [float(x) for x in vals],
                      "mean": float(vals.mean()), "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0})
    mean = {(c["bench"], c["budget"], c["method"]): c for c in curve}
    comparisons = []
    for bench, budget in sorted({(c["bench"], c["budget"]) for c in curve}):
        present = [m for (b, bu, m) in mean if b == bench and bu == budget]
        base = [m for m in present if m in BASELINES]
        best = max(base, key=lambda m: mean[(bench, budget, m)]["mean"]) if base else None
        for m in [m for m in present if m.startswith("mimo-")]:
            against = [("XLCO-only", "xlco")] if "xlco" in present else []
            if best is not None and best != "xlco":
                against.append((f"best baseline ({METHODS[best].label})", best))
            elif best == "xlco":
                against = [("XLCO-only (= best baseline)", "xlco")]
            for variant in ("lakda", "lakda-sharp"):  # both LaKDAs beside each other, whichever is best
                if variant in present and variant not in [o for _, o in against]:
                    against.append((METHODS[variant].label, variant))
            if m == "mimo-mpnet" and "mimo-minilm" in present:  # the stronger anchor's effect, same budget
                against.append(("the MiniLM anchor", "mimo-minilm"))
            for what, other in against:
                ca, cb = mean[(bench, budget, m)], mean[(bench, budget, other)]
                a = [store.per_query(point_key(m, budget, s, bench)) for s in ca["seeds"]]
                b = [store.per_query(point_key(other, budget, s, bench)) for s in cb["seeds"]]
                t = seed_aware_test(a, b, store.groups(bench), seeds_a=ca["seeds"], seeds_b=cb["seeds"],
                                    n_resamples=resamples)
                comparisons.append({"bench": bench, "budget": budget, "a": METHODS[m].label, "b": METHODS[other].label,
                                    "method_a": m, "method_b": other, "vs": what,
                                    "against_baseline": other in BASELINES, **t,
                                    "per_kind": per_kind(a, b, store.kinds(bench), store.groups(bench), ca["seeds"],
                                                         cb["seeds"], resamples)})
    summary = {"curve": curve, "comparisons": comparisons, "teacher_cache": store.data["teacher_cache"]}
    atomic_write_json(store.out / "summary.json", summary)
    atomic_write_text(store.out / "budget-curve.md", markdown(summary))
    if curve:
        from mimo.plots import budget_curve_figure

        budget_curve_figure(curve, comparisons, store.out / "budget-curve")
    return summary


def per_kind(a: list[dict[str, float]], b: list[dict[str, float]], kinds: dict[str, str], groups: dict[str, str],
             seeds_a: list[int], seeds_b: list[int], resamples: int) -> dict[str, dict[str, Any]]:
    """The seed-aware difference restricted to each query kind (question, task, heading, index term):
    which kind of query a gap comes from. Empty when the benchmark's queries carry no kind."""
    from mimo.data.kinds import KINDS
    from mimo.evaluate import seed_aware_test

    found = set(kinds.values()) - {""}
    out = {}
    for kind in [k for k in KINDS if k in found] + sorted(found - set(KINDS)):
        ids = [q for q, k in kinds.items() if k == kind]  # the data's order: a set's would move the bootstrap
        t = seed_aware_test([{q: r[q] for q in ids} for r in a], [{q: r[q] for q in ids} for r in b], groups,
                            seeds_a=seeds_a, seeds_b=seeds_b, n_resamples=resamples)
        out[kind] = {"n_queries": t["n_queries"], "n_groups": t["n_groups"], "diff": t["diff"],
                     "ci_low": t["ci_low"], "ci_high": t["ci_high"],
                     "mean_a": float(sum(t["seed_spread_a"]["means"]) / len(t["seed_spread_a"]["means"])),
                     "mean_b": float(sum(t["seed_spread_b"]["means"]) / len(t["seed_spread_b"]["means"]))}
    return out


def _kind_table(comps: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: each comparison's difference per query kind, with its seed-aware interval."""
    kinds = list(dict.fromkeys(k for r in comps for k in r.get("per_kind", {})))
    if not kinds:
        return []
    n = {k: next(r["per_kind"][k]["n_queries"] for r in comps if k in r.get("per_kind", {})) for k in kinds}
    lines = ["", "The same differences per query kind (points, seed-aware 95% CI; a / b nDCG@10 below):", "",
             "| steps | a − b | " + " | ".join(f"{k} (n={n[k]})" for k in kinds) + " |", "|---:|---|" + "---|" * len(kinds)]
    for r in comps:
        cells = []
        for k in kinds:
            d = r.get("per_kind", {}).get(k)
            cells.append("-" if d is None else f"{100 * d['diff']:+.2f} [{100 * d['ci_low']:+.2f}, {100 * d['ci_high']:+.2f}]"
                         f"<br>{d['mean_a']:.3f} / {d['mean_b']:.3f}")
        lines.append(f"| {r['budget']} | {r['a']} − {r['b']} | " + " | ".join(cells) + " |")
    return lines


def _cell(c: dict[str, Any] | None) -> str:
    """A table cell: mean ± seed sd (n); one seed has no sd, and says so instead of printing ± 0."""
    if not c:
        return "-"
    if len(c["seeds"]) < 2:
        return f"{c['mean']:.4f} (1 seed)"
    return f"{c['mean']:.4f} ± {c['sd']:.4f} ({len(c['seeds'])})"


def _sd(spread: dict[str, Any]) -> str:
    return f"{100 * spread['sd']:.2f}" if len(spread["means"]) > 1 else "n/a"


def markdown(summary: dict[str, Any]) -> str:
    from mimo.evaluate.significance import format_p, seed_caveat

    lines = ["# Budget curve: pooled nDCG@10 vs optimizer steps", "",
             "Mean over training seeds ± seed sd (n seeds); every method has the same steps per budget.", ""]
    for bench in sorted({c["bench"] for c in summary["curve"]}):
        rows = [c for c in summary["curve"] if c["bench"] == bench]
        budgets = sorted({c["budget"] for c in rows})
        methods = list(dict.fromkeys(c["method"] for c in rows))
        lines += [f"## {bench}", "", "| method | " + " | ".join(f"{b} steps" for b in budgets) + " |",
                  "|---|" + "---:|" * len(budgets)]
        for m in methods:
            cells = []
            for b in budgets:
                c = next((c for c in rows if c["method"] == m and c["budget"] == b), None)
                cells.append(_cell(c))
            lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
        comps = [r for r in summary["comparisons"] if r["bench"] == bench]
        if comps:
            lines += ["", f"Seed-aware differences on {bench} (points; hierarchical bootstrap over seeds and query "
                      "groups; per-seed difference when both have the same seeds; an interval marked 'query groups only' "
                      "(one seed each) or '1 seed for a/b' lacks that recipe's seed variance):", "",
                      "| steps | a − b | diff | 95% CI | p (bootstrap) | p (seed labels, floor) | per-seed diff | "
                      "seed sd a / b | query-only 95% CI |", "|---:|---|---:|---|---|---|---|---|---|"]
            for r in comps:
                psd = ", ".join(f"{100 * v:+.2f}" for v in r["per_seed_diff"].values()) if r["per_seed_diff"] else "-"
                q = r["query_only"]
                caveat = seed_caveat(r)
                ci = f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]" + (f" ({caveat})" if caveat else "")
                perm = "n/a" if caveat else f"{r['p_seed_perm']:.3f} ({r['p_seed_perm_min']:.3f})"
                sd = " / ".join(_sd(r[f"seed_spread_{k}"]) for k in "ab")
                lines.append(
                    f"| {r['budget']} | {r['a']} − {r['b']} | {100 * r['diff']:+.2f} | {ci} | {format_p(r['p_value'])} "
                    f"| {perm} | {psd} | {sd} | [{100 * q['ci_low']:+.2f}, {100 * q['ci_high']:+.2f}] |")
            lines += _kind_table(comps)
        lines.append("")
    for key, c in summary["teacher_cache"].items():
        lines.append(f"Teacher cache ({key}): {c['computed']} of {c['texts']} English texts embedded once in "
                     f"{c['seconds']} s on {c['device']}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "budget-curve.yaml")
    ap.add_argument("--budgets", type=int, nargs="+")
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--methods", nargs="+", help=f"among {', '.join(METHODS)}")
    ap.add_argument("--bench", nargs="+", help="benchmark names or BEIR dirs (default: the config's benches)")
    ap.add_argument("--set", nargs="*", metavar="FIELD=VALUE", help="TrainConfig overrides for every run")
    ap.add_argument("--work", type=Path, default=Path("runs/budget-curve"), help="model dirs and checkpoints")
    ap.add_argument("--out", type=Path, default=RESULTS, help="points.json, per-query/, summary, table, figure")
    ap.add_argument("--device", default="auto", help="auto (cuda when visible), cpu, cuda, cuda:N")
    ap.add_argument("--plan", action="store_true", help="print the runs, their status and an estimate; run nothing")
    ap.add_argument("--summary", action="store_true",
                    help="recompute summary.json, the table and the figure from points.json; train nothing")
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args(argv)

    from mimo.evaluate import load_benchmark
    from mimo.paths import log_command
    from mimo.train.ddp import pick_device

    recipe = load_recipe(args.config, args)
    device = pick_device(args.device)
    store = Store(args.out)
    backfill_kinds(store)
    if args.summary:
        print(markdown(summarize(store, args.resamples)))
        return 0
    benches = {}
    for name in recipe["benches"]:
        path = resolve_bench(name)
        if path is not None:
            b = load_benchmark(path)
            benches[b.name] = b
    if not benches:
        raise SystemExit("no benchmark to score on (none of --bench is built)")
    if args.plan:
        plan(recipe, args.work, store, benches, device)
        return 0
    command = "python benchmarks/budget_curve.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log_command(args.out / "commands.txt", command)
    store.data["recipe"] = {k: v for k, v in recipe.items() if k not in ("budgets", "seeds", "methods", "benches")}
    store.save()
    plan(recipe, args.work, store, benches, device)
    prefill(recipe, store, device)
    for method, budget, seed in points(recipe):
        run_point(recipe, method, budget, seed, args.work, store, benches, device)
        summarize(store, args.resamples)  # the table and figure follow every landed point
    print(markdown(summarize(store, args.resamples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
