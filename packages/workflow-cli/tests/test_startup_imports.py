"""What each command imports: the start-up budget guarded by module sets, not by timings.

The CLI runs as a user runs it (a subprocess) with ``PYTHONPROFILEIMPORTTIME``,
which makes the interpreter name on stderr every module it imports; the
tests assert which heavy ones a command never loads (docs/performance.md,
"CLI start-up"): Typer and Click on a well-formed command line of the
everyday commands (the entry point runs those without them), pydantic
(Typer 0.29 would convert every option with it), Rich where nothing is
rendered or where what is rendered is piped plain text, the runtimes and the Docker SDK for a trusted workflow,
packaging where no version is compared.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)
HEAVY = ("typer", "click", "pydantic", "rich", "docker", "requests", "packaging", "workflow_plugin_runtime.runtimes")


def imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules the command imported, read from the interpreter's import-time report on stderr."""
    modules = set(IMPORT_LINE.findall(done.stderr))
    assert "workflow_cli.entry" in modules, "the import-time report is missing: nothing would be checked"
    return modules


def heavy(modules: set[str]) -> set[str]:
    """Which of :data:`HEAVY` (packages, or a package's subpackage) are among ``modules``."""
    return {name for name in HEAVY if any(module == name or module.startswith(name + ".") for module in modules)}


@pytest.fixture
def run_profiled(run_cli):
    """The command profiled the second time it runs, as on a user's machine after the first.

    The first run fills the caches (the plugin index, the workflow document,
    the compiled validators); which modules a cold cache loads (a manifest
    checked for the first time compares versions with ``packaging``) would
    otherwise depend on which test ran before.
    """

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        run_cli(*args)
        return run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})

    return run


@pytest.fixture
def trusted_flow(tmp_path: Path) -> Path:
    flow = tmp_path / "trusted-flow.yaml"
    flow.write_text("name: trusted\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 3}}\n", encoding="utf-8")
    return flow


def test_validate_json_of_a_trusted_workflow_imports_nothing_heavy(run_profiled, trusted_flow):
    done = run_profiled("validate", str(trusted_flow), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs_in"]["runtime"] == "process"
    assert heavy(imported(done)) == set()


def test_validate_of_a_trusted_workflow_renders_nothing_with_rich(run_profiled, trusted_flow):
    done = run_profiled("validate", str(trusted_flow), "-p", str(PLUGINS))

    assert done.returncode == 0, done.stderr
    assert "valid (1 task, trusted mode)" in done.stdout
    assert heavy(imported(done)) == set()


def test_a_piped_warning_is_printed_without_rich(run_profiled, tmp_path):
    """A command with something to show shows it; piped, as the plain text Rich would write (tests/test_progress.py)."""
    flow = tmp_path / "warned-flow.yaml"
    flow.write_text(
        "name: warned\nsecurity: restricted\npermissions: {network: true}\n"
        "tasks:\n  a: {uses: tests/e2e.number, inputs: {value: 3}}\n",
        encoding="utf-8",
    )
    done = run_profiled("validate", str(flow), "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert re.search(r"^warning: .*network", done.stderr, re.MULTILINE), done.stderr
    # A restricted workflow's backend probe imports the runtimes and the Docker SDK; nothing renders with Rich.
    assert heavy(imported(done)) & {"rich", "typer", "click", "pydantic"} == set()


@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
def test_a_piped_run_of_a_trusted_workflow_imports_neither_typer_nor_pydantic_nor_rich(
    run_profiled, trusted_flow, json_output
):
    """Progress lines, the summary table and the record's path are written as plain text (tests/test_progress.py)."""
    done = run_profiled("run", str(trusted_flow), "-p", str(PLUGINS), *(["--json"] if json_output else []))

    assert done.returncode == 0, done.stderr
    if json_output:
        assert json.loads(done.stdout)["tasks"]["a"]["outputs"] == {"value": 3}
        assert "┃ task ┃ status ┃" in done.stderr
    else:
        assert "│ a    │ ok     │" in done.stdout
    # The runtimes start the plugin's process; a manifest read cold checks its version.
    assert heavy(imported(done)) <= {"workflow_plugin_runtime.runtimes", "packaging"}


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_a_piped_run_of_a_trusted_workflow_import_neither_dataclasses_nor_inspect(
    run_profiled, trusted_flow, command
):
    """``import dataclasses`` (with ``inspect``, ``dis``, ``ast``, ``tokenize``) costs ~13 ms (docs/performance.md)."""
    done = run_profiled(command, str(trusted_flow), "-p", str(PLUGINS))

    assert done.returncode == 0, done.stderr
    assert {"dataclasses", "inspect"} & imported(done) == set()


def test_plugin_list_json_imports_neither_typer_nor_pydantic_nor_rich(run_profiled):
    done = run_profiled("plugin", "list", "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert "tests/e2e" in {entry["ref"] for entry in json.loads(done.stdout)}
    assert heavy(imported(done)) <= {"packaging"}  # manifests' versions are parsed as they load


def test_a_piped_plugin_list_table_is_written_without_rich_or_typer(run_profiled):
    done = run_profiled("plugin", "list", "-p", str(PLUGINS))

    assert done.returncode == 0, done.stderr
    assert any(line.startswith("tests/e2e ") for line in done.stdout.splitlines())
    assert heavy(imported(done)) <= {"packaging"}  # plain text, byte for byte Rich's (tests/test_plugin_list_text.py)


@pytest.mark.parametrize(("json_output", "allowed"), [(True, {"packaging"}), (False, {"rich", "packaging"})])
def test_plugin_inspect_imports_no_typer_and_rich_only_to_render(run_profiled, json_output, allowed):
    done = run_profiled("plugin", "inspect", "tests/e2e", "-p", str(PLUGINS), *(["--json"] if json_output else []))

    assert done.returncode == 0, done.stderr
    assert "tests/e2e" in done.stdout
    assert heavy(imported(done)) <= allowed


def test_lock_check_json_of_a_trusted_workflow_imports_nothing_heavy(run_cli, run_profiled, trusted_flow):
    written = run_cli("lock", str(trusted_flow), "-p", str(PLUGINS))
    assert written.returncode == 0, written.stderr

    done = run_profiled("lock", str(trusted_flow), "--check", "-p", str(PLUGINS), "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matched"] is True
    assert heavy(imported(done)) <= {"packaging"}


def test_a_value_only_typer_can_judge_still_gets_typers_words(run_profiled, trusted_flow):
    """``-c 3.5`` is beyond the plain conversion: Typer's (pydantic) conversion refuses it, as before."""
    done = run_profiled("run", str(trusted_flow), "-p", str(PLUGINS), "-c", "3.5")

    assert done.returncode == 2
    assert "error: invalid value for --concurrency: '3.5' is not a valid integer" in done.stderr
    assert {"typer", "pydantic"} <= heavy(imported(done))
