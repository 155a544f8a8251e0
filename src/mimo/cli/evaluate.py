"""CLI commands for the evaluate area (thin: parse, call the library, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from mimo.cli._common import console, friendly, print_paired


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""

    @app.command("evaluate")
    @friendly
    def evaluate_cmd(
        models: list[str] = typer.Argument(..., help="Model names (e5-small, minilm, use, ...) or directories."),
        bench: str = typer.Option(
            ..., "--bench", "-b", help="mlir-dev, mlir-test, mlir-qa-dev, mlir-qa-test, a BEIR directory, or an HF dataset name."
        ),
        out: Path = typer.Option(None, "--out", "-o", help="Run directory (default ./mimo-runs/<bench>)."),
        views: list[str] = typer.Option(
            ["pooled", "cross-lingual", "multi-monolingual"], "--view", help="Views to score (repeatable)."
        ),
        k: int = typer.Option(100, help="Ranking depth (>= 100 for Recall@100 / MAP@100)."),
        query_prompt: str = typer.Option(None, help='Override the model\'s query prompt ("" for none).'),
        passage_prompt: str = typer.Option(None, help="Override the model's passage prompt."),
        batch_size: int = typer.Option(32, help="Encoding batch size."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the encode cache."),
        paired_ref: str = typer.Option(
            None, help="Test this model (label or 0-based index; default: the first) against each other one."
        ),
    ) -> None:
        """Score models on a benchmark: pooled / cross-lingual / multi-monolingual views, bias, agreement,
        and a paired significance test of the first (or --paired-ref) model against the others."""
        from mimo.evaluate import evaluate_models
        from mimo.evaluate.compare import per_kind_table, to_rich

        out_dir = out or Path("mimo-runs") / Path(bench).name
        res = evaluate_models(
            models,
            bench,
            out_dir,
            views,
            k,
            progress=True,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            batch_size=batch_size,
            use_cache=not no_cache,
            paired_ref=int(paired_ref) if paired_ref and paired_ref.isdigit() else (paired_ref or 0),
        )
        r0 = res["results"][0]["benchmark"]
        console.print(to_rich(res["table"], f"{r0['name']}: {r0['n_queries']} queries, {r0['n_docs']} docs"))
        view = "pooled" if "pooled" in views else views[0]
        if (kt := per_kind_table(res["results"], view))["columns"]:
            console.print(to_rich(kt, f"{view} nDCG@10 per query kind", compact=False))
        for r in res["results"]:
            q, c = r["encode"]["queries"], r["encode"]["corpus"]
            console.print(
                f"[cyan]{r['model']}[/]: max length {r['max_seq_length']}, truncated "
                f"{c['n_truncated']}/{c['n']} docs, {q['n_truncated']} queries; "
                f"encoded {q['n_encoded'] + c['n_encoded']} texts "
                f"({q['seconds'] + c['seconds']:.1f} s), search {r['search_seconds']:.2f} s"
            )
        print_paired(res["paired"])
        console.print(f"written: {res['out_dir']}")

    @app.command("analyze")
    @friendly
    def analyze_cmd(
        models: list[str] = typer.Argument(..., help="Model names or directories."),
        parallel: str = typer.Option(
            "parallel",
            "--parallel",
            "-p",
            help="mimo's `parallel` dataset, a save_to_disk dir, or .jsonl/.parquet.",
        ),
        out: Path = typer.Option(Path("mimo-runs") / "analysis", "--out", "-o", help="Run directory."),
        max_per_lang: int = typer.Option(500, help="Translation pairs sampled per language."),
        prompt: str = typer.Option(None, help="Override the passage prompt used for both sides."),
        seed: int = typer.Option(0),
    ) -> None:
        """Alignment, uniformity and a language-ID probe on translation pairs (+ figures)."""
        from mimo.analyze import analyze_models

        res = analyze_models(models, parallel, out, max_per_lang=max_per_lang, prompt=prompt, seed=seed)
        from rich.table import Table

        t = Table(title=f"{res['results'][0]['n_pairs']} translation pairs")
        for c in ("model", "alignment ↓", "uniformity ↓", "lang-ID acc ↓", "majority"):
            t.add_column(c, justify="right" if c != "model" else "left")
        for r in res["results"]:
            t.add_row(
                r["model"],
                f"{r['alignment']:.4f}",
                f"{r['uniformity']:.4f}",
                f"{r['probe']['accuracy']:.4f}",
                f"{r['probe']['majority']:.4f}",
            )
        console.print(t)
        console.print(f"written: {res['out_dir']}")

    @app.command("report")
    @friendly
    def report_cmd(
        run_dirs: list[Path] = typer.Argument(..., help="Run directories (with evaluation/ and/or analysis/)."),
        out: Path = typer.Option(None, "--out", "-o", help="Where to write report.md/.html (default: first run)."),
    ) -> None:
        """One Markdown + self-contained HTML report from evaluation and analysis runs."""
        from mimo.report import build_report

        paths = build_report(run_dirs, out)
        console.print(f"written: {paths['markdown']}  {paths['html']}")
