"""ForkServerRuntime on the sandbox, with real bubblewrap: a template in one sandbox forks each call's process.

Each child must be what a one-shot sandboxed plugin is (uid 65534, no
capability, the seccomp filter), answer as one does, and go with
everything it started; the template's sandbox must go with the runtime,
its cgroups with it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, InvocationResult, MiB, ResourceLimits, RuntimeKind
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.proctree import all_stats
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_sdk.protocol import LogRecord, make_request

from .conftest import FAST_GRACE_S

pytestmark = pytest.mark.sandbox

FORKABLE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "runtime_plugins" / "forkable"
NO_CAPABILITIES = "0000000000000000"
SECCOMP_FILTERED = "2"

MakeInvocation = Callable[..., Invocation]
GONE_WITHIN_S = 10.0
"""How long a SIGKILLed process may take to end on a busy machine."""


@pytest.fixture
def forks() -> Iterator[ForkServerRuntime]:
    runtime = ForkServerRuntime(RuntimeKind.SANDBOX, kill_grace_s=FAST_GRACE_S)
    yield runtime
    runtime.close()


@pytest.fixture
def forkable() -> MakeInvocation:
    """A sandbox invocation of the fork server's fixture plugin; keyword fields override Invocation's."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        fields.setdefault("plugin_ref", f"test/forkable-{uuid.uuid4().hex[:12]}")
        return Invocation(
            kind=RuntimeKind.SANDBOX,
            request=make_request(action, inputs or {}, secret_inputs=fields.pop("secret_inputs", ())),
            plugin_dir=FORKABLE_DIR,
            argv=plugin_argv(FORKABLE_DIR, entrypoint="main.py"),
            **fields,
        )

    return make


def _descendants(pid: int) -> set[int]:
    """Every live (not zombie) process below ``pid``: bwrap's monitor, the sandbox's init, the template, calls."""
    children: dict[int, list[int]] = {}
    for stat in all_stats():
        if not stat.zombie:
            children.setdefault(stat.ppid, []).append(stat.pid)
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}


def _comparable(result: InvocationResult) -> tuple[object, ...]:
    failure = result.failure
    if failure is None:
        return (result.outputs,)
    return (failure.kind, failure.message, failure.exit_code, failure.error_type, result.metrics.signal)


@pytest.mark.parametrize(("action", "inputs"), [("echo", {"text": "same"}), ("fail", {})])
def test_a_forked_sandboxed_call_ends_exactly_as_a_one_shot_sandbox(
    forks: ForkServerRuntime, forkable: MakeInvocation, action: str, inputs: dict[str, str]
) -> None:
    invocation = forkable(action, inputs)
    forked = forks.invoke(invocation)
    cold = SandboxRuntime(kill_grace_s=FAST_GRACE_S).invoke(invocation)
    assert forks.template_pid(invocation) is not None
    assert _comparable(forked) == _comparable(cold)
    assert forked.metrics.runtime is RuntimeKind.SANDBOX


