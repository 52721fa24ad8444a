"""One fork server's template, and the calls forked from it, as the runtime holds them.

The template is started as a warm worker is (a :class:`~.warm_worker.Spawn`:
the plugin itself, or bubblewrap around it) but with
``WORKFLOW_PLUGIN_SERVE=fork`` and a Unix ``SOCK_SEQPACKET`` socket as its
stdin: the control channel the SDK's template loop speaks
(``workflow_plugin_sdk._fork_server``). What the template itself writes
(the plugin's output at import) goes to an anonymous file, read only to
say why a template did not start.

For each call :meth:`Template.fork` makes the call's three pipes and a
memfd with its environment, sends the template only their descriptors
and a reply socket, and gets back a pidfd of the child. The child's pid
is read from that pidfd as this process sees it (a sandbox's child has
another pid inside its PID namespace), so its process group can be
signalled. :meth:`ForkedCall.reap` reads the template's report of how the
child ended; a template gone without one is recorded as lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from workflow_plugin_sdk.protocol import (
    FORK_CALL_MESSAGE,
    FORK_EXITED_PREFIX,
    FORK_FAILED_PREFIX,
    FORK_FORKED_PREFIX,
    FORK_MAX_MESSAGE_BYTES,
    FORK_READY_MESSAGE,
)

from . import reaper
from .supervised_result import Reaped
from .warm_worker import Spawn

__all__ = ["TEMPLATE_EXIT_S", "ForkedCall", "Template", "TemplateFailed"]

TEMPLATE_EXIT_S = 2.0
"""How long a template may take to kill its children and exit once its control channel closes."""

_REPORT_WAIT_S = 5.0
"""How long to wait for the template's report of a child that has ended (it reaps at once)."""
_LOG_TAIL_BYTES = 2000
_KILLED = signal.SIGKILL.value  # a wait status: killed by SIGKILL


class TemplateFailed(Exception):
    """A template could not start or is gone; ``reason`` says what it left on stderr or why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForkedCall:
    """One child of a template, as :func:`~.supervise.supervise` drives it (a ``SupervisedProcess``).

    ``pid`` is the child's pid here, ``pidfd`` is handed to the
    supervision (which closes it); the pipes are this side's ends.
    """

    def __init__(self, *, pidfd: int, pipes: list[int], reply: socket.socket) -> None:
        self.pidfd = pidfd
        self.pid = _pid_of(pidfd)
        self.stdin: IO[bytes] = os.fdopen(pipes[0], "wb", buffering=0)  # the supervision closes the three
        self.stdout: IO[bytes] = os.fdopen(pipes[1], "rb", buffering=0)
        self.stderr: IO[bytes] = os.fdopen(pipes[2], "rb", buffering=0)
        self.reply = reply
        self.template_lost = False

    def reap(self) -> Reaped:
        """The template's report of the child's end; a template gone without one counts as a kill."""
        self.reply.settimeout(_REPORT_WAIT_S)
        try:
            message = self.reply.recv(FORK_MAX_MESSAGE_BYTES)
        except OSError:
            message = b""
        finally:
            self.reply.close()
        if not message.startswith(FORK_EXITED_PREFIX):
            self.template_lost = True
            return Reaped(status=_KILLED, cpu_time_s=0.0, peak_memory_bytes=0)
        report = json.loads(message[len(FORK_EXITED_PREFIX) :])
        return Reaped(
            status=int(report["status"]),
            cpu_time_s=float(report["cpu_time_s"]),
            peak_memory_bytes=int(report["peak_memory_bytes"]),
        )


def _pid_of(pidfd: int) -> int:
    """The pid a pidfd refers to, in this process's PID namespace (``/proc/self/fdinfo``)."""
    for line in Path(f"/proc/self/fdinfo/{pidfd}").read_text().splitlines():
        if line.startswith("Pid:"):
            return int(line.split()[1])
    raise OSError(f"descriptor {pidfd} is not a pidfd")


