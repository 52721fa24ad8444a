"""One warm worker: a long-lived plugin speaking the serve loop over three pipes.

The worker process is the plugin itself (trusted mode), bubblewrap around
the plugin (restricted mode on the sandbox: :mod:`.sandbox.worker`), or the
``docker`` CLI attached to the plugin's container (restricted mode on
Docker: ``docker start --attach --interactive``), whose pipes then carry
the container's stdin, stdout and stderr. Everything after the start (the
ready line, request and response lines, logs, deadlines, cancel, exit
through a pidfd) is the same code for all; only :class:`Spawn` differs.

A call that must end its worker stops it with the sequence of
:mod:`.deadline` (terminate, grace, kill), as a one-shot call stops its
process or container, but blocking: the call is over, nothing is left to
read, and the pool (not the worker) has chosen whether the stop is graceful.
Killing a container worker kills the CLI *and* removes the container: a
killed ``docker`` client leaves its container running.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from workflow_plugin_sdk.protocol import SERVE_ENV_VAR, ProtocolError, decode_ready, encode_message

from ..errors import PermissionDeniedError, RuntimeUnavailableError
from . import reaper
from .answer_wait import AnswerWait
from .base import Invocation, RuntimeKind
from .deadline import KILL_GRACE_S, Deadline, Stoppable, StopSequence
from .docker.runtime import DockerRuntime
from .outcome import Termination
from .process import process_environment
from .proctree import ProcessTree
from .run_state import make_scratch_dir, remove_scratch_dir, scratch_parent
from .streams import LogStream
from .supervise import start_plugin_process

__all__ = [
    "Spawn",
    "WarmWorker",
    "WorkerGone",
    "container_spawn",
    "docker_cli_environment",
    "process_spawn",
]

_READ_CHUNK = 1 << 16
_STILL_RUNNING = os.WEXITED | os.WNOHANG | os.WNOWAIT
_CLI_EXIT_S = 2.0
"""How long a container worker's ``docker`` CLI may take to end after its container was killed."""
_WHAT = {RuntimeKind.DOCKER: "its warm container", RuntimeKind.SANDBOX: "its warm sandbox"}


