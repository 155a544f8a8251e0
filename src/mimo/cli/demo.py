"""``mimo demo``: the main job end to end on the offline default (thin over ``mimo.demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

from mimo.cli._common import console, friendly, print_paired


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the root app."""

    @app.command()
    @friendly
    def demo(
        out: Path | None = typer.Option(
            None, help="Output dir (models, results, figures, report; default: the config's out, else runs/demo)."
        ),
        config: Path | None = typer.Option(None, help="YAML with DemoConfig fields (overrides defaults)."),
        stage1_steps: int | None = typer.Option(None, help="Stage-1 steps (default 60)."),
        stage2_steps: int | None = typer.Option(None, help="Stage-2 steps per objective (default 12)."),
        seed: int | None = typer.Option(None, help="Random seed."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    ) -> None:
        """Build data, train Stage 1 + Stage 2 (MIMO, KD-only, XLCO-only), evaluate, analyse, report."""
        from mimo.demo import DemoConfig, run_demo
        from mimo.evaluate.compare import to_rich

        cfg = DemoConfig.from_yaml(config) if config else DemoConfig()
        if out is not None:
            cfg.out = str(out)
        for k, v in {"stage1_steps": stage1_steps, "stage2_steps": stage2_steps, "seed": seed}.items():
            if v is not None:
                setattr(cfg, k, v)
        summary = run_demo(cfg, say=console.print, progress=not no_progress)
        title = f"{cfg.bench}: untrained student vs Stage 1 vs Stage 2"
        console.print(to_rich(summary["table"], title=title))
        console.print("\n[bold]alignment (lower = translations closer) / uniformity (lower = more spread)[/]")
        for r in summary["analysis"]:
            a, u = r["alignment"], r["uniformity"]
            console.print(f"  {r['model']:<20} alignment {a:.4f}  uniformity {u:.4f}")
        figs = [f for f in summary["figures"] if f.endswith(".png")]
        print_paired(summary.get("paired", []))
        console.print(f"\nalignment-uniformity figure: {figs[0] if figs else '-'}")
        console.print(f"report: {summary['report'].get('md', summary['report'])}")
        mimo_dir = summary["models"].get("mimo")
        console.print(f"trained MIMO model (loads with SentenceTransformer(path)): {mimo_dir}")
        console.print(f"timings (s): {summary['timings_s']}")