class Template:
    """One template process: the plugin imported, waiting on its control channel.

    Raises :class:`TemplateFailed` when it cannot be started or does not
    say it is ready within ``ready_timeout_s``; nothing of it is left then.
    """

    def __init__(self, spawn: Spawn, *, ready_timeout_s: float) -> None:
        self.spawn = spawn
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed once the template is ready or gone
        try:
            with theirs:
                self.process = reaper.spawn(
                    lambda: subprocess.Popen(
                        list(spawn.argv),
                        cwd=spawn.cwd,
                        env=spawn.env,
                        stdin=theirs.fileno(),
                        stdout=log,
                        stderr=log,
                        close_fds=True,
                        pass_fds=spawn.pass_fds,
                        start_new_session=True,
                    )
                )
        except OSError as exc:
            log.close()
            self.control.close()
            spawn.cleanup()
            raise TemplateFailed(f"cannot start it: {exc.strerror or exc}") from exc
        with log:
            self._await_ready(log, ready_timeout_s)

    def _await_ready(self, log: IO[bytes], timeout_s: float) -> None:
        self.control.settimeout(timeout_s)
        try:
            if self.spawn.on_start is not None:
                self.spawn.on_start(self.process)
            ready = self.control.recv(FORK_MAX_MESSAGE_BYTES)
        except OSError:
            ready = b""
        if ready == FORK_READY_MESSAGE:
            self.control.settimeout(None)
            return
        self.close()
        log.seek(0)
        tail = log.read()[-_LOG_TAIL_BYTES:].decode(errors="replace").strip()
        raise TemplateFailed(tail or "it did not start a fork server (an SDK plugin calls run())")

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def fork(self, *, env: Mapping[str, str], deadline: float) -> ForkedCall:
        """A new child for one call, given its environment; raises TemplateFailed when none comes."""
        ours: list[int] = []  # stdin's write end, stdout's and stderr's read ends
        theirs: list[int] = []  # the other ends, then the environment: what the child gets
        try:
            for child_reads in (True, False, False):
                read, write = os.pipe()
                ours.append(write if child_reads else read)
                theirs.append(read if child_reads else write)
            environment = os.memfd_create("workflow-call-env", os.MFD_CLOEXEC)
            theirs.append(environment)
            with os.fdopen(environment, "wb", closefd=False) as file:
                file.write(json.dumps(dict(env)).encode())
            os.lseek(environment, 0, os.SEEK_SET)
            reply = self._send_call(theirs)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        try:
            reply.settimeout(max(deadline - time.monotonic(), 0.001))
            message, fds, _, _ = socket.recv_fds(reply, FORK_MAX_MESSAGE_BYTES, 1)
        except TimeoutError:
            message, fds = FORK_FAILED_PREFIX + b"it did not fork within the call's timeout", []
        except OSError:
            message, fds = b"", []
        if not message.startswith(FORK_FORKED_PREFIX) or len(fds) != 1:
            reply.close()
            for fd in (*ours, *fds):
                os.close(fd)
            said = message.removeprefix(FORK_FAILED_PREFIX).decode(errors="replace")
            raise TemplateFailed(said if message.startswith(FORK_FAILED_PREFIX) else "it ended before forking")
        reply.settimeout(None)
        return ForkedCall(pidfd=fds[0], pipes=ours, reply=reply)

    def _send_call(self, descriptors: list[int]) -> socket.socket:
        """Send one call message with the child's descriptors and a new reply socket; our end of that socket."""
        reply, their_reply = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with their_reply:
            try:
                socket.send_fds(self.control, [FORK_CALL_MESSAGE], [*descriptors, their_reply.fileno()])
            except OSError as exc:
                reply.close()
                raise TemplateFailed(f"it no longer takes calls: {exc.strerror or exc}") from exc
        return reply

    def close(self) -> None:
        """Close the control channel (the template kills its children and exits), reap it, undo its spawn."""
        self.control.close()
        try:
            self.process.wait(TEMPLATE_EXIT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        reaper.ended(self.process)
        self.spawn.cleanup()
