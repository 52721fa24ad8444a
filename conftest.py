"""Shared by every test tree: the ``docker``, ``sandbox`` and ``dask`` markers' gatekeeping, services plugins try
to reach, and a Dask cluster of separate processes.

Outside CI a test needing Docker, bubblewrap or Dask is skipped with the reason;
with ``CI`` set the same test fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]  # the SDK tests run its pytest plugin in a scratch pytest

# Per-example deadlines measure the machine, not the code: CI machines are shared and 2-core.
settings.register_profile("workflow-plugins", deadline=None)
settings.load_profile("workflow-plugins")


@functools.cache
def docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when a daemon answers."""
    if shutil.which("docker") is None:
        return "the docker client is not installed (CI installs it: see .ci/setup-isolation.sh)"
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False)
    if done.returncode != 0:
        return "no Docker daemon answers (start it: see docs/docker.md)"
    return None


@functools.cache
def sandbox_problem() -> str | None:
    """Why bubblewrap cannot be used here, or None when it can start a sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    done = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--", "/bin/true"], capture_output=True, check=False
    )
    if done.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return None


@functools.cache
def dask_problem() -> str | None:
    """Why the Dask executor cannot be tested here, or None when ``distributed`` imports."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return "Dask's distributed is not installed (pip install 'workflow-plugin-runtime[dask]')"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, problem in (("docker", docker_problem), ("sandbox", sandbox_problem), ("dask", dask_problem)):
        if item.get_closest_marker(marker) is None:
            continue
        reason = problem()
        if reason is None:
            continue
        if os.environ.get("CI"):
            pytest.fail(f"CI requires {marker} tests to run, but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def env_not_activated() -> dict[str, str]:
    """This process's environment as a shell where the test's virtualenv is not activated (as after the Quickstart).

    nox puts the session's ``bin`` first on PATH, so a bare ``python`` or
    ``workflow`` there finds everything installed; a reader who followed the
    README has no such luck. A command printed or documented for that reader
    must work under this environment.
    """
    here = Path(sys.executable).parent.resolve()
    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry and Path(entry).resolve() != here]
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(path)
    return env


