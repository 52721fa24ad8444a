"""Run the real ``workflow`` command as a user would: a subprocess, captured."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., subprocess.CompletedProcess[str]]
RunWorkflow = Callable[..., tuple[subprocess.CompletedProcess[str], Any]]
FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def cli_environment(home: Path, *, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment the CLI runs with in tests: no colour, user dirs and run registrations under ``home``."""
    full_env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "WORKFLOW_STATE_DIR": str(home / "state"),
        **(env or {}),
    }
    if env is None or "WORKFLOW_PLUGINS_PATH" not in env:
        full_env.pop("WORKFLOW_PLUGINS_PATH", None)
    for name in unset:  # e.g. NO_COLOR and COLUMNS, to see the defaults
        full_env.pop(name, None)
    return full_env


def run_workflow_cli(
    *args: str,
    home: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    python: Path | None = None,
    prefix: tuple[str, ...] = (),
    preexec_fn: Callable[[], None] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess (for fixtures wider than one test).

    ``prefix`` goes before the interpreter (a command that drops privileges);
    ``preexec_fn`` runs in the child before exec (a resource limit that stops root too).
    """
    return subprocess.run(
        [*prefix, str(python or sys.executable), "-m", "workflow_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or home,
        env=cli_environment(home, env=env, unset=unset),
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


@pytest.fixture(scope="session")
def workflow_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``workflow_cli(*args, home=folder)``: the CLI for module- and session-wide fixtures (``run_cli`` is per test)."""
    return run_workflow_cli


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment ``run_cli`` gives the CLI, for tests that start it themselves."""
    return cli_environment(tmp_path)


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs under tmp_path.

    Takes the options of :func:`run_workflow_cli` (``cwd``, ``env``, ``python``, ``prefix``, ``unset``...).
    """
    return functools.partial(run_workflow_cli, home=tmp_path)


@pytest.fixture
def workflow_in_a_project(tmp_path: Path) -> Path:
    """A workflow inside a project (under tmp_path/project) whose config finds its plugin; the CLI runs outside it.

    ``run``/``validate`` of the file find the plugin because the project is
    looked up from the file's folder; the working directory (tmp_path) is in
    no project at all.
    """
    project = tmp_path / "project"
    (project / ".workflow").mkdir(parents=True)
    (project / ".workflow" / "config.yaml").write_text("plugins: {paths: [vendor]}\n")
    shutil.copytree(
        Path(__file__).resolve().parent / "fixtures" / "plugins_a" / "greeter", project / "vendor" / "greeter"
    )
    (project / "flows").mkdir()
    workflow = project / "flows" / "hello.yaml"
    workflow.write_text("name: hello\ntasks:\n  hello:\n    uses: acme/greeter.greet\n    inputs: {name: world}\n")
    return workflow


@pytest.fixture
def run_workflow(run_cli: RunCli, tmp_path: Path) -> RunWorkflow:
    """``run_workflow(text, "--pool")``: write ``flow.yaml``, run it with ``--json`` on the fixture plugins.

    Returns the finished process and the run record it printed (None when it printed none).
    """

    def run(
        text: str, *args: str, env: dict[str, str] | None = None, plugins: Path = FIXTURE_PLUGINS
    ) -> tuple[subprocess.CompletedProcess[str], Any]:
        path = tmp_path / "flow.yaml"
        path.write_text(text, encoding="utf-8")
        done = run_cli("run", str(path), "--json", "-p", str(plugins), *args, env=env)
        return done, json.loads(done.stdout) if done.stdout.strip() else None

    return run


def containers_created_since(started: float, plugin_ref: str) -> list[str]:
    """The containers the engine made for ``plugin_ref`` since ``started`` (its event log, not what is left)."""
    found = subprocess.run(
        [
            "docker", "events", "--since", f"{started:.3f}", "--until", f"{time.time():.3f}",
            "--filter", "event=create", "--filter", f"label=workflow-plugins.plugin={plugin_ref}",
            "--format", "{{.Actor.ID}}",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return found.stdout.split()


@pytest.fixture
def created_since() -> Callable[[float, str], list[str]]:
    """``created_since(started, plugin_ref)``: the containers made for a plugin since ``started`` (time.time())."""
    return containers_created_since
