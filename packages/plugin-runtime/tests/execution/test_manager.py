"""The manager decides where each call runs (its kind) and takes that kind's runtime from the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_plugin_runtime.config import RuntimeKind
from workflow_plugin_runtime.errors import RuntimeUnavailableError
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.runtimes.base import PluginRuntime
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.pool import WarmPool
from workflow_plugin_runtime.runtimes.proctree import read_stat
from workflow_plugin_runtime.runtimes.registry import register_runtime
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_runtime.workflows.permissions import Permissions, SecurityMode

PLUGINS = Path(__file__).parents[1] / "fixtures" / "executor_plugins"


def manager(policy: ExecutionPolicy | None = None) -> PluginManager:
    return PluginManager(Resolver([PLUGINS], entry_points=False), policy=policy)


def test_a_trusted_call_runs_on_the_runtime_registered_for_processes(registered_process_runtimes):
    with manager() as trusted:
        outcome = PluginExecutor(trusted).run("tests/misbehave.ok", {"count": 2})
        again = PluginExecutor(trusted).run("tests/misbehave.ok", {"count": 3})
    assert outcome.ok and again.ok, (outcome.failure, again.failure)
    [made] = registered_process_runtimes  # one per manager, made on first use
    assert outcome.call is not None and outcome.call.runtime is made
    assert outcome.call.invocation.kind is RuntimeKind.PROCESS
    assert outcome.outputs == {"count": 2} and outcome.metrics.runtime is RuntimeKind.PROCESS


RUNTIME_PLUGINS = Path(__file__).parents[1] / "fixtures" / "runtime_plugins"


def test_a_trusted_call_of_a_start_fork_plugin_runs_forked_from_its_template():
    """``runtime.start: fork``: the manager's one fork server, whose template the child's parent is."""
    with PluginManager(Resolver([RUNTIME_PLUGINS], entry_points=False)) as trusted:
        executor = PluginExecutor(trusted)
        first, second = executor.run("test/forkable.where", {}), executor.run("test/forkable.where", {})
        assert first.call is not None and second.call is not None
        assert isinstance(first.call.runtime, ForkServerRuntime) and second.call.runtime is first.call.runtime
        template = first.call.runtime.template_pid(first.call.invocation)
    assert first.outputs is not None and second.outputs is not None
    assert first.outputs["ppid"] == second.outputs["ppid"] == template
    assert first.outputs["pid"] != second.outputs["pid"]
    assert template is not None and read_stat(template) is None  # stopped and reaped as the manager closed


def test_warm_workers_asked_for_serve_a_start_fork_plugin_warm():
    with PluginManager(Resolver([RUNTIME_PLUGINS], entry_points=False), policy=ExecutionPolicy(pool=True)) as warm:
        call = warm.prepare("test/forkable.where", {})
        assert isinstance(call.runtime, WarmPool)


def test_a_restricted_call_is_a_docker_invocation_for_the_docker_runtime():
    """Prepared only (nothing runs): the invocation carries its kind, and the runtime is that kind's."""
    policy = ExecutionPolicy(
        security=SecurityMode.RESTRICTED, permissions=Permissions(network_all=True), backend=RuntimeKind.DOCKER
    )
    with manager(policy) as restricted:
        call = restricted.prepare("tests/needs-network.get", {})
    assert call.invocation.kind is RuntimeKind.DOCKER
    assert isinstance(call.runtime, DockerRuntime)
    assert call.invocation.image == "tests/needs-network:1.0.0" and call.invocation.content_hash is not None


@pytest.mark.sandbox
def test_auto_makes_a_restricted_call_a_sandbox_invocation_where_bubblewrap_works():
    """Prepared only: a sandbox runs the plugin's own argv, so the invocation carries it, and the grants."""
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, permissions=Permissions(network_all=True))
    with manager(policy) as restricted:
        call = restricted.prepare("tests/needs-network.get", {})
    assert call.invocation.kind is RuntimeKind.SANDBOX
    assert isinstance(call.runtime, SandboxRuntime)
    assert call.invocation.argv == plugin_argv(call.manifest.plugin_dir.resolve(), entrypoint="main.py")
    assert call.invocation.network and call.invocation.content_hash is None


def test_a_backend_whose_runtime_cannot_be_made_is_refused_before_anything_runs():
    def unavailable() -> PluginRuntime:
        raise RuntimeUnavailableError("the test's sandbox cannot run here", hint="nothing to do")

    built_in = register_runtime(RuntimeKind.SANDBOX, unavailable)
    assert built_in is not None
    try:
        policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, backend=RuntimeKind.SANDBOX)
        with manager(policy) as restricted, pytest.raises(RuntimeUnavailableError) as caught:
            restricted.prepare("tests/misbehave.ok", {"count": 1})
    finally:
        register_runtime(RuntimeKind.SANDBOX, built_in)
    assert caught.value.message == "the test's sandbox cannot run here"


@pytest.mark.parametrize("kind", [RuntimeKind.PROCESS, RuntimeKind.ENGINE])
def test_a_restricted_backend_must_isolate(kind):
    """A restricted workflow "on" a process would silently lose its isolation."""
    with pytest.raises(ValueError, match=f"{kind.value} is not a restricted backend"):
        ExecutionPolicy(security=SecurityMode.RESTRICTED, backend=kind)


@pytest.mark.parametrize("pool", [True, False], ids=["warm", "cold"])
def test_a_manager_closed_and_used_again_runs_its_calls_on_runtimes_made_again(pool):
    """``close`` empties what the manager made: a call after it must not be routed to the closed pool or runtime."""
    with manager(ExecutionPolicy(pool=pool)) as reused:
        executor = PluginExecutor(reused)
        before = executor.run("tests/misbehave.ok", {"count": 1})
        reused.close()
        after = executor.run("tests/misbehave.ok", {"count": 2})
    assert before.ok and after.ok, (before.failure, after.failure)
    assert after.outputs == {"count": 2}
    assert before.call is not None and after.call is not None
    assert after.call.runtime is not before.call.runtime
