"""Shared by the SDK's tests: the fixture plugins, and starting one by hand as the runtime would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_sdk.protocol import SERVE_ENV_VAR

FIXTURES = Path(__file__).parent / "fixtures"

RawRun = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(scope="session")
def fixture_plugin() -> Callable[[str], Path]:
    """The entrypoint (``main.py``) of a plugin folder under ``tests/fixtures``."""

    def entrypoint(name: str) -> Path:
        path = FIXTURES / name / "main.py"
        assert path.is_file(), f"no fixture plugin {name!r} at {path}"
        return path

    return entrypoint


@pytest.fixture(scope="session")
def run_raw() -> RawRun:
    """Start ``python main.py`` with raw bytes on stdin, in the plugin's folder, with a minimal environment.

    No SDK helper in between: what the plugin writes on stdout and stderr, and
    its exit code, are exactly what the runtime would see.
    """

    def run(entrypoint: Path, stdin: bytes, *, serve: bool = False) -> subprocess.CompletedProcess[bytes]:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}
        if serve:
            env[SERVE_ENV_VAR] = "1"
        return subprocess.run(
            [sys.executable, str(entrypoint)],
            input=stdin,
            capture_output=True,
            cwd=entrypoint.parent,
            env=env,
            timeout=60,
            check=False,
        )

    return run
