"""Runtimes are found by kind: the built-in ones are registered, an unregistered kind says how to add one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from workflow_plugin_runtime.errors import RuntimeUnavailableError
from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime
from workflow_plugin_runtime.runtimes.process import ProcessRuntime
from workflow_plugin_runtime.runtimes.registry import RuntimeSet, is_registered, runtime_for
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime

MakeInvocation = Callable[..., Invocation]


def test_the_process_runtime_looked_up_by_kind_runs_a_real_plugin(probe: MakeInvocation) -> None:
    runtime = runtime_for(RuntimeKind.PROCESS)
    try:
        result = runtime.invoke(probe("hello", {"name": "registry"}))
    finally:
        runtime.close()
    assert isinstance(runtime, ProcessRuntime) and runtime.kind is RuntimeKind.PROCESS
    assert result.outputs == {"greeting": "hello registry"}, result.failure
    assert result.metrics.runtime is RuntimeKind.PROCESS


def test_each_lookup_makes_a_runtime_of_its_own_and_docker_is_registered() -> None:
    """A caller owns and closes what it gets, so two callers never share (and close) one client."""
    first, second = runtime_for(RuntimeKind.DOCKER), runtime_for(RuntimeKind.DOCKER)
    try:
        assert isinstance(first, DockerRuntime) and isinstance(second, DockerRuntime)
        assert first is not second
    finally:
        first.close()
        second.close()


def test_an_unregistered_kind_fails_clearly_with_how_to_register_one() -> None:
    assert not is_registered(RuntimeKind.ENGINE)
    with pytest.raises(RuntimeUnavailableError) as caught:
        runtime_for(RuntimeKind.ENGINE)
    assert caught.value.message == "no engine runtime is registered"
    assert "register_runtime(RuntimeKind.ENGINE, factory)" in (caught.value.hint or "")


class _ClosingRecorder(ProcessRuntime):
    """A real process runtime that counts its close() calls."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_a_runtime_set_makes_each_kind_once_and_closes_everything_once(
    registered_process_runtimes: list[ProcessRuntime], probe: MakeInvocation
) -> None:
    given = _ClosingRecorder()  # the set never looks inside what it holds: any runtime stands for the given one
    runtimes = RuntimeSet({RuntimeKind.DOCKER: given})
    assert runtimes.existing(RuntimeKind.PROCESS) is None  # never made by a mere look
    made = runtimes.get(RuntimeKind.PROCESS)
    assert runtimes.get(RuntimeKind.PROCESS) is made and registered_process_runtimes == [made]
    assert runtimes.kinds() == {RuntimeKind.DOCKER, RuntimeKind.PROCESS}
    assert made.invoke(probe("hello", {"name": "set"})).outputs == {"greeting": "hello set"}
    runtimes.close()
    runtimes.close()
    assert given.closed == 1
    assert runtimes.kinds() == frozenset()


@pytest.mark.sandbox
def test_the_sandbox_runtime_looked_up_by_kind_runs_a_real_plugin(probe: MakeInvocation) -> None:
    runtime = runtime_for(RuntimeKind.SANDBOX)
    try:
        result = runtime.invoke(probe("hello", {"name": "registry"}, kind=RuntimeKind.SANDBOX))
    finally:
        runtime.close()
    assert isinstance(runtime, SandboxRuntime) and runtime.kind is RuntimeKind.SANDBOX
    assert result.outputs == {"greeting": "hello registry"}, result.failure
    assert result.metrics.runtime is RuntimeKind.SANDBOX
