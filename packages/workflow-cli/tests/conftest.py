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
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs."""

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        unset: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """``unset`` names variables to remove, such as ``NO_COLOR`` and ``COLUMNS`` to see the defaults."""
        full_env = {
            **os.environ,
            "NO_COLOR": "1",
            "COLUMNS": "120",
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            **(env or {}),
        }
        if env is None or "WORKFLOW_PLUGINS_PATH" not in env:
            full_env.pop("WORKFLOW_PLUGINS_PATH", None)
        for name in unset:
            full_env.pop(name, None)
        return subprocess.run(
            [sys.executable, "-m", "workflow_cli", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=full_env,
            timeout=timeout,
            check=False,
        )

    return run
