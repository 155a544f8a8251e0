"""Pick the demo's recipe: Stage-2 variants from the demo's own Stage 1, scored on both dev sets.

    python benchmarks/demo_recipes.py --out runs/demo --variant "all-kinds:query_kinds=null" \\
        --variant "lam0.05:lam=0.05;query_kinds=null" --variant "qt:query_kinds=question,task" \\
        --result benchmarks/results/demo-recipes

Every variant trains the demo's Stage 2 (``DemoConfig`` defaults, or ``--config``) from one shared
Stage-1 model with its TrainConfig overrides (``name:FIELD=VALUE;FIELD=VALUE``; values read as YAML).
``s1.``-prefixed fields change Stage 1 and give the variant its own Stage-1 run. Each variant is
scored on ``mlir-qa-dev`` and ``mlir-dev`` (pooled nDCG@10) with the paired group test against its
own Stage 1, because the demo's MIMO must not fall below its Stage 1 on ``mlir-qa-dev``. Picks are
made on dev sets only. Output: ``demo_recipes.json`` and ``demo_recipes.md`` under ``--result``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any


def parse_variant(text: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``"name:lam=0.05;s1.stage1_steps=90"`` -> (name, Stage-2 overrides, Stage-1 overrides)."""
    from mimo.errors import InputError
    from mimo.train.config import parse_overrides

    name, _, rest = text.partition(":")
    if not name:
        raise InputError(f"--variant {text!r}: give it a name before ':'")
    items = [p.strip() for p in rest.split(";") if p.strip()]
    try:
        s1 = parse_overrides([i.removeprefix("s1.") for i in items if i.startswith("s1.")])
        s2 = parse_overrides([i for i in items if not i.startswith("s1.")])
    except InputError as e:
        raise InputError(f"--variant {text!r}: {e}") from None
    return name, s2, s1


def _stage1_dir(out: Path, s1: dict[str, Any]) -> Path:
    if not s1:
        return out / "stage1"
    tag = hashlib.sha1(json.dumps(s1, sort_keys=True).encode()).hexdigest()[:8]
    return out / f"stage1-{tag}"


def pooled(ev: dict[str, Any], label: str) -> float:
    cols = ev["table"]["columns"]
    row = next(r for r in ev["table"]["rows"] if r["model"] == label)
    return float(row["values"][cols.index("pooled nDCG@10")])


def main(argv: list[str] | None = None) -> int:
    from mimo.demo import DemoConfig, _train_config, stage2_config
    from mimo.errors import InputError
    from mimo.evaluate import evaluate_models
    from mimo.paths import atomic_write_json, atomic_write_text, log_command
    from mimo.train.runs import train_or_reuse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/demo-recipes", help="run directory (models, evaluation caches)")
    ap.add_argument("--config", help="DemoConfig YAML (default: DemoConfig defaults)")
    ap.add_argument("--variant", action="append", default=[], help="name:FIELD=VALUE;... (repeatable)")
    ap.add_argument("--objective", default="mimo", help="Stage-2 objective of every variant (default mimo)")
    ap.add_argument("--bench", nargs="+", default=["mlir-qa-dev", "mlir-dev"])
    ap.add_argument("--result", default="benchmarks/results/demo-recipes")
    args = ap.parse_args(argv)
    try:
        cfg = DemoConfig.from_yaml(args.config) if args.config else DemoConfig()
        variants = [parse_variant(v) for v in (args.variant or ["base"])]
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    lams = {objective: lam for objective, lam in cfg.stage2.values()}  # the demo's λ per objective
    if args.objective not in lams:
        print(f"error: --objective {args.objective!r}: the demo trains {', '.join(lams)}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    for name, s2, s1 in variants:
        t0 = time.perf_counter()
        stage1 = _stage1_dir(out, s1)
        train_or_reuse(_train_config(cfg, stage1, stage="1", objective="kd", **s1), label=f"{name} stage1")
        t1 = time.perf_counter()
        train_or_reuse(stage2_config(cfg, stage1, out / name, args.objective, lams[args.objective], **(s1 | s2)),
                       label=name)
        t2 = time.perf_counter()
        row: dict[str, Any] = dict(variant=name, stage2_overrides=s2, stage1_overrides=s1,
                                   stage1_train_s=round(t1 - t0, 1), stage2_train_s=round(t2 - t1, 1))
        for bench in args.bench:
            ev = evaluate_models([str(stage1), str(out / name)], bench, out / f"eval-{bench}-{name}",
                                 labels=["stage1", name], paired_ref=name)
            p = ev["paired"][0]
            row[bench] = dict(stage1=pooled(ev, "stage1"), variant=pooled(ev, name), diff=p["diff"],
                              ci=[p["ci_low"], p["ci_high"]], p=p["p_value"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    res = Path(args.result)
    atomic_write_json(res / "demo_recipes.json", dict(config=dataclasses.asdict(cfg), objective=args.objective,
                                                        rows=rows))
    head = "| variant | " + " | ".join(f"{b} stage 1 | {b} variant | {b} variant − stage 1 [95% CI]"
                                          for b in args.bench) + " | Stage-2 train s |"
    lines = [f"# Demo recipes ({args.objective}), pooled nDCG@10, dev sets only", "", head,
             "|---|" + "---:|---:|---|" * len(args.bench) + "---:|"]
    for r in rows:
        cells = []
        for b in args.bench:
            x = r[b]
            cells += [f"{x['stage1']:.4f}", f"{x['variant']:.4f}",
                      f"{100 * x['diff']:+.2f} [{100 * x['ci'][0]:+.2f}, {100 * x['ci'][1]:+.2f}]"]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + f" | {r['stage2_train_s']} |")
    atomic_write_text(res / "demo_recipes.md", "\n".join(lines) + "\n")
    cmd = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    log_command(res / "command.txt", cmd)  # the file also holds curated, commented commands
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
