"""Warm sandboxed workers, with real bubblewrap: one process serves many calls, locked down as a one-shot sandbox.

A warm sandbox must see, be and reach exactly what a one-shot sandbox does,
must never serve two grants, and must leave nothing behind (no process, no
cgroup, no descriptor) whichever way it goes: timeout, crash, protocol
error, recycle, idle, close, an interrupted call.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind, Problem
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.runtimes.base import Invocation, InvocationResult, MiB, ResourceLimits, RuntimeKind
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.pool import WarmPool
from workflow_plugin_runtime.runtimes.proctree import ProcessTree
from workflow_plugin_runtime.runtimes.sandbox.limits import CGROUP_PREFIX, cgroup_parents
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_runtime.workflows.mount_sources import ISOLATED_UID, Mount
from workflow_plugin_runtime.workflows.permissions import SecurityMode
from workflow_plugin_sdk.protocol import SERVE_ENV_VAR, make_request

pytestmark = pytest.mark.sandbox

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RAW_WORKER = FIXTURES / "pool_plugins" / "raw_worker"
ONE_SHOT = FIXTURES / "pool_plugins" / "one_shot"
RUNTIME_PLUGINS = FIXTURES / "runtime_plugins"
READY_S = 10.0  # a busy 2-core machine: a sandbox's start must not be taken for a plugin that cannot serve
NO_CAPABILITIES = "0000000000000000"
ONE_SHOT_RLIMITS = ["RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_AS"]  # all but CPU time, a call's own

MakeInvocation = Callable[..., Invocation]


@pytest.fixture
def pool() -> Iterator[WarmPool]:
    with WarmPool(ready_timeout_s=READY_S) as warm:
        yield warm


def sandboxed(plugin_dir: Path, action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
    """A sandbox invocation of the ``main.py`` of ``plugin_dir``; keyword fields override Invocation's."""
    fields.setdefault("plugin_ref", f"tests/{plugin_dir.name}")
    return Invocation(
        kind=RuntimeKind.SANDBOX,
        request=make_request(action, inputs or {}),
        plugin_dir=plugin_dir,
        argv=plugin_argv(plugin_dir, entrypoint="main.py"),
        **fields,
    )


@pytest.fixture
def raw_worker() -> MakeInvocation:
    """A sandbox invocation of the hand-written serve-loop worker (its actions misbehave on request)."""
    return functools.partial(sandboxed, RAW_WORKER)


def outputs_of(result: InvocationResult) -> dict[str, Any]:
    assert result.outputs is not None, (result.failure, result.stderr_tail)
    return result.outputs


def own_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def the_worker(pool: WarmPool) -> int:
    """The pool's one idle worker: bwrap's pid."""
    (bwrap,) = pool.worker_pids()
    return bwrap


def sandbox_processes(pool: WarmPool) -> set[int]:
    """The host pids of the pool's one worker: bwrap, the sandbox's init, the plugin and what it started."""
    bwrap = the_worker(pool)
    tree = ProcessTree(bwrap)
    tree.scan()
    assert len(tree.remembered) >= 2, "bwrap's init and the plugin"
    return {bwrap, *tree.remembered}


@pytest.fixture
def nothing_left(
    gone_within: Callable[[int, float], bool], cgroups_left: Callable[[], list[Path]]
) -> Callable[[set[int], set[str]], None]:
    """``nothing_left(pids, fds)``: every process gone, no cgroup of this engine left, the descriptors as they were."""

    def check(pids: set[int], fds: set[str]) -> None:
        assert all(gone_within(pid, 10.0) for pid in pids), [pid for pid in pids if not gone_within(pid, 0.0)]
        assert wait_until(lambda: cgroups_left() == []), cgroups_left()
        assert wait_until(lambda: own_fds() == fds), own_fds() ^ fds

    return check


def test_a_warm_sandbox_serves_several_calls_in_one_process(pool: WarmPool, intruder: MakeInvocation) -> None:
    results, workers = [], []
    for _ in range(3):
        results.append(pool.invoke(intruder("read", {"paths": ["/proc/self/stat"]})))
        workers.append(the_worker(pool))

    stats = [outputs_of(result)["/proc/self/stat"]["ok"].split() for result in results]
    assert len({(stat[0], stat[21]) for stat in stats}) == 1  # one plugin process: its pid and start time
    assert len(set(workers)) == 1
    assert [result.metrics.warm for result in results] == [False, True, True]
    assert {result.metrics.runtime for result in results} == {RuntimeKind.SANDBOX}
    assert pool.kind is RuntimeKind.PROCESS  # a pool given no sandbox runtime still serves sandbox invocations


