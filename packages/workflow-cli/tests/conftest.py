"""Run the real ``workflow`` command as a user would: a subprocess, captured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., subprocess.CompletedProcess[str]]
RunWorkflow = Callable[..., tuple[subprocess.CompletedProcess[str], Any]]
FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("plugin", "list")``: the CLI in a subprocess, no colour, isolated user dirs."""

    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
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
