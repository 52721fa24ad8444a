"""Running one host process to completion under a deadline, with bounded output.

One thread does everything with a selector: it writes the request to stdin,
reads stdout and stderr as they arrive (so a plugin writing megabytes never
blocks on a full pipe), notices the exit through a pidfd, and enforces the
timeout, the cancel event and the output limits. Shared by the process
runtime and any runtime that wraps a host process (the bubblewrap sandbox).

Stopping follows :mod:`.deadline` (SIGTERM, a grace, SIGKILL), applied to
the process group and every known descendant (:class:`.proctree.ProcessTree`),
with stdin closed first. When the plugin exits by itself, whatever it left
behind in its group is SIGKILLed before it is reaped, so nothing outlives the
invocation; under a child subreaper, :mod:`.reaper` then deals with what left
the group (a double-forked daemon).
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from workflow_plugin_sdk.protocol import encode_message

from . import reaper
from .base import Invocation, LogCallback
from .deadline import KILL_GRACE_S, Deadline, DeadlineWatch
from .outcome import Termination
from .proctree import ProcessTree
from .streams import BoundedStdout, LogStream
from .supervised_result import ProcessOutcome, Reaped, SupervisedProcess

__all__ = [
    "EXIT_DRAIN_S",
    "call_terms",
    "run_supervised",
    "start_plugin_process",
    "supervise",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypedDict

    class _CallTerms(TypedDict):
        request: bytes
        timeout_s: float
        max_stdout_bytes: int
        max_stderr_bytes: int
        cancel: threading.Event | None


EXIT_DRAIN_S = 0.5
"""After the plugin exits, how long to wait for the end of its output before giving up."""

_EXIT_POLL_S = 0.01
_READ_CHUNK = 1 << 16
_WRITE_CHUNK = 1 << 16


def _open_pidfd(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None
    return fd


class _Supervision:
    """The state of one supervised process; :meth:`run` is the event loop.

    It is the :class:`.deadline.Stoppable` its :class:`.deadline.DeadlineWatch`
    stops: stdin closed, then the process tree signalled.
    """

    def __init__(
        self,
        process: SupervisedProcess,
        *,
        reap: Callable[[], Reaped],
        pidfd: int | None,
        request: bytes,
        deadline: Deadline,
        stdout: BoundedStdout,
        logs: LogStream,
        kill_grace_s: float,
        terminate_leader: bool,
    ) -> None:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self.process = process
        self.reap = reap
        self.tree = ProcessTree(process.pid)
        self.terminate_leader = terminate_leader
        self.stdout = stdout
        self.logs = logs
        self.watch = DeadlineWatch(self, deadline=deadline, kill_grace_s=kill_grace_s)
        self.exited = False
        self.answered_at: float | None = None
        self.drain_until: float | None = None
        self.pending = memoryview(request)
        self.selector = selectors.DefaultSelector()
        self.pidfd = pidfd
        for stream in (process.stdin, process.stdout, process.stderr):
            os.set_blocking(stream.fileno(), False)
        self.stdin_fd: int | None = process.stdin.fileno()
        self.readers = {process.stdout.fileno(): self._on_stdout, process.stderr.fileno(): self._on_stderr}
        for fd in self.readers:
            self.selector.register(fd, selectors.EVENT_READ)
        if self.pidfd is not None:
            self.selector.register(self.pidfd, selectors.EVENT_READ)
        if self.pending:
            self.selector.register(self.stdin_fd, selectors.EVENT_WRITE)
        else:
            self._close_stdin()

    def run(self) -> None:
        while True:
            now = time.monotonic()
            if self.exited:
                if not self.readers:
                    return
                if self.drain_until is None:
                    self.tree.signal_all(signal.SIGKILL)
                    self.drain_until = now + EXIT_DRAIN_S
                elif now >= self.drain_until:
                    return
            else:
                self.watch.check(now)
            for key, _ in self.selector.select(self._wait_s(time.monotonic())):
                self._dispatch(key.fd)
            if self.pidfd is None and not self.exited:
                self._poll_exit()

    def _wait_s(self, now: float) -> float:
        if self.exited:
            assert self.drain_until is not None
            waits = [self.drain_until - now]
        else:
            waits = [self.watch.wait_s(now)]
        if self.pidfd is None and not self.exited:
            waits.append(_EXIT_POLL_S)
        return max(0.0, min(waits))

    def _dispatch(self, fd: int) -> None:
        if fd == self.pidfd:
            self.exited = True
            self.selector.unregister(fd)
            self._close_stdin()
        elif fd == self.stdin_fd:
            self._on_stdin()
        elif fd in self.readers:  # not when an earlier event of the same batch closed it
            self.readers[fd](fd)

    def _poll_exit(self) -> None:
        found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if found is not None:
            self.exited = True
            self._close_stdin()

    def terminate(self) -> None:
        self._close_stdin()
        self.tree.terminate(leader=self.terminate_leader)

    def kill(self) -> None:
        self._close_stdin()
        self.tree.kill()

    def _on_stdin(self) -> None:
        assert self.stdin_fd is not None
        try:
            written = os.write(self.stdin_fd, self.pending[:_WRITE_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # BrokenPipeError and friends: the plugin stopped reading
            self._close_stdin()
            return
        self.pending = self.pending[written:]
        if not self.pending:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd is None:
            return
        if self.stdin_fd in self.selector.get_map():
            self.selector.unregister(self.stdin_fd)
        self.stdin_fd = None
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def _read(self, fd: int) -> bytes | None:
        try:
            data = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return None
        if not data:
            self.selector.unregister(fd)
            del self.readers[fd]
        return data

    def _on_stdout(self, fd: int) -> None:
        data = self._read(fd)
        if data:
            self.answered_at = time.monotonic()
        if data and not self.stdout.feed(data) and self.watch.termination is Termination.COMPLETED:
            self.watch.stop(Termination.STDOUT_TOO_LARGE, graceful=False)

    def _on_stderr(self, fd: int) -> None:
        data = self._read(fd)
        if data and not self.logs.feed(data) and self.watch.termination is Termination.COMPLETED:
            self.watch.stop(Termination.STDERR_TOO_LARGE, graceful=False)

    def finish(self) -> Reaped:
        """Kill what is left, reap the plugin and release every descriptor."""
        try:
            if not self.exited:
                self.tree.scan()
            self.tree.signal_all(signal.SIGKILL)
            return self.reap()
        finally:
            self._close_stdin()
            self.selector.close()
            if self.pidfd is not None:
                os.close(self.pidfd)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


def _abandon(process: SupervisedProcess, reap: Callable[[], Reaped]) -> None:
    """Kill and reap a process whose supervision could not even begin."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    reap()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _peak_rss_bytes(usage: resource.struct_rusage) -> int:
    maxrss = int(usage.ru_maxrss)
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def _reaper_of(process: subprocess.Popen[bytes]) -> Callable[[], Reaped]:
    """How a process of ours is reaped: ``wait4``, then :func:`.reaper.ended`."""

    def reap() -> Reaped:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        reaper.ended(process)
        return Reaped(
            status=status, cpu_time_s=usage.ru_utime + usage.ru_stime, peak_memory_bytes=_peak_rss_bytes(usage)
        )

    return reap


