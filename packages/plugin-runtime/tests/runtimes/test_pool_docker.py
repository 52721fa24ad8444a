"""Warm containers for restricted mode, with a real engine and a real image.

A warm container must be exactly as locked down as a one-shot one, must be
killed *and removed* whenever its worker goes, and a plugin that cannot be
kept warm must still run, one container per call.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.runtimes.base import Invocation, InvocationResult, MiB, Mount, ResourceLimits, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.runtime import PLUGIN_LABEL, DockerRuntime
from workflow_plugin_runtime.runtimes.pool import WarmPool
from workflow_plugin_runtime.workflows.permissions import SecurityMode
from workflow_plugin_sdk.protocol import SERVE_ENV_VAR, make_request

pytestmark = pytest.mark.docker

RUNTIME_PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "runtime_plugins"
ONE_SHOT_IN_IMAGE = ("python3", "-E", "-s", "/raw/raw.py")  # the raw plugin knows no serve loop
ContainersOf = Callable[[str], list[Any]]
MakeInvocation = Callable[..., Invocation]


@pytest.fixture
def ref() -> str:
    """A plugin ref of this test only: its containers are found by the plugin label."""
    return f"test/warm-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def call(test_image: str, ref: str) -> MakeInvocation:
    """An invocation of the probe plugin in the test image, under this test's ref."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        fields.setdefault("plugin_ref", ref)
        return Invocation(
            kind=RuntimeKind.DOCKER,
            request=make_request(action, inputs or {}),
            plugin_dir=RUNTIME_PLUGINS / "probe",
            image=test_image,
            **fields,
        )

    return make


@pytest.fixture
def pool() -> Iterator[WarmPool]:
    with WarmPool(size=1) as warm:
        yield warm


def outputs_of(result: InvocationResult) -> dict[str, Any]:
    assert result.outputs is not None, result.failure
    return result.outputs


def hostname(result: InvocationResult) -> str:
    """The container that served the call (Docker sets HOSTNAME to its short id)."""
    name: str = outputs_of(result)["env"]["HOSTNAME"]
    return name


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def container_ids(plugin_ref: str) -> list[str]:
    """The containers of ``plugin_ref`` as the docker CLI lists them (no socket opened in this process)."""
    listed = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={PLUGIN_LABEL}={plugin_ref}"],
        capture_output=True,
        check=True,
        text=True,
    )
    return listed.stdout.split()


def process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


def test_a_restricted_call_is_served_twice_by_the_same_container(pool: WarmPool, call: MakeInvocation) -> None:
    first = pool.invoke(call("environment"))
    second = pool.invoke(call("environment"))

    assert hostname(first) == hostname(second)
    assert (first.metrics.warm, second.metrics.warm) == (False, True)
    assert first.metrics.runtime is second.metrics.runtime is RuntimeKind.DOCKER
    assert second.metrics.duration_s < first.metrics.duration_s