def pid_is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def pid_gone_within(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_is_alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def alive() -> Callable[[int], bool]:
    """``alive(pid)``: whether a process still runs (zombies count as gone)."""
    return pid_is_alive


@pytest.fixture
def gone_within() -> Callable[[int, float], bool]:
    """``gone_within(pid, seconds)``: wait up to ``seconds`` for a process to end."""
    return pid_gone_within


@pytest.fixture
def image_tags() -> Iterator[Callable[[str], str]]:
    """Unique tags for the images a test builds; every one is removed afterwards."""
    made: list[str] = []

    def make(name: str) -> str:
        tag = f"workflow-plugins-test/{name}:{uuid.uuid4().hex[:12]}"
        made.append(tag)
        return tag

    yield make
    if made:
        subprocess.run(["docker", "image", "rm", "--force", *made], capture_output=True, check=False)


@pytest.fixture
def run_in_container() -> Callable[..., Any]:
    """``run_in_container(image, action, inputs)``: one call as restricted workflows make it (DockerRuntime)."""

    def run(image: str, action: str, inputs: dict[str, Any], *, timeout_s: float = 60) -> Any:
        from workflow_plugin_runtime.runtimes import DockerRuntime, Invocation, RuntimeKind
        from workflow_plugin_sdk.protocol import make_request

        runtime = DockerRuntime()
        try:
            invocation = Invocation(
                kind=RuntimeKind.DOCKER,
                plugin_ref="tests/built",
                request=make_request(action, inputs),
                image=image,
                timeout_s=timeout_s,
            )
            return runtime.invoke(invocation)
        finally:
            runtime.close()

    return run


_DAEMON_PROBE_ANSWERS = {
    "/_ping": (b"text/plain", b"OK"),
    "/version": (b"application/json", b'{"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "20.10.0"}'),
}


@contextlib.contextmanager
def _hung_docker_daemon(*, answers_probe: bool) -> Iterator[str]:
    """A Unix socket that accepts every connection and answers nothing (or only the ping and version probes)."""
    path = Path(tempfile.gettempdir()) / f"workflow-plugins-silent-{uuid.uuid4().hex[:12]}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    held: list[socket.socket] = []

    def answer_probes(connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection.makefile("rb") as requests:
            while request_line := requests.readline():
                while requests.readline() not in (b"\r\n", b""):  # the headers; the probes have no body
                    pass
                target = request_line.split(b" ")[1].decode()
                found = next((body for suffix, body in _DAEMON_PROBE_ANSWERS.items() if target.endswith(suffix)), None)
                if found is None:
                    return  # hang: hold the connection, never answer
                content_type, body = found
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: " + content_type
                    + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )  # fmt: skip

    def accept() -> None:
        while True:
            try:
                connection = server.accept()[0]
            except OSError:  # shut down: the test is over
                return
            held.append(connection)
            if answers_probe:
                threading.Thread(target=answer_probes, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, name="silent-docker-daemon", daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Listener:
    """A TCP service on the host's 127.0.0.1 that greets each connection with ``greeting``."""

    port: int
    greeting: str


@dataclass(frozen=True)
class AbstractListener:
    """A Unix socket in the host's abstract namespace, ``address`` spelt ``@name``, greeting each connection."""

    address: str
    greeting: str


@contextlib.contextmanager
def _greeting_each_connection(server: socket.socket, greeting: str) -> Iterator[None]:
    """Serve ``greeting`` to every connection to ``server`` (listening) from a thread; close it when the block ends."""

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.sendall(greeting.encode())

    thread = threading.Thread(target=serve, name="host-listener", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def host_listener() -> Iterator[Listener]:
    server = socket.create_server(("127.0.0.1", 0))
    greeting = f"hello-from-the-host-{uuid.uuid4().hex[:8]}"
    with _greeting_each_connection(server, greeting):
        yield Listener(server.getsockname()[1], greeting)


@pytest.fixture
def abstract_listener() -> Iterator[AbstractListener]:
    name = f"workflow-sandbox-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(f"\0{name}")
    server.listen()
    greeting = f"hello-from-the-host-{uuid.uuid4().hex[:8]}"
    with _greeting_each_connection(server, greeting):
        yield AbstractListener(f"@{name}", greeting)


@pytest.fixture
def silent_docker_daemon() -> Iterator[str]:
    """``DOCKER_HOST`` of a Unix socket that accepts every connection and never answers: a hung daemon."""
    with _hung_docker_daemon(answers_probe=False) as address:
        yield address


@pytest.fixture
def hanging_docker_daemon() -> Iterator[str]:
    """``DOCKER_HOST`` of a daemon that answers its ping and version, then hangs on every call a task makes."""
    with _hung_docker_daemon(answers_probe=True) as address:
        yield address


# --- Dask: a scheduler and workers as separate processes on 127.0.0.1 (the Dask executor's tests, runtime and CLI) ---


@dataclass(frozen=True)
class DaskProcesses:
    """A running scheduler and its workers; ``logs`` are every process's captured output files."""

    address: str
    logs: tuple[Path, ...]

    def log_text(self) -> str:
        return "".join(path.read_text(encoding="utf-8", errors="replace") for path in self.logs)


def _dask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dask", *args]


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], *, seconds: float = 60) -> None:
    """Until the scheduler wrote its file (it writes it once it listens), or fail when it ended first."""
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.stat().st_size > 0):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the Dask scheduler did not start (exit {process.poll()})")
        time.sleep(0.02)


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[Callable[..., DaskProcesses]]:
    """``dask_processes(workers={name: folder}, resources={name: "sandbox=1"})``: a scheduler and workers.

    Each worker (``dask worker``, with its nanny) runs in its folder (its
    project), with the resources given for its name. Every process listens
    on 127.0.0.1 only, in a session of its own, its output in a file under
    the test's folder; the fixture waits until every worker has joined.
    """
    started: list[subprocess.Popen[bytes]] = []
    opened: list[Any] = []
    folders: list[Path] = []

    def start(*, workers: dict[str, Path], resources: dict[str, str] | None = None) -> DaskProcesses:
        from distributed import Client

        folder = tmp_path / f"dask-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        folders.append(folder)
        environment = {**os.environ, "WORKFLOW_STATE_DIR": str(folder / "state")}
        environment.pop("WORKFLOW_PLUGINS_PATH", None)
        scheduler_file = folder / "scheduler.json"
        logs = []

        def launch(name: str, command: list[str], cwd: Path) -> subprocess.Popen[bytes]:
            log = folder / f"{name}.log"
            logs.append(log)
            output = log.open("wb")
            opened.append(output)
            process = subprocess.Popen(
                command, cwd=cwd, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
            started.append(process)
            return process

        scheduler = launch(
            "scheduler",
            _dask_command(
                "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(scheduler_file),
            ),
            folder,
        )  # fmt: skip
        _wait_for_file(scheduler_file, scheduler)
        for name, cwd in workers.items():
            command = _dask_command(
                "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--no-dashboard",
                "--nthreads", "2", "--name", name,
            )  # fmt: skip
            if name in (resources or {}):
                command += ["--resources", (resources or {})[name]]
            launch(f"worker-{name}", command, cwd)
        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(len(workers), timeout=120)
            address = client.scheduler.address
        return DaskProcesses(address=address, logs=tuple(logs))

    yield start
    from distributed import Client

    from workflow_plugin_runtime.runtimes.leftovers import clean_dead_runs

    for folder in folders:  # a clean stop first: each worker leaves its contained run, whose scratch folder goes
        with Client(scheduler_file=str(folder / "scheduler.json"), timeout=30) as client:
            client.shutdown()
    for process in reversed(started):  # workers first, then the scheduler: each with its session (nanny, plugins)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
    for output in opened:
        output.close()
    for folder in folders:  # what a killed worker left (its scratch folder), as `workflow clean` there would
        clean_dead_runs(folder / "state")
