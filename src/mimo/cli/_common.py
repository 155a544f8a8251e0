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


def quiet_libraries() -> None:
    """Keep library loading noise off the screen: transformers / hub / datasets progress bars and
    warnings, library loggers below ERROR. Environment only (nothing imported), so it must run before
    those libraries load; ``MIMO_VERBOSE=1`` keeps everything."""
    import logging
    import warnings

    if os.environ.get("MIMO_VERBOSE"):
        return
    for var, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
                       ("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                       ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(var, value)
    for name in ("transformers", "sentence_transformers", "huggingface_hub", "datasets", "torch", "faiss"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", module=r"(transformers|sentence_transformers|huggingface_hub|datasets|torch)(\.|$)")


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


def print_paired(rows: list[dict[str, Any]]) -> None:
    """One line per paired test (``mimo.evaluate.significance``): difference in points, CI, p."""
    from mimo.evaluate.significance import format_p

    if not rows:
        return
    r0 = rows[0]
    console.print(f"\n[bold]paired test, {r0['view']} {r0['metric']}[/] (language versions of a query kept together)")
    for r in rows:
        sig = "" if r["ci_low"] <= 0 <= r["ci_high"] else " [green]*[/]"
        pv = format_p(r["p_value"])
        console.print(
            f"  {r['a']} − {r['b']}: {100 * r['diff']:+.2f} points, 95% CI [{100 * r['ci_low']:+.2f}, "
            f"{100 * r['ci_high']:+.2f}], p {pv if pv.startswith('<') else '= ' + pv}{sig}"
        )
