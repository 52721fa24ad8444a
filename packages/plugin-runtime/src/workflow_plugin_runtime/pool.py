"""Warm workers: plugins kept running between calls, speaking the serve loop.

A cold call pays for an interpreter start every time; a warm worker answers
a JSON line in tens of microseconds. Workers are grouped per plugin (same
argv, folder and environment), never serve two calls at once, are recycled
after ``recycle_after`` calls, stopped after ``idle_timeout_s`` without
work, and killed and replaced after a timeout, crash or protocol error. A
plugin that does not answer the serve loop's ready line falls back to one
process per call (the ``fallback`` runtime).

Each call is driven on the caller's thread with a selector over the worker's
stdout, stderr and pidfd, so logs are attributed to the call that produced
them and a call's deadline and cancel event are enforced like a cold call's.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from workflow_plugin_sdk.protocol import SERVE_ENV_VAR, ProtocolError, decode_ready, encode_message

from .results import Failure, FailureKind, Metrics, RuntimeKind
from .runtimes.base import Invocation, InvocationResult, LogCallback, PluginRuntime
from .runtimes.outcome import Ending, Termination, classify
from .runtimes.process import ProcessRuntime, process_environment
from .runtimes.proctree import ProcessTree
from .runtimes.streams import LogStream

DEFAULT_POOL_SIZE = 2
DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_RECYCLE_AFTER = 1000
READY_TIMEOUT_S = 3.0
"""How long a new worker may take to write its ready line before the plugin
is taken not to speak the serve loop."""

_READ_CHUNK = 1 << 16
_REAP_INTERVAL_S = 1.0

_Key = tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]


class _WorkerGone(Exception):
    """The worker could not be started or did not speak the serve loop."""


class _Worker:
    """One long-lived plugin process in its own session, with its scratch HOME."""

    def __init__(self, invocation: Invocation, *, ready_timeout_s: float) -> None:
        assert invocation.plugin_dir is not None
        self.scratch = Path(tempfile.mkdtemp(prefix="workflow-worker-"))
        env = process_environment({**invocation.env, SERVE_ENV_VAR: "1"}, scratch=self.scratch)
        try:
            self.process = subprocess.Popen(
                list(invocation.argv),
                cwd=invocation.plugin_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise _WorkerGone(str(exc)) from exc
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.tree = ProcessTree(self.process.pid)
        self.stdin_fd = self.process.stdin.fileno()
        self.stdout_fd = self.process.stdout.fileno()
        self.stderr_fd = self.process.stderr.fileno()
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd):
            os.set_blocking(fd, False)
        self.pidfd = os.pidfd_open(self.process.pid)
        self.selector = selectors.DefaultSelector()
        for fd in (self.stdout_fd, self.stderr_fd, self.pidfd):
            self.selector.register(fd, selectors.EVENT_READ)
        self.calls = 0
        self.idle_since = time.monotonic()
        self.alive = True
        self._buffer = bytearray()
        try:
            self._await_ready(time.monotonic() + ready_timeout_s)
        except _WorkerGone:
            self.kill()
            raise

    def _await_ready(self, deadline: float) -> None:
        line = self._read_line(deadline, None, LogStream(1 << 20))
        if line is None:
            raise _WorkerGone("no ready line")
        try:
            decode_ready(line)
        except ProtocolError as exc:
            raise _WorkerGone(str(exc)) from exc

    def _read_line(self, deadline: float, cancel: threading.Event | None, logs: LogStream) -> bytes | None:
        """The next stdout line; None when the worker exits, the deadline passes or cancel is set."""
        while b"\n" not in self._buffer:
            now = time.monotonic()
            if now >= deadline or (cancel is not None and cancel.is_set()):
                return None
            wait = min(deadline - now, 0.05) if cancel is not None else deadline - now
            for key, _ in self.selector.select(wait):
                if key.fd == self.pidfd:
                    self._drain(self.stdout_fd, self._buffer.extend)
                    self._drain(self.stderr_fd, logs.feed)
                    self.alive = False
                    return None
                if key.fd == self.stdout_fd:
                    self._drain(self.stdout_fd, self._buffer.extend)
                else:
                    self._drain(self.stderr_fd, logs.feed)
        index = self._buffer.index(b"\n")
        line = bytes(self._buffer[: index + 1])
        del self._buffer[: index + 1]
        return line

    @staticmethod
    def _drain(fd: int, sink: object) -> None:
        """Read what is in the pipe; a short read means it is empty (no EAGAIN round trip)."""
        while True:
            try:
                data = os.read(fd, _READ_CHUNK)
            except OSError:  # BlockingIOError included: nothing (more) to read
                return
            if data:
                sink(data)  # type: ignore[operator]  # bytearray.extend or LogStream.feed
            if len(data) < _READ_CHUNK:
                return

    def _send(self, data: bytes, deadline: float) -> bool:
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
        deadline = time.monotonic() + invocation.timeout_s
        self.calls += 1
        request = {**invocation.request, "id": self.calls}
        line: bytes | None = None
        if self._send(encode_message(request), deadline):  # type: ignore[arg-type]  # a Request with its id
            line = self._read_line(deadline, invocation.cancel, logs)
        if line is not None:
            # Logs written before the response were readable in the same poll that
            # brought the response, so _read_line has them already.
            return line, Termination.COMPLETED
        self._drain(self.stderr_fd, logs.feed)
        if invocation.cancel is not None and invocation.cancel.is_set():
            return b"", Termination.CANCELLED
        if not self.alive or self.process.poll() is not None:
            return bytes(self._buffer), Termination.COMPLETED
        return b"", Termination.TIMED_OUT

    def exit_status(self) -> tuple[int | None, int | None]:
        code = self.process.poll()
        if code is None:
            return None, None
        return (None, -code) if code < 0 else (code, None)

    def kill(self) -> None:
        """Stop the worker and everything it started; release every descriptor."""
        self.alive = False
        self.tree.scan()
        self.tree.signal_all(signal.SIGKILL)
        self.process.wait()
        self.selector.close()
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class _PluginWorkers:
    """The workers of one plugin, and whether it speaks the serve loop at all."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.total = 0
        self.serving: bool | None = None
        self.available = threading.Condition()


