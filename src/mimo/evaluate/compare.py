"""Side-by-side tables of several models' results: rows = models, columns = view x metric (+ bias).

The best value per column is marked (bold in Markdown and rich; ``best`` in JSON). For the language
bias column the best is the value closest to 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

_SHORT = {"cross-lingual": "cross", "multi-monolingual": "mono"}

#: (column label, path into a model's result, higher-is-better / "abs" = closest to 0)
Column = tuple[str, tuple[str, ...], str]


def default_columns(results: Sequence[dict[str, Any]]) -> list[Column]:
    cols: list[Column] = []
    if not results:
        return cols
    r0 = results[0]
    for view in r0.get("views", {}):
        for m in ("nDCG@10", "Recall@100", "MRR@10"):
            cols.append((f"{_SHORT.get(view, view)} {m}", ("views", view, "overall", m), "max"))
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
    rows = [{"model": r["model"], "values": vals[i], "best": [i in b for b in best_idx]} for i, r in enumerate(results)]
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


def _compact_col(label: str) -> bool:
    """Terminal subset: nDCG@10 of every view, everything of pooled, and the view-less columns."""
    return "nDCG@10" in label or label.startswith("pooled") or label.split(" ")[0] not in ("cross", "mono")


def to_rich(tab: dict[str, Any], title: str = "", digits: int = 3, compact: bool = True) -> Any:
    """A rich Table (best per column in bold green); ``compact`` keeps the columns that fit 80 chars."""
    from rich import box
    from rich.table import Table

    keep = [j for j, c in enumerate(tab["columns"]) if not compact or _compact_col(c)]
    t = Table(title=title or None, box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("model", style="cyan", no_wrap=True)
    for j in keep:
        t.add_column(tab["columns"][j].replace(" ", "\n", 1).replace("Recall@", "R@"), justify="right", no_wrap=True)
    for row in tab["rows"]:
        cells = []
        for j in keep:
            v, b = row["values"][j], row["best"][j]
            cells.append("–" if v is None else (f"[bold green]{v:.{digits}f}[/]" if b else f"{v:.{digits}f}"))
        t.add_row(row["model"], *cells)
    return t


def per_lang_table(results: Sequence[dict[str, Any]], view: str = "pooled", metric: str = "nDCG@10") -> dict[str, Any]:
    """Rows = models, columns = query languages, for one view and metric."""
    langs = sorted({lang for r in results for lang in r["views"].get(view, {}).get("per_lang", {})})
    cols = [(lang, ("views", view, "per_lang", lang, metric), "max") for lang in langs]
    return table(results, cols)


def per_kind_table(results: Sequence[dict[str, Any]], view: str = "pooled", metric: str = "nDCG@10") -> dict[str, Any]:
    """Rows = models, columns = query kinds (question, task, heading, index term) with their query
    counts, for one view and metric; no columns when the benchmark's queries carry no kind."""
    from mimo.data.kinds import KINDS

    found = {k: d.get("n", 0) for r in results for k, d in r["views"].get(view, {}).get("per_kind", {}).items()}
    kinds = [k for k in KINDS if k in found] + sorted(set(found) - set(KINDS))
    cols = [(f"{k} (n={found[k]})", ("views", view, "per_kind", k, metric), "max") for k in kinds]
    return table(results, cols)


def pair_markdown(result: dict[str, Any], metric: str = "nDCG@10") -> str:
    """Query language (rows) x document language (columns): the metric searching only that document
    language; the diagonal is the multi-monolingual figure."""
    pairs = result.get("pairs", {})
    cols = sorted({b for row in pairs.values() for b in row})
    lines = ["| query \\ doc | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for a in sorted(pairs):
        cells = [f"{pairs[a][b][metric]:.3f}" if b in pairs[a] else "–" for b in cols]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