def start_plugin_process(
    argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], pass_fds: Collection[int] = ()
) -> subprocess.Popen[bytes]:
    """A plugin process with three unbuffered pipes, in its own session (so its whole group can be killed).

    It inherits no other descriptor than ``pass_fds`` (what a sandbox
    launcher hands ``bwrap``). Registered with :func:`.reaper.spawn`:
    whoever reaps it calls :func:`.reaper.ended` with it.
    """
    return reaper.spawn(
        lambda: subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
        )
    )


def run_supervised(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    request: bytes,
    timeout_s: float,
    max_stdout_bytes: int,
    max_stderr_bytes: int,
    cancel: threading.Event | None = None,
    on_log: LogCallback | None = None,
    kill_grace_s: float = KILL_GRACE_S,
    pass_fds: Collection[int] = (),
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    terminate_leader: bool = True,
) -> ProcessOutcome:
    """Start ``argv`` in its own session, feed it ``request``, and supervise it to the end.

    ``on_start`` is called with the process before anything is written to
    it, on the call's clock: a sandbox launcher limits and releases the
    sandbox there (:mod:`.sandbox.launch`), and the process is ready once it
    returns. Not ``terminate_leader``: a
    timeout's SIGTERM goes to the process's descendants only (the plugin
    in a sandbox, not bwrap). Raises ``OSError`` only when the process
    cannot be started at all (also from ``on_start``: the process is then
    killed and reaped).
    """
    started = time.monotonic()
    process = start_plugin_process(argv, cwd=cwd, env=env, pass_fds=pass_fds)
    try:
        if on_start is not None:
            on_start(process)
        pidfd = _open_pidfd(process.pid)
    except BaseException:
        _abandon(process, _reaper_of(process))
        raise
    return supervise(
        process,
        reap=_reaper_of(process),
        pidfd=pidfd,
        started=started,
        request=request,
        timeout_s=timeout_s,
        max_stdout_bytes=max_stdout_bytes,
        max_stderr_bytes=max_stderr_bytes,
        cancel=cancel,
        on_log=on_log,
        kill_grace_s=kill_grace_s,
        terminate_leader=terminate_leader,
    )


