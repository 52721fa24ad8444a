"""The ``workflow`` command: the Typer app and its entry point.

Start-up stays fast: commands import the runtime (and anything heavy) inside
their own functions, never at module level here.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .__about__ import __version__

app = typer.Typer(
    name="workflow",
    help="Run workflow files and manage the plugins they use.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"workflow {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Run workflow files and manage the plugins they use."""


def main() -> None:
    app()
