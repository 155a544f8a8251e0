"""Figures (matplotlib, Agg backend), each saved as PNG and SVG with atomic writes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mimo.paths import atomic_write_bytes  # noqa: E402


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s.replace("/", "__"))


def save(fig: Any, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg``; returns both paths."""
    out = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=120, bbox_inches="tight")
        path = Path(f"{stem}.{ext}")
        atomic_write_bytes(path, buf.getvalue())
        out.append(path)
    plt.close(fig)
    return out


def alignment_uniformity_plane(points: Sequence[tuple[str, float, float]], stem: str | Path) -> list[Path]:
    """One labelled point per (model/stage/lambda): x = alignment, y = uniformity (both lower = better)."""
    numbered = len(points) > 8  # many points: number them and name them in a legend, labels would overlap
    fig, ax = plt.subplots(figsize=(11.0, 5.5) if numbered else (5.5, 4.5))
    for i, (label, al, un) in enumerate(points, 1):
        ax.scatter(al, un, s=40, label=f"{i}. {label}" if numbered else None)
        ax.annotate(str(i) if numbered else label, (al, un), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if numbered:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    ax.set_xlabel("alignment  (mean ||f(x_en) - f(x_xx)||², lower = better)")
    ax.set_ylabel("uniformity  (log E exp(-2||f(a)-f(b)||²), lower = better)")
    ax.set_title("Alignment vs uniformity")
    ax.grid(alpha=0.3)
    return save(fig, stem)


def per_lang_bars(
    results: Sequence[dict[str, Any]], stem: str | Path, view: str = "pooled", metric: str = "nDCG@10"
) -> list[Path]:
    """Grouped bars: query language on x, one bar per model."""
    langs = sorted({lang for r in results for lang in r["views"].get(view, {}).get("per_lang", {})})
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.0, 0.25 * len(langs) * max(1, len(results)) + 2)), 4))
    w = 0.8 / max(1, len(results))
    x = np.arange(len(langs))
    for i, r in enumerate(results):
        pl = r["views"].get(view, {}).get("per_lang", {})
        ax.bar(
            x + i * w - 0.4 + w / 2,
            [pl.get(lang, {}).get(metric, np.nan) for lang in langs],
            w,
            label=r["model"],
        )
    ax.set_xticks(x, langs)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1)
    ax.set_title(f"{view}: {metric} per query language")
    ax.legend(fontsize=7)
    return save(fig, stem)


def bias_heatmap(share: dict[str, dict[str, float]], stem: str | Path, title: str = "") -> list[Path]:
    """Query language (rows) x document language (columns): mean share of the top-k."""
    rows = sorted(share)
    cols = sorted({c for v in share.values() for c in v})
    m = np.array([[share[r].get(c, 0.0) for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(cols), 1 + 0.4 * len(rows)))
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=max(1e-9, float(m.max())))
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("document language")
    ax.set_ylabel("query language")
    if len(rows) * len(cols) <= 400:
        for i in range(len(rows)):
            for j in range(len(cols)):
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if m[i, j] < 0.6 * m.max() else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or "share of top-10 by language")
    return save(fig, stem)


