"""The ``mimo`` command line: a thin typer layer over the library.

Each ``mimo.cli.<area>`` module owns one area's commands and exposes ``register(app)``;
heavy imports stay inside the command bodies so ``mimo --help`` is instant.
"""

from __future__ import annotations

import typer

from mimo.cli import data, demo, evaluate, index, models, train

app = typer.Typer(
    name="mimo",
    help="Turn an English embedding model into a multilingual retriever (MIMO).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)



@app.callback()
def _root() -> None:
    """mimo: multilingual retrieval anchored to an English teacher."""
    from mimo.cli._common import quiet_libraries

    quiet_libraries()


for _area in (models, data, train, evaluate, index, demo):
    _area.register(app)


def main() -> None:
    app()


@app.command()
def version() -> None:
    """Print the mimo version."""
    from mimo import __version__

    typer.echo(__version__)
