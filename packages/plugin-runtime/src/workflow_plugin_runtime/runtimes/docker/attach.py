"""The plumbing of one container call: the attach stream, and the watch over its deadline.

Kept apart from :mod:`.docker`, which decides what a container may do; this
module only moves bytes in and out of one and stops it when it must stop.
The attach stream is one hijacked HTTP connection multiplexing stdout and
stderr; a reader thread demultiplexes it while a sender thread writes the
request, so a plugin that writes before reading cannot block the call.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from ..base import Invocation
from ..outcome import Termination
from ..streams import BoundedStdout, LogStream
from ..supervise import CANCEL_POLL_S

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
    """The deadline, cancel and output limits of one running container."""

    def __init__(
        self, api: Any, container_id: str, invocation: Invocation, *, kill_grace_s: float, started: float
    ) -> None:
        self.api = api
        self.container_id = container_id
        self.cancel = invocation.cancel
        self.deadline = started + invocation.timeout_s
        self.kill_grace_s = kill_grace_s
        self.termination = Termination.COMPLETED
        self.term_sent_at: float | None = None
        self.kill_sent_at: float | None = None

    def follow(self, stream: AttachStream, request: bytes, stdout: BoundedStdout, logs: LogStream) -> None:
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
                    frame = frames.get(timeout=self._wait_s(time.monotonic()))
                except queue.Empty:
                    continue
                if frame is None:
                    return
                kind, chunk = frame
                fits = stdout.feed(chunk) if kind == _STDOUT else logs.feed(chunk)
                if not fits and self.termination is Termination.COMPLETED:
                    too_large = Termination.STDOUT_TOO_LARGE if kind == _STDOUT else Termination.STDERR_TOO_LARGE
                    self._stop(too_large, graceful=False)
        finally:
            if reader.is_alive() or sender.is_alive():
                stream.interrupt()
            reader.join(timeout=STREAM_END_GRACE_S)
            sender.join(timeout=STREAM_END_GRACE_S)

    def _enforce(self, now: float, stream: AttachStream) -> None:
        if self.termination is Termination.COMPLETED:
            if self.cancel is not None and self.cancel.is_set():
                self._stop(Termination.CANCELLED, graceful=True)
            elif now >= self.deadline:
                self._stop(Termination.TIMED_OUT, graceful=True)
        elif self.kill_sent_at is None and self.term_sent_at is not None:
            if now >= self.term_sent_at + self.kill_grace_s:
                self._kill()
        elif self.kill_sent_at is not None and now >= self.kill_sent_at + STREAM_END_GRACE_S:
            stream.interrupt()

    def _wait_s(self, now: float) -> float:
        if self.termination is Termination.COMPLETED:
            wait = self.deadline - now
            if self.cancel is not None:
                wait = min(wait, CANCEL_POLL_S)
        elif self.kill_sent_at is None and self.term_sent_at is not None:
            wait = self.term_sent_at + self.kill_grace_s - now
        else:
            wait = CANCEL_POLL_S
        return max(0.0, wait)

    def _stop(self, termination: Termination, *, graceful: bool) -> None:
        self.termination = termination
        if not graceful:
            self._kill()
            return
        self._signal("SIGTERM")
        self.term_sent_at = time.monotonic()

    def _kill(self) -> None:
        self._signal("SIGKILL")
        self.kill_sent_at = time.monotonic()

    def _signal(self, name: str) -> None:
        import docker

        # 409: the container already stopped, which is what we wanted.
        with contextlib.suppress(docker.errors.APIError):
            self.api.kill(self.container_id, signal=name)

    def wait_exit(self) -> int | None:
        """The container's exit code, killing it if it outlives its deadline with its output closed."""
        import requests

        remaining = max(self.deadline - time.monotonic(), 0.0)
        try:
            status = self.api.wait(self.container_id, timeout=max(remaining, 1.0))
        except requests.exceptions.ConnectionError:  # how docker-py reports a wait timeout
            if self.termination is Termination.COMPLETED:
                self.termination = Termination.TIMED_OUT
            self._kill()
            status = self.api.wait(self.container_id, timeout=STREAM_END_GRACE_S)
        code = status.get("StatusCode")
        return code if isinstance(code, int) else None
