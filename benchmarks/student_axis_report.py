"""The student axis's summary: summary.json, summary.md and one figure, from points.json.

Used by ``benchmarks/student_axis.py`` after every landed point and by its ``--summary``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from student_axis import BASELINES, EN_HARD, label, parse_method, point_key

TEST_BENCHES = ("mlir-test", "mlir-qa-test")


def _cells(points: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(student, bench, method) -> seeds, values, mean, seed sd."""
    import numpy as np

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault((p["student"], p["bench"], p["method"]), []).append(p)
    out = {}
    for k, rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda r: r["seed"])
        v = np.array([r["ndcg10"] for r in rows])
        out[k] = {"student": k[0], "bench": k[1], "method": k[2], "seeds": [r["seed"] for r in rows],
                  "ndcg10": [float(x) for x in v], "mean": float(v.mean()),
                  "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": len(v)}
    return out


def _pairs(student: str, bench: str, present: list[str], cells: dict) -> list[tuple[str, str, str]]:
    """(a, b, what) comparisons for one student and bench: MIMO against every baseline (the best one
    flagged), the mpnet anchor against MiniLM's, and each multi-epoch MIMO against the same-epoch baselines."""
    out = []
    for mult in sorted({parse_method(m)[1] for m in present}):
        tag = "" if mult == 1 else f"-{mult}ep"
        mimo = f"mimo{tag}"
        base = [m + tag for m in BASELINES if m + tag in present]
        if mimo not in present or not base:
            continue
        best = max(base, key=lambda m: cells[(student, bench, m)]["mean"])
        out += [(mimo, b, "best baseline" if b == best else "baseline") for b in base]
        if mult == 1 and "mimo-mpnet" in present:
            out += [("mimo-mpnet", best, "best baseline"), ("mimo-mpnet", "mimo", "anchor")]
    return out


def comparisons(store: Any, cells: dict, resamples: int) -> list[dict[str, Any]]:
    from mimo.evaluate import seed_aware_test

    out = []
    for student, bench in sorted({(s, b) for s, b, _ in cells if b in TEST_BENCHES}):
        present = [m for s, b, m in cells if s == student and b == bench]
        for a, b, what in _pairs(student, bench, present, cells):
            ca, cb = cells[(student, bench, a)], cells[(student, bench, b)]
            ra = [store.per_query(point_key(student, a, s, bench)) for s in ca["seeds"]]
            rb = [store.per_query(point_key(student, b, s, bench)) for s in cb["seeds"]]
            t = seed_aware_test(ra, rb, store.groups(bench), seeds_a=ca["seeds"], seeds_b=cb["seeds"],
                                n_resamples=resamples)
            out.append({"student": student, "bench": bench, "a": a, "b": b, "vs": what, "diff": t["diff"],
                        "ci": [t["ci_low"], t["ci_high"]], "p": t["p_value"], "n_seeds": [ca["n"], cb["n"]],
                        "per_seed_diff": t["per_seed_diff"], "query_only_ci": [t["query_only"]["ci_low"],
                                                                               t["query_only"]["ci_high"]]})
    return out


