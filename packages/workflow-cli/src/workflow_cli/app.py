"""The ``workflow`` command: the Typer app and its entry point.

Start-up stays fast: commands import the runtime (and anything heavy) inside
their own functions, never at module level here.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from .__about__ import __version__
from .command import WorkflowCommand, WorkflowGroup, json_requested, usage_error
from .commands import clean as clean_command
from .commands import schema as schema_command
from .commands import signatures
from .commands.plugin import plugin_app
from .errors import ExitCode

app = typer.Typer(
    name="workflow",
    cls=WorkflowGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("run", cls=WorkflowCommand)(signatures.run)
app.command("validate", cls=WorkflowCommand)(signatures.validate)
app.command("lock", cls=WorkflowCommand)(signatures.lock)
app.command("schema", cls=WorkflowCommand)(schema_command.schema)
app.command("clean", cls=WorkflowCommand)(clean_command.clean)
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
    """Entry point: invalid input is one message (and with --json one error document) and exit 2, never a traceback.

    Typer runs in non-standalone mode so that its usage errors reach us
    instead of being printed in Click's words; errors inside a command are
    reported by :class:`~workflow_cli.command.WorkflowCommand`.
    """
    args = sys.argv[1:]
    try:
        code = app(args=args, standalone_mode=False)
    except typer.TyperException as exc:
        code = _report_usage_error(exc, args)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        code = ExitCode.FAILED
    except Exception as exc:
        from workflow_plugin_runtime import WorkflowPluginError

        if not isinstance(exc, WorkflowPluginError):
            raise
        from .reporting import invalid_input_from, report_invalid_input

        report_invalid_input(invalid_input_from(exc), as_json=False)
        code = ExitCode.INVALID
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _report_usage_error(exc: typer.TyperException, args: list[str]) -> int:
    from .reporting import report_invalid_input

    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group called bare: Typer shows its help (on stderr), exit 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
            return int(getattr(exc, "exit_code", ExitCode.INVALID))
    report_invalid_input(usage_error(exc), as_json=json_requested(ctx, args))
    return int(getattr(exc, "exit_code", ExitCode.INVALID))
