"""Where the English anchor pays: MIMO against its baselines along student strength (issue 33).

    python benchmarks/student_axis.py --plan                          # every cell, its status, an estimate
    python benchmarks/student_axis.py --students static --seeds 0 1 2  # train + score those cells (resumable)
    python benchmarks/student_axis.py --en-hard                        # teachers / students on the en-hard view
    python benchmarks/student_axis.py --summary                        # summary.json, summary.md, the figure

Students of graded strength (``configs/student-axis.yaml``), each trained by every objective the way
the product trains it, with the same optimizer steps per student:

- ``static``: a StaticEmbedding student (model2vec distillation of mE5-small, its vocabulary pruned to
  the training texts, built once and shared by every cell, so all objectives start from the same
  model). Budget in epochs: MIMO / KD-only = E epochs of Stage 1 + E epochs of Stage 2; XLCO-only and
  LaKDA train Stage 2 for the same total number of steps. ``<method>-2ep`` doubles E.
- ``e5-3L``: mE5-small cut to its bottom 3 layers, 200 steps (Stage 1 gets ``stage1_share``).
- ``e5-12L``: the full student at 200 steps: the budget curve's points, imported (its per-query scores
  are copied in, so this directory stands alone).

Each cell is scored on the whole of every bench; comparisons are the seed-aware hierarchical bootstrap
of ``mimo.evaluate.seed_aware_test``. ``--en-hard`` scores the teachers, each untrained student and one
trained MIMO model per student on ``en-hard`` (``mimo.data.en_hard``: mlir-qa-test's English queries
against every English text of the data build): the teacher-student English gap. Results are written
atomically as each point lands; an interrupted run resumes from its checkpoints with the same command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import budget_curve as bc  # noqa: E402  (the budget curve's store, training and scoring machinery)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "student-axis"
METHODS = {
    "mimo": bc.Method("MIMO", "mimo", "minilm"),
    "mimo-mpnet": bc.Method("MIMO (mpnet anchor)", "mimo", "mpnet"),
    "kd": bc.Method("KD-only", "kd", "minilm"),
    "xlco": bc.Method("XLCO-only", "xlco", None),
    "lakda": bc.Method("LaKDA", "lakda", None),
    "lakda-sharp": bc.Method("LaKDA-sharp", "lakda-sharp", None),
}
BASELINES = ("xlco", "lakda", "lakda-sharp", "kd")
EN_HARD = "en-hard"


def parse_method(name: str) -> tuple[str, int]:
    """``mimo-2ep`` -> (``mimo``, 2): a method and its epoch multiplier."""
    base, _, tail = name.rpartition("-")
    if base and tail.endswith("ep") and tail[:-2].isdigit():
        return base, int(tail[:-2])
    return name, 1


def label(method: str) -> str:
    base, mult = parse_method(method)
    return METHODS[base].label + (f", {mult} epochs" if mult != 1 else "")


def point_key(student: str, method: str, seed: int, bench: str) -> str:
    return f"{student}|{method}|{seed}|{bench}"


class Store(bc.Store):
    """points.json keyed ``student|method|seed|bench``; per-query scores under per-query/<bench>/."""

    def per_query_file(self, key: str) -> Path:
        student, method, seed, bench = key.split("|")
        return self.out / "per-query" / bench / f"{student}-{method}-s{seed}.npy"


# ---- the recipe -------------------------------------------------------------------------------------

def load_recipe(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not path.is_file():
        raise SystemExit(f"--config {path}: no such file")
    recipe = yaml.safe_load(path.read_text()) or {}
    if args.seeds:
        recipe["seeds"] = recipe["only_seeds"] = args.seeds
    if args.methods:
        recipe["methods"] = recipe["only_methods"] = args.methods
    if args.students:
        unknown = sorted(set(args.students) - set(recipe["students"]))
        if unknown:
            raise SystemExit(f"unknown student(s) {', '.join(unknown)}; the config has {', '.join(recipe['students'])}")
        recipe["run_students"] = args.students
    for m in recipe["methods"] + [m for s in recipe["students"].values() for m in s.get("extra", {})]:
        if parse_method(m)[0] not in METHODS:
            raise SystemExit(f"unknown method {m!r}; choose among {', '.join(METHODS)} (+ '-2ep' for epoch students)")
    return recipe


def cells(recipe: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(student, method, seed) in run order: student by student (config order), seed by seed, methods,
    then the student's extras (seed by seed, with their own seeds); imported students
    (``from_budget_curve``) have none. ``--methods`` / ``--seeds`` (``only_methods`` / ``only_seeds``)
    limit the extras too: a method asked for that is one of a student's extras runs as that extra."""
    only_m, only_s = recipe.get("only_methods"), recipe.get("only_seeds")
    out = []
    for student in recipe.get("run_students") or list(recipe["students"]):
        spec = recipe["students"][student]
        if spec.get("from_budget_curve"):
            continue
        extra = {m: [s for s in seeds if not only_s or s in only_s] for m, seeds in (spec.get("extra") or {}).items()
                 if not only_m or m in only_m}
        out += [(student, m, s) for s in recipe["seeds"] for m in recipe["methods"] if m not in extra]
        out += [(student, m, s) for s in sorted({s for v in extra.values() for s in v})
                for m, seeds in extra.items() if s in seeds]
    return out


