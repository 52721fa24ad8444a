"""What the CLI adds to Typer's commands: usage lines as people write them, and errors in the project's format.

Typer writes a required argument as ``{FILE}`` in usage lines and reports a
bad value in its own words ("Invalid value for '--concurrency' / '-c':
Input should be a valid integer, ..."). Every ``workflow`` command uses
:class:`WorkflowCommand` (``FILE`` in usage lines, runtime errors reported
as invalid input), and :func:`usage_error` turns Typer's usage errors into
``error: ...`` and ``hint: usage: ...``, like every other message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .coercion import convert_plainly
from .errors import BadOptionValue, ExitCode, InvalidInput, bad_value_message, sentence, usage_hint, usage_problem

if TYPE_CHECKING:
    from typer._click import Context  # the context Typer's command classes are written against

__all__ = ["WorkflowCommand", "WorkflowGroup", "json_requested", "usage_error"]

JSON_FLAG = "--json"


class WorkflowCommand(TyperCommand):
    """A ``workflow`` command: plain usage pieces; its invalid input reported once, as JSON too with --json.

    Its values are converted without pydantic where that is plainly the same (:mod:`.coercion`).
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        convert_plainly(self.get_params(ctx))  # with the help option, made per context
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [_without_braces(piece) for piece in super().collect_usage_pieces(ctx)]

    def invoke(self, ctx: Context) -> Any:
        """The body, and its outcome handled as without Typer (:func:`~workflow_cli.reporting.exit_code_of`)."""
        from .reporting import exit_code_of

        invoke_body = super().invoke
        try:
            code = exit_code_of(lambda: invoke_body(ctx), as_json=json_requested(ctx, ()))
        except BadOptionValue as exc:  # Typer's own error, with this context's usage line: as before
            raise typer.BadParameter(exc.reason, ctx=ctx, param_hint=exc.option) from None
        if code != ExitCode.OK:
            raise typer.Exit(code)


class WorkflowGroup(TyperGroup):
    """The ``workflow`` group: its own options (``--version``, Typer's completion ones) converted as a command's are.

    See :mod:`.coercion`.
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        convert_plainly(self.get_params(ctx))  # with the help option, made per context
        return super().parse_args(ctx, args)


def json_requested(ctx: Context | None, args: Sequence[str]) -> bool:
    """Whether the command line asked for ``--json`` (parsed, or still in ``args`` when parsing stopped early)."""
    if ctx is None:
        return JSON_FLAG in args
    option = next((param for param in ctx.command.params if JSON_FLAG in param.opts), None)
    if option is None or option.name is None:
        return False
    return bool(ctx.params.get(option.name)) or JSON_FLAG in args


def usage_error(exc: typer.TyperException) -> InvalidInput:
    """One of Typer's usage errors (missing argument, unknown option, bad value) as the CLI reports errors."""
    ctx: Context | None = getattr(exc, "ctx", None)
    hint = None if ctx is None else usage_hint(ctx.get_usage(), ctx.command_path)
    return usage_problem(_usage_message(exc), hint=hint)


def _usage_message(exc: typer.TyperException) -> str:
    possibilities = getattr(exc, "possibilities", None)
    if possibilities:  # an unknown option close to known ones
        option = getattr(exc, "option_name", "?")
        return f"no such option: {option} (did you mean {' or '.join(sorted(possibilities))}?)"
    param = getattr(exc, "param", None)
    param_hint = getattr(exc, "param_hint", None)
    is_missing = hasattr(exc, "param_type")  # a missing parameter is a bad parameter that names its type
    if isinstance(exc, typer.BadParameter) and not is_missing and (param is not None or param_hint is not None):
        name = param_hint if isinstance(param_hint, str) else _param_name(param)
        return bad_value_message(name, _bad_value_reason(exc))
    return sentence(exc.format_message())


def _param_name(param: Any) -> str:
    """``--concurrency`` for an option (its first name), ``FILE`` for an argument (its metavar)."""
    if param.param_type_name == "option":
        return str(param.opts[0])
    return str(param.metavar or (param.name or "").upper())


def _bad_value_reason(exc: typer.BadParameter) -> str:
    """Why Typer refused a value, without the validation library's phrasing ("Input should be", "Value error,")."""
    errors = getattr(exc.__cause__, "errors", None)  # Typer validates values with pydantic
    details = errors() if callable(errors) else []
    if not details:
        return sentence(exc.message.removeprefix("Value error, "))
    text = str(details[0].get("msg", ""))
    if text.startswith("Input should be "):
        expected = text.removeprefix("Input should be ").split(", ")[0]
        return f"{details[0].get('input')!r} is not {expected}"
    return sentence(text.removeprefix("Value error, "))


def _without_braces(piece: str) -> str:
    return piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
