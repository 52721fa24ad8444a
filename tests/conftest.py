"""For the tests of the examples: the examples' HTTP service, served from a thread, and the CLI as a user runs it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def _serve_http() -> ModuleType:
    """examples/serve_http.py as a module (the examples folder is no package)."""
    name = "examples_serve_http"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "serve_http.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def http_server() -> Iterator[Any]:
    """The examples' HTTP service on 127.0.0.1 (a free port), serving from a thread; ``.url``, ``.requests``."""
    server = _serve_http().make_server(0)
    thread = threading.Thread(target=server.serve_forever, name="serve-http", daemon=True)
    thread.start()
    yield server
    server.stop()
    thread.join(timeout=5)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment: no colour, user folders under ``home``, no plugins path from the caller's shell."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "WORKFLOW_STATE_DIR": str(home / "state"),
        **extra,
    }
    env.pop("WORKFLOW_PLUGINS_PATH", None)
    return env


@pytest.fixture(scope="session")
def workflow_cli_env() -> Callable[..., dict[str, str]]:
    """``workflow_cli_env(home, NAME=value)``: the environment ``run_cli`` gives the CLI, for session-wide fixtures."""
    return cli_env


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("run", file, env={...})``: the real ``workflow`` command in a subprocess, in ``tmp_path``."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workflow_cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=cli_env(tmp_path, **(env or {})),
            timeout=timeout,
            check=False,
        )

    return run
