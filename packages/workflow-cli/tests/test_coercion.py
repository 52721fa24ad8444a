"""The plain conversion of command-line values agrees with Typer's own on every value, accepted or refused.

Each case runs both on a real parameter of the real app: the value
converted (or the error worded) by :class:`~workflow_cli.coercion.PlainRuntimeParam`
must be what Typer's pydantic conversion gives for the same parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.main import get_command

from workflow_cli.app import app
from workflow_cli.coercion import PlainRuntimeParam, convert_plainly

ROOT = get_command(app)


def parameter(path: str, name: str) -> tuple[Any, Context]:
    """The parameter ``name`` of the command at ``path`` ("run", "plugin list"), and a context for it."""
    command: Any = ROOT
    for word in path.split():
        command = command.commands[word]
    param = next(param for param in command.params if param.name == name)
    return param, Context(command, info_name=path)


def outcome(convert: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "value", convert.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()


NUMBERS = [
    *("1", "4", "007", "12345678901234567890", 4, "0", "-1", "+3", " 3 ", "3.0", "3.5", "1_0", "abc", "", "٣"),
    *("+5", " 5", "5\n", "5_000", "\uff15", "²", "-0", "0x10", "1e3"),
    "9" * 4300,
    "9" * 4301,  # more digits than int() converts: Typer refuses it in words, never a ValueError
]
FULLWIDTH_PLUGIN = "\uff30\uff2c\uff35\uff27\uff29\uff2e"  # not "PLUGIN" to Typer's choice matching
PATHS = ["flow.yaml", "", ".", "~/flow.yaml", "a b/c", "./x\x1b[31m.yaml", "a\x00b"]


@pytest.mark.parametrize(
    ("path", "name", "values"),
    [
        ("run", "concurrency", NUMBERS),
        ("run", "file", PATHS),
        ("run", "backend", ["auto", "", "sandbox docker", None]),
        ("run", "var", [["a=1", "b=2"], [], ("x=y",), None]),
        ("run", "plugins_path", [["./plugins", ""], [], None]),
        ("schema", "name", ["plugin", "workflow", "PLUGIN", "Plugin", "plugin ", FULLWIDTH_PLUGIN, "bogus", ""]),
        ("plugin list", "workflow", ["missing.yaml", None]),
    ],
)
def test_plain_conversion_is_typers(path, name, values):
    param, ctx = parameter(path, name)
    typers = build_runtime_param(param.type_descriptor)
    plain = PlainRuntimeParam(
        parameter_info=param.type_descriptor.parameter_info,
        annotation=param.type_descriptor.annotation,
        descriptor=param.type_descriptor,
    )
    for value in values:
        assert outcome(plain, value, param, ctx) == outcome(typers, value, param, ctx), value


def test_an_existing_file_a_folder_and_a_missing_one_for_an_option_that_wants_a_file(tmp_path):
    """``--workflow FILE`` (exists, not a folder): Typer's own checks and words, whatever converts the value."""
    param, ctx = parameter("plugin list", "workflow")
    existing = tmp_path / "flow.yaml"
    existing.write_text("name: x\n")
    typers = build_runtime_param(param.type_descriptor)
    plain = PlainRuntimeParam(
        parameter_info=param.type_descriptor.parameter_info,
        annotation=param.type_descriptor.annotation,
        descriptor=param.type_descriptor,
    )
    for value in (str(existing), str(tmp_path), str(tmp_path / "missing.yaml")):
        assert outcome(plain, value, param, ctx) == outcome(typers, value, param, ctx), value
    assert outcome(plain, str(existing), param, ctx) == ("value", Path(existing))


def test_every_parameter_of_every_command_gets_the_plain_conversion():
    def commands(command: Any) -> list[Any]:
        return [command, *(sub for child in getattr(command, "commands", {}).values() for sub in commands(child))]

    for command in commands(get_command(app)):
        ctx = Context(command, info_name=command.name)
        params = command.get_params(ctx)
        convert_plainly(params)
        for param in params:
            assert isinstance(param._runtime_param, PlainRuntimeParam), (command.name, param.name)
