"""Typer's usage errors and usage lines, in the project's words: ``error: ...`` and ``hint: usage: ...``."""

from __future__ import annotations

import pytest

PROG = "python -m workflow_cli"  # how run_cli starts the CLI, and so how usage lines name it

USAGE = {
    "run": "run [OPTIONS] FILE",
    "validate": "validate [OPTIONS] FILE",
    "schema": "schema [OPTIONS] FORMAT",
    "plugin list": "plugin list [OPTIONS]",
    "plugin inspect": "plugin inspect [OPTIONS] REF_OR_PATH",
    "plugin build": "plugin build [OPTIONS] NAME_OR_PATH",
    "plugin new": "plugin new [OPTIONS] NAMESPACE/NAME",
    "plugin": "plugin [OPTIONS] COMMAND [ARGS]...",
    "": "[OPTIONS] COMMAND [ARGS]...",
}

CASES = [
    # missing arguments
    ("run", [], "missing argument 'FILE'"),
    ("validate", [], "missing argument 'FILE'"),
    ("schema", [], "missing argument 'FORMAT'. Choose from: plugin, workflow"),
    ("plugin inspect", [], "missing argument 'REF_OR_PATH'"),
    ("plugin build", [], "missing argument 'NAME_OR_PATH'"),
    ("plugin new", [], "missing argument 'NAMESPACE/NAME'"),
    # bad option values
    ("run", ["hello.yaml", "-c", "abc"], "invalid value for --concurrency: 'abc' is not a valid integer"),
    (
        "run",
        ["hello.yaml", "--concurrency", "0"],
        "invalid value for --concurrency: '0' is not greater than or equal to 1",
    ),
    (
        "run",
        ["hello.yaml", "--backend", "cloud"],
        "invalid value for --backend: 'cloud' is not one of auto, sandbox, docker",
    ),
    (
        "plugin inspect",
        ["acme/x", "--workflow", "nope.yaml"],
        "invalid value for --workflow: file 'nope.yaml' does not exist",
    ),
    ("plugin list", ["--workflow", "nope.yaml"], "invalid value for --workflow: file 'nope.yaml' does not exist"),
    ("plugin new", ["acme/x", "--dir", "a-file"], "invalid value for --dir: dir 'a-file' is a file"),
    # bad choices
    ("schema", ["pipeline"], "invalid value for FORMAT: 'pipeline' is not one of 'plugin', 'workflow'"),
    # unknown options and extra arguments
    ("run", ["hello.yaml", "--frob"], "no such option: --frob"),
    ("run", ["hello.yaml", "--concurency", "2"], "no such option: --concurency (did you mean --concurrency?)"),
    ("validate", ["a.yaml", "b.yaml"], "got unexpected extra argument(s) (b.yaml)"),
    ("plugin list", ["--frob"], "no such option: --frob"),
    ("plugin build", ["acme/x", "--frob"], "no such option: --frob"),
    ("", ["--frob"], "no such option: --frob"),
    # unknown commands
    ("", ["frobnicate"], "no such command 'frobnicate'"),
    ("plugin", ["frob"], "no such command 'frob'"),
]


@pytest.mark.parametrize(("command", "args", "message"), CASES)
def test_usage_errors_are_one_error_line_and_a_usage_hint(run_cli, tmp_path, command, args, message):
    (tmp_path / "a-file").write_text("not a folder")

    done = run_cli(*command.split(), *args)

    assert done.returncode == 2
    assert done.stdout == ""
    path = f"{PROG} {command}".rstrip()
    usage = f"{PROG} {USAGE[command]}"
    assert done.stderr == f"error: {message}\n  hint: usage: {usage} (see {path} --help)\n"


def test_an_option_missing_its_value_is_one_error_line(run_cli):
    done = run_cli("run", "hello.yaml", "--var")

    assert done.returncode == 2
    assert done.stderr == "error: option '--var' requires an argument\n"


@pytest.mark.parametrize("command", [name for name in USAGE if name])
def test_help_usage_lines_name_arguments_plainly(run_cli, command):
    done = run_cli(*command.split(), "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"Usage: {PROG} {USAGE[command]}"


def test_a_bare_group_still_shows_its_help(run_cli):
    done = run_cli("plugin")

    assert done.returncode == 2
    assert done.stderr.startswith(f"Usage: {PROG} plugin [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in done.stderr
