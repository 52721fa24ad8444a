"""Requests to the Docker daemon are bounded by the task: a daemon that accepts and never answers."""

from __future__ import annotations

import time

import pytest

from workflow_plugin_runtime.errors import FailureKind, RuntimeUnavailableError
from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.client import MIN_DAEMON_WAIT_S, connect_bounded, daemon_deadline
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime
from workflow_plugin_sdk.protocol import make_request

MARGIN_S = 5.0
"""Time a busy machine may add to a bounded wait (starting the client, importing docker)."""


@pytest.fixture
def silent(silent_docker_daemon: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKER_HOST", silent_docker_daemon)
    return silent_docker_daemon


def invocation(timeout_s: float) -> Invocation:
    return Invocation(
        kind=RuntimeKind.DOCKER,
        plugin_ref="test/silent",
        request=make_request("go", {}),
        image="workflow-plugins-test/never:1",
        timeout_s=timeout_s,
    )


def test_a_call_fails_as_runtime_unavailable_within_its_timeout(silent: str) -> None:
    runtime = DockerRuntime()
    started = time.monotonic()
    try:
        result = runtime.invoke(invocation(timeout_s=1))
    finally:
        runtime.close()
    assert time.monotonic() - started < MIN_DAEMON_WAIT_S + MARGIN_S
    assert result.failure is not None and result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert result.failure.message.startswith(f"test/silent: the Docker daemon at {silent} did not answer within ")


def test_a_longer_timeout_is_waited_for_not_the_client_librarys_60_s(silent: str) -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeUnavailableError), daemon_deadline(started + MIN_DAEMON_WAIT_S + 2):
        connect_bounded()
    assert MIN_DAEMON_WAIT_S + 2 <= time.monotonic() - started < MIN_DAEMON_WAIT_S + 2 + MARGIN_S


def test_a_warm_container_is_not_waited_for_past_its_timeout(silent: str) -> None:
    runtime = DockerRuntime()
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeUnavailableError, match="did not answer"):
            runtime.create_serving_container(invocation(timeout_s=1))
    finally:
        runtime.close()
    assert time.monotonic() - started < MIN_DAEMON_WAIT_S + MARGIN_S
