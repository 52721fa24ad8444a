"""The fast path's table of command lines is what Typer makes of the commands, and it parses as Click does.

``workflow_cli/command_lines.py`` is a copy (Typer is not imported to
recognise a command line), so it is derived here from the Typer app
(``typer.main.get_command``) and compared: when a command's options change,
the first test fails and prints the table to paste. The derivation refuses
what the recogniser does not implement (an environment variable, a
callback, a choice type, ...), so such an option cannot slip in unnoticed.

Then the recogniser itself: on command lines generated over each command's
alphabet (its options, the ones it lacks, help, ``--``, clusters, attached
values, good and bad values, paths that exist or not), it either declines
or yields exactly the values Click's ``make_context`` gives the command's
function.
"""

from __future__ import annotations

import inspect
import pprint
import typing
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer import Exit, TyperException
from typer.main import _normalize_collection_value  # what Typer does between make_context and the function

from workflow_cli import fast_path
from workflow_cli.app import app
from workflow_cli.command_lines import COMMANDS

PATH_CHECKS = ("exists", "file_okay", "dir_okay", "readable", "writable")
KINDS = {bool: "flag", str: "str", int: "int", Path: "path"}


def click_commands() -> dict[tuple[str, ...], tuple[Any, Any]]:
    """Each command of the table as Typer builds it, with a context as ``workflow <path>`` makes one."""
    group = typer.main.get_command(app)
    found = {}
    for path in COMMANDS:
        command: Any = group
        ctx = group.context_class(group, info_name="workflow", **group.context_settings)
        for name in path:
            command = command.commands[name]
            ctx = command.context_class(command, info_name=name, parent=ctx, **command.context_settings)
        found[path] = (command, ctx)
    return found


def derived_param(param: Any) -> dict[str, Any]:
    """One parameter as the table describes it; what the recogniser does not implement fails here."""
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    assert param.envvar is None and param.callback is None and info.default_factory is None, param.name
    assert param.expose_value and not param.is_eager and param.nargs == 1 and not param.secondary_opts, param.name
    assert descriptor.file_annotation is None and info.parser is None, param.name
    multiple = typing.get_origin(descriptor.annotation) is list
    item = typing.get_args(descriptor.annotation)[0] if multiple else descriptor.annotation
    kind = KINDS[item]  # a choice, a float, ...: not recognised without Typer yet
    assert multiple is param.multiple and (not multiple or param.default is None), param.name
    if kind == "flag":
        assert param.is_flag and not param.count and param.default is False and not multiple, param.name
    if kind == "int":
        assert not info.clamp, param.name
    if kind == "path":
        assert not info.resolve_path and not info.allow_dash and info.path_type is None, param.name
    derived: dict[str, Any] = {
        "name": param.name,
        "opts": () if param.param_type_name == "argument" else tuple(param.opts),
        "kind": kind,
        "default": param.default,
    }
    if multiple:
        derived["multiple"] = True
    if param.required:
        derived["required"] = True
    if kind == "int":
        derived |= {"minimum": info.min, "maximum": info.max}
    if kind == "path":
        derived["path_checks"] = tuple(check for check in PATH_CHECKS if getattr(info, check))
    return derived


def derived_table() -> dict[tuple[str, ...], dict[str, Any]]:
    table = {}
    for path, (command, ctx) in click_commands().items():
        assert ctx.token_normalize_func is None and ctx.auto_envvar_prefix is None and ctx.default_map is None
        assert ctx.allow_interspersed_args and not ctx.ignore_unknown_options and not ctx.allow_extra_args
        assert not command.deprecated and not command.no_args_is_help
        table[path] = {
            "usage": " ".join(command.collect_usage_pieces(ctx)),
            "params": tuple(derived_param(param) for param in command.params),
        }
    return table