def test_a_warm_container_is_as_locked_down_as_a_one_shot_one(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, tmp_path: Path, ref: str
) -> None:
    tmp_path.chmod(0o777)  # so that only the read-only mount, not file permissions, can refuse the write
    grants: dict[str, Any] = {
        "env": {"LOG_LEVEL": "debug"},
        "mounts": (Mount(source=tmp_path, target="/data", read_only=True),),
        "limits": ResourceLimits(memory_bytes=128 * MiB, cpus=0.5, pids=64),
    }
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        seen = pool.invoke(call("environment", **grants))
        network = pool.invoke(call("network", {"port": listener.getsockname()[1]}, **grants))
        writes = pool.invoke(call("filesystem", {"targets": ["/", "/tmp", "/data"]}, **grants))
    assert (outputs_of(seen)["uid"], outputs_of(seen)["gid"]) == (65534, 65534)
    assert outputs_of(network)["interfaces"] == ["lo"]
    assert "Connection refused" in outputs_of(network)["reply"]
    assert outputs_of(writes)["/"] == outputs_of(writes)["/data"] == "error: Read-only file system"
    assert outputs_of(writes)["/tmp"] == "ok"
    assert writes.metrics.warm

    (warm,) = containers_of(ref)
    one_shot_ref = f"{ref}-one-shot"
    runtime = DockerRuntime()
    sleeper = threading.Thread(
        target=runtime.invoke, args=(call("sleep", {"seconds": 3}, plugin_ref=one_shot_ref, **grants),)
    )
    sleeper.start()
    try:
        assert wait_until(lambda: len(containers_of(one_shot_ref)) == 1)
        (one_shot,) = containers_of(one_shot_ref)
        warm_attrs, one_shot_attrs = warm.attrs, one_shot.attrs
    finally:
        sleeper.join()
        runtime.close()
    for field in (
        "NetworkMode",
        "ReadonlyRootfs",
        "Tmpfs",
        "CapDrop",
        "CapAdd",
        "SecurityOpt",
        "Privileged",
        "PidsLimit",
        "Memory",
        "MemorySwap",
        "NanoCpus",
        "Init",
        "Mounts",
    ):
        assert warm_attrs["HostConfig"][field] == one_shot_attrs["HostConfig"][field], field
    for field in ("User", "NetworkDisabled", "Image", "WorkingDir", "Cmd", "Entrypoint"):
        assert warm_attrs["Config"].get(field) == one_shot_attrs["Config"].get(field), field
    assert set(warm_attrs["Config"]["Env"]) - set(one_shot_attrs["Config"]["Env"]) == {f"{SERVE_ENV_VAR}=1"}
    assert warm_attrs["Config"]["Labels"].keys() == one_shot_attrs["Config"]["Labels"].keys()


def test_workers_are_never_shared_across_different_grants(pool: WarmPool, call: MakeInvocation) -> None:
    plain = hostname(pool.invoke(call("environment")))
    with_env = hostname(pool.invoke(call("environment", env={"LOG_LEVEL": "debug"})))
    with_limits = hostname(pool.invoke(call("environment", limits=ResourceLimits(pids=32))))
    assert len({plain, with_env, with_limits}) == 3
    assert hostname(pool.invoke(call("environment"))) == plain


