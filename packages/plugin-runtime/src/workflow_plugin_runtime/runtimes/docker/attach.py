"""The plumbing of one container call: the attach stream, and the watch over its deadline.

Kept apart from :mod:`.runtime`, which decides what a container may do; this
module only moves bytes in and out of one and stops it when it must stop,
through the engine, in the sequence of :mod:`..deadline`. The attach stream
is one hijacked HTTP connection multiplexing stdout and stderr; a reader
thread demultiplexes it while a sender thread writes the request, so a
plugin that writes before reading cannot block the call.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from ..base import Invocation
from ..deadline import Deadline, DeadlineWatch
from ..outcome import Termination
from ..streams import BoundedStdout, LogStream

if TYPE_CHECKING:
    import queue
    import socket

__all__ = ["STREAM_END_GRACE_S", "AttachStream", "ContainerWatch"]

STREAM_END_GRACE_S = 5.0
"""After the container is killed, how long its output stream may take to end."""

_STDOUT, _STDERR = 1, 2
_Frame = tuple[int, bytes] | None


def _pump_frames(sock: Any, frames: queue.SimpleQueue[_Frame]) -> None:
    """Reader thread: demultiplex the attach stream into (stream, bytes) frames."""
    from docker.utils.socket import frames_iter

    try:
        for stream, chunk in frames_iter(sock, tty=False):
            frames.put((stream, chunk))
    except (OSError, ValueError, AttributeError):  # the socket was closed under us: the call is over
        pass
    finally:
        frames.put(None)


class AttachStream:
    """The container's stdin, stdout and stderr over one hijacked HTTP connection."""

    def __init__(self, sock: Any) -> None:
        self.wrapper = sock
        self.raw: socket.socket = getattr(sock, "_sock", sock)
        self.response = getattr(sock, "_response", None)
        self.raw.settimeout(None)

    def send(self, data: bytes) -> None:
        """Write the request, then half-close so the plugin sees end of input."""
        import socket as _socket

        try:
            self.raw.sendall(data)
            self.raw.shutdown(_socket.SHUT_WR)
        except OSError:  # the plugin exited before reading: its exit status tells the story
            pass

    def interrupt(self) -> None:
        """Wake the reader and the sender: the call is over."""
        import socket as _socket

        with contextlib.suppress(OSError):
            self.raw.shutdown(_socket.SHUT_RDWR)

    def close(self) -> None:
        """Close down to the file descriptor (closing the wrapper alone leaks it)."""
        if self.response is not None:
            with contextlib.suppress(OSError, ValueError):
                self.response.close()
        with contextlib.suppress(OSError):
            self.wrapper.close()
            self.raw.close()


class ContainerWatch:
    """The deadline, cancel and output limits of one running container.

    It is the :class:`..deadline.Stoppable` its deadline stops: the engine
    signals the container (``docker-init``, its PID 1, passes the signal on).
    ``answered_at`` is when the container's last stdout bytes arrived (its
    response), on the monotonic clock; None while it wrote none.
    """

    def __init__(
        self, api: Any, container_id: str, *, invocation: Invocation, kill_grace_s: float, started: float
    ) -> None:
        self.api = api
        self.container_id = container_id
        deadline = Deadline(at=started + invocation.timeout_s, cancel=invocation.cancel)
        self.deadline_watch = DeadlineWatch(self, deadline=deadline, kill_grace_s=kill_grace_s)
        self.answered_at: float | None = None

    @property
    def termination(self) -> Termination:
        return self.deadline_watch.termination

    def follow(self, stream: AttachStream, *, request: bytes, stdout: BoundedStdout, logs: LogStream) -> None:
        """Send the request and feed the container's output to ``stdout``/``logs`` until it ends.

        The request goes out on its own thread: a plugin that writes before
        reading must not block us on a full stdin while its output waits.
        """
        import queue

        frames: queue.SimpleQueue[_Frame] = queue.SimpleQueue()
        reader = threading.Thread(target=_pump_frames, args=(stream.wrapper, frames), name="docker-out", daemon=True)
        sender = threading.Thread(target=stream.send, args=(request,), name="docker-in", daemon=True)
        reader.start()
        sender.start()
        try:
            while True:
                self._enforce(time.monotonic(), stream)
                try:
                    frame = frames.get(timeout=self.deadline_watch.wait_s(time.monotonic()))
                except queue.Empty:
                    continue
                if frame is None:
                    return
                kind, chunk = frame
                if kind == _STDOUT:
                    self.answered_at = time.monotonic()
                fits = stdout.feed(chunk) if kind == _STDOUT else logs.feed(chunk)
                if not fits and self.deadline_watch.termination is Termination.COMPLETED:
                    too_large = Termination.STDOUT_TOO_LARGE if kind == _STDOUT else Termination.STDERR_TOO_LARGE
                    self.deadline_watch.stop(too_large, graceful=False)
        finally:
            if reader.is_alive() or sender.is_alive():
                stream.interrupt()
            reader.join(timeout=STREAM_END_GRACE_S)
            sender.join(timeout=STREAM_END_GRACE_S)

    def _enforce(self, now: float, stream: AttachStream) -> None:
        """The deadline's step that is due; past the kill, give the stream :data:`STREAM_END_GRACE_S` to end."""
        killed_at = self.deadline_watch.sequence.killed_at
        if killed_at is not None and now >= killed_at + STREAM_END_GRACE_S:
            stream.interrupt()
        else:
            self.deadline_watch.check(now)

    def terminate(self) -> None:
        self._signal("SIGTERM")

    def kill(self) -> None:
        self._signal("SIGKILL")

    def _signal(self, name: str) -> None:
        import docker

        # 409: the container already stopped, which is what we wanted.
        with contextlib.suppress(docker.errors.APIError):
            self.api.kill(self.container_id, signal=name)

    def wait_exit(self) -> int | None:
        """The container's exit code, killing it if it outlives its deadline with its output closed."""
        import requests

        remaining = max(self.deadline_watch.deadline.at - time.monotonic(), 0.0)
        try:
            status = self.api.wait(self.container_id, timeout=max(remaining, 1.0))
        except requests.exceptions.ConnectionError:  # how docker-py reports a wait timeout
            self.deadline_watch.stop(Termination.TIMED_OUT, graceful=False)  # a stop already under way keeps its reason
            status = self.api.wait(self.container_id, timeout=STREAM_END_GRACE_S)
        code = status.get("StatusCode")
        return code if isinstance(code, int) else None
