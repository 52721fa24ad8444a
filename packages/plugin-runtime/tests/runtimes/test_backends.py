"""Which restricted backend a run can use here: one probe per backend, asked before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workflow_plugin_runtime.config import RuntimeKind
from workflow_plugin_runtime.errors import RuntimeUnavailableError
from workflow_plugin_runtime.runtimes.backends import BACKEND_PROBES, usable_backend

NO_DAEMON = "unix:///nonexistent/workflow-test-docker.sock"


@pytest.mark.sandbox
def test_the_sandbox_runs_where_bubblewrap_starts_a_sandbox():
    assert usable_backend(RuntimeKind.SANDBOX) is RuntimeKind.SANDBOX


def test_without_bubblewrap_the_sandbox_says_how_to_install_it(tmp_path):
    """In a process whose PATH has no bwrap (the probe's answer is kept per process, so a fresh one)."""
    asked = (
        "from workflow_plugin_runtime.config import RuntimeKind\n"
        "from workflow_plugin_runtime.errors import RuntimeUnavailableError\n"
        "from workflow_plugin_runtime.runtimes.backends import usable_backend\n"
        "try:\n"
        "    usable_backend(RuntimeKind.SANDBOX)\n"
        "except RuntimeUnavailableError as exc:\n"
        "    print(exc.message)\n"
        "    print(exc.hint)\n"
    )
    env = {"PATH": str(tmp_path), **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}}
    done = subprocess.run([sys.executable, "-c", asked], env=env, capture_output=True, text=True, check=True)
    message, hint = done.stdout.splitlines()
    assert message == "the restricted backend 'sandbox' cannot run here: bubblewrap (bwrap) is not installed"
    assert hint.startswith("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)")
    assert "--backend docker" in hint


def test_docker_without_a_daemon_says_how_to_get_one(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)
    with pytest.raises(RuntimeUnavailableError) as caught:
        usable_backend(RuntimeKind.DOCKER)
    assert "the restricted backend 'docker' cannot run here: no Docker daemon" in caught.value.message
    assert (caught.value.hint or "").startswith("install Docker")


@pytest.mark.sandbox
def test_auto_takes_the_sandbox_where_bubblewrap_works_without_asking_docker(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)
    assert usable_backend(None) is RuntimeKind.SANDBOX


def test_auto_prefers_the_first_backend_whose_probe_passes():
    """How the sandbox plugs in: once its probe passes, auto picks it without asking Docker."""
    asked: list[RuntimeKind] = []

    def passes(backend: RuntimeKind):
        def probe() -> None:
            asked.append(backend)

        return probe

    probes = {backend: passes(backend) for backend in BACKEND_PROBES}
    assert usable_backend(None, probes=probes) is RuntimeKind.SANDBOX
    assert asked == [RuntimeKind.SANDBOX]
