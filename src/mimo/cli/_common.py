"""Shared CLI helpers: one console, and turning library errors into clear one-line messages."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console

from mimo.errors import MimoError

# piped or logged output (no terminal, no COLUMNS) gets room for the wide tables instead of rich's 80
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so MimoError/ValueError/FileNotFoundError print one red line and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MimoError, ValueError, FileNotFoundError) as e:
            err_console.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(1) from None

    return wrapper