class WorkerGone(Exception):
    """The worker could not be started, or (``started``) it started but did not speak the serve loop."""

    def __init__(self, reason: str, *, started: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.started = started


def _nothing() -> None:
    """No clean-up needed."""


def _never() -> bool:
    return False


def _unknown() -> int | None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spawn:
    """How to start one worker process and what to undo once it is killed.

    For a container worker the engine knows more than the ``docker`` CLI
    that stands for it: ``oom_killed`` asks whether the container hit its
    memory limit, ``exit_code`` how it ended (asked before ``cleanup``
    removes it), and ``signal`` delivers a stop signal to the container
    itself, as a one-shot call's stop does. A sandbox worker's process is
    bubblewrap, which inherits ``pass_fds`` and waits until ``on_start``
    has limited it (raising ``OSError`` when it cannot); its cgroups say
    which limit it hit (``oom_killed``, ``pids_exhausted``), and a graceful
    stop spares bwrap itself (not ``terminate_leader``), whose death would
    kill the plugin at once, without its grace.
    """

    runtime: RuntimeKind
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path | None = None
    pass_fds: tuple[int, ...] = ()
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None
    terminate_leader: bool = True
    cleanup: Callable[[], None] = _nothing
    oom_killed: Callable[[], bool] = _never
    pids_exhausted: Callable[[], bool] = _never
    exit_code: Callable[[], int | None] = _unknown
    signal: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class _EngineStop:
    """A container worker, stopped through the engine as a one-shot container is (a :class:`.deadline.Stoppable`)."""

    signal: Callable[[str], None]

    def terminate(self) -> None:
        self.signal("SIGTERM")

    def kill(self) -> None:
        self.signal("SIGKILL")


@dataclass(frozen=True, slots=True)
class _SparingLeader:
    """A worker whose SIGTERM goes to its leader's descendants only (a :class:`.deadline.Stoppable`): bwrap's plugin."""

    tree: ProcessTree

    def terminate(self) -> None:
        self.tree.terminate(leader=False)

    def kill(self) -> None:
        self.tree.kill()


def process_spawn(invocation: Invocation, *, serve: bool = True) -> Spawn:
    """The plugin itself, with a scratch ``HOME`` of its own (removed with the worker).

    ``serve=False`` (and the same for the other spawns): started one-shot,
    for a caller that drives its pipes itself (the conformance kit's probes).
    """
    scratch = Path(make_scratch_dir(prefix="workflow-worker-", parent=scratch_parent()))
    return Spawn(
        runtime=RuntimeKind.PROCESS,
        argv=invocation.argv,
        env=process_environment({**invocation.env, **({SERVE_ENV_VAR: "1"} if serve else {})}, scratch=scratch),
        cwd=invocation.plugin_dir,
        cleanup=partial(remove_scratch_dir, scratch),
    )


def docker_cli_environment() -> dict[str, str]:
    """What the ``docker`` CLI needs to reach the daemon, and nothing else of the operator's environment."""
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update((name, value) for name, value in os.environ.items() if name.startswith("DOCKER_"))
    return env


def container_spawn(invocation: Invocation, docker: DockerRuntime, *, serve: bool = True) -> Spawn:
    """A serving container, created with the one-shot lockdown, started by the CLI attached to our pipes."""
    cli = shutil.which("docker")
    if cli is None:
        raise WorkerGone("the docker CLI is not on PATH (it comes with the docker.io package)")
    try:
        container_id = docker.create_serving_container(invocation, serve=serve)
    except (RuntimeUnavailableError, PermissionDeniedError) as exc:
        # The cold call that replaces it makes the same checks, and fails with the same kind and message.
        raise WorkerGone(str(exc)) from exc
    return Spawn(
        runtime=RuntimeKind.DOCKER,
        argv=(cli, "start", "--attach", "--interactive", container_id),
        env=docker_cli_environment(),
        cleanup=partial(docker.remove_container, container_id),
        oom_killed=partial(docker.oom_killed, container_id),
        exit_code=partial(docker.exit_code, container_id),
        signal=partial(docker.signal_container, container_id),
    )


class WarmWorker:
    """One long-lived worker process in its own session, driven over its pipes and a pidfd.

    ``ready_at`` is when its ready line was read, on the monotonic clock:
    the end of the start-up its first call records. ``answer_wait`` decides
    whether a call looks for the answer before it sleeps (:mod:`.answer_wait`).
    """

    def __init__(self, spawn: Spawn, *, ready_timeout_s: float) -> None:
        self.runtime = spawn.runtime
        self._spawn = spawn
        try:
            self.process = start_plugin_process(spawn.argv, cwd=spawn.cwd, env=spawn.env, pass_fds=spawn.pass_fds)
        except OSError as exc:
            spawn.cleanup()
            raise WorkerGone(str(exc)) from exc
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.tree = ProcessTree(self.process.pid)
        self.stdin_fd = self.process.stdin.fileno()
        self.stdout_fd = self.process.stdout.fileno()
        self.stderr_fd = self.process.stderr.fileno()
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd):
            os.set_blocking(fd, False)
        self.pidfd = os.pidfd_open(self.process.pid)
        # epoll itself, not a selectors wrapper: it is waited on every call, and the wrapper's keys cost.
        self._poller = select.epoll()
        for fd in (self.stdout_fd, self.stderr_fd, self.pidfd):
            self._poller.register(fd, select.EPOLLIN)
        self.calls = 0
        self.idle_since = time.monotonic()
        self.alive = True
        self._buffer = bytearray()
        self.answer_wait = AnswerWait(looks=spawn.runtime is not RuntimeKind.DOCKER)
        try:
            if spawn.on_start is not None:
                spawn.on_start(self.process)
            self._await_ready(ready_timeout_s)
            self.ready_at = time.monotonic()
        except BaseException as exc:  # nothing of a worker that did not start may stay: processes, cgroups, fds
            self.kill()
            if isinstance(exc, OSError):
                raise WorkerGone(f"it could not be started ({exc})") from exc
            raise

    @property
    def what(self) -> str:
        """What a timeout or cancel kills, for messages."""
        return _WHAT.get(self.runtime, "its warm worker")

    def _await_ready(self, timeout_s: float) -> None:
        line = self._read_line(Deadline(at=time.monotonic() + timeout_s), LogStream(1 << 20))
        if line is None:
            if not self.alive:
                raise WorkerGone("it exited without writing a ready line on stdout", started=True)
            raise WorkerGone(f"it wrote no ready line on stdout within {timeout_s:g} s", started=True)
        try:
            decode_ready(line)
        except ProtocolError as exc:
            raise WorkerGone(f"its first line on stdout was not a ready line ({exc})", started=True) from exc

    def _read_line(self, deadline: Deadline, logs: LogStream, *, look_until: float = 0.0) -> bytes | None:
        """The next stdout line; None when the worker exits or the deadline is reached (cancel included).

        Until ``look_until`` it looks without sleeping (:mod:`.answer_wait`), then it sleeps in the wait.
        """
        buffer = self._buffer
        while (end := buffer.find(b"\n")) < 0:
            now = time.monotonic()
            if deadline.reached(now) is not None:
                return None
            events = self._poller.poll(0.0 if now < look_until else deadline.wait_s(now))
            if not events and now < look_until:
                os.sched_yield()  # looking: let anything else that could run here run first
            for fd, _ in events:  # every ready pipe, in one wait (level-triggered)
                if fd == self.pidfd:
                    self._drain(self.stdout_fd, buffer.extend)
                    self._drain(self.stderr_fd, logs.feed)
                    self.alive = False
                    return None
                if self._drain(fd, buffer.extend if fd == self.stdout_fd else logs.feed):
                    # A pipe the worker closed is ready at every wait: watched on, it would spin to the deadline.
                    self._poller.unregister(fd)
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        return line

    @staticmethod
    def _drain(fd: int, sink: object) -> bool:
        """Read what is in the pipe; a short read means it is empty (no EAGAIN round trip). True at its end."""
        while True:
            try:
                data = os.read(fd, _READ_CHUNK)
            except OSError:  # BlockingIOError included: nothing (more) to read
                return False
            if data:
                sink(data)  # type: ignore[operator]  # bytearray.extend or LogStream.feed
            if len(data) < _READ_CHUNK:
                return not data

    def _send(self, data: bytes, deadline: float) -> bool:
        try:
            if os.write(self.stdin_fd, data) == len(data):  # a request line fits the pipe: one write, as a rule
                return True
        except BlockingIOError:
            pass
        except OSError:
            return False
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.stdin_fd, view) :]
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                select.select([], [self.stdin_fd], [], 0.01)
            except OSError:
                return False
        return True

    def call(self, invocation: Invocation, logs: LogStream) -> tuple[bytes, Termination]:
        """Send one request line (its id is the worker's call count) and wait for the response line."""
        start = time.monotonic()
        deadline = Deadline(at=start + invocation.timeout_s, cancel=invocation.cancel)
        self.calls += 1
        request = {**invocation.request, "id": self.calls}
        line: bytes | None = None
        waited = True
        if self._send(encode_message(request), deadline.at):  # type: ignore[arg-type]  # a Request with its id
            waited = b"\n" not in self._buffer
            look_until = self.answer_wait.begin(start)  # outside the try: an end() never pops a begin() not made
            try:
                line = self._read_line(deadline, logs, look_until=look_until)
            finally:
                self.answer_wait.end(None if line is None else time.monotonic() - start)
        if line is None or not waited:
            self._drain(self.stderr_fd, logs.feed)
        if line is not None:
            # A process worker's logs, written before its response, were in the pipe when the wait
            # that found the response returned, and so read by it (epoll says every ready pipe). A
            # container's come through the engine, which relays stdout and stderr separately: a
            # line written just before the response may arrive after it, and is then read with
            # the next call (docs/runtimes.md, "Warm workers").
            return line, Termination.COMPLETED
        if invocation.cancel is not None and invocation.cancel.is_set():
            return b"", Termination.CANCELLED
        if not self.alive or self.process.poll() is not None:
            return bytes(self._buffer), Termination.COMPLETED
        return b"", Termination.TIMED_OUT

    def exit_status(self) -> tuple[int | None, int | None]:
        """(exit code, signal) once the worker ended; a container's as the engine says, else the CLI's.

        Asked after every call: a live worker is told by one ``waitid`` on its pidfd (leaving it unreaped),
        not ``Popen.poll``'s lock and ``waitpid``.
        """
        if self.alive and self.process.returncode is None:
            try:
                if os.waitid(os.P_PIDFD, self.pidfd, _STILL_RUNNING) is None:
                    return None, None
            except OSError:  # reaped already, or a kernel without waitid on a pidfd (before 5.4): ``poll`` says
                pass
        code = self.process.poll()
        if code is None:
            return None, None
        engine_code = self._spawn.exit_code()
        if engine_code is not None:
            return engine_code, None
        return (None, -code) if code < 0 else (code, None)

    def oom_killed(self) -> bool:
        return self._spawn.oom_killed()

    def pids_exhausted(self) -> bool:
        return self._spawn.pids_exhausted()

    def stop(self, *, graceful: bool, grace_s: float = KILL_GRACE_S) -> None:
        """End the worker as a one-shot call ends its process, so both record the same ending.

        Graceful (a timeout, a cancel): terminate the worker, up to
        ``grace_s`` to exit, then kill; otherwise kill at once
        (:class:`.deadline.StopSequence`). A process worker is its process
        tree (a sandbox's: its SIGTERM spares bwrap, as a one-shot
        sandbox's does); a container is signalled through the engine, and
        its ``docker`` CLI, which ends with it, is given :data:`_CLI_EXIT_S` to.
        Whatever is left of the tree is then SIGKILLed and the worker
        reaped, so :meth:`exit_status` says how it ended; descriptors stay
        open until :meth:`kill`.
        """
        self.alive = False
        self.tree.scan()
        if self.process.poll() is None:
            deliver = self._spawn.signal
            target: Stoppable
            if deliver is not None:
                target = _EngineStop(deliver)
            elif self._spawn.terminate_leader:
                target = self.tree
            else:
                target = _SparingLeader(self.tree)
            sequence = StopSequence(target, kill_grace_s=grace_s)
            sequence.begin(graceful=graceful)
            sequence.wait_for_end(self._ends_within, after_kill_s=0.0 if deliver is None else _CLI_EXIT_S)
        self.tree.signal_all(signal.SIGKILL)
        self.process.wait()

    def _ends_within(self, timeout_s: float) -> bool:
        return bool(select.select([self.pidfd], [], [], timeout_s)[0])

    def kill(self) -> None:
        """Stop the worker and everything it started (its container or sandbox too); release every descriptor.

        Nobody records this ending (an idle, recycled or stopped worker), so
        a container's CLI is simply killed and ``cleanup`` removes the
        container, without waiting for the engine; a sandbox's ``cleanup``
        kills what is left of it and removes its cgroups.

        Under a child subreaper, what the worker left outside its group (a
        double-forked daemon) is killed here too (:mod:`.runtimes.reaper`).
        """
        self.alive = False
        reaper.kill_and_reap(self.process, self.tree)
        self._poller.close()
        reaper.close_process_files(self.process, pidfd=self.pidfd)
        self._spawn.cleanup()