def english_gap(cells: dict, recipe: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per student on en-hard: the MiniLM teacher (the anchor every MIMO cell uses), the mpnet teacher,
    the untrained student and its trained MIMO model (mean over the seeds scored there)."""
    def get(student: str, method: str) -> float | None:
        c = cells.get((student, EN_HARD, method))
        return c["mean"] if c else None

    def seeds(student: str) -> list[int]:
        c = cells.get((student, EN_HARD, "mimo"))
        return sorted(c["seeds"]) if c else []

    return {s: {"teacher": get("teacher-minilm", "teacher"), "teacher_mpnet": get("teacher-mpnet", "teacher"),
                "student_untrained": get(s, "untrained"), "student_trained": get(s, "mimo"),
                "student_trained_seeds": seeds(s)}
            for s in recipe["students"]}


def _fmt(c: dict[str, Any] | None) -> str:
    if not c:
        return "-"
    sd = f" ± {c['sd']:.4f}" if c["sd"] is not None else ""
    return f"{c['mean']:.4f}{sd} ({c['n']})"


def markdown(summary: dict[str, Any], cells: dict) -> str:
    lines = ["# Student axis: MIMO against its baselines along student strength", "",
             "Pooled nDCG@10, mean ± seed sd (n seeds). Same optimizer steps for every objective of a student.", ""]
    students = list(summary["recipe_students"])
    for bench in TEST_BENCHES:
        methods = list(dict.fromkeys(m for s, b, m in cells if b == bench))
        if not methods:
            continue
        lines += [f"## {bench}", "", "| method | " + " | ".join(students) + " |", "|---|" + "---:|" * len(students)]
        for m in methods:
            lines.append(f"| {label(m)} | " + " | ".join(_fmt(cells.get((s, bench, m))) for s in students) + " |")
        lines.append("")
    comps = summary["comparisons"]
    if comps:
        lines += ["## Seed-aware differences (points, 95% CI: hierarchical bootstrap over seeds and query groups)", "",
                  "| student | bench | a − b | diff | 95% CI | p | seeds a / b |", "|---|---|---|---:|---|---|---|"]
        for r in comps:
            star = " *" if r["ci"][0] > 0 or r["ci"][1] < 0 else ""
            best = " (best baseline)" if r["vs"] == "best baseline" else ""
            lines.append(f"| {r['student']} | {r['bench']} | {label(r['a'])} − {label(r['b'])}{best} | "
                         f"{100 * r['diff']:+.2f}{star} | [{100 * r['ci'][0]:+.2f}, {100 * r['ci'][1]:+.2f}] | "
                         f"{r['p']:.3g} | {r['n_seeds'][0]} / {r['n_seeds'][1]} |")
        lines.append("")
    gap = summary["english_gap"]
    if any(v["student_untrained"] is not None for v in gap.values()):
        n = summary.get("en_hard", {})
        lines += [f"## English gap on en-hard ({n.get('queries', '?')} English queries, {n.get('passages', '?')} "
                  "English passages)", "",
                  "| student | teacher MiniLM | teacher mpnet | student untrained | student + MIMO | MIMO seeds |",
                  "|---|---:|---:|---:|---:|---|"]
        f = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
        for s, v in gap.items():
            lines.append(f"| {s} | {f(v['teacher'])} | {f(v['teacher_mpnet'])} | {f(v['student_untrained'])} | "
                         f"{f(v['student_trained'])} | {', '.join(map(str, v['student_trained_seeds'])) or '-'} |")
        lines.append("")
    return "\n".join(lines)


def figure(summary: dict[str, Any], out: Path) -> None:
    """MIMO − best baseline (95% CI) against the teacher − untrained student English gap (en-hard)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gap = summary["english_gap"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for bench, marker, color, dx in (("mlir-test", "o", "tab:blue", -0.4), ("mlir-qa-test", "s", "tab:red", 0.4)):
        for r in summary["comparisons"]:
            g = gap.get(r["student"], {})
            if r["bench"] != bench or r["vs"] != "best baseline" or r["a"] != "mimo":
                continue
            if g.get("teacher") is None or g.get("student_untrained") is None:
                continue
            x = 100 * (g["teacher"] - g["student_untrained"]) + dx
            y, lo, hi = (100 * v for v in (r["diff"], *r["ci"]))
            seen = bench in ax.get_legend_handles_labels()[1]
            ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], fmt=marker, color=color, capsize=3,
                        label=None if seen else bench)
            ax.annotate(f"{r['student']} vs {label(r['b'])}", (x, y), textcoords="offset points", xytext=(5, 5),
                        fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("English gap: teacher − untrained student, nDCG@10 points on en-hard")
    ax.set_ylabel("MIMO − best baseline, pooled nDCG@10 points")
    ax.set_title("Where the English anchor pays")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no student has both comparisons and an en-hard gap yet", ha="center",
                transform=ax.transAxes, fontsize=8)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(out.with_suffix(f".{ext}"), dpi=130)
    plt.close(fig)


def summarize(store: Any, recipe: dict[str, Any], resamples: int) -> str:
    from mimo.paths import atomic_write_json, atomic_write_text

    pts = store.data["points"]
    cells = _cells(pts)
    summary = {
        "points": [{k: p.get(k) for k in ("student", "method", "bench", "seed", "ndcg10", "recall@100",
                                           "cross-lingual ndcg10", "multi-monolingual ndcg10", "source")} for p in pts],
        "cells": list(cells.values()),
        "comparisons": comparisons(store, cells, resamples),
        "english_gap": english_gap(cells, recipe),
        "en_hard": store.data.get("en_hard", {}),
        "recipe_students": {s: {k: v for k, v in spec.items()} for s, spec in recipe["students"].items()},
    }
    atomic_write_json(store.out / "summary.json", summary)
    md = markdown(summary, cells)
    atomic_write_text(store.out / "summary.md", md + "\n")
    if summary["comparisons"]:
        figure(summary, store.out / "student-axis")
    return md
