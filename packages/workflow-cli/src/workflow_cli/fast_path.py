"""Well-formed command lines of the everyday commands, run without importing Typer or Click.

Importing Typer costs about six bare interpreter starts, more than the
whole budget of ``workflow validate`` (docs/performance.md, "CLI start-up").
So the entry point first asks :func:`fast_command_line` whether it fully
understands the command line: one of the commands in
:data:`~workflow_cli.command_lines.COMMANDS` (a copy of what Typer makes of
their signatures, kept equal by a test), each option named exactly, with
a value Click would accept as it is. Then :func:`run_fast` calls the
command's body (which imports neither) with the values Typer would have
given it. Anything else goes to Typer unchanged: ``--help`` or ``-h``
anywhere, an unknown or abbreviated option, clustered short options
(``-pc``), a value attached to a short option (``-c4``), ``--``, a value
or argument starting with ``-``, a missing argument or an extra one, a
number that is not plain ASCII digits within its bounds, a path Click's
checks would refuse, shell completion in progress, a stream Click would
re-open, and a usage line Click would wrap. Every error message and every
help text therefore stays Typer's (and ours around it), byte for byte.

Why not ``argparse``: its command lines mean other things. It accepts
abbreviated long options (``--jso`` for ``--json``), takes ``-1`` as a
negative number where Click sees an unknown option, reads ``--opt=`` and
short forms by other rules, and words its errors its own way; a parser made
to agree with Click would be longer than this recogniser, which only has
to say "yes, exactly these values" or "not mine".
"""

from __future__ import annotations

import os
import stat
import sys
from collections import namedtuple

from .command_lines import COMMANDS
from .terminal import help_width, in_shell_completion, program_name, writes_plainly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path
    from typing import Any, NamedTuple

    from .errors import BadOptionValue, InvalidInput

__all__ = [
    "FastCommandLine",
    "fast_command_line",
    "plain_whole_number",
    "recognise",
    "run_fast",
    "usage_fits_one_line",
]

JSON_FLAG = "--json"
USAGE_PREFIX = "Usage: "
USAGE_ARGS_ROOM = 20
"""Room Click wants right of ``Usage: PROG`` for the arguments, else it puts them on the next line."""
INTERRUPTED = 130
"""Click's exit code for Ctrl-C outside a command's own handling (128 + SIGINT)."""


if TYPE_CHECKING:

    class FastCommandLine(NamedTuple):
        """A command line understood without Typer: the command, and the values its function gets."""

        command: tuple[str, ...]
        params: dict[str, Any]
        as_json: bool

else:
    # A named tuple, not a dataclass: ``dataclasses`` (with ``inspect``) would be this path's own import. Made by
    # ``collections.namedtuple`` at run time, the same class without ``typing``'s ``NamedTuple``, which imports
    # ``typing`` and compiles each field's annotation (the type checker reads the declaration above).
    FastCommandLine = namedtuple("FastCommandLine", ("command", "params", "as_json"))


def fast_command_line(argv: Sequence[str]) -> FastCommandLine | None:
    """``argv`` (without the program) when it is a command line :func:`run_fast` runs as Typer would, else None."""
    line = recognise(argv)
    if line is None or in_shell_completion(os.environ) or os.name == "nt":
        return None  # Typer answers completion requests, and expands wildcards on Windows
    if not all(stream is not None and writes_plainly(stream) for stream in (sys.stdout, sys.stderr)):
        return None
    if not usage_fits_one_line(_usage_line(line.command), width=help_width()):
        return None  # a body's usage error shows this line: Click would wrap it
    return line


def recognise(argv: Sequence[str]) -> FastCommandLine | None:
    """The command and the values Click gives its function for ``argv``, or None when it is not plainly one.

    Pure: it looks at ``argv``, the table and, for paths, the file system.
    """
    for length in (1, 2):
        spec = COMMANDS.get(tuple(argv[:length]))
        if spec is not None:
            return _recognise_params(tuple(argv[:length]), spec["params"], argv[length:])
    return None


def _recognise_params(
    command: tuple[str, ...], specs: Sequence[Mapping[str, Any]], args: Sequence[str]
) -> FastCommandLine | None:
    by_option = {option: spec for spec in specs for option in spec["opts"]}
    given: dict[str, list[str]] = {}
    positional: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if not token.startswith("-"):
            positional.append(token)
            continue
        option, equals, attached = token.partition("=")
        spec = by_option.get(option)  # None: unknown, abbreviated, clustered, help, "--", "-"
        value = None if spec is None else _option_value(spec, option, attached if equals else None, tokens)
        if spec is None or value is None or value.startswith("-"):
            return None
        given.setdefault(spec["name"], []).append(value)
    params = _converted(specs, given, positional)
    if params is None:
        return None
    json_option = by_option.get(JSON_FLAG)
    return FastCommandLine(command, params, as_json=json_option is not None and params[json_option["name"]] is True)


def _option_value(spec: Mapping[str, Any], option: str, attached: str | None, tokens: Iterator[str]) -> str | None:
    """The text an option takes (``""`` for a flag), taken from ``tokens`` if not attached; None if not plain."""
    if spec["kind"] == "flag":
        return "" if attached is None else None  # "--json=1": Click refuses it
    if attached is None:
        return next(tokens, None)
    return None if len(option) == 2 else attached  # "-c=3": Click gives the short option "=3"


