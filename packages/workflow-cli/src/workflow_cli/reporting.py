"""Reporting invalid input the one way every command does: stderr, and with ``--json`` an error document.

With ``--json`` a script reads stdout, so it gets exactly one JSON document
there whatever happened: the command's result, or on exit 2 this::

    {"error": {"kind": "workflow", "message": "2 errors: nothing was run",
               "problems": [{"severity": "error", "message": "...", "location": "...", "hint": "..."}]}}

docs/cli.md documents the shape. The runtime is imported only on this
(rare) path.
"""

from __future__ import annotations

from .errors import CommandExit, ErrorKind, ExitCode, InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from workflow_plugin_runtime import WorkflowPluginError

__all__ = ["error_document", "exit_code_of", "invalid_input_from", "report_invalid_input"]


def exit_code_of(body: Callable[[], object], *, as_json: bool) -> int:
    """Run a command's body: its exit code, and its invalid input reported once (exit 2).

    The one handling of a command's outcome, with Typer (``WorkflowCommand.invoke``)
    and without (:mod:`workflow_cli.fast_path`): a runtime error or
    :class:`InvalidInput` goes to :func:`report_invalid_input` (an error
    document on stdout too when ``as_json``); any other exception is not ours
    to report and propagates.
    """
    try:
        body()
    except CommandExit as exc:
        return exc.code
    except Exception as exc:
        from workflow_plugin_runtime import WorkflowPluginError

        if not isinstance(exc, WorkflowPluginError | InvalidInput):
            raise
        report_invalid_input(exc if isinstance(exc, InvalidInput) else invalid_input_from(exc), as_json=as_json)
        return ExitCode.INVALID
    return ExitCode.OK


def invalid_input_from(error: WorkflowPluginError) -> InvalidInput:
    """A runtime error as the CLI reports it: its kind, and its problems (several for ``ValidationFailed``
    and for a manifest with more than one)."""
    from workflow_plugin_runtime import (
        ConfigError,
        ManifestError,
        SecretError,
        ValidationFailed,
        WorkflowFileError,
    )

    kind: str = ErrorKind.INVALID
    if error.kind is not None:
        kind = error.kind.value
    elif isinstance(error, ConfigError):
        kind = ErrorKind.CONFIG
    elif isinstance(error, WorkflowFileError):
        kind = ErrorKind.WORKFLOW
    elif isinstance(error, SecretError):
        kind = ErrorKind.SECRET_OR_VAR
    if isinstance(error, ValidationFailed):
        return InvalidInput(kind, error.problems, summary=error.message)
    if isinstance(error, ManifestError) and len(error.problems) > 1:
        count = len(error.problems)
        return InvalidInput(kind, error.problems, summary=f"{count} problems found")
    return InvalidInput(kind, [error.problem])


def error_document(error: InvalidInput) -> dict[str, object]:
    from .commands.plugin_views import problem_view

    return {
        "error": {
            "kind": str(error.kind),
            "message": error.message,
            "problems": [problem_view(problem) for problem in error.problems],
        }
    }


def report_invalid_input(error: InvalidInput, *, as_json: bool) -> None:
    """Every problem on stderr (then the summary), and the error document on stdout when ``as_json``."""
    from .commands.plugin_views import json_ready
    from .terminal import echo_json
    from .ui.console import make_console, print_problem

    console = make_console(stderr=True)
    for problem in error.problems:
        print_problem(console, problem)
    if error.summary:
        console.print(error.summary, markup=False, highlight=False)
    if as_json:
        echo_json(json_ready(error_document(error)))