class WarmPool:
    """A :class:`~workflow_plugin_runtime.runtimes.base.PluginRuntime` of warm workers.

    ``close()`` stops every worker; call it (or use the pool as a context
    manager) when the run ends.
    """

    kind = RuntimeKind.PROCESS

    def __init__(
        self,
        *,
        size: int = DEFAULT_POOL_SIZE,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
        ready_timeout_s: float = READY_TIMEOUT_S,
        fallback: PluginRuntime | None = None,
    ) -> None:
        if size < 1 or recycle_after < 1 or idle_timeout_s <= 0:
            raise ValueError("pool size, recycle_after and idle_timeout_s must be positive")
        self.size = size
        self.idle_timeout_s = idle_timeout_s
        self.recycle_after = recycle_after
        self.ready_timeout_s = ready_timeout_s
        self.fallback: PluginRuntime = fallback if fallback is not None else ProcessRuntime()
        self._plugins: dict[_Key, _PluginWorkers] = {}
        self._sizes: dict[_Key, tuple[int, int, float]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def configure(
        self,
        invocation: Invocation,
        *,
        size: int | None = None,
        idle_timeout_s: float | None = None,
        recycle_after: int | None = None,
    ) -> None:
        """Per-plugin sizing (from the manifest's ``runtime.pool``), before its first call."""
        key = _key_of(invocation)
        self._sizes[key] = (
            size or self.size,
            recycle_after or self.recycle_after,
            idle_timeout_s or self.idle_timeout_s,
        )

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        if not invocation.argv or invocation.plugin_dir is None:
            raise ValueError(f"{invocation.plugin_ref}: a warm worker needs Invocation.argv and plugin_dir")
        key = _key_of(invocation)
        workers = self._workers_for(key)
        started = time.monotonic()
        worker = self._acquire(key, workers, invocation)
        if worker is None:
            return self.fallback.invoke(invocation, on_log=on_log)
        warm = worker.calls > 0
        logs = LogStream(invocation.max_stderr_bytes, on_log)
        line, termination = worker.call(invocation, logs)
        if len(line) > invocation.max_stdout_bytes:
            line, termination = b"", Termination.STDOUT_TOO_LARGE
        if logs.overflowed:
            termination = Termination.STDERR_TOO_LARGE
        exit_code, signum = worker.exit_status()
        still_running = worker.alive and exit_code is None and signum is None
        response, failure = classify(
            Ending(
                plugin_ref=invocation.plugin_ref,
                stdout=line,
                termination=termination,
                exit_code=0 if still_running else exit_code,  # a live worker is as clean as an exit 0
                signal=signum,
                stderr_tail=logs.tail(),
                timeout_s=invocation.timeout_s,
                killed="its warm worker",
                stdout_limit=invocation.max_stdout_bytes,
                stderr_limit=invocation.max_stderr_bytes,
            )
        )
        answered_id = None if response is None else response.get("id")
        if response is not None and answered_id != worker.calls:
            response, failure = None, _id_mismatch(invocation, worker.calls, answered_id, logs.tail())
        healthy = failure is None or (failure.kind is FailureKind.ACTION and worker.alive)
        self._release(key, workers, worker, keep=healthy)
        metrics = Metrics(
            duration_s=time.monotonic() - started,
            runtime=RuntimeKind.PROCESS,
            exit_code=exit_code,
            signal=signum,
            warm=warm,
        )
        return InvocationResult(
            response=response, failure=failure, metrics=metrics, logs=logs.records, stderr_tail=logs.tail()
        )

    def _workers_for(self, key: _Key) -> _PluginWorkers:
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the warm pool is closed")
            workers = self._plugins.get(key)
            if workers is None:
                workers = self._plugins[key] = _PluginWorkers()
            return workers

    def _acquire(self, key: _Key, workers: _PluginWorkers, invocation: Invocation) -> _Worker | None:
        size = self._sizes.get(key, (self.size, 0, 0.0))[0]
        with workers.available:
            while True:
                if workers.serving is False:
                    return None
                if workers.idle:
                    return workers.idle.pop()
                if workers.total < size:
                    workers.total += 1
                    break
                workers.available.wait(0.05)
                if invocation.cancel is not None and invocation.cancel.is_set():
                    return None
        try:
            worker = _Worker(invocation, ready_timeout_s=self.ready_timeout_s)
        except _WorkerGone:
            with workers.available:
                workers.total -= 1
                workers.serving = False
                workers.available.notify_all()
            return None
        with workers.available:
            workers.serving = True
        self._start_reaper()
        return worker

    def _release(self, key: _Key, workers: _PluginWorkers, worker: _Worker, *, keep: bool) -> None:
        recycle_after = self._sizes.get(key, (0, self.recycle_after, 0.0))[1]
        if keep and worker.alive and worker.calls < recycle_after and not self._closed.is_set():
            worker.idle_since = time.monotonic()
            with workers.available:
                workers.idle.append(worker)
                workers.available.notify()
            return
        worker.kill()
        with workers.available:
            workers.total -= 1
            workers.available.notify()

    def _start_reaper(self) -> None:
        with self._lock:
            if self._reaper is None and not self._closed.is_set():
                self._reaper = threading.Thread(target=self._reap_idle, name="warm-pool-reaper", daemon=True)
                self._reaper.start()

    def _reap_idle(self) -> None:
        while not self._closed.wait(min(_REAP_INTERVAL_S, self.idle_timeout_s / 2)):
            now = time.monotonic()
            for key, workers in list(self._plugins.items()):
                idle_timeout = self._sizes.get(key, (0, 0, self.idle_timeout_s))[2]
                with workers.available:
                    expired = [w for w in workers.idle if now - w.idle_since >= idle_timeout]
                    workers.idle = [w for w in workers.idle if w not in expired]
                    workers.total -= len(expired)
                for worker in expired:
                    worker.kill()

    def worker_pids(self) -> list[int]:
        """The pids of idle workers (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for workers in self._plugins.values() for w in workers.idle]

    def close(self) -> None:
        """Stop every idle worker and the reaper; busy workers stop when their call returns."""
        self._closed.set()
        if self._reaper is not None:
            self._reaper.join()
        with self._lock:
            plugins = list(self._plugins.values())
        for workers in plugins:
            with workers.available:
                idle, workers.idle = workers.idle, []
                workers.total -= len(idle)
            for worker in idle:
                worker.kill()
        self.fallback.close()


def _key_of(invocation: Invocation) -> _Key:
    return (invocation.argv, str(invocation.plugin_dir), tuple(sorted(invocation.env.items())))


def _id_mismatch(invocation: Invocation, expected: int, found: object, stderr_tail: str) -> Failure:
    return Failure(
        kind=FailureKind.PROTOCOL,
        message=(
            f"{invocation.plugin_ref} answered request id {expected!r} "
            f"with id {found!r}; a warm worker must echo each request's id"
        ),
        stderr_tail=stderr_tail,
    )
