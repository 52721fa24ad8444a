"""The sandbox's limits and its cleanup, with real sandboxes: what holds, what is reported, what is left (nothing).

As root on a machine with cgroup v1 controllers (CI's, this project's
machines) memory and processes are bound by a cgroup per call; the
rlimits every sandbox gets are checked from the inside.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, MiB, ResourceLimits
from workflow_plugin_runtime.runtimes.sandbox.limits import FILE_SIZE_LIMIT, OPEN_FILES_LIMIT
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime, cpu_time_limit
from workflow_plugin_runtime.workflows.mount_sources import Mount

pytestmark = pytest.mark.sandbox

MakeInvocation = Callable[..., Invocation]


def _own_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


def _zombie_children() -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                zombies.append(int(entry.name))
    return zombies


def test_a_fork_bomb_is_bounded_by_the_pids_limit_and_told_so(
    sandbox: SandboxRuntime, intruder: MakeInvocation, cgroups_required: None, cgroups_left: Callable[[], list[Path]]
) -> None:
    result = sandbox.invoke(intruder("fork-bomb", limits=ResourceLimits(pids=24)))

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, result.failure
    assert "reached its process limit" in result.failure.message and " 24 " in result.failure.message
    assert "permissions.resources.pids" in result.failure.message
    forked = int(result.stderr_tail.split("RuntimeError: forked ")[1].split()[0])  # the plugin's own error, logged
    assert 0 < forked < 24  # the plugin and bwrap's init count too
    assert cgroups_left() == []


def test_allocating_past_the_memory_limit_fails_naming_the_limit(
    sandbox: SandboxRuntime, probe: MakeInvocation, cgroups_required: None, cgroups_left: Callable[[], list[Path]]
) -> None:
    from workflow_plugin_runtime.config import RuntimeKind

    result = sandbox.invoke(
        probe("allocate", {"mib": 256}, kind=RuntimeKind.SANDBOX, limits=ResourceLimits(memory_bytes=96 * MiB))
    )

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, result.failure
    assert result.failure.message.endswith(
        "ran out of memory: it was killed at its memory limit of 96 MiB (grant more with permissions.resources.memory)"
    )
    assert cgroups_left() == []


@pytest.mark.parametrize("scratch", ["/tmp", "/dev/shm"])
def test_files_in_the_private_tmpfs_count_against_the_memory_limit(
    sandbox: SandboxRuntime,
    intruder: MakeInvocation,
    cgroups_required: None,
    cgroups_left: Callable[[], list[Path]],
    scratch: str,
) -> None:
    """A tmpfs holds its files in memory no process owns: the sandbox's cgroup is charged for it all the same."""
    result = sandbox.invoke(
        intruder("fill", {"path": f"{scratch}/ballast", "mib": 128}, limits=ResourceLimits(memory_bytes=64 * MiB))
    )

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, (result.failure, result.outputs)
    assert "it was killed at its memory limit of 64 MiB" in result.failure.message
    assert cgroups_left() == []


def test_the_whole_sandbox_is_measured(sandbox: SandboxRuntime, probe: MakeInvocation, cgroups_required: None) -> None:
    from workflow_plugin_runtime.config import RuntimeKind

    result = sandbox.invoke(probe("allocate", {"mib": 64}, kind=RuntimeKind.SANDBOX))

    assert result.ok, result.failure
    assert result.metrics.peak_memory_bytes is not None and result.metrics.peak_memory_bytes >= 64 * MiB
    assert result.metrics.cpu_time_s is not None and result.metrics.cpu_time_s > 0