def test_a_forked_sandboxed_call_has_the_environment_of_a_one_shot_sandbox(
    forks: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    """Every variable, ``PWD`` (which bwrap sets) included, with the same value: the sandbox's /tmp is both's HOME."""
    invocation = forkable("environment", env={"GIVEN": f"value-{uuid.uuid4().hex}"})
    forked = forks.invoke(invocation).outputs
    cold = SandboxRuntime(kill_grace_s=FAST_GRACE_S).invoke(invocation).outputs
    assert forks.template_pid(invocation) is not None
    assert forked is not None and cold is not None
    assert forked["environ"] == cold["environ"]
    assert cold["environ"]["PWD"] == os.path.realpath(FORKABLE_DIR)


def test_a_crash_is_a_crash_as_in_a_one_shot_sandbox_and_names_its_signal(
    forks: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    """A one-shot sandbox sees the exit code bwrap's init passes on (128 + 6); the template reaps the signal itself."""
    invocation = forkable("crash")
    forked = forks.invoke(invocation)
    cold = SandboxRuntime(kill_grace_s=FAST_GRACE_S).invoke(invocation)
    assert forked.failure is not None and cold.failure is not None
    assert forked.failure.kind is cold.failure.kind is FailureKind.CRASHED
    assert forked.metrics.signal == signal.SIGABRT and "killed by SIGABRT" in forked.failure.message


def test_each_call_is_a_fresh_locked_down_child_of_the_sandboxed_template(
    forks: ForkServerRuntime, forkable: MakeInvocation, gone_within: Callable[[int, float], bool]
) -> None:
    first, second = forks.invoke(forkable("where")).outputs, forks.invoke(forkable("where")).outputs
    assert first is not None and second is not None
    assert first["pid"] != second["pid"] and first["ppid"] == second["ppid"] == first["imported_in"]
    assert first["calls"] == second["calls"] == 1
    template = forks.template_pid(forkable("where"))
    assert template is not None
    seen: dict[str, str] = {}

    def inspect(record: LogRecord) -> None:
        if record["message"].startswith("pids "):
            calls = _descendants(template) - before
            child = next(pid for pid in calls if any(p in calls for p in _descendants(pid)))  # the one with a child
            seen.update(_status(child))

    before = _descendants(template)
    result = forks.invoke(forkable("hang", timeout_s=3.0), on_log=inspect)
    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert seen["Uid"].split() == ["65534"] * 4
    assert (seen["CapEff"], seen["CapBnd"], seen["Seccomp"]) == (NO_CAPABILITIES, NO_CAPABILITIES, SECCOMP_FILTERED)
    killed = _descendants(template) - before  # SIGKILLed with the call: each ends when the kernel next runs it
    assert all(gone_within(pid, GONE_WITHIN_S) for pid in killed)
    assert _descendants(template) == before  # the child and its grandchild are gone; the template stays


def test_secrets_reach_the_child_but_not_the_sandboxed_template(
    forks: ForkServerRuntime, forkable: MakeInvocation
) -> None:
    token = f"env-secret-{uuid.uuid4().hex}"
    secret = f"input-secret-{uuid.uuid4().hex}"
    forks.invoke(forkable("where"))
    template = forks.template_pid(forkable("where"))
    assert template is not None
    result = forks.invoke(forkable("echo", {"secret": secret}, secret_inputs=["secret"], env={"TOKEN": token}))
    assert result.outputs is not None
    assert result.outputs["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert result.outputs["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    for pid in (template, *_descendants(template)):  # bwrap, the sandbox's init, the template
        for name in ("environ", "cmdline"):
            seen = Path(f"/proc/{pid}/{name}").read_bytes()
            assert token.encode() not in seen and secret.encode() not in seen


def test_killing_the_sandboxed_template_fails_its_call_and_removes_its_sandbox(
    forks: ForkServerRuntime, forkable: MakeInvocation, cgroups_left: Callable[[], list[Path]]
) -> None:
    forks.invoke(forkable("where"))
    template = forks.template_pid(forkable("where"))
    assert template is not None
    before = _descendants(template)

    def kill_template(record: LogRecord) -> None:
        if record["message"].startswith("pids "):
            interpreter = plugin_argv(FORKABLE_DIR, entrypoint="main.py")[0].encode()
            [plugin] = [pid for pid in before if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(interpreter)]
            os.kill(plugin, signal.SIGKILL)  # the template itself, not bwrap around it

    result = forks.invoke(forkable("hang"), on_log=kill_template)
    assert result.failure is not None and result.failure.kind is FailureKind.WORKER_LOST
    assert not _descendants(template) and cgroups_left() == []
    assert forks.invoke(forkable("where")).ok and forks.template_pid(forkable("where")) not in (None, template)


def test_a_call_killed_at_the_memory_limit_is_told_so_and_the_next_call_gets_a_new_sandbox(
    forks: ForkServerRuntime, forkable: MakeInvocation, cgroups_required: None, cgroups_left: Callable[[], list[Path]]
) -> None:
    """The sandbox's limit counters never go back: a template whose sandbox hit one is replaced."""
    limits = ResourceLimits(memory_bytes=96 * MiB)
    forks.invoke(forkable("where", limits=limits))
    template = forks.template_pid(forkable("where", limits=limits))
    result = forks.invoke(forkable("allocate", {"mib": 256}, limits=limits))
    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, result.failure
    assert (
        "killed at its memory limit of 96 MiB (grant more with permissions.resources.memory)" in result.failure.message
    )
    after = forks.invoke(forkable("where", limits=limits))
    assert after.ok and forks.template_pid(forkable("where", limits=limits)) not in (None, template)
    forks.close()
    assert cgroups_left() == []


def test_closing_the_runtime_leaves_no_process_and_no_cgroup(
    forkable: MakeInvocation, cgroups_left: Callable[[], list[Path]], processes_with: Callable[[str], list[int]]
) -> None:
    runtime = ForkServerRuntime(RuntimeKind.SANDBOX, kill_grace_s=FAST_GRACE_S)
    assert runtime.invoke(forkable("where")).ok
    assert processes_with(str(FORKABLE_DIR / "main.py"))
    runtime.close()
    assert processes_with(str(FORKABLE_DIR / "main.py")) == [] and cgroups_left() == []
