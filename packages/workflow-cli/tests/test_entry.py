"""The entry point's fast answers are exactly what Typer would print, and skip Typer."""

from __future__ import annotations

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