def test_the_table_is_what_typer_makes_of_the_commands():
    derived = derived_table()

    assert derived == COMMANDS, (
        "workflow_cli/command_lines.py is out of date with the Typer app; set COMMANDS to:\n"
        + pprint.pformat(derived, sort_dicts=False, width=120)
    )


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A workflow file, a folder and a path that does not exist, for the values of path options."""
    folder = tmp_path_factory.mktemp("command-lines")
    (folder / "flow.yaml").write_text("name: flow\ntasks: {}\n", encoding="utf-8")
    (folder / "plugins").mkdir()
    return {"file": str(folder / "flow.yaml"), "dir": str(folder / "plugins"), "missing": str(folder / "nope.yaml")}


VALUES = ["1", "4", "007", "0", "-1", "x", "3.5", "+3", "", "a=b", "\u0663", "acme/tool", "run", "list"]


def alphabet(path: tuple[str, ...], paths: dict[str, str]) -> list[str]:
    """The tokens a command line of ``path`` is made of: its options, near misses, and values good and bad."""
    options = [option for spec in COMMANDS[path]["params"] for option in spec["opts"]]
    near_misses = ["-h", "--help", "--", "-", "--nope", "--jso", "-pc", "-c3", "-c=3", "-p=x", "--json=1", "--json="]
    attached = [
        "--var=a=b",
        "--var=",
        f"--plugins-path={paths['dir']}",
        "--concurrency=2",
        f"--workflow={paths['file']}",
    ]
    return [*options, *near_misses, *attached, *VALUES, *paths.values()]


def command_lines(path: tuple[str, ...], paths: dict[str, str]) -> st.SearchStrategy[list[str]]:
    """Command lines of ``path``: tokens of its alphabet, options followed by a value, often an argument among them."""
    values = [*VALUES, *paths.values()]
    pieces = [st.sampled_from(alphabet(path, paths)).map(lambda token: [token])]
    for spec in COMMANDS[path]["params"]:
        if spec["kind"] == "flag":
            pieces.append(st.sampled_from(spec["opts"]).map(lambda option: [option]))
        elif spec["opts"]:
            pieces.append(st.tuples(st.sampled_from(spec["opts"]), st.sampled_from(values)).map(list))
    lines = st.lists(st.one_of(pieces), max_size=5).map(lambda drawn: [token for piece in drawn for token in piece])
    with_argument = st.tuples(lines, st.sampled_from(values), lines).map(lambda three: [*three[0], three[1], *three[2]])
    return st.one_of(lines, with_argument)


def click_values(path: tuple[str, ...], argv: list[str]) -> dict[str, Any] | None:
    """What Click's ``make_context`` makes of ``argv``, as Typer hands it to the function; None on any error."""
    command, parent = click_commands()[path]
    try:
        ctx = command.make_context(path[-1], list(argv), parent=parent.parent)
    except (TyperException, Exit):
        return None
    return {param.name: _normalize_collection_value(param, ctx.params[param.name]) for param in command.params}


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_recogniser_declines_or_agrees_with_click(path, paths, data, capsys):
    argv = data.draw(command_lines(path, paths), label="argv")

    fast = fast_path.recognise([*path, *argv])
    click = click_values(path, argv)
    capsys.readouterr()  # the help Click printed for -h

    if fast is not None:
        assert click is not None, f"the fast path accepted what Click refuses: {argv}"
        assert fast.params == click
        json_names = [spec["name"] for spec in COMMANDS[path]["params"] if "--json" in spec["opts"]]
        assert fast.as_json is any(click[name] for name in json_names)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "{file}"], {"file": "{file}", "var": None, "json_output": False}),
        (
            ["validate", "{file}", "--json", "-p", "{dir}", "-p", "{dir}"],
            {"json_output": True, "plugins_path": ["{dir}", "{dir}"]},
        ),
        (
            ["run", "--concurrency=8", "{missing}", "-c", "2", "--var", "a=1", "--pool"],
            {"concurrency": 2, "pool": True, "var": ["a=1"], "file": "{missing}"},
        ),
        (
            ["run", "{file}", "--backend", "cloud", "--dask-address=tls://h:1"],
            {"backend": "cloud", "dask_address": "tls://h:1"},
        ),
        (["lock", "{file}", "--check", "--json"], {"check": True, "json_output": True}),
        (["plugin", "list", "-w", "{file}"], {"workflow": "{file}", "as_json": False}),
        (
            ["plugin", "inspect", "acme/tool", "--json", "--plugins-path", "{dir}"],
            {"target": "acme/tool", "as_json": True},
        ),
    ],
)
def test_everyday_command_lines_are_recognised(argv, expected, paths):
    line = fast_path.recognise([token.format(**paths) for token in argv])

    assert line is not None
    for name, value in expected.items():
        wanted = value.format(**paths) if isinstance(value, str) else value
        if name in ("file", "workflow"):
            wanted = Path(wanted)
        elif name == "plugins_path":
            wanted = [Path(item.format(**paths)) for item in value]
        assert line.params[name] == wanted, name


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],  # the argument is missing
        ["validate", "{file}", "{file}"],  # one argument too many
        ["validate", "{file}", "--help"],
        ["validate", "-h", "{file}"],
        ["validate", "{file}", "--jso"],  # abbreviated
        ["validate", "{file}", "--", "--json"],
        ["validate", "{file}", "--var", "--json"],  # a value that looks like an option
        ["validate", "{file}", "--json=yes"],
        ["run", "{file}", "-c", "0"],  # below its minimum
        ["run", "{file}", "-c3"],  # attached to a short option
        ["run", "{file}", "-c", "\u0663"],  # a digit, not an ASCII one
        ["run", "{file}", "-pc", "{dir}"],  # clustered
        ["plugin", "list", "-w", "{missing}"],  # must exist
        ["plugin", "list", "-w", "{dir}"],  # must not be a folder
        ["plugin", "build", "acme/tool"],  # not a fast command
        ["plugin list"],
    ],
)
def test_anything_else_is_left_to_typer(argv, paths):
    assert fast_path.recognise([token.format(**paths) for token in argv]) is None


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_the_body_the_fast_path_calls_takes_what_typers_signature_takes(path):
    command, _ = click_commands()[path]
    signature = inspect.signature(command.callback.__wrapped__)  # Typer's wrapper around commands/signatures.py
    body = inspect.signature(fast_path._body(path))

    assert list(body.parameters) == list(signature.parameters)
    assert [parameter.kind for parameter in body.parameters.values()] == [
        parameter.kind for parameter in signature.parameters.values()
    ]
