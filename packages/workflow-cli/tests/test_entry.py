"""The entry point's fast answers are exactly what Typer would print, and skip Typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_cli import entry
from workflow_cli.root_help import ROOT_HELP

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


@pytest.mark.parametrize("columns", [80, 120, 300])
def test_root_help_is_what_typer_renders_and_skips_typer(columns, run_main):
    fast = run_main("workflow_cli.entry", "--help", columns=columns)
    typer = run_main("workflow_cli.app", "--help", columns=columns)

    assert typer.returncode == 0 and fast.returncode == 0
    expected = typer.stdout.replace("Usage: workflow ", "Usage: {prog} ", 1)
    assert fast.stdout == typer.stdout, (
        "workflow_cli/root_help.py is out of date with the Typer app; set ROOT_HELP to:\n" + expected
    )
    assert fast.stderr.strip() == "typer not loaded"


def test_short_help_option_and_a_long_program_name_work_too(run_main):
    fast = run_main("workflow_cli.entry", "-h", argv0="wf")

    assert fast.stdout == ROOT_HELP.replace("{prog}", "wf")


def test_narrow_terminals_get_typers_own_wrapping(run_main):
    fast = run_main("workflow_cli.entry", "--help", columns=60)
    typer = run_main("workflow_cli.app", "--help", columns=60)

    assert fast.stdout == typer.stdout
    assert fast.stdout != ROOT_HELP.replace("{prog}", "workflow")
    assert fast.stderr.strip() == "typer loaded"


def test_version_is_what_typer_prints(run_main):
    fast = run_main("workflow_cli.entry", "--version")
    typer = run_main("workflow_cli.app", "--version")

    assert fast.stdout == typer.stdout
    assert fast.stdout.startswith("workflow ")
    assert fast.stderr.strip() == "typer not loaded"


def test_everything_else_goes_to_typer(run_main):
    done = run_main("workflow_cli.entry", "schema", "plugin")

    assert done.returncode == 0
    assert done.stdout.startswith("{")
    assert done.stderr.strip() == "typer loaded"


def test_python_dash_m_names_itself_as_click_does():
    done = subprocess.run(
        [sys.executable, "-m", "workflow_cli", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )

    assert done.stdout == ROOT_HELP.replace("{prog}", "python -m workflow_cli")


def test_shell_completion_is_left_to_typer(monkeypatch, capsys):
    monkeypatch.setenv("_WORKFLOW_COMPLETE", "bash_source")
    monkeypatch.setenv("COLUMNS", "100")

    assert not entry._answered_without_typer(["--help"])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_without_a_stdout_the_fast_answers_end_as_typer_does_there(option):
    # ``workflow --version >&-``: Click's echo has nowhere to write and writes nothing; no traceback either.
    def closed_stdout(module: str) -> subprocess.CompletedProcess[str]:
        code = f"import sys; sys.argv = ['workflow', *sys.argv[1:]]; from {module} import main; main()"
        return subprocess.run(
            ["sh", "-c", 'exec "$0" -c "$1" "$2" >&-', sys.executable, code, option],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "100"},
            check=False,
        )

    typer = closed_stdout("workflow_cli.app")
    fast = closed_stdout("workflow_cli.entry")

    assert (typer.returncode, typer.stderr) == (0, "")
    assert (fast.returncode, fast.stderr) == (typer.returncode, typer.stderr)


GC_WATCH = """\
import atexit, gc, json, sys

out, sys.argv = sys.argv[1], ["workflow", *sys.argv[2:]]
from workflow_cli import entry
from workflow_cli.entry import main

at_main = [generation["collections"] for generation in gc.get_stats()]
resumed = []
resume = entry.resume_cyclic_gc
entry.resume_cyclic_gc = lambda: (resume(), resumed.append(gc.get_freeze_count()))
atexit.register(lambda: open(out, "w").write(json.dumps({
    "at_main": at_main,
    "at_exit": [generation["collections"] for generation in gc.get_stats()],
    "threshold": gc.get_threshold()[0],
    "frozen_when_resumed": resumed,
    "frozen_at_exit": gc.get_freeze_count(),
})))
main()
"""
"""The entry point, writing to the file named first the GC's collection counts when ``main()`` starts and at exit,
and how many objects were frozen when (and if) the collector was resumed, and at exit."""


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_command_starts_without_cyclic_collections_and_a_run_collects_again_before_its_tasks(
    command, run_probed, tmp_path
):
    flow = tmp_path / f"gc-{command}-{tmp_path.name}.yaml"
    flow.write_text("name: gc\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 5}}\n", encoding="utf-8")

    done, counts = run_probed(GC_WATCH, command, str(flow), "-p", str(PLUGINS))

    assert done.returncode == 0, done.stderr
    assert counts["at_exit"] == counts["at_main"]  # not one collection: start-up's objects all live to the end
    if command == "run":  # the tasks ran with the default threshold, start-up's objects frozen out of reach
        assert counts["threshold"] == entry.RUNNING_GC_THRESHOLD
        assert len(counts["frozen_when_resumed"]) == 1 and counts["frozen_when_resumed"][0] > 0
    else:
        assert (counts["threshold"], counts["frozen_when_resumed"]) == (entry.START_UP_GC_THRESHOLD, [])
    # Everything frozen when main() ends, so the interpreter's exit does not walk it (its final collections).
    assert counts["frozen_at_exit"] > max(counts["frozen_when_resumed"], default=0)


EXIT_WATCH = """\
import atexit, json, os, sys