def test_a_warm_sandbox_is_as_locked_down_as_a_one_shot_one(
    pool: WarmPool,
    sandbox: SandboxRuntime,
    intruder: MakeInvocation,
    probe: MakeInvocation,
    host_listener: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = f"operator-only-{uuid.uuid4().hex}"
    monkeypatch.setenv("WORKFLOW_TEST_OPERATOR_MARKER", marker)
    limits = ResourceLimits(memory_bytes=200 * MiB, pids=48)
    inspect = intruder("inspect", {"limits": ONE_SHOT_RLIMITS}, limits=limits)
    plugin_dir = str(inspect.plugin_dir)
    writes = {"paths": ["/new-file", f"{plugin_dir}/new-file", f"/tmp/warm-{uuid.uuid4().hex}"]}

    seen = outputs_of(pool.invoke(probe("environment", kind=RuntimeKind.SANDBOX, env={"LOG_LEVEL": "debug"})))
    warm = outputs_of(pool.invoke(inspect))
    warm_again = pool.invoke(inspect)
    one_shot = outputs_of(sandbox.invoke(inspect))
    reached = outputs_of(pool.invoke(intruder("connect", {"port": host_listener.port}, limits=limits)))
    wrote = outputs_of(pool.invoke(intruder("write", writes, limits=limits)))

    assert warm_again.metrics.warm and outputs_of(warm_again)["uid"] == ISOLATED_UID
    assert marker not in seen["environ"] and seen["env"]["LOG_LEVEL"] == "debug"
    assert seen["env"][SERVE_ENV_VAR] == "1" and seen["env"]["HOME"] == "/tmp"
    assert (warm["uid"], warm["gid"]) == (ISOLATED_UID, ISOLATED_UID)
    assert all(warm["status"][name] == NO_CAPABILITIES for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
    assert (warm["status"]["NoNewPrivs"], warm["status"]["Seccomp"]) == ("1", "2")
    for same in ("uid", "gid", "groups", "status", "root", "interfaces", "hostname", "limits", "other_environs"):
        assert warm[same] == one_shot[same], same
    assert sorted(warm["fds"]) == sorted(one_shot["fds"])  # bwrap's own descriptors are all closed in both
    assert warm["interfaces"] == ["lo"] and reached == {"error": "ECONNREFUSED"}
    assert wrote[writes["paths"][0]] == wrote[writes["paths"][1]] == {"error": "EROFS"}
    assert wrote[writes["paths"][2]] == {"ok": True}
    if cgroup_parents() is not None:  # each worker is bound as a whole by cgroups with its grant's limits
        assert limits.memory_bytes in _cgroup_values("memory.limit_in_bytes")
        assert limits.pids + 1 in _cgroup_values("pids.max")  # and bwrap's monitor


def _cgroup_values(name: str) -> set[int]:
    """A limit of every live cgroup of this engine's sandboxes that has it."""
    parents = cgroup_parents()
    assert parents is not None
    prefix = f"{CGROUP_PREFIX}{os.getpid()}-"
    groups = [entry for parent in set(parents.values()) for entry in parent.iterdir() if entry.name.startswith(prefix)]
    return {int((group / name).read_text()) for group in groups if (group / name).exists()}


def test_a_network_grant_gives_a_warm_sandbox_the_hosts_network(
    pool: WarmPool, intruder: MakeInvocation, host_listener: Any
) -> None:
    port = {"port": host_listener.port}
    granted = [outputs_of(pool.invoke(intruder("connect", port, network=True))) for _ in range(2)]
    refused = outputs_of(pool.invoke(intruder("connect", port)))

    assert granted == [{"ok": host_listener.greeting}] * 2
    assert refused == {"error": "ECONNREFUSED"}
    assert len(pool.worker_pids()) == 2


def test_a_timeout_kills_the_warm_sandbox_and_the_next_call_gets_a_fresh_one(
    pool: WarmPool,
    sandbox: SandboxRuntime,
    probe: MakeInvocation,
    nothing_left: Callable[[set[int], set[str]], None],
) -> None:
    fds = own_fds()
    first = pool.invoke(probe("environment", kind=RuntimeKind.SANDBOX))
    processes = sandbox_processes(pool)

    timed_out = pool.invoke(probe("sleep", {"seconds": 60}, kind=RuntimeKind.SANDBOX, timeout_s=0.5))

    assert outputs_of(first) and timed_out.failure is not None
    assert timed_out.failure.kind is FailureKind.TIMEOUT
    assert "within its timeout of 0.5 s; its warm sandbox was killed" in timed_out.failure.message
    nothing_left(processes, fds)
    one_shot = sandbox.invoke(probe("sleep", {"seconds": 60}, kind=RuntimeKind.SANDBOX, timeout_s=0.5))
    assert one_shot.failure is not None  # the SDK dies of the SIGTERM a timeout sends first, warm or not
    ending = (timed_out.failure.exit_code, timed_out.metrics.exit_code, timed_out.metrics.signal)
    assert ending == (one_shot.failure.exit_code, one_shot.metrics.exit_code, one_shot.metrics.signal)
    after = pool.invoke(probe("environment", kind=RuntimeKind.SANDBOX))
    assert outputs_of(after) and not after.metrics.warm
    assert the_worker(pool) not in processes


@pytest.mark.parametrize(
    ("action", "kind", "words"),
    [
        ("crash", FailureKind.CRASHED, "exited with code 3"),
        ("garbage", FailureKind.PROTOCOL, "not valid JSON"),
        ("wrong-id", FailureKind.PROTOCOL, "must echo each request's id"),
    ],
)
def test_a_crash_or_protocol_error_leaves_nothing_behind(
    pool: WarmPool,
    raw_worker: MakeInvocation,
    nothing_left: Callable[[set[int], set[str]], None],
    action: str,
    kind: FailureKind,
    words: str,
) -> None:
    fds = own_fds()
    spawned = outputs_of(pool.invoke(raw_worker("spawn")))  # a child that ignores SIGTERM, inside the sandbox
    processes = sandbox_processes(pool)

    failed = pool.invoke(raw_worker(action))

    assert "child" in spawned and len(processes) >= 4  # bwrap, its init, the worker, its child
    assert failed.failure is not None and failed.failure.kind is kind and words in failed.failure.message
    nothing_left(processes, fds)
    after = pool.invoke(raw_worker("pid"))
    assert outputs_of(after) and not after.metrics.warm


def test_a_recycled_warm_sandbox_leaves_nothing_behind(
    raw_worker: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    fds = own_fds()
    # One worker at most: an uncapped pool would start its successor ahead (a sandbox of its own) before it goes.
    with WarmPool(size=1, recycle_after=2, ready_timeout_s=READY_S) as pool:
        outputs_of(pool.invoke(raw_worker("spawn")))
        processes = sandbox_processes(pool)
        second = pool.invoke(raw_worker("pid"))  # its last call
        assert second.metrics.warm and pool.worker_pids() == []
        nothing_left(processes, fds)
        third = pool.invoke(raw_worker("pid"))
        assert outputs_of(third) and not third.metrics.warm


def test_an_idle_warm_sandbox_is_stopped_and_leaves_nothing_behind(
    raw_worker: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    fds = own_fds()
    invocation = raw_worker("spawn")
    with WarmPool(ready_timeout_s=READY_S) as pool:
        outputs_of(pool.invoke(invocation))
        processes = sandbox_processes(pool)  # idle for a minute before it may be stopped: time to look at it
        pool.configure(invocation, idle_timeout_s=0.3)  # then idle far longer than that
        nothing_left(processes, fds)
        assert pool.worker_pids() == []


def test_close_leaves_no_process_cgroup_or_descriptor(
    raw_worker: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    fds = own_fds()
    pool = WarmPool(ready_timeout_s=READY_S)
    processes: set[int] = set()
    for n in range(2):  # two grants, two workers
        outputs_of(pool.invoke(raw_worker("spawn", env={"N": str(n)})))
    for bwrap in pool.worker_pids():
        tree = ProcessTree(bwrap)
        tree.scan()
        processes |= {bwrap, *tree.remembered}

    pool.close()

    assert len(processes) >= 8
    nothing_left(processes, fds)


def test_an_interrupted_call_leaves_nothing_behind(
    pool: WarmPool, probe: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    fds = own_fds()
    outputs_of(pool.invoke(probe("hello", kind=RuntimeKind.SANDBOX)))
    processes = sandbox_processes(pool)

    def interrupt(record: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pool.invoke(probe("log-then-wait", kind=RuntimeKind.SANDBOX), on_log=interrupt)

    assert pool.worker_pids() == []
    nothing_left(processes, fds)


def test_two_different_grants_never_share_a_worker(pool: WarmPool, intruder: MakeInvocation, tmp_path: Path) -> None:
    nothing = {"paths": []}
    base = intruder("read", nothing)
    grants: list[dict[str, Any]] = [
        {"env": {"LOG_LEVEL": "debug"}},
        {"limits": ResourceLimits(pids=32)},
        {"mounts": (Mount(tmp_path, "/data"),)},
        {"mounts": (Mount(tmp_path, "/data", read_only=False),)},
        {"network": True},
        {"argv": (*base.argv[:-1], "-B", base.argv[-1])},  # the same plugin, started another way
        {"kind": RuntimeKind.PROCESS},  # the same plugin, unsandboxed: never its sandbox's worker
    ]

    first = pool.invoke(base)
    served = [pool.invoke(base.replace(**grant)) for grant in grants]
    again = pool.invoke(base)

    assert all(result.ok for result in (first, *served, again)), [r.failure for r in (first, *served, again)]
    assert not any(result.metrics.warm for result in served)  # each a new worker
    assert served[-1].metrics.runtime is RuntimeKind.PROCESS
    assert again.metrics.warm  # the first grant's worker, still there
    assert len(set(pool.worker_pids())) == 1 + len(grants)


def test_a_warm_sandbox_killed_at_its_memory_limit_says_so_and_is_replaced(
    pool: WarmPool, probe: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    if cgroup_parents() is None:
        pytest.skip("the limit messages come from cgroup v1 counters: a root engine has them")
    limits = ResourceLimits(memory_bytes=96 * MiB)
    fds = own_fds()
    outputs_of(pool.invoke(probe("hello", kind=RuntimeKind.SANDBOX, limits=limits)))
    processes = sandbox_processes(pool)

    result = pool.invoke(probe("allocate", {"mib": 256}, kind=RuntimeKind.SANDBOX, limits=limits))

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, result.failure
    assert result.failure.message.endswith(
        "ran out of memory: it was killed at its memory limit of 96 MiB (grant more with permissions.resources.memory)"
    )
    nothing_left(processes, fds)


def test_a_fork_bomb_in_a_warm_sandbox_is_bounded_and_its_worker_goes(
    pool: WarmPool, intruder: MakeInvocation, nothing_left: Callable[[set[int], set[str]], None]
) -> None:
    """The SDK answers the refused fork with an error and would live on, holding its children: it goes."""
    if cgroup_parents() is None:
        pytest.skip("the limit messages come from cgroup v1 counters: a root engine has them")
    limits = ResourceLimits(pids=24)
    fds = own_fds()
    outputs_of(pool.invoke(intruder("read", {"paths": []}, limits=limits)))
    processes = sandbox_processes(pool)

    result = pool.invoke(intruder("fork-bomb", limits=limits))

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED, result.failure
    assert "reached its process limit" in result.failure.message and " 24 " in result.failure.message
    assert pool.worker_pids() == []
    nothing_left(processes, fds)


def test_a_plugin_without_the_serve_loop_runs_one_sandbox_per_call_with_one_warning() -> None:
    warnings: list[Problem] = []
    with WarmPool(ready_timeout_s=1.0, on_warning=warnings.append) as pool:
        results = [pool.invoke(sandboxed(ONE_SHOT, "hello")) for _ in range(2)]
        assert pool.worker_pids() == []

    assert [outputs_of(result)["action"] for result in results] == ["hello", "hello"]
    assert all(r.metrics.runtime is RuntimeKind.SANDBOX and not r.metrics.warm for r in results)
    [warning] = warnings
    assert warning.message.endswith("its calls run cold (one sandbox per call)"), warning.message


@pytest.mark.parametrize("backend", [RuntimeKind.SANDBOX, None], ids=["sandbox", "auto"])
def test_a_restricted_workflow_with_the_pool_gets_warm_sandboxes(backend: RuntimeKind | None) -> None:
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, pool=True, backend=backend)
    with PluginManager(Resolver([RUNTIME_PLUGINS], entry_points=False), policy=policy) as manager:
        executor = PluginExecutor(manager)
        first = executor.run("test/probe.environment", {})
        second = executor.run("test/probe.environment", {})
        assert first.call is not None and first.call.runtime.kind is RuntimeKind.SANDBOX
        assert first.call.runtime is second.call.runtime and isinstance(first.call.runtime, WarmPool)

    assert first.outputs is not None and second.outputs is not None, (first.failure, second.failure)
    assert first.metrics is not None and second.metrics is not None
    assert (first.metrics.warm, second.metrics.warm) == (False, True)
    assert first.metrics.runtime is second.metrics.runtime is RuntimeKind.SANDBOX
    assert first.outputs["uid"] == second.outputs["uid"] == ISOLATED_UID
