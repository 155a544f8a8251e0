"""CLI commands for the evaluate area (thin: parse, call the library, print)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the root app."""
