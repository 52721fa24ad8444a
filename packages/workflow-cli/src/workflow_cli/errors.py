"""How the CLI turns failures into exit codes, and the one error it raises itself.

0 success; 1 the workflow ran and failed (or a check found a problem);
2 the command or its input was invalid. Users see one clear message on
stderr, never a traceback; with ``--json``, stdout also gets one error
document (:mod:`workflow_cli.reporting`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from workflow_plugin_runtime import Problem

__all__ = [
    "BadOptionValue",
    "CommandExit",
    "ErrorKind",
    "ExitCode",
    "InvalidInput",
    "bad_value_message",
    "sentence",
    "usage_hint",
    "usage_problem",
]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    INVALID = 2


class ErrorKind(enum.StrEnum):
    """What was invalid, as the ``--json`` error document names it.

    Runtime errors that carry a failure kind keep it (``not_found``,
    ``manifest``, ...); these name the rest.
    """

    USAGE = "usage"  # the command line: a missing argument, an unknown option, a bad option value
    WORKFLOW = "workflow"  # the workflow file failed its checks
    CONFIG = "config"  # a config.yaml
    LOCK = "lock"  # a plugin differs from the workflow's lock file
    SECRET_OR_VAR = "secret_or_var"  # noqa: S105 -- a kind's name: a bad --var, --vars-file or --secrets-file
    INVALID = "invalid"  # any other input the runtime refused


class InvalidInput(Exception):
    """The command or its input was invalid: exit 2, every problem on stderr, and one error document with --json.

    ``problems`` holds at least one error (warnings found on the way ride
    along); ``summary`` closes a list of several, e.g. "2 errors: nothing was run".
    """

    def __init__(self, kind: str, problems: Sequence[Problem], *, summary: str | None = None) -> None:
        from workflow_plugin_runtime import Severity  # here: the CLI's startup never imports the runtime

        first = next((problem for problem in problems if problem.severity is Severity.ERROR), problems[0])
        super().__init__(summary or first.message)
        self.kind = kind
        self.problems = tuple(problems)
        self.summary = summary

    @property
    def message(self) -> str:
        return str(self.args[0])


class CommandExit(Exception):
    """A command is done and exits with ``code`` (1: it ran and failed, or a check found a problem).

    Raised by a command's body, which runs with or without Typer; both
    paths make it the process's exit code (:func:`workflow_cli.reporting.exit_code_of`).
    """

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class BadOptionValue(Exception):
    """A command's own check refused the value of ``option``: reported as Typer reports a bad value (exit 2).

    Under Typer it becomes Typer's ``BadParameter`` (:class:`workflow_cli.command.WorkflowCommand`);
    without Typer the same message and usage hint are made by :func:`usage_problem`.
    """

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(reason)
        self.option = option
        self.reason = reason


def bad_value_message(name: str, reason: str) -> str:
    """``invalid value for --concurrency: ...``: a refused value, named by its option (or argument)."""
    return f"invalid value for {name}: {reason}"


def usage_hint(usage: str, command_path: str) -> str:
    """The hint under a usage error: the command's usage line (without ``Usage:``) and where its help is."""
    return f"usage: {usage.removeprefix('Usage: ')} (see {command_path} --help)"


def usage_problem(message: str, *, hint: str | None) -> InvalidInput:
    """A usage error (missing argument, unknown option, bad value) as the CLI reports errors: exit 2."""
    from workflow_plugin_runtime import Problem

    return InvalidInput(ErrorKind.USAGE, [Problem(message, hint=hint)])


def sentence(text: str) -> str:
    """Click's "Missing argument 'FILE'." as our messages read: one line, lower case first, no final period."""
    text = " ".join(text.split()).removesuffix(".")
    if len(text) > 1 and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text
