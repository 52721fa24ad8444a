"""A command line run without Typer prints, writes and exits exactly as the same line run by Typer.

Each case runs the real entry point (``workflow_cli.entry``, which takes the
fast path) and the Typer app's own entry (``workflow_cli.app``) in
subprocesses, in the same folder, and compares exit code, stdout and stderr
byte for byte; the last line of stderr says whether Typer was imported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TYPER_LOADED = "typer loaded\n"
TYPER_NOT_LOADED = "typer not loaded\n"
LONG_PROGRAM = "a-program-name-long-enough-to-wrap-usage"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with plugins (one of them broken), a trusted workflow, a restricted one, and an invalid one."""
    plugins = tmp_path / "plugins"
    shutil.copytree(FIXTURES / "plugins" / "e2e", plugins / "e2e")
    shutil.copytree(FIXTURES / "plugins_b" / "broken", plugins / "broken")
    (tmp_path / "flow.yaml").write_text("name: fast\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 3}}\n")
    (tmp_path / "restricted.yaml").write_text(
        "name: guarded\nsecurity: restricted\npermissions: {network: true}\n"
        "tasks:\n  a: {uses: tests/e2e.number, inputs: {value: 3}}\n"
    )
    (tmp_path / "invalid.yaml").write_text("name: bad\ntasks:\n  a: {uses: tests/nothing.here, needs: [b]}\n")
    return tmp_path


def compare(run_main, *args: str, **options: object) -> tuple[str, int]:
    """Run ``args`` both ways; assert the same outcome; return the fast path's stdout and exit code."""
    typer = run_main("workflow_cli.app", *args, **options)
    fast = run_main("workflow_cli.entry", *args, **options)

    assert typer.stderr.endswith(TYPER_LOADED)
    assert (fast.returncode, fast.stdout, fast.stderr.removesuffix(TYPER_NOT_LOADED)) == (
        typer.returncode,
        typer.stdout,
        typer.stderr.removesuffix(TYPER_LOADED),
    )
    return fast.stdout, fast.returncode


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("validate", "flow.yaml", "-p", "plugins"), 0),
        (("validate", "flow.yaml", "--plugins-path=plugins", "--json", "--skip-secrets"), 0),
        (("validate", "restricted.yaml", "-p", "plugins", "--json"), 0),  # a warning on stderr, Rich's
        (("validate", "invalid.yaml", "-p", "plugins", "--json"), 2),  # the error document
        (("run", "flow.yaml", "-p", "plugins", "--backend", "cloud", "--json"), 2),  # the body's usage error
        (("run", "flow.yaml", "-p", "plugins", "--executor", "local", "--dask-address", "tcp://127.0.0.1:1"), 2),
        (("run", "invalid.yaml", "-p", "plugins", "-c", "2"), 2),
        (("lock", "flow.yaml", "-p", "plugins", "--check"), 2),  # no lock to check
        (("plugin", "list", "-p", "plugins"), 0),  # Rich's table, and the broken plugin on stderr
        (("plugin", "list", "-p", "plugins", "--json"), 0),
        (("plugin", "inspect", "tests/e2e", "-p", "plugins"), 0),
        (("plugin", "inspect", "tests/e2e", "-p", "plugins", "-w", "restricted.yaml", "--json"), 0),
        (("plugin", "inspect", "tests/absent", "-p", "plugins"), 2),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_a_fast_command_line_behaves_as_under_typer_without_importing_it(run_main, project, args, code):
    stdout, returncode = compare(run_main, *args, home=project)

    assert returncode == code
    if "--json" in args:
        assert stdout.startswith(("{", "["))


def test_lock_then_its_check_behave_as_under_typer(run_main, project):
    written, _ = compare(run_main, "lock", "flow.yaml", "-p", "plugins", home=project)
    assert "wrote" in written

    checked, code = compare(run_main, "lock", "flow.yaml", "--check", "-p", "plugins", "--json", home=project)
    assert code == 0 and '"matched": true' in checked

    (project / "plugins" / "e2e" / "main.py").write_text("# changed\n", encoding="utf-8")
    _, drifted = compare(run_main, "lock", "flow.yaml", "--check", "-p", "plugins", home=project)
    assert drifted == 1


@pytest.mark.parametrize(
    ("options", "fast"),
    [
        ({"argv0": LONG_PROGRAM, "columns": 120}, True),
        ({"argv0": LONG_PROGRAM, "columns": 40}, False),  # Click would wrap the usage line: Typer's own
        ({"env": {"PYTHONIOENCODING": "ascii"}}, False),  # Click would re-open stdout as UTF-8
        ({"env": {"_WORKFLOW_COMPLETE": "bash_complete", "COMP_WORDS": "workflow run", "COMP_CWORD": "1"}}, False),
    ],
)
def test_the_fast_path_declines_where_click_would_do_more(run_main, project, options, fast):
    args = ("run", "flow.yaml", "-p", "plugins", "--backend", "cloud")
    typer = run_main("workflow_cli.app", *args, home=project, **options)
    done = run_main("workflow_cli.entry", *args, home=project, **options)

    assert done.stderr.endswith(TYPER_NOT_LOADED if fast else TYPER_LOADED)
    assert (done.returncode, done.stdout) == (typer.returncode, typer.stdout)
    assert done.stderr.rpartition("typer")[0] == typer.stderr.rpartition("typer")[0]


def test_a_line_the_fast_path_does_not_understand_gets_typers_words(run_main, project):
    done = run_main("workflow_cli.entry", "validate", "flow.yaml", "--jso", home=project)

    assert done.returncode == 2
    assert done.stderr.startswith("error: no such option: --jso (did you mean --json?)\n")
    assert done.stderr.endswith(TYPER_LOADED)
