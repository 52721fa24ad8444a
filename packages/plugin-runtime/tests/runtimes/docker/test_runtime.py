"""DockerRuntime with a real engine and a real image: isolation, limits, cleanup."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, MiB, Mount, PluginRuntime, ResourceLimits, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime
from workflow_plugin_sdk.protocol import LogRecord

MakeInvocation = Callable[..., Invocation]
ContainersOf = Callable[[str], list[Any]]

SECRET = "s3cr3t-value-that-must-not-leak"
RAW_IN_IMAGE = ("python3", "-E", "-s", "/raw/raw.py")
FAST_GRACE_S = 0.3


@pytest.fixture(scope="module")
def runtime() -> Iterator[DockerRuntime]:
    docker_runtime = DockerRuntime(kill_grace_s=FAST_GRACE_S)
    try:
        yield docker_runtime
    finally:
        docker_runtime.close()


@pytest.fixture
def in_image(probe: MakeInvocation, test_image: str) -> MakeInvocation:
    """An invocation of the probe plugin as its image runs it (the image's CMD)."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return probe(action, inputs, kind=RuntimeKind.DOCKER, image=test_image, argv=(), **fields)

    return make


@pytest.fixture
def host_server() -> Iterator[int]:
    """A TCP server on the host's 127.0.0.1 that greets whoever connects."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"hello from the host")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_a_missing_daemon_is_runtime_unavailable_with_a_fix(
    probe: MakeInvocation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    runtime = DockerRuntime()

    result = runtime.invoke(probe("hello", kind=RuntimeKind.DOCKER, image="workflow-plugins-test/anything:1"))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert "start the Docker daemon" in result.failure.message
    assert "no-docker.sock" in result.failure.message
    assert result.metrics.runtime is RuntimeKind.DOCKER


def test_a_process_invocation_is_refused_even_with_an_image(
    probe: MakeInvocation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The kind decides, not the image: a trusted process call is never turned into a container call."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")  # refused before any daemon is asked
    runtime = DockerRuntime()
    try:
        with pytest.raises(ValueError, match="a process invocation cannot run on a docker runtime"):
            runtime.invoke(probe("hello", image="workflow-plugins-test/anything:1"))
        with pytest.raises(ValueError, match="a process invocation cannot run on a docker runtime"):
            runtime.create_serving_container(probe("hello", image="workflow-plugins-test/anything:1"))
    finally:
        runtime.close()


@pytest.mark.docker
def test_docker_runtime_implements_the_protocol(runtime: DockerRuntime) -> None:
    assert isinstance(runtime, PluginRuntime)
    assert runtime.kind is RuntimeKind.DOCKER


@pytest.mark.docker
def test_a_missing_image_says_how_to_build_it(
    runtime: DockerRuntime, probe: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = probe("hello", kind=RuntimeKind.DOCKER, image="workflow-plugins-test/never-built:0.0.0")

    result = runtime.invoke(invocation)

    assert result.failure is not None
    assert result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert f"workflow plugin build {invocation.plugin_dir}" in result.failure.message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_success_with_logs_streamed_in_order(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = in_image("logs")
    seen: list[LogRecord] = []

    result = runtime.invoke(invocation, on_log=seen.append)

    assert result.failure is None, result.failure
    assert result.outputs == {}
    assert [(r["message"], r["structured"]) for r in seen] == [("one", True), ("two", False), ("three", True)]
    assert result.metrics.runtime is RuntimeKind.DOCKER and result.metrics.exit_code == 0
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_an_exception_in_the_caller_still_removes_the_container(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = in_image("sleep", {"seconds": 60})

    def on_log(record: LogRecord) -> None:
        raise RuntimeError("the caller broke")

    with pytest.raises(RuntimeError, match="the caller broke"):
        runtime.invoke(in_image("logs", plugin_ref=invocation.plugin_ref), on_log=on_log)

    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_plugin_reported_error_is_an_action_failure(runtime: DockerRuntime, in_image: MakeInvocation) -> None:
    result = runtime.invoke(in_image("fail", {"message": "busy, try later"}))

    assert result.failure is not None and result.failure.kind is FailureKind.ACTION
    assert result.failure.message == "busy, try later" and result.failure.retryable


@pytest.mark.docker
@pytest.mark.parametrize(
    ("action", "inputs", "kind", "expected"),
    [
        ("exit", {"code": 3}, FailureKind.CRASHED, "exited with code 3"),
        ("garbage", {}, FailureKind.PROTOCOL, "not valid JSON"),
        ("empty", {}, FailureKind.PROTOCOL, "without writing a response"),
    ],
)
def test_broken_plugins_fail_with_their_kind(
    runtime: DockerRuntime,
    in_image: MakeInvocation,
    containers_of: ContainersOf,
    action: str,
    inputs: dict[str, Any],
    kind: FailureKind,
    expected: str,
) -> None:
    invocation = in_image(action, inputs, container_command=RAW_IN_IMAGE)

    result = runtime.invoke(invocation)

    assert result.failure is not None and result.failure.kind is kind
    assert expected in result.failure.message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_stdout_over_the_limit_is_a_protocol_failure(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = in_image(
        "flood-stdout", {"bytes": 8 * MiB}, container_command=RAW_IN_IMAGE, max_stdout_bytes=MiB, timeout_s=20
    )

    result = runtime.invoke(invocation)

    assert result.failure is not None and result.failure.kind is FailureKind.PROTOCOL
    assert "more than 1 MiB on stdout" in result.failure.message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_timeout_kills_and_removes_the_container(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = in_image("sleep", {"seconds": 60}, timeout_s=1.5)
    started = time.monotonic()

    result = runtime.invoke(invocation)

    assert result.failure is not None and result.failure.kind is FailureKind.TIMEOUT
    assert "its container was killed" in result.failure.message
    assert time.monotonic() - started < 10
    # Made and started before the deadline's clock ran out; the action ran to it; the kill and removal came after.
    timings = result.metrics.timings
    assert timings.startup_s > 0 and timings.teardown_s > 0, timings
    assert timings.startup_s + timings.action_s >= 1.5, timings
    assert timings.startup_s + timings.action_s + timings.teardown_s == pytest.approx(result.metrics.duration_s)
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_cancel_kills_and_removes_the_container(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    cancel = threading.Event()
    invocation = in_image("sleep", {"seconds": 60}, cancel=cancel)
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    try:
        result = runtime.invoke(invocation)
    finally:
        timer.cancel()

    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_environment_user_and_workdir(
    runtime: DockerRuntime, in_image: MakeInvocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFLOW_TEST_OPERATOR_SENTINEL", "operator-only")
    invocation = in_image("environment", {"token": SECRET}, secret_inputs=["token"], env={"LOG_LEVEL": "debug"})

    result = runtime.invoke(invocation)

    assert result.outputs is not None, result.failure
    assert result.outputs["uid"] == 65534 and result.outputs["gid"] == 65534
    assert result.outputs["cwd"] == "/plugin"
    env = result.outputs["env"]
    assert env["LOG_LEVEL"] == "debug"
    assert "WORKFLOW_TEST_OPERATOR_SENTINEL" not in env
    assert SECRET not in result.outputs["environ"] and SECRET not in result.outputs["cmdline"]


@pytest.mark.docker
def test_no_network_unless_granted(runtime: DockerRuntime, in_image: MakeInvocation, host_server: int) -> None:
    denied = runtime.invoke(in_image("network", {"port": host_server}))
    granted = runtime.invoke(in_image("network", {"port": host_server}, network=True))

    assert denied.outputs is not None, denied.failure
    assert denied.outputs["interfaces"] == ["lo"]
    assert denied.outputs["reply"].startswith("error:")
    assert granted.outputs is not None, granted.failure
    assert granted.outputs["reply"] == "hello from the host"


@pytest.mark.docker
def test_filesystem_is_read_only_except_tmp_and_read_write_mounts(
    runtime: DockerRuntime, in_image: MakeInvocation, tmp_path: Path
) -> None:
    read_only, read_write = tmp_path / "ro", tmp_path / "rw"
    for folder in (read_only, read_write):
        folder.mkdir()
        folder.chmod(0o777)
    mounts = (Mount(read_only, "/data"), Mount(read_write, "/out", read_only=False))
    targets = ["/", "/plugin", "/tmp", "/data", "/out"]

    result = runtime.invoke(in_image("filesystem", {"targets": targets}, mounts=mounts))

    assert result.outputs is not None, result.failure
    assert result.outputs["/"] == "error: Read-only file system"
    assert result.outputs["/plugin"] == "error: Read-only file system"
    assert result.outputs["/tmp"] == "ok"
    assert result.outputs["/data"] == "error: Read-only file system"
    assert result.outputs["/out"] == "ok"
    assert (read_write / "probe.txt").read_text() == "written"
    assert not (read_only / "probe.txt").exists()


@pytest.mark.docker
def test_memory_limit_kills_with_an_out_of_memory_message(
    runtime: DockerRuntime, in_image: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = in_image("allocate", {"mib": 256}, limits=ResourceLimits(memory_bytes=64 * MiB))

    result = runtime.invoke(invocation)

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED
    assert "ran out of memory" in result.failure.message
    assert "64 MiB" in result.failure.message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_within_the_memory_limit_allocation_succeeds(runtime: DockerRuntime, in_image: MakeInvocation) -> None:
    result = runtime.invoke(in_image("allocate", {"mib": 32}, limits=ResourceLimits(memory_bytes=128 * MiB)))

    assert result.outputs == {"allocated_mib": 32}, result.failure
