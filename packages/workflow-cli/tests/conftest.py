"""Run the real ``workflow`` command as a user would: a subprocess, captured."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def run_workflow_cli(
    *args: str, home: Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, no colour, user dirs under ``home`` (for fixtures wider than one test)."""
    full_env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        **(env or {}),
    }
    if env is None or "WORKFLOW_PLUGINS_PATH" not in env:
        full_env.pop("WORKFLOW_PLUGINS_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "workflow_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or home,
        env=full_env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def workflow_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``workflow_cli(*args, home=folder)``: the CLI for module- and session-wide fixtures (``run_cli`` is per test)."""
    return run_workflow_cli


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs."""

    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run_workflow_cli(*args, home=tmp_path, cwd=cwd, env=env, timeout=timeout)

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
