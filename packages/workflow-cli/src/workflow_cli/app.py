"""The ``workflow`` command: the Typer app and its entry point.

Start-up stays fast: commands import the runtime (and anything heavy) inside
their own functions, never at module level here.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from .__about__ import __version__
from .commands import clean as clean_command
from .commands import run as run_command
from .commands import schema as schema_command
from .commands import validate as validate_command
from .commands.plugin import plugin_app
from .errors import ExitCode

app = typer.Typer(
    name="workflow",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("run")(run_command.run)
app.command("validate")(validate_command.validate)
app.command("schema")(schema_command.schema)
app.command("clean")(clean_command.clean)
app.add_typer(plugin_app)


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
    """Run workflow files and manage the plugins they use.

    Examples:

      workflow run examples/workflows/hello.yaml

      workflow plugin list

      workflow schema plugin > plugin.schema.json
    """


def main() -> None:
    """Entry point: user errors become one message and exit code 2, never a traceback."""
    try:
        app(standalone_mode=True)
    except Exception as exc:
        from workflow_plugin_runtime.errors import WorkflowPluginError

        if not isinstance(exc, WorkflowPluginError):
            raise
        from .ui.console import make_console, print_problem

        print_problem(make_console(stderr=True), exc.problem)
        sys.exit(ExitCode.INVALID)
