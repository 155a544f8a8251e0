"""Is MIMO's lead (or deficit) over a baseline real? Seed-aware test over trained seeds, and the paired test.

    python benchmarks/significance.py --bench mlir-test --seeds 0 1 2 \\
        --system "MIMO=runs/quality-b64/seed{seed}/mimo-share0.2-minilm" \\
        --system "LaKDA=runs/quality-b64/seed{seed}/lakda-base" \\
        --out benchmarks/results/stage2-b64-full/significance

The first ``--system`` is compared with each of the others. Each system's per-query pooled metric is
averaged over its seeds (the trained models quality.py left in ``--work``), then
:func:`mimo.evaluate.paired_test` gives the mean difference, a group-bootstrap 95% interval and a
sign-flip p-value, with the language versions of one query kept together. That test treats the trained
models as fixed; with two or more seeds, :func:`mimo.evaluate.seed_aware_test` also resamples the seeds
(hierarchical bootstrap over seeds and query groups) and reports each recipe's per-seed means and spread
beside the difference: the figure to quote. Embeddings come from the evaluation cache when quality.py
already scored the same models on the same benchmark.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="mlir-test")
    ap.add_argument("--bench-groups", type=int, help="the seeded sample quality.py used (same arguments)")
    ap.add_argument("--bench-docs", type=int)
    ap.add_argument(
        "--system",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a model dir; '{seed}' in PATH is replaced by each seed (the first system is tested against the rest)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--metric", default="nDCG@10")
    ap.add_argument("--view", default="pooled")
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--out", required=True, help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)

    from mimo.data.build import benchmark_dir
    from mimo.evaluate import evaluate, load_benchmark, mean_over_seeds, paired_test, seed_aware_test
    from mimo.evaluate.significance import paired_markdown, per_query_metric, seed_aware_markdown
    from mimo.evaluate.subsets import subsample
    from mimo.paths import atomic_write_json, atomic_write_text

    systems: list[tuple[str, str]] = []
    for item in args.system:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            ap.error(f"--system {item!r}: expected NAME=PATH")
        systems.append((name, path))
    if len(systems) < 2:
        ap.error("give at least two --system entries")
    bench = load_benchmark(benchmark_dir(args.bench))
    if args.bench_groups:
        bench = subsample(bench, args.bench_groups, max_docs=args.bench_docs, seed=0)

    scores: dict[str, dict[str, float]] = {}
    per_seed: dict[str, list[dict[str, float]]] = {}
    seed_labels: dict[str, list[int]] = {}
    for name, path in systems:
        by_dir = {path.format(seed=s): s for s in args.seeds}  # a path without {seed}: one model
        dirs = sorted(by_dir)
        missing = [d for d in dirs if not Path(d).is_dir()]
        if missing:
            ap.error(f"--system {name}: no model dir {missing[0]} (train it with benchmarks/quality.py first)")
        runs = [evaluate(d, bench, views=[args.view], progress=False) for d in dirs]
        per_seed[name] = [per_query_metric(r, args.metric, args.view) for r in runs]
        seed_labels[name] = [by_dir[d] for d in dirs]
        scores[name] = mean_over_seeds(per_seed[name])
        print(f"{name}: {len(dirs)} model(s), mean {args.metric} {sum(scores[name].values()) / len(scores[name]):.4f}")

    ref = systems[0][0]
    groups = bench.query_groups
    rows, seed_rows = [], []
    for name, _ in systems[1:]:
        t = paired_test(scores[ref], scores[name], groups, n_resamples=args.resamples)
        rows.append(
            {"a": ref, "b": name, "metric": args.metric, "view": args.view, "bench": bench.name, "seeds": args.seeds, **t}
        )
        if max(len(per_seed[ref]), len(per_seed[name])) > 1:
            st = seed_aware_test(per_seed[ref], per_seed[name], groups, seeds_a=seed_labels[ref],
                                 seeds_b=seed_labels[name], n_resamples=args.resamples)
            seed_rows.append({"a": ref, "b": name, "metric": args.metric, "view": args.view, "bench": bench.name, **st})
    command = "python benchmarks/significance.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        f"# Paired test: {ref} vs each system ({args.view} {args.metric}, `{bench.name}`, seeds {args.seeds})",
        "",
        "Per-query scores averaged over seeds; the language versions of one query resampled and sign-flipped "
        "together (`mimo.evaluate.paired_test`).",
        "",
        paired_markdown(rows),
    ]
    if seed_rows:
        lines += [
            "",
            "## Seed-aware (the figure to quote): hierarchical bootstrap over training seeds and query groups",
            "",
            "Each resample draws each recipe's seeds and the query groups with replacement; per-seed means and "
            "their sd beside every difference (`mimo.evaluate.seed_aware_test`).",
            "",
            seed_aware_markdown(seed_rows),
        ]
    lines += ["", f"Command: `{command}`", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), {"paired": rows, "seed_aware": seed_rows} if seed_rows else rows)
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