def _converted(
    specs: Sequence[Mapping[str, Any]], given: dict[str, list[str]], positional: list[str]
) -> dict[str, Any] | None:
    """Each parameter's value as Typer gives it to the function (a list for a repeated option), or None."""
    arguments = [spec for spec in specs if not spec["opts"]]
    if len(positional) > len(arguments):
        return None
    params: dict[str, Any] = {}
    for spec in specs:
        texts = given.get(spec["name"]) if spec["opts"] else positional[:1]
        if not texts:
            if spec.get("required"):
                return None
            params[spec["name"]] = spec["default"]
            continue
        if spec["kind"] == "flag":
            params[spec["name"]] = True
            continue
        multiple = spec.get("multiple", False)
        values = [_value(text, spec) for text in (texts if multiple else texts[-1:])]  # Click keeps the last
        if any(value is None for value in values):
            return None
        params[spec["name"]] = values if multiple else values[0]
    return params


def _value(text: str, spec: Mapping[str, Any]) -> object | None:
    kind = spec["kind"]
    if kind == "str":
        return text
    if kind == "int":
        return plain_whole_number(text, minimum=spec["minimum"], maximum=spec["maximum"])
    return _checked_path(text, spec["path_checks"])


def plain_whole_number(value: object, *, minimum: float | None, maximum: float | None) -> int | None:
    """An int (a default), or ASCII digits, within the bounds; None for anything else (``+3``, ``3.0``, ``٣``).

    What both the fast path and :mod:`workflow_cli.coercion` convert without
    Typer's (pydantic) conversion, which is left to word every refusal.
    """
    if type(value) is int:
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            number = int(value)
        except ValueError:  # more digits than Python converts
            return None
    else:
        return None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return None
    return number


def _checked_path(text: str, checks: tuple[str, ...]) -> Path | None:
    """``Path(text)`` when Click's checks (the ones in ``checks``) pass, as Typer makes them; else None."""
    from pathlib import Path

    path = Path(text)
    try:
        status = path.stat()
    except OSError:
        return None if "exists" in checks else path
    except ValueError:  # a NUL byte: Typer's conversion words it
        return None
    refused = (
        (stat.S_ISREG(status.st_mode) and "file_okay" not in checks)
        or (stat.S_ISDIR(status.st_mode) and "dir_okay" not in checks)
        or ("readable" in checks and not os.access(path, os.R_OK))
        or ("writable" in checks and not os.access(path, os.W_OK))
    )
    return None if refused else path


def usage_fits_one_line(usage: str, *, width: int) -> bool:
    """Whether Click writes ``usage`` (``Usage: PROG ARGS``) on one line ``width`` wide, as it is here."""
    prefix_length = len(f"{USAGE_PREFIX}{program_name()} ")
    return prefix_length + USAGE_ARGS_ROOM <= width and len(usage) <= width


def _usage_line(command: tuple[str, ...]) -> str:
    """``Usage: workflow run [OPTIONS] FILE``: what Click's ``ctx.get_usage()`` gives when it fits one line."""
    return f"{USAGE_PREFIX}{_command_path(command, program_name())} {COMMANDS[command]['usage']}"


def _command_path(command: tuple[str, ...], program: str) -> str:
    return " ".join((program, *command))


def run_fast(line: FastCommandLine) -> int:
    """Run the command's body as Typer would: the same exit code, the same reports of what went wrong.

    A stream that cannot be written is not the body's concern: the entry
    point's guarded streams never raise (:func:`~.terminal.guard_output`).
    """
    from .errors import BadOptionValue, ExitCode
    from .reporting import exit_code_of, report_invalid_input

    body = _body(line.command)
    try:
        return exit_code_of(lambda: body(**line.params), as_json=line.as_json)
    except BadOptionValue as exc:  # what Typer reports as a bad parameter, with the command's usage line
        report_invalid_input(_bad_value(exc, line.command), as_json=line.as_json)
        return ExitCode.INVALID
    except KeyboardInterrupt:
        return INTERRUPTED
    except EOFError:
        from .terminal import echo

        echo("", err=True)
        echo("Aborted!", err=True)
        return ExitCode.FAILED


def _bad_value(exc: BadOptionValue, command: tuple[str, ...]) -> InvalidInput:
    """The refusal as Typer's usage error for it reads (``WorkflowCommand`` raises that one under Typer)."""
    from .errors import bad_value_message, sentence, usage_hint, usage_problem

    message = bad_value_message(exc.option, sentence(exc.reason.removeprefix("Value error, ")))
    return usage_problem(message, hint=usage_hint(_usage_line(command), _command_path(command, program_name())))


def _body(command: tuple[str, ...]) -> Callable[..., None]:
    """The function behind a command of the table: the same one Typer's signature hands its values to."""
    if command == ("run",):
        from .commands.run import run

        return run
    if command == ("validate",):
        from .commands.validate import validate

        return validate
    if command == ("lock",):
        from .commands.lock import lock

        return lock
    if command == ("plugin", "list"):
        from .commands.plugin_list import plugin_list

        return plugin_list
    from .commands.plugin_inspect import plugin_inspect

    assert command == ("plugin", "inspect"), command
    return plugin_inspect