def supervise(
    process: SupervisedProcess,
    *,
    reap: Callable[[], Reaped],
    pidfd: int | None,
    started: float,
    request: bytes,
    timeout_s: float,
    max_stdout_bytes: int,
    max_stderr_bytes: int,
    cancel: threading.Event | None = None,
    on_log: LogCallback | None = None,
    kill_grace_s: float = KILL_GRACE_S,
    terminate_leader: bool = True,
) -> ProcessOutcome:
    """Supervise a started process to its end: :func:`run_supervised` after the start, for any process.

    A process that is not our child (a fork server's call, :mod:`.fork_server`)
    comes with a ``pidfd`` (its end seen through it; this takes it over and
    closes it) and a ``reap`` that asks its parent how it ended. The
    deadline runs from ``started``.
    """
    stdout = BoundedStdout(max_stdout_bytes)
    logs = LogStream(max_stderr_bytes, on_log)
    try:
        supervision = _Supervision(
            process,
            reap=reap,
            pidfd=pidfd,
            request=request,
            deadline=Deadline(at=started + timeout_s, cancel=cancel),
            stdout=stdout,
            logs=logs,
            kill_grace_s=kill_grace_s,
            terminate_leader=terminate_leader,
        )
    except BaseException:
        if pidfd is not None:
            os.close(pidfd)
        _abandon(process, reap)
        raise
    ready = time.monotonic()
    try:
        supervision.run()
    finally:
        over = time.monotonic()
        reaped = supervision.finish()
    if not logs.overflowed:
        logs.finish()
    status = reaped.status
    signaled = os.WIFSIGNALED(status)
    return ProcessOutcome(
        stdout=stdout.value(),
        termination=supervision.watch.termination,
        exit_code=None if signaled else os.WEXITSTATUS(status),
        signal=os.WTERMSIG(status) if signaled else None,
        ready_at=ready,
        answered_at=supervision.watch.action_ended_at(answered=supervision.answered_at, over=over),
        cpu_time_s=reaped.cpu_time_s,
        peak_memory_bytes=reaped.peak_memory_bytes,
        logs=logs.records,
        stderr_tail=logs.tail(),
    )


def call_terms(invocation: Invocation) -> _CallTerms:
    """What :func:`run_supervised` and :func:`supervise` take from a call: its request, deadline, output limits, cancel.

    Said once for every runtime that supervises a host process for a call
    (a process, a sandbox, a child of a fork server's template).
    """
    return {
        "request": encode_message(invocation.request),
        "timeout_s": invocation.timeout_s,
        "max_stdout_bytes": invocation.max_stdout_bytes,
        "max_stderr_bytes": invocation.max_stderr_bytes,
        "cancel": invocation.cancel,
    }