def test_a_timeout_kills_and_removes_the_container_and_the_next_call_gets_a_new_one(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    before = hostname(pool.invoke(call("environment")))

    timed_out = pool.invoke(call("sleep", {"seconds": 60}, timeout_s=0.5))

    assert timed_out.failure is not None and timed_out.failure.kind is FailureKind.TIMEOUT
    assert "0.5 s; its warm container was killed" in timed_out.failure.message
    assert containers_of(ref) == []
    after = pool.invoke(call("environment"))
    assert hostname(after) != before
    assert not after.metrics.warm


def test_a_timeout_records_the_containers_ending_as_a_one_shot_call_does(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    warm = pool.invoke(call("sleep", {"seconds": 60}, timeout_s=1.0))
    cold_runtime = DockerRuntime()
    try:
        cold = cold_runtime.invoke(call("sleep", {"seconds": 60}, timeout_s=1.0))
    finally:
        cold_runtime.close()

    def ending(result: InvocationResult) -> tuple[object, ...]:
        assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
        return result.failure.exit_code, result.metrics.exit_code, result.metrics.signal

    # SIGTERM first (the docker CLI passes it on), so the SDK plugin ends with 128 + 15 both ways.
    assert ending(warm) == ending(cold) == (143, 143, None)
    assert containers_of(ref) == []


def test_a_container_killed_at_its_memory_limit_says_so_and_is_replaced(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    limits = ResourceLimits(memory_bytes=64 * MiB)
    before = hostname(pool.invoke(call("environment", limits=limits)))

    result = pool.invoke(call("allocate", {"mib": 256}, limits=limits))

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED
    assert "ran out of memory" in result.failure.message and "64 MiB" in result.failure.message
    assert containers_of(ref) == []
    assert hostname(pool.invoke(call("environment", limits=limits))) != before


def test_cancel_stops_a_warm_container_call(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    pool.invoke(call("hello"))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()

    result = pool.invoke(call("sleep", {"seconds": 60}, cancel=cancel))

    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert containers_of(ref) == []


def test_an_interrupted_call_kills_and_removes_its_container(
    pool: WarmPool, call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    def interrupt(record: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pool.invoke(call("log-then-wait"), on_log=interrupt)

    assert containers_of(ref) == []
    assert pool.worker_pids() == []


def test_close_leaves_no_container_process_or_descriptor(
    call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    fds_before = len(list(Path("/proc/self/fd").iterdir()))
    pool = WarmPool(size=2)
    results = [pool.invoke(call("hello", env={"N": str(n)})) for n in range(2)]
    clients = pool.worker_pids()
    assert all(r.failure is None for r in results)
    assert len(clients) == 2 and len(container_ids(ref)) == 2  # the CLI: no client sockets of ours

    pool.close()

    assert len(list(Path("/proc/self/fd").iterdir())) == fds_before
    assert containers_of(ref) == []
    assert all(wait_until(functools.partial(process_gone, pid)) for pid in clients)


def test_idle_containers_are_removed_after_the_idle_timeout(
    call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    with WarmPool(size=1, idle_timeout_s=0.3) as pool:
        assert pool.invoke(call("hello")).failure is None
        assert wait_until(lambda: containers_of(ref) == [])
        assert pool.worker_pids() == []


def test_the_docker_cli_gets_no_more_of_the_operators_environment_than_it_needs(
    pool: WarmPool, call: MakeInvocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFLOW_SECRET_API_TOKEN", "s3cr3t-operator-value")
    monkeypatch.setenv("DOCKER_CLI_HINTS", "false")

    result = pool.invoke(call("environment"))

    (client,) = pool.worker_pids()
    environ = Path(f"/proc/{client}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert {"PATH", "DOCKER_CLI_HINTS"} <= names
    assert all(name == "PATH" or name.startswith("DOCKER_") for name in names), names
    assert "s3cr3t-operator-value" not in outputs_of(result)["environ"]


def test_an_image_without_the_serve_loop_falls_back_to_one_container_per_call(
    call: MakeInvocation, containers_of: ContainersOf, ref: str
) -> None:
    with WarmPool(size=1, container_ready_timeout_s=1.0) as pool:
        started = time.monotonic()
        first = pool.invoke(call("echo", {"n": 1}, container_command=ONE_SHOT_IN_IMAGE))
        first_took = time.monotonic() - started
        second = pool.invoke(call("echo", {"n": 2}, container_command=ONE_SHOT_IN_IMAGE))
        assert containers_of(ref) == []

    assert [r.outputs for r in (first, second)] == [{"inputs": {"n": 1}}, {"inputs": {"n": 2}}]
    assert all(r.metrics.runtime is RuntimeKind.DOCKER and not r.metrics.warm for r in (first, second))
    assert first_took >= 1.0  # the one wait for a ready line that never came ...
    assert second.metrics.duration_s < 1.0  # ... is not paid again


def test_without_the_docker_cli_calls_still_run_one_container_each(
    pool: WarmPool, call: MakeInvocation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no docker CLI to be found

    results = [pool.invoke(call("environment")) for _ in range(2)]

    assert hostname(results[0]) != hostname(results[1])
    assert not any(r.metrics.warm for r in results)
    assert pool.worker_pids() == []


def test_a_restricted_workflow_with_the_pool_gets_warm_containers(
    test_image: str, docker_client: Any, containers_of: ContainersOf
) -> None:
    policy = ExecutionPolicy(security=SecurityMode.RESTRICTED, pool=True, backend=RuntimeKind.DOCKER)
    with PluginManager(Resolver([RUNTIME_PLUGINS], entry_points=False), policy=policy) as manager:
        executor = PluginExecutor(manager)
        first = executor.run("test/probe.environment", {})
        second = executor.run("test/probe.environment", {})
        assert first.call is not None and first.call.runtime.kind is RuntimeKind.DOCKER
        assert first.call.invocation.image == test_image
    assert first.failure is None and second.failure is None, (first.failure, second.failure)
    assert first.outputs is not None and second.outputs is not None
    container = first.outputs["env"]["HOSTNAME"]
    assert second.outputs["env"]["HOSTNAME"] == container
    assert first.metrics is not None and second.metrics is not None
    assert (first.metrics.warm, second.metrics.warm) == (False, True)
    assert first.outputs["uid"] == 65534
    assert docker_client.containers.list(all=True, filters={"id": container}) == []
