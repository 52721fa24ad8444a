"""A one-shot plugin whose pipes a probe drives itself.

The runtime always writes a whole, valid request and closes stdin; the
probes that check what a plugin does otherwise (bytes that are not JSON, a
request arriving in two parts, SIGTERM while it waits for the rest) drive
the pipes here instead. The plugin is started by a
:class:`~..runtimes.warm_worker.Spawn`, so it runs where the runtime would
run it, and it is stopped by the runtime's own stop sequence
(:class:`~..runtimes.deadline.StopSequence`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import termios
import threading
import time
from dataclasses import dataclass
from typing import IO

from ..errors import RuntimeUnavailableError
from ..runtimes import reaper
from ..runtimes.deadline import KILL_GRACE_S, StopSequence
from ..runtimes.proctree import ProcessTree
from ..runtimes.supervise import start_plugin_process
from ..runtimes.warm_worker import Spawn

__all__ = ["OneShotSession", "SessionEnd"]

_POLL_S = 0.005
"""How often :meth:`OneShotSession.wait_read` looks at the pipe: Linux has no event for "a pipe was read"."""


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How the plugin ended: its exit code (None: killed by a signal, or still running at the deadline)."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    ended: bool


@dataclass(frozen=True, slots=True)
class _Stop:
    """The plugin as the runtime stops it (a :class:`~..runtimes.deadline.Stoppable`).

    A container is signalled through its engine; a sandbox's SIGTERM
    spares bwrap (whose death would kill the plugin at once); a process
    gets it with its whole group.
    """

    spawn: Spawn
    tree: ProcessTree

    def terminate(self) -> None:
        if self.spawn.signal is not None:
            self.spawn.signal("SIGTERM")
        else:
            self.tree.terminate(leader=self.spawn.terminate_leader)

    def kill(self) -> None:
        if self.spawn.signal is not None:
            self.spawn.signal("SIGKILL")
        self.tree.kill()


class OneShotSession:
    """The plugin, started; :meth:`close` kills what is left and releases everything (use ``with``)."""

    def __init__(self, spawn: Spawn) -> None:
        self._spawn = spawn
        try:
            self.process = start_plugin_process(spawn.argv, cwd=spawn.cwd, env=spawn.env, pass_fds=spawn.pass_fds)
        except OSError as exc:
            spawn.cleanup()
            raise RuntimeUnavailableError(f"cannot start the plugin: {exc}") from exc
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.tree = ProcessTree(self.process.pid)
        self.pidfd = os.pidfd_open(self.process.pid)
        self._stdin_fd = self.process.stdin.fileno()
        self._out = bytearray()
        self._err = bytearray()
        self._readers = [self._reader(self.process.stdout, self._out), self._reader(self.process.stderr, self._err)]
        try:
            if spawn.on_start is not None:
                spawn.on_start(self.process)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> OneShotSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _reader(stream: IO[bytes], sink: bytearray) -> threading.Thread:
        def read() -> None:
            with contextlib.suppress(OSError, ValueError):
                while chunk := stream.read(1 << 16):
                    sink.extend(chunk)

        thread = threading.Thread(target=read, name="conformance-reader", daemon=True)
        thread.start()
        return thread

    def write(self, data: bytes, *, deadline: float) -> int:
        """Write ``data`` to stdin; how many bytes went in before the plugin stopped reading (or the deadline)."""
        os.set_blocking(self._stdin_fd, False)
        written = 0
        while written < len(data):
            try:
                written += os.write(self._stdin_fd, data[written:])
            except BlockingIOError:
                if time.monotonic() >= deadline or self.ended(0.0):
                    return written
                select.select([], [self._stdin_fd], [], _POLL_S)
            except OSError:  # BrokenPipeError: the plugin closed stdin or ended
                return written
        return written

    def wait_read(self, *, deadline: float) -> bool:
        """Wait until the plugin has read everything written so far; False if it ended or the deadline came first."""
        count = bytearray(struct.calcsize("i"))
        while time.monotonic() < deadline:
            try:
                fcntl.ioctl(self._stdin_fd, termios.FIONREAD, count)
            except OSError:
                return False
            if struct.unpack("i", count)[0] == 0:
                return True
            if self.ended(_POLL_S):
                return False
        return False

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def ended(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the plugin to end; whether it has."""
        return bool(select.select([self.pidfd], [], [], max(0.0, timeout_s))[0])

    def finish(self, *, deadline: float) -> SessionEnd:
        """Wait for the plugin's exit until ``deadline`` (killing it then); what it wrote and how it ended."""
        ended = self.ended(deadline - time.monotonic())
        if not ended:
            self.tree.kill()
        self.process.wait()
        for thread in self._readers:
            thread.join()
        code = self._spawn.exit_code()
        if code is None and self.process.returncode >= 0:
            code = self.process.returncode
        return SessionEnd(
            exit_code=code if ended else None, stdout=bytes(self._out), stderr=bytes(self._err), ended=ended
        )

    def terminate(self, *, grace_s: float = KILL_GRACE_S) -> float | None:
        """SIGTERM as the runtime sends it at a timeout; seconds until the plugin ended, None if it had to be killed.

        A plugin killed at the end of the grace counts as killed only when
        SIGKILL is what ended it: on a busy machine the end of a plugin that
        SIGTERM ended in time can be reported after the grace (a container's
        end comes through its engine), and the verdict is about the plugin.
        """
        self.tree.scan()
        sequence = StopSequence(_Stop(self._spawn, self.tree), kill_grace_s=grace_s)
        sequence.begin(graceful=True)
        sequence.wait_for_end(self.ended, after_kill_s=grace_s)
        assert sequence.terminated_at is not None
        took = time.monotonic() - sequence.terminated_at
        if sequence.killed_at is not None and self._ended_by_sigkill():
            return None
        return took

    def _ended_by_sigkill(self) -> bool:
        self.process.wait()
        code = self._spawn.exit_code()  # a container's, from its engine
        if code is None:
            code = self.process.returncode
        return code in (-signal.SIGKILL, 128 + signal.SIGKILL)

    def close(self) -> None:
        """Kill whatever is left (the container or sandbox too) and release every descriptor."""
        reaper.kill_and_reap(self.process, self.tree)
        for thread in self._readers:
            thread.join()
        reaper.close_process_files(self.process, pidfd=self.pidfd)
        self._spawn.cleanup()
