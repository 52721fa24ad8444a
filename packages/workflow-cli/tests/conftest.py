"""Run the real ``workflow`` command as a user would: a subprocess, captured."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment the CLI runs with in tests: no colour, user dirs and run registrations under tmp_path."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "WORKFLOW_STATE_DIR": str(tmp_path / "state"),
    }
    env.pop("WORKFLOW_PLUGINS_PATH", None)
    return env


@pytest.fixture
def run_cli(tmp_path: Path, cli_env: dict[str, str]) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs.

    ``prefix`` goes before the interpreter (e.g. a command that drops privileges).
    """

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        prefix: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**cli_env, **(env or {})}
        return subprocess.run(
            [*prefix, sys.executable, "-m", "workflow_cli", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=full_env,
            timeout=timeout,
            check=False,
        )

    return run