_ROWS: dict[str, tuple[int, int]] = {}
_INITS: dict[str, str] = {}


def data_rows(config: Any) -> tuple[int, int]:
    """(Stage-1 rows, Stage-2 rows) the trainer would count for ``config``'s data (cached per data)."""
    from mimo.train.stages import load_data

    key = f"{config.parallel_path}|{config.retrieval_path}|{config.langs}|{config.max_rows}|{config.query_kinds}"
    if key not in _ROWS:
        par, ret = load_data(config, True, True)
        _ROWS[key] = (len(par.lang), sum(len(v) for v in ret.pairs.values()))
    return _ROWS[key]


def static_student(config: Any) -> str:
    """``static:<dir>`` of the shared static init: the distillation with its vocabulary pruned to every
    training text (both stages), so a Stage-2-only baseline starts from the very model MIMO starts from."""
    from mimo.models.static import PREFIX, static_init, student_texts
    from mimo.train.stages import load_data

    if config.student not in _INITS:
        par, ret = load_data(config, True, True)
        _INITS[config.student] = PREFIX + str(static_init(config.student[len(PREFIX):], student_texts(par, ret)))
    return _INITS[config.student]


def student_fields(recipe: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A student's TrainConfig fields: the recipe's shared ``train``, its own ``train``, its ``student``."""
    return dict(recipe["train"]) | dict(spec.get("train") or {}) | {"student": spec["student"]}


def plan_cell(recipe: dict[str, Any], student: str, method: str, seed: int, work: Path) -> list[Any]:
    """The TrainConfigs one cell runs, in order; the last one's ``out`` is the model to score."""
    from mimo.models.static import is_static
    from mimo.train import TrainConfig

    spec = recipe["students"][student]
    base_method, mult = parse_method(method)
    m = METHODS[base_method]
    base = student_fields(recipe, spec) | {"seed": seed}
    if is_static(base["student"]) and not Path(base["student"][len("static:"):]).is_dir():
        base["student"] = static_student(TrainConfig(**(base | {"out": str(work / "init")})).validate())
    lr = spec.get("stage2_lr", recipe["stage2_lr"][m.objective])
    d = work / student / f"seed{seed}"
    tag = f"-{mult}ep" if mult != 1 else ""
    stage2 = {"out": str(d / method), "stage": "2", "objective": m.objective, "stage2_lr": lr}
    if "epochs" in spec:
        epochs = spec["epochs"] * mult
        if m.teacher is None:
            probe = TrainConfig(**(base | {"out": str(d / method), "stage1_epochs": epochs, "stage2_epochs": epochs}))
            rows1, rows2 = data_rows(probe.validate())
            steps = probe.stage_steps(1, rows1) + probe.stage_steps(2, rows2)
            return [TrainConfig(**(base | stage2 | {"stage2_steps": steps})).validate()]
        s1, s2 = {"stage1_epochs": epochs}, {"stage2_epochs": epochs}
    else:
        n1, n2 = bc.split_steps(spec["budget"], recipe["stage1_share"])
        if m.teacher is None:
            return [TrainConfig(**(base | stage2 | {"stage2_steps": spec["budget"]})).validate()]
        s1, s2 = {"stage1_steps": n1}, {"stage2_steps": n2}
    teacher = recipe["teachers"][m.teacher]
    stage1 = d / f"stage1-{m.teacher}{tag}"
    return [
        TrainConfig(**(base | s1 | {"out": str(stage1), "stage": "1", "objective": "kd", "teacher": teacher})).validate(),
        TrainConfig(**(base | stage2 | s2 | {"teacher": teacher, "student": str(stage1),
                                             "init_projection": str(stage1 / "projection.safetensors")})).validate(),
    ]


def config_steps(c: Any) -> int:
    """A config's optimizer steps (epochs resolved against the data)."""
    stage = 1 if c.stage == "1" else 2
    if getattr(c, f"stage{stage}_epochs") is None:
        return c.steps1 if stage == 1 else c.steps2
    return c.stage_steps(stage, data_rows(c)[stage - 1])


# ---- running ----------------------------------------------------------------------------------------

def plan(recipe: dict[str, Any], work: Path, store: Store, benches: dict[str, Any], device: str) -> None:
    todo: dict[str, int] = {}
    evals = 0
    for student, method, seed in cells(recipe):
        configs = plan_cell(recipe, student, method, seed, work)
        states = []
        for c in configs:
            st, n = bc.run_status(c), config_steps(c)
            if st != "trained":
                todo[c.out] = n
            states.append(f"{Path(c.out).name} {n} steps: {st}")
        scored = [b for b in benches if store.has(point_key(student, method, seed, b))]
        evals += sum(len(benches[b].corpus) + len(benches[b].queries) for b in benches if b not in scored)
        print(f"  {student:<7} {method:<12} seed {seed}: {'; '.join(states)}; scored on {scored or 'none'}")
    print(f"to do: {len(todo)} training runs, {sum(todo.values())} optimizer steps, {evals} texts to encode "
          f"on {device} (a static step costs a small fraction of a transformer's)")


def score(enc: Any, store: Store, key: str, bench: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``enc`` on the whole of ``bench``; store the row and its per-query pooled nDCG@10."""
    from mimo.evaluate import evaluate
    from mimo.evaluate.significance import per_query_metric

    student, method, seed, name = key.split("|")
    t0 = time.perf_counter()
    ev = evaluate(enc, bench, label=f"{student} {method} seed {seed}", progress=sys.stderr.isatty())
    pq = per_query_metric(ev, "nDCG@10", "pooled")
    qids = sorted(pq)
    v = ev["views"]
    row = {"key": key, "student": student, "method": method, "seed": int(seed), "bench": name,
           "ndcg10": v["pooled"]["overall"]["nDCG@10"], "recall@100": v["pooled"]["overall"].get("Recall@100"),
           "cross-lingual ndcg10": v.get("cross-lingual", {}).get("overall", {}).get("nDCG@10"),
           "multi-monolingual ndcg10": v.get("multi-monolingual", {}).get("overall", {}).get("nDCG@10"),
           "eval_seconds": round(time.perf_counter() - t0, 1),
           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | extra
    store.add(row, qids, [pq[q] for q in qids], bench.query_groups, bc.query_kinds(bench.queries))
    print(json.dumps({k: row[k] for k in ("student", "method", "seed", "bench", "ndcg10")}), flush=True)
    return row


def run_cell(recipe: dict[str, Any], student: str, method: str, seed: int, work: Path, store: Store,
             benches: dict[str, Any], device: str) -> None:
    from mimo.models import load_model
    from mimo.train.runs import train_or_reuse

    keys = {b: point_key(student, method, seed, b) for b in benches}
    if all(store.has(k) for k in keys.values()):
        return
    t0, steps_run = time.perf_counter(), 0
    configs = plan_cell(recipe, student, method, seed, work)
    for c in configs:
        if bc.run_status(c) != "trained":
            steps_run += config_steps(c)
        train_or_reuse(c, say=print, label=f"{student} {method} s{seed} {Path(c.out).name}", device=device)
    extra = {"steps": {f"stage{c.stage}": config_steps(c) for c in configs}, "stage2_lr": configs[-1].stage2_lr,
             "model_dir": configs[-1].out, "device": device, "train_seconds": round(time.perf_counter() - t0, 1),
             "train_steps_run": steps_run}
    enc = load_model(configs[-1].out, device=device)
    for name, bench in benches.items():
        if not store.has(keys[name]):
            score(enc, store, keys[name], bench, extra)
            extra = extra | {"train_seconds": 0.0, "train_steps_run": 0}  # counted once


def import_budget_curve(recipe: dict[str, Any], store: Store) -> int:
    """Copy the budget curve's points of every ``from_budget_curve`` student in (rows and per-query
    scores; the benchmark's query ids must match). Returns how many were added or refreshed."""
    src = bc.Store(ROOT / recipe.get("budget_curve", "benchmarks/results/budget-curve"))
    n = 0
    for student, spec in recipe["students"].items():
        mapping = spec.get("from_budget_curve") or {}
        for p in src.data["points"]:
            ours = next((k for k, v in mapping.items() if v == p["method"]), None)
            if ours is None or p["budget"] != spec["budget"]:
                continue
            key = point_key(student, ours, p["seed"], p["bench"])
            if store.has(key) and next(r for r in store.data["points"] if r["key"] == key).get("source_time") == p["time"]:
                continue
            pq = src.per_query(p["key"])
            qids = sorted(pq)
            row = {"key": key, "student": student, "method": ours, "seed": p["seed"], "bench": p["bench"],
                   "ndcg10": p["ndcg@10"], "recall@100": p.get("recall@100"),
                   "cross-lingual ndcg10": p.get("cross-lingual ndcg@10"),
                   "multi-monolingual ndcg10": p.get("multi-monolingual ndcg@10"),
                   "source": f"budget-curve {p['key']}", "source_time": p["time"], "model_dir": p.get("model_dir"),
                   "train_seconds": p.get("train_seconds"), "steps": p.get("steps")}
            store.add(row, qids, [pq[q] for q in qids], src.groups(p["bench"]), src.kinds(p["bench"]))
            n += 1
    return n


# ---- en-hard: the teacher-student English gap -------------------------------------------------------

def en_hard_models(recipe: dict[str, Any], work: Path, seed: int = 0) -> list[tuple[str, str, Any]]:
    """(student, method, how to get the model) for the en-hard view: each teacher, each untrained
    student, each student's trained MIMO of ``seed`` (the budget curve's recipe retrained for e5-12L);
    only the ``--students`` given, when some are."""
    out: list[tuple[str, str, Any]] = [(f"teacher-{k}", "teacher", name) for k, name in recipe["teachers"].items()]
    for student in recipe.get("run_students") or list(recipe["students"]):
        spec = recipe["students"][student]
        out.append((student, "untrained", spec))
        if spec.get("from_budget_curve"):
            bc_recipe = yaml.safe_load((ROOT / "configs" / "budget-curve.yaml").read_text())
            configs = bc.plan_point(bc_recipe, spec["from_budget_curve"]["mimo"], spec["budget"], seed,
                                    Path("runs/budget-curve"))
        else:
            configs = plan_cell(recipe, student, "mimo", seed, work)
        out.append((student, "mimo", configs))
    return out


def untrained(spec: dict[str, Any], recipe: dict[str, Any], work: Path, device: str) -> Any:
    from mimo.models import load_model
    from mimo.models.static import is_static
    from mimo.train import TrainConfig
    from mimo.train.objectives import shrink_student

    name = spec["student"]
    if is_static(name):
        base = student_fields(recipe, spec) | {"out": str(work / "init")}
        name = static_student(TrainConfig(**base).validate())[len("static:"):]
    model = load_model(name, device=device)
    layers = (spec.get("train") or {}).get("student_layers")
    if layers:
        shrink_student(model, layers, False)
    return model


def run_en_hard(recipe: dict[str, Any], work: Path, store: Store, device: str, train_missing: bool,
                seed: int = 0) -> None:
    from mimo.data.en_hard import build_en_hard
    from mimo.evaluate import load_benchmark
    from mimo.models import load_model
    from mimo.paths import data_dir
    from mimo.train.runs import train_or_reuse

    if not (data_dir() / EN_HARD / "stats.json").is_file():
        print(f"building {EN_HARD}: {build_en_hard()}")
    bench = load_benchmark(EN_HARD)
    store.data["en_hard"] = json.loads((data_dir() / EN_HARD / "stats.json").read_text())
    for student, method, what in en_hard_models(recipe, work, seed):
        key = point_key(student, method, 0 if method in ("teacher", "untrained") else seed, EN_HARD)
        if store.has(key):
            continue
        if method == "teacher":
            enc, extra = load_model(what, device=device), {"model": what}
        elif method == "untrained":
            enc, extra = untrained(what, recipe, work, device), {"model": what["student"]}
        else:
            if not train_missing and bc.run_status(what[-1]) != "trained":
                print(f"en-hard: {student} mimo seed {seed} is not trained yet ({what[-1].out}); skipped "
                      "(--en-hard-train trains it)")
                continue
            for c in what:
                train_or_reuse(c, say=print, label=f"{student} mimo s{seed} {Path(c.out).name} (for en-hard)", device=device)
            enc, extra = load_model(what[-1].out, device=device), {"model_dir": what[-1].out}
        score(enc, store, key, bench, extra)


def merge(store: Store, other: Path) -> int:
    """Copy the points of another output dir (e.g. one from another machine; processes on one machine
    may share an --out, see ``bc.Store.save``) into ``store``; returns how many were added."""
    src = Store(other)
    n = 0
    for p in src.data["points"]:
        if p.get("source", "").startswith("budget-curve") or store.has(p["key"]):
            continue
        pq = src.per_query(p["key"])
        qids = sorted(pq)
        store.add(p, qids, [pq[q] for q in qids], src.groups(p["bench"]), src.kinds(p["bench"]))
        n += 1
    if src.data.get("en_hard"):
        store.data["en_hard"] = src.data["en_hard"]
        store.save()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "student-axis.yaml")
    ap.add_argument("--students", nargs="+", help="run only these students' cells")
    ap.add_argument("--seeds", type=int, nargs="+", help="run only these seeds (a student's extras too)")
    ap.add_argument("--methods", nargs="+", help=f"run only these, among {', '.join(METHODS)} (+ '-2ep' for "
                    "epoch students); one of a student's extras runs with the extra's seeds")
    ap.add_argument("--work", type=Path, default=Path("runs/student-axis"), help="model dirs and checkpoints")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--plan", action="store_true", help="print every cell and its status; run nothing")
    ap.add_argument("--en-hard", action="store_true", help="score teachers and students on en-hard; train no cell")
    ap.add_argument("--en-hard-train", action="store_true",
                    help="with --en-hard: train a student's MIMO when it is missing (else it is skipped)")
    ap.add_argument("--en-hard-seed", type=int, default=0,
                    help="with --en-hard: the training seed of the MIMO model scored (reuse one a cell trained)")
    ap.add_argument("--summary", action="store_true", help="recompute the summary, table and figure only")
    ap.add_argument("--merge", type=Path, help="first copy the points of this other --out dir into --out")
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args(argv)

    from student_axis_report import summarize

    from mimo.evaluate import load_benchmark
    from mimo.paths import log_command
    from mimo.train.ddp import pick_device

    recipe = load_recipe(args.config, args)
    device = pick_device(args.device)
    store = Store(args.out)
    if args.merge:
        print(f"merged {merge(store, args.merge)} points from {args.merge}")
    if args.summary:
        import_budget_curve(recipe, store)
        print(summarize(store, recipe, args.resamples))
        return 0
    paths = [bc.resolve_bench(n) for n in recipe["benches"]]
    benches = {b.name: b for b in (load_benchmark(p) for p in paths if p is not None)}
    if args.plan:
        plan(recipe, args.work, store, benches, device)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    log_command(args.out / "commands.txt", "python benchmarks/student_axis.py " +
                shlex.join(sys.argv[1:] if argv is None else argv))
    print(f"imported {import_budget_curve(recipe, store)} budget-curve points")
    if args.en_hard:
        run_en_hard(recipe, args.work, store, device, args.en_hard_train, args.en_hard_seed)
    else:
        plan(recipe, args.work, store, benches, device)
        for student, method, seed in cells(recipe):
            run_cell(recipe, student, method, seed, args.work, store, benches, device)
            summarize(store, recipe, args.resamples)
    print(summarize(store, recipe, args.resamples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
