"""Side-by-side tables of several models' results: rows = models, columns = view x metric (+ bias).

The best value per column is marked (bold in Markdown and rich; ``best`` in JSON). For the language
bias column the best is the value closest to 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: (column label, path into a model's result, higher-is-better / "abs" = closest to 0)
Column = tuple[str, tuple[str, ...], str]


def default_columns(results: Sequence[dict[str, Any]]) -> list[Column]:
    cols: list[Column] = []
    if not results:
        return cols
    r0 = results[0]
    for view in r0.get("views", {}):
        for m in ("nDCG@10", "Recall@100", "MRR@10"):
            cols.append((f"{view} {m}", ("views", view, "overall", m), "max"))
    if "bias" in r0:
        cols.append(("lang bias@10", ("bias", "overall"), "abs"))
    if "agreement" in r0:
        key = next((k for k in r0["agreement"] if k.startswith("mrc@")), None)
        if key:
            cols.append((key.upper(), ("agreement", key), "max"))
    return cols


def _get(d: dict, path: tuple[str, ...]) -> float | None:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return float(d) if isinstance(d, int | float) and not math.isnan(d) else None


def table(results: Sequence[dict[str, Any]], columns: Sequence[Column] | None = None) -> dict[str, Any]:
    """``{"columns": [...], "rows": [{"model", "values": [...], "best": [bool, ...]}]}``."""
    cols = list(columns or default_columns(results))
    vals = [[_get(r, c[1]) for c in cols] for r in results]
    best_idx = []
    for j, (_, _, mode) in enumerate(cols):
        col = [(v[j], i) for i, v in enumerate(vals) if v[j] is not None]
        if not col:
            best_idx.append(set())
            continue
        key = (lambda x: -abs(x)) if mode == "abs" else (lambda x: x)
        best = max(key(v) for v, _ in col)
        best_idx.append({i for v, i in col if math.isclose(key(v), best, abs_tol=1e-12)})
    rows = [
        {"model": r["model"], "values": vals[i], "best": [i in b for b in best_idx]}
        for i, r in enumerate(results)
    ]
    return {"columns": [c[0] for c in cols], "rows": rows}


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def to_markdown(tab: dict[str, Any]) -> str:
    head = "| model | " + " | ".join(tab["columns"]) + " |"
    sep = "|---|" + "---:|" * len(tab["columns"])
    lines = [head, sep]
    for row in tab["rows"]:
        cells = [f"**{_fmt(v)}**" if b else _fmt(v) for v, b in zip(row["values"], row["best"], strict=True)]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_rich(tab: dict[str, Any], title: str = "") -> Any:
    from rich.table import Table

    t = Table(title=title or None)
    t.add_column("model", style="cyan")
    for c in tab["columns"]:
        t.add_column(c, justify="right")
    for row in tab["rows"]:
        cells = [
            f"[bold green]{_fmt(v)}[/]" if b else _fmt(v)
            for v, b in zip(row["values"], row["best"], strict=True)
        ]
        t.add_row(row["model"], *cells)
    return t


def per_lang_table(
    results: Sequence[dict[str, Any]], view: str = "pooled", metric: str = "nDCG@10"
) -> dict[str, Any]:
    """Rows = models, columns = query languages, for one view and metric."""
    langs = sorted({lang for r in results for lang in r["views"].get(view, {}).get("per_lang", {})})
    cols = [(lang, ("views", view, "per_lang", lang, metric), "max") for lang in langs]
    return table(results, cols)