def test_every_process_inherits_file_cpu_and_core_limits_it_cannot_raise(
    sandbox: SandboxRuntime, intruder: MakeInvocation
) -> None:
    invocation = intruder("inspect", {"limits": ["RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_CPU"]})

    limits = sandbox.invoke(invocation).outputs
    raised = [
        sandbox.invoke(intruder("raise-limit", {"limit": name})).outputs for name in ("RLIMIT_NOFILE", "RLIMIT_CPU")
    ]

    assert limits is not None
    cpu = cpu_time_limit(invocation)
    assert limits["limits"] == {
        "RLIMIT_FSIZE": [FILE_SIZE_LIMIT] * 2,
        "RLIMIT_NOFILE": [OPEN_FILES_LIMIT] * 2,
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_CPU": [cpu, cpu],
    }
    assert all(outcome is not None and outcome["raised"] is False for outcome in raised), raised


def test_a_timeout_gives_the_plugin_its_grace_then_kills_the_whole_sandbox(
    sandbox: SandboxRuntime, intruder: MakeInvocation, tmp_path: Path, cgroups_left: Callable[[], list[Path]]
) -> None:
    """SIGTERM reaches the plugin, not bwrap, whose death would kill the plugin before it could clean up."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    mounts = (Mount(out, "/out", read_only=False),)

    started = time.monotonic()
    result = sandbox.invoke(intruder("trap-sigterm", {"path": "/out/cleaned"}, mounts=mounts, timeout_s=1))

    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert "did not finish within its timeout of 1 s; its sandbox was killed" in result.failure.message
    assert (out / "cleaned").read_text() == "cleaned up"
    assert time.monotonic() - started < 10
    assert cgroups_left() == []


def test_a_double_forked_daemon_does_not_outlive_the_call(
    sandbox: SandboxRuntime,
    intruder: MakeInvocation,
    cgroups_left: Callable[[], list[Path]],
    processes_with: Callable[[str], list[int]],
) -> None:
    marker = f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**9:09d}"  # sleep's argument, unique

    result = sandbox.invoke(intruder("daemon", {"marker": marker}))

    assert result.outputs == {"started": True}, (result.failure, result.stderr_tail)
    assert processes_with(marker) == []  # gone when the call returned: no waiting
    assert cgroups_left() == []


def test_cancel_kills_a_sandboxed_call_in_flight(
    sandbox: SandboxRuntime, probe: MakeInvocation, cgroups_left: Callable[[], list[Path]]
) -> None:
    from workflow_plugin_runtime.config import RuntimeKind

    cancel = threading.Event()
    seen = threading.Event()

    def on_log(record: object) -> None:
        seen.set()
        cancel.set()

    flag = f"/tmp/never-{uuid.uuid4().hex}"
    result = sandbox.invoke(
        probe("progress", {"flag": flag, "wait": 60}, kind=RuntimeKind.SANDBOX, cancel=cancel), on_log=on_log
    )

    assert seen.is_set()
    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert cgroups_left() == []


def test_nothing_is_left_after_success_failure_and_timeout(
    sandbox: SandboxRuntime, intruder: MakeInvocation, probe: MakeInvocation, cgroups_left: Callable[[], list[Path]]
) -> None:
    """No cgroup, no descriptor, no zombie, no process of the sandbox's user, however a call ended."""
    from workflow_plugin_runtime.config import RuntimeKind

    sandbox.invoke(probe("hello", kind=RuntimeKind.SANDBOX))  # anything opened once per process is opened now
    before = _own_fds()

    ended = [
        sandbox.invoke(probe("hello", kind=RuntimeKind.SANDBOX)),
        sandbox.invoke(probe("fail", kind=RuntimeKind.SANDBOX)),
        sandbox.invoke(probe("sleep", {"seconds": 30}, kind=RuntimeKind.SANDBOX, timeout_s=0.5)),
        sandbox.invoke(intruder("fork-bomb", limits=ResourceLimits(pids=16))),
    ]

    assert [result.failure.kind if result.failure else None for result in ended] == [
        None,
        FailureKind.ACTION,
        FailureKind.TIMEOUT,
        FailureKind.CRASHED,
    ]
    assert cgroups_left() == []
    assert _own_fds() == before
    assert _zombie_children() == []
