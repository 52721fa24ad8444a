"""Fresh processes at close to warm speed: a template that has imported the plugin forks one child per call.

A plugin whose manifest says ``runtime: {start: fork}`` runs in trusted
mode through :class:`ForkServerRuntime`. For each plugin (its argv and
folder) the runtime starts one template: the plugin with
``WORKFLOW_PLUGIN_SERVE=fork`` and only the base environment of a plugin
process (:func:`~.process.process_environment` with no configured
variable), whose stdin is a Unix socket, the control channel. The SDK
imports the plugin and waits there (``workflow_plugin_sdk._fork_server``).

Each call then makes what a cold call makes (a scratch folder, three
pipes, the whole environment) and sends the template only descriptors:
the pipes' far ends, a memfd holding the environment, and a socket for
the template's replies. The template forks; the child takes the pipes and
the environment and answers as a one-shot process does. The request is
written by this runtime straight into the child's stdin, so neither it
nor the environment (where a workflow may put secrets) ever passes
through the template. The template replies with the child's pid and a
pidfd, and later with its wait status and usage; in between, the child is
supervised by the same loop as a cold process (:func:`~.supervise.supervise`:
deadline, cancel, output limits, its process group killed), and its end
is read by the same mapping (:func:`~.supervised_result.supervised_result`).

A template that cannot start (the plugin failed at import, or it is not
an SDK plugin) is not retried: its calls run cold, which reports the same
failure a cold call always would. A template killed during a call kills
that call's child with it (the SDK sets ``PR_SET_PDEATHSIG``), and the
call fails as a lost worker; the next call starts a new template.
Templates end with the runtime (:meth:`ForkServerRuntime.close`) or, if
the engine dies, when their control channel closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from workflow_plugin_sdk.protocol import (
    FORK_CALL_MESSAGE,
    FORK_EXITED_PREFIX,
    FORK_FAILED_PREFIX,
    FORK_FORKED_PREFIX,
    FORK_MAX_MESSAGE_BYTES,
    FORK_READY_MESSAGE,
    FORK_SERVE_VALUE,
    SERVE_ENV_VAR,
    encode_message,
)

from ..errors import Failure, FailureKind
from . import reaper
from .base import Invocation, InvocationResult, LogCallback, Metrics, RuntimeKind, Timings, refuse_other_kinds
from .deadline import KILL_GRACE_S
from .process import ProcessRuntime, process_environment
from .run_state import scratch_parent
from .supervise import supervise
from .supervised_result import Reaped, supervised_result

__all__ = ["TEMPLATE_EXIT_S", "ForkServerRuntime", "TemplateFailed"]

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


@dataclass(frozen=True, slots=True)
class _CallPipes:
    """A forked call as :func:`~.supervise.supervise` drives it (a :class:`~.supervised_result.SupervisedProcess`)."""

    pid: int
    stdin: IO[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]


class _ForkedCall:
    """What a call keeps of its child: the reply socket, which says how the child ended."""

    def __init__(self, reply: socket.socket) -> None:
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


class _Template:
    """One template process: the plugin imported, waiting on its control channel."""

    def __init__(self, invocation: Invocation, *, ready_timeout_s: float) -> None:
        assert invocation.plugin_dir is not None
        self.scratch = Path(tempfile.mkdtemp(prefix="workflow-fork-", dir=scratch_parent()))
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = process_environment({SERVE_ENV_VAR: FORK_SERVE_VALUE}, scratch=self.scratch)
        log_path = self.scratch / "template.log"
        try:
            with theirs, log_path.open("wb") as log:
                self.process = reaper.spawn(
                    lambda: subprocess.Popen(
                        list(invocation.argv),
                        cwd=invocation.plugin_dir,
                        env=env,
                        stdin=theirs.fileno(),
                        stdout=log,
                        stderr=log,
                        close_fds=True,
                        start_new_session=True,
                    )
                )
        except OSError as exc:
            self.control.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise TemplateFailed(f"cannot start it: {exc.strerror or exc}") from exc
        self.control.settimeout(ready_timeout_s)
        try:
            ready = self.control.recv(FORK_MAX_MESSAGE_BYTES)
        except OSError:
            ready = b""
        if ready != FORK_READY_MESSAGE:
            tail = log_path.read_bytes()[-_LOG_TAIL_BYTES:].decode(errors="replace").strip()
            self.close()
            raise TemplateFailed(tail or "it did not start a fork server (an SDK plugin calls run())")
        self.control.settimeout(None)

    def fork(self, *, env: Mapping[str, str], deadline: float) -> tuple[_CallPipes, _ForkedCall, int]:
        """A new child for one call: its pipes, its reply channel and a pidfd; raises TemplateFailed."""
        ours: list[int] = []  # stdin's write end, stdout's and stderr's read ends
        theirs: list[int] = []  # the other ends, then the environment: what the child gets
        try:
            for child_reads in (True, False, False):
                read, write = os.pipe()
                ours.append(write if child_reads else read)
                theirs.append(read if child_reads else write)
            environment = os.memfd_create("workflow-call-env", os.MFD_CLOEXEC)
            theirs.append(environment)
            with open(environment, "wb", closefd=False) as file:
                file.write(json.dumps(dict(env)).encode())
            os.lseek(environment, 0, os.SEEK_SET)
            reply, their_reply = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with their_reply:
                try:
                    socket.send_fds(self.control, [FORK_CALL_MESSAGE], [*theirs, their_reply.fileno()])
                except OSError as exc:
                    reply.close()
                    raise TemplateFailed(f"it no longer takes calls: {exc.strerror or exc}") from exc
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        call = _ForkedCall(reply)
        try:
            reply.settimeout(max(deadline - time.monotonic(), 0.001))
            message, fds, _, _ = socket.recv_fds(reply, FORK_MAX_MESSAGE_BYTES, 1)
        except OSError:
            message, fds = b"", []
        if not message.startswith(FORK_FORKED_PREFIX) or len(fds) != 1:
            reply.close()
            for fd in (*ours, *fds):
                os.close(fd)
            said = message.removeprefix(FORK_FAILED_PREFIX).decode(errors="replace")
            raise TemplateFailed(said if message.startswith(FORK_FAILED_PREFIX) else "it ended before forking")
        reply.settimeout(None)
        pipes = _CallPipes(
            pid=int(message[len(FORK_FORKED_PREFIX) :]),
            stdin=open(ours[0], "wb", buffering=0),  # noqa: PTH123, SIM115 - supervise closes them
            stdout=open(ours[1], "rb", buffering=0),  # noqa: PTH123, SIM115
            stderr=open(ours[2], "rb", buffering=0),  # noqa: PTH123, SIM115
        )
        return pipes, call, fds[0]

    def running(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Close the control channel (the template kills its children and exits), reap it, remove its scratch."""
        self.control.close()
        try:
            self.process.wait(TEMPLATE_EXIT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        reaper.ended(self.process)
        shutil.rmtree(self.scratch, ignore_errors=True)


class ForkServerRuntime:
    """Runs each trusted call of a ``start: fork`` plugin in a child forked from that plugin's template."""

    kind = RuntimeKind.PROCESS

    def __init__(self, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.kill_grace_s = kill_grace_s
        self._cold = ProcessRuntime(kill_grace_s=kill_grace_s)
        self._templates: dict[tuple[tuple[str, ...], Path], _Template] = {}
        self._cannot_fork: set[tuple[tuple[str, ...], Path]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def template_pid(self, invocation: Invocation) -> int | None:
        """The pid of the template serving ``invocation``'s plugin, if one runs (for tests and diagnostics)."""
        assert invocation.plugin_dir is not None
        with self._lock:
            template = self._templates.get((invocation.argv, invocation.plugin_dir))
        return template.process.pid if template is not None else None

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        refuse_other_kinds(invocation, RuntimeKind.PROCESS)
        assert invocation.plugin_dir is not None  # a process invocation is refused without one
        started = time.monotonic()
        template = self._template(invocation)
        if template is None:
            return self._cold.invoke(invocation, on_log=on_log)
        scratch_dir = tempfile.TemporaryDirectory(
            prefix="workflow-plugin-", dir=scratch_parent(), ignore_cleanup_errors=True
        )
        with scratch_dir as scratch:
            env = process_environment(invocation.env, scratch=Path(scratch))
            try:
                pipes, call, pidfd = template.fork(env=env, deadline=started + invocation.timeout_s)
            except TemplateFailed as exc:
                self._forget(invocation, template)
                return _lost(invocation, f"its fork server's template cannot fork a call ({exc.reason})", started)
            outcome = supervise(
                pipes,
                reap=call.reap,
                pidfd=pidfd,
                started=started,
                request=encode_message(invocation.request),
                timeout_s=invocation.timeout_s,
                max_stdout_bytes=invocation.max_stdout_bytes,
                max_stderr_bytes=invocation.max_stderr_bytes,
                cancel=invocation.cancel,
                on_log=on_log,
                kill_grace_s=self.kill_grace_s,
            )
        result = supervised_result(
            invocation,
            outcome,
            spawned=started,
            ended=time.monotonic(),  # the scratch folder removed
            runtime=RuntimeKind.PROCESS,
            killed="its process group",
            cpu_time_s=outcome.cpu_time_s,
            peak_memory_bytes=outcome.peak_memory_bytes,
        )
        if not call.template_lost:
            return result
        self._forget(invocation, template)
        message = f"{invocation.plugin_ref}: its fork server's template ended during the call, and the call with it"
        return replace(result, response=None, failure=Failure(kind=FailureKind.WORKER_LOST, message=message))

    def _template(self, invocation: Invocation) -> _Template | None:
        """The running template of ``invocation``'s plugin, started now if needed; None: run it cold."""
        assert invocation.plugin_dir is not None
        key = (invocation.argv, invocation.plugin_dir)
        with self._lock:
            if self._closed or key in self._cannot_fork:
                return None
            template = self._templates.get(key)
            if template is not None and template.running():
                return template
            if template is not None:
                del self._templates[key]
                template.close()
            try:  # under the lock: two calls at once start one template, not two
                template = self._templates[key] = _Template(invocation, ready_timeout_s=invocation.timeout_s)
            except TemplateFailed:
                self._cannot_fork.add(key)
                return None
            return template

    def _forget(self, invocation: Invocation, template: _Template) -> None:
        assert invocation.plugin_dir is not None
        with self._lock:
            if self._templates.get((invocation.argv, invocation.plugin_dir)) is template:
                del self._templates[(invocation.argv, invocation.plugin_dir)]
        template.close()

    def close(self) -> None:
        """Stop every template (each kills what it still runs); later calls run cold."""
        with self._lock:
            self._closed = True
            templates = list(self._templates.values())
            self._templates.clear()
        for template in templates:
            template.close()
        self._cold.close()


def _lost(invocation: Invocation, reason: str, started: float) -> InvocationResult:
    duration_s = time.monotonic() - started
    return InvocationResult(
        response=None,
        failure=Failure(kind=FailureKind.WORKER_LOST, message=f"{invocation.plugin_ref}: {reason}"),
        metrics=Metrics(duration_s=duration_s, runtime=RuntimeKind.PROCESS, timings=Timings.not_started(duration_s)),
    )
