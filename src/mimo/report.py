"""Gather evaluation + analysis run directories into one Markdown and one self-contained HTML report.

A run directory holds ``evaluation/`` (from ``mimo evaluate``) and/or ``analysis/`` (from ``mimo
analyze``). The Markdown links the figures by relative path; the HTML embeds them (base64 PNG), so it
can be mailed as a single file.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

from mimo.errors import InputError


def _section(run: Path, out_dir: Path) -> tuple[list[str], list[Path]]:
    """Markdown lines for one run dir and the figures it references."""
    md: list[str] = [f"## Run `{run}`\n"]
    figs: list[Path] = []
    ev = run / "evaluation"
    if (ev / "comparison.md").is_file():
        text = (ev / "comparison.md").read_text(encoding="utf-8")
        md.append(text.replace("# Evaluation", "### Evaluation", 1).replace("\n## ", "\n#### "))
        results = json.loads((ev / "results.json").read_text(encoding="utf-8"))
        md.append("\n#### Model inputs and timing\n")
        md.append("| model | dim | max len | query prompt | passage prompt | truncated docs | encode s (q / docs) | search s |")
        md.append("|---|---:|---:|---|---|---:|---:|---:|")
        for r in results:
            e = r["encode"]
            md.append(
                f"| {r['model']} | {r['dim']} | {r['max_seq_length']} | {_code(r['prompts']['query'])} | "
                f"{_code(r['prompts']['passage'])} | {e['corpus']['n_truncated']} / {e['corpus']['n']} | "
                f"{e['queries']['seconds']:.1f} / {e['corpus']['seconds']:.1f} | {r['search_seconds']:.2f} |"
            )
        md.append("")
        figs += sorted((ev / "figures").glob("*.png"))
    an = run / "analysis"
    if (an / "results.md").is_file():
        md.append((an / "results.md").read_text(encoding="utf-8").replace("# Analysis", "### Analysis", 1))
        figs += sorted((an / "figures").glob("*.png"))
    if len(md) == 1:
        raise InputError(f"{run}: no evaluation/ or analysis/ results (run `mimo evaluate` or `mimo analyze`)")
    for f in figs:
        md.append(f"![{f.stem}]({os.path.relpath(f, out_dir)})\n")
    return md, figs


def _code(s: str) -> str:
    return f"`{s}`" if s else "–"


def _md_to_html(md: str, figs: dict[str, Path]) -> str:
    """A small Markdown subset (headings, tables, images, paragraphs) to HTML, images inlined."""
    out, in_table = [], False
    for line in md.splitlines():
        s = line.strip()
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if all(set(c) <= set("-:") for c in cells):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if s.startswith("!["):
            alt, src = s[2:].split("](", 1)
            p = figs.get(src.rstrip(")"))
            if p is not None:
                data = base64.b64encode(p.read_bytes()).decode()
                out.append(
                    f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(alt)}</figcaption></figure>"
                )
        elif s.startswith("#"):
            n = len(s) - len(s.lstrip("#"))
            out.append(f"<h{n}>{_inline(s[n:].strip())}</h{n}>")
        elif s:
            out.append(f"<p>{_inline(s)}</p>")
    if in_table:
        out.append("</table>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mimo report</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def _inline(s: str) -> str:
    import re

    s = html.escape(s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    return re.sub(r"`(.*?)`", r"<code>\1</code>", s)


def build_report(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` (default: in the first run dir); return their paths."""
    from mimo.paths import atomic_write_text

    if not run_dirs:
        raise InputError("no run directory given")
    runs = [Path(r) for r in run_dirs]
    for r in runs:
        if not r.is_dir():
            raise InputError(f"{r}: not a directory")
    out_dir = Path(out) if out else runs[0]
    md = ["# mimo report\n"]
    figs: dict[str, Path] = {}
    for r in runs:
        lines, fs = _section(r, out_dir)
        md += lines
        figs.update({os.path.relpath(f, out_dir): f for f in fs})
    text = "\n".join(md)
    paths = {"markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    atomic_write_text(paths["markdown"], text)
    atomic_write_text(paths["html"], _md_to_html(text, figs))
    return paths
