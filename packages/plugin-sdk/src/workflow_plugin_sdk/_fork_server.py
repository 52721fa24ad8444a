"""The fork server's template: a plugin imported once, forking one fresh process per call.

Started with ``WORKFLOW_PLUGIN_SERVE=fork``, :func:`~._serve.run` hands
control here after the plugin's module has run (its actions are defined).
Descriptor 0 is then a Unix ``SOCK_SEQPACKET`` socket, the control channel
to the runtime, and the template answers on it, one message at a time:

* ``ready`` once, when it starts waiting for calls;
* for each ``call`` message, which carries five descriptors
  (``SCM_RIGHTS``): the call's stdin, stdout and stderr pipes, a file
  holding the call's environment as JSON, and a socket for this call's
  replies. The template forks; on the reply socket it sends ``forked
  <pid>`` with a pidfd of the child, then, once the child has ended and
  been reaped, ``exited`` and its status and usage as JSON (or ``failed
  <reason>`` when it cannot fork).

The template never reads any of those descriptors: the request (with its
secret inputs) and the environment (with the secrets a workflow puts
there) go from the runtime straight to the child. The child makes itself
a session leader, puts the pipes on descriptors 0, 1 and 2, takes the
call's environment, and returns to :func:`~._serve.run`, which answers the
request exactly as a one-shot process does and exits with its code. The
child dies with its template (``PR_SET_PDEATHSIG``). When the control
channel closes (the runtime closed it, or the engine died), the template
kills every child still running and exits.

Standard library only, and imported only by a template.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import sys

from ._protocol import (
    FORK_CALL_FDS,
    FORK_CALL_MESSAGE,
    FORK_EXITED_PREFIX,
    FORK_FAILED_PREFIX,
    FORK_FORKED_PREFIX,
    FORK_MAX_MESSAGE_BYTES,
    FORK_READY_MESSAGE,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

_PR_SET_PDEATHSIG = 1


class _Child:
    """A forked call still running: its pid, its pidfd, and where its end is reported."""

    __slots__ = ("pid", "pidfd", "reply")

    def __init__(self, pid: int, pidfd: int, reply: socket.socket) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.reply = reply


def _death_signal() -> Callable[[], None]:
    """What a child calls to die with its template; a no-op where ``prctl`` cannot be reached."""
    if sys.platform != "linux":
        return _nothing
    import ctypes  # once per template, not per call

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return _nothing

    def die_with_template() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return die_with_template


def _nothing() -> None:
    """Nothing to set up."""


class _Template:
    """The template's loop; :meth:`serve` returns only in a forked child."""

    def __init__(self) -> None:
        self.control = socket.socket(fileno=os.dup(0))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the control channel stays on its own descriptor only
        os.close(null)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.control, selectors.EVENT_READ)
        self.children: dict[int, _Child] = {}
        self.die_with_template = _death_signal()
        self.pid = os.getpid()
        # The template reaps its children itself: a plugin that ignores SIGCHLD at import (the kernel would
        # reap them first) or handles it (its handler might) keeps that for its calls, not for the template.
        self.child_signal = signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def serve(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.control.sendall(FORK_READY_MESSAGE)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if self._on_control():
                        return
                else:
                    self._on_exit(self.children.pop(int(key.fd)))

    def _on_control(self) -> bool:
        """Handle one control message; True in a forked child, which must go on to answer its call."""
        try:
            message, fds, _, _ = socket.recv_fds(self.control, FORK_MAX_MESSAGE_BYTES, FORK_CALL_FDS)
        except OSError:
            message, fds = b"", []
        if not message:
            self._shut_down()
        if message != FORK_CALL_MESSAGE or len(fds) != FORK_CALL_FDS:
            for fd in fds:
                os.close(fd)
            return False
        reply = socket.socket(fileno=fds[4])
        try:
            pid = os.fork()
        except OSError as exc:
            with contextlib.suppress(OSError):
                reply.sendall(FORK_FAILED_PREFIX + f"cannot fork: {exc.strerror or exc}".encode())
            reply.close()
            for fd in fds[:4]:
                os.close(fd)
            return False
        if pid == 0:
            reply.close()
            self._become_call(fds[:4])
            return True
        for fd in fds[:4]:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(reply, [FORK_FORKED_PREFIX + str(pid).encode()], [pidfd])
        except OSError:  # the runtime gave up on the call: its child goes at once
            os.kill(pid, signal.SIGKILL)
        self.children[pidfd] = _Child(pid, pidfd, reply)
        self.selector.register(pidfd, selectors.EVENT_READ)
        return False

    def _on_exit(self, child: _Child) -> None:
        """Reap an ended child and tell the runtime how it ended."""
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        _, status, usage = os.wait4(child.pid, 0)
        report = {
            "status": status,
            "cpu_time_s": usage.ru_utime + usage.ru_stime,
            "peak_memory_bytes": int(usage.ru_maxrss) * (1 if sys.platform == "darwin" else 1024),
        }
        with contextlib.suppress(OSError):
            child.reply.sendall(FORK_EXITED_PREFIX + json.dumps(report).encode())
        child.reply.close()

    def _become_call(self, fds: list[int]) -> None:
        """In the child: a session of its own, the call's pipes and environment; nothing of the template's loop."""
        self.die_with_template()
        if os.getppid() != self.pid:  # the template died before the line above took effect
            os._exit(70)
        os.setsid()
        if self.child_signal is not None:  # None: set outside Python, and so never changed by the plugin
            signal.signal(signal.SIGCHLD, self.child_signal)
        self.selector.close()
        self.control.close()
        for child in self.children.values():
            os.close(child.pidfd)
            child.reply.close()
        stdin, stdout, stderr, environment = fds
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        with os.fdopen(environment, "rb") as file:
            values = json.loads(file.read())
        os.environ.clear()
        os.environ.update(values)

    def _shut_down(self) -> None:
        """The runtime is gone or done: no child outlives its template."""
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        os._exit(0)


def serve_forks() -> None:
    """Be a template until the control channel closes; returns only in a child, to answer its one call."""
    _Template().serve()


def end_call(code: int) -> NoReturn:
    """End a forked child: ``atexit`` handlers, the standard streams flushed, then ``os._exit``.

    Not the interpreter's whole finalization, which tears down every module
    and object the child inherited and cost a no-op call two thirds of its
    time (docs/performance.md, "Fork server"); ``multiprocessing`` ends its
    forked children the same way.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