def pca_scatter(x: Sequence[float], y: Sequence[float], langs: Sequence[str], stem: str | Path, title: str = "") -> list[Path]:
    """2-D projection of a sample of embeddings, coloured by language."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    langs_a = np.asarray(langs)
    cmap = plt.get_cmap("tab20")
    for i, lang in enumerate(sorted(set(langs))):
        m = langs_a == lang
        ax.scatter(np.asarray(x)[m], np.asarray(y)[m], s=8, alpha=0.7, color=cmap(i % 20), label=lang)
    ax.legend(fontsize=6, markerscale=2, ncol=2)
    ax.set_title(title or "PCA of embeddings by language")
    ax.set_xticks([])
    ax.set_yticks([])
    return save(fig, stem)


def evaluation_figures(results: Sequence[dict[str, Any]], fig_dir: str | Path) -> list[Path]:
    """Per-language nDCG bars per view and one bias heat-map per model."""
    fig_dir = Path(fig_dir)
    out = []
    for view in results[0]["views"] if results else []:
        out += per_lang_bars(results, fig_dir / f"ndcg10-per-lang-{view}", view)
    for r in results:
        if r.get("bias", {}).get("share"):
            out += bias_heatmap(
                r["bias"]["share"],
                fig_dir / f"bias-{_slug(r['model'])}",
                f"{r['model']}: share of top-{r['bias']['k']} (pooled)",
            )
    return out


def analysis_figures(results: Sequence[dict[str, Any]], fig_dir: str | Path) -> list[Path]:
    """The alignment-uniformity plane and one PCA scatter per model."""
    fig_dir = Path(fig_dir)
    out = alignment_uniformity_plane(
        [(r["model"], r["alignment"], r["uniformity"]) for r in results], fig_dir / "alignment-uniformity"
    )
    for r in results:
        p = r["pca"]
        out += pca_scatter(p["x"], p["y"], p["lang"], fig_dir / f"pca-{_slug(r['model'])}", f"{r['model']}: PCA by language")
    return out


def budget_curve_figure(
    curve: Sequence[dict[str, Any]], comparisons: Sequence[dict[str, Any]], stem: str | Path
) -> list[Path]:
    """Pooled nDCG@10 against optimizer steps: a panel per benchmark, a line per method, seed sd as
    error bars (``curve`` rows: bench, budget, method, label, mean, sd, seeds); below each panel, MIMO
    minus XLCO-only and minus the best other baseline (dashed, named once per budget), each with its
    seed-aware 95% interval (``comparisons`` rows of ``seed_aware_test``); a hollow marker is a
    comparison where one recipe has a single seed."""
    from mimo.evaluate.significance import seed_caveat

    benches = sorted({c["bench"] for c in curve})
    one_seed = False
    fig, axes = plt.subplots(2, len(benches), figsize=(5.5 * len(benches), 6.5), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.6]}, sharex="col")
    for j, bench in enumerate(benches):
        ax, dx = axes[0][j], axes[1][j]
        rows = [c for c in curve if c["bench"] == bench]
        labels = list(dict.fromkeys(c["label"] for c in rows))
        budgets = sorted({c["budget"] for c in rows})
        for i, label in enumerate(labels):
            pts = sorted((c for c in rows if c["label"] == label), key=lambda c: c["budget"])
            ns = [len(c["seeds"]) for c in pts]
            seeds = f"{ns[0]} seed{'s' if ns[0] > 1 else ''}" if len(set(ns)) == 1 else \
                "seeds " + ", ".join(map(str, ns))  # per budget, when they differ
            shift = 1 + 0.025 * (i - (len(labels) - 1) / 2)  # side by side, so error bars do not hide each other
            ax.errorbar([c["budget"] * shift for c in pts], [c["mean"] for c in pts], yerr=[c["sd"] for c in pts],
                        marker="o", capsize=3, label=f"{label} ({seeds})")
        ax.set_xscale("log")
        ax.set_title(bench)
        ax.set_ylabel("pooled nDCG@10 (mean ± seed sd)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        comps = [r for r in comparisons if r["bench"] == bench and r["against_baseline"]]  # not anchor vs anchor
        one_seed, names = False, {}
        series: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        for r in sorted(comps, key=lambda r: r["budget"]):
            series.setdefault((r["a"], r["method_b"] == "xlco"), []).append(r)
        for k, ((label, vs_xlco), pts) in enumerate(series.items()):
            x = [r["budget"] * (1 + 0.04 * k) for r in pts]  # side by side, so the intervals stay apart
            y = [100 * r["diff"] for r in pts]
            err = [[100 * (r["diff"] - r["ci_low"]) for r in pts], [100 * (r["ci_high"] - r["diff"]) for r in pts]]
            what = "XLCO-only" if vs_xlco else "best other baseline"
            marker = "s" if vs_xlco else "D"
            line = dx.errorbar(x, y, yerr=err, marker=marker, ls="-" if vs_xlco else "--", capsize=3,
                               label=f"{label} − {what}")[0]
            for xi, yi, r in zip(x, y, pts, strict=True):
                if seed_caveat(r):  # hollow: a recipe with one seed, so the interval lacks its seed variance
                    one_seed = True
                    dx.plot([xi], [yi], marker=marker, mfc="white", mec=line.get_color(), ls="none", zorder=3)
                if not vs_xlco:
                    names.setdefault(r["budget"], (yi, r["b"]))
        for budget, (yi, name) in names.items():  # the best baseline, once per budget, right of its points
            dx.annotate(name, (budget * (1 + 0.04 * (len(series) - 1)), yi), fontsize=7, ha="left", va="center",
                        xytext=(8, 0), textcoords="offset points")
        dx.axhline(0, color="grey", lw=0.8)
        dx.set_xscale("log")
        dx.set_xlim(min(budgets) / 1.6, max(budgets) * 1.6)  # room around a lone budget, too
        dx.set_xticks(budgets, [str(b) for b in budgets])
        dx.minorticks_off()
        dx.set_xlabel("optimizer steps (equal for every method)")
        dx.set_ylabel("diff (points, 95% CI\nseeds + queries)")
        dx.grid(alpha=0.3)
    fig.tight_layout()
    handles: dict[str, Any] = {}  # one legend for the difference panels, below them, clear of the points
    for dx in axes[1]:
        for h, t in zip(*dx.get_legend_handles_labels(), strict=True):
            handles.setdefault(t, h)
    if one_seed:  # the hollow marker's meaning, last
        handles["open marker: one recipe has 1 seed (no seed variance for it)"] = plt.Line2D(
            [], [], marker="o", mfc="white", mec="grey", ls="none")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
                   fontsize=8, frameon=False)
    return save(fig, stem)