out, sys.argv = sys.argv[1], ["workflow", *sys.argv[2:]]
if out.endswith("-first.json"):  # a handler registered before the entry point's: the interpreter's exit, as ever
    atexit.register(lambda: open(out, "a").write(json.dumps({"earlier_handler": True}) + "\\n"))
from workflow_cli.entry import command, main


class TornDown:  # freed when the interpreter's teardown clears the sys module, which the fast end skips
    def __init__(self, path):
        self.fd, self.write = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), os.write

    def __del__(self):  # only what it holds: the teardown has cleared the modules' names by now
        self.write(self.fd, b'{"torn_down": true}\\n')


sys.torn_down_probe = TornDown(out)
atexit.register(lambda: open(out, "a").write(json.dumps({"handler": True}) + "\\n"))
command()
"""
"""The console script's entry point with an ``atexit`` handler registered after its import (and, for a probe
file named ``*-first.json``, one before it too), and an object freed only by the interpreter's teardown: each
writes a line to the probe file."""


def _probe_lines(
    script: str, *args: str, probe: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list]:
    done = subprocess.run(
        [sys.executable, "-c", script, str(probe), *args],
        capture_output=True,
        text=True,
        cwd=probe.parent,
        env=env,
        timeout=120,
        check=False,
    )
    lines = probe.read_text(encoding="utf-8").splitlines() if probe.exists() else []
    return done, [json.loads(line) for line in lines]


@pytest.mark.parametrize(("action", "expected_code"), [("number", 0), ("fail", 1)], ids=["succeeded", "failed"])
def test_a_run_ends_without_the_teardown_and_loses_nothing(action, expected_code, cli_env, tmp_path):
    flow = tmp_path / f"exit-{action}-{tmp_path.name}.yaml"
    flow.write_text(
        f"name: ending\ntasks:\n  a: {{uses: tests/e2e.{action}, inputs: {{value: 5}}}}\n", encoding="utf-8"
    )

    done, lines = _probe_lines(
        EXIT_WATCH, "run", str(flow), "-p", str(PLUGINS), "--json", probe=tmp_path / "probe.json", env=cli_env
    )

    assert done.returncode == expected_code, done.stderr
    assert lines == [{"handler": True}]  # the handlers ran; the teardown, which frees objects, did not
    printed = json.loads(done.stdout)  # stdout flushed whole: the one JSON document
    records = list((tmp_path / ".workflow" / "runs").glob("*.json"))
    assert len(records) == 1 and json.loads(records[0].read_text(encoding="utf-8")) == printed
    assert printed["status"] == ("succeeded" if expected_code == 0 else "failed")
    assert done.stderr.rstrip().endswith(f"run record: {records[0]}")  # stderr flushed whole too


ENTRY_POINTS = {
    "console-script": EXIT_WATCH,
    "python-m": EXIT_WATCH.replace(
        "command()\n", "import runpy\nrunpy.run_module('workflow_cli', run_name='__main__')\n"
    ),
}
"""The two ways the package runs as a program of its own: the console script's function, ``python -m workflow_cli``."""


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_invalid_input_keeps_its_exit_code_and_message_without_the_teardown(entry_point, cli_env, tmp_path):
    missing = tmp_path / f"missing-{tmp_path.name}.yaml"

    done, lines = _probe_lines(
        ENTRY_POINTS[entry_point], "validate", str(missing), probe=tmp_path / "probe.json", env=cli_env
    )

    assert done.returncode == 2
    assert "file not found" in done.stderr
    assert lines == [{"handler": True}]


def test_after_an_earlier_handler_the_interpreter_ends_as_ever(cli_env, tmp_path):
    flow = tmp_path / f"exit-first-{tmp_path.name}.yaml"
    flow.write_text("name: ending\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 5}}\n", encoding="utf-8")

    done, lines = _probe_lines(
        EXIT_WATCH, "run", str(flow), "-p", str(PLUGINS), probe=tmp_path / "probe-first.json", env=cli_env
    )

    assert done.returncode == 0, done.stderr
    # The later handler first, then the earlier one, then the teardown: nothing the fast end would skip.
    assert lines == [{"handler": True}, {"earlier_handler": True}, {"torn_down": True}]


CALLERS = {
    "module": EXIT_WATCH.replace("command()\n", "from workflow_cli import entry\ntry:\n    entry.main()\n"),
    "imported-main": EXIT_WATCH.replace("command()\n", "try:\n    main()\n"),
}
"""Programs that run the CLI in their own process through ``main`` and go on after it (a test runner, say)."""
GO_ON = (
    "except SystemExit:\n    pass\nsys.unclosed = open(out + '.own', 'w')\nsys.unclosed.write('kept')\nsys.exit(3)\n"
)
"""Left open on ``sys``, whose names the teardown clears: the file is flushed only if the teardown runs."""


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_a_program_calling_main_keeps_its_own_exit(caller, cli_env, tmp_path):
    flow = tmp_path / f"exit-caller-{tmp_path.name}.yaml"
    flow.write_text("name: ending\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 5}}\n", encoding="utf-8")

    done, lines = _probe_lines(
        CALLERS[caller] + GO_ON, "run", str(flow), "-p", str(PLUGINS), probe=tmp_path / "probe.json", env=cli_env
    )

    assert done.returncode == 3, done.stderr
    assert lines == [{"handler": True}, {"torn_down": True}]  # its own teardown
    assert (tmp_path / "probe.json.own").read_text(encoding="utf-8") == "kept"
