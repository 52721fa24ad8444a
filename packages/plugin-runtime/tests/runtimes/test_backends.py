"""Which restricted backend a run can use here: one probe per backend, asked before anything runs."""

from __future__ import annotations

import pytest

from workflow_plugin_runtime.config import RuntimeKind
from workflow_plugin_runtime.errors import RuntimeUnavailableError
from workflow_plugin_runtime.runtimes.backends import BACKEND_PROBES, usable_backend

NO_DAEMON = "unix:///nonexistent/workflow-test-docker.sock"


def test_the_sandbox_is_not_implemented_yet_and_says_where_to_go():
    with pytest.raises(RuntimeUnavailableError) as caught:
        usable_backend(RuntimeKind.SANDBOX)
    assert caught.value.message == (
        "the restricted backend 'sandbox' cannot run here: "
        "the sandbox backend (bubblewrap) is not implemented in this version"
    )
    assert "--backend docker" in (caught.value.hint or "")


def test_docker_without_a_daemon_says_how_to_get_one(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)
    with pytest.raises(RuntimeUnavailableError) as caught:
        usable_backend(RuntimeKind.DOCKER)
    assert "the restricted backend 'docker' cannot run here: no Docker daemon" in caught.value.message
    assert (caught.value.hint or "").startswith("install Docker")


@pytest.mark.docker
def test_auto_takes_docker_while_the_sandbox_cannot_run():
    assert usable_backend(None) is RuntimeKind.DOCKER


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
