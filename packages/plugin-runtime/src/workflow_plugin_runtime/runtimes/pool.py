"""Warm workers: plugins kept running between calls, speaking the serve loop.

A cold call pays for an interpreter start (or a container) every time; a
warm worker answers a JSON line in tens of microseconds. Workers are
grouped per plugin and grant (same argv, folder and environment; for a
sandbox also the same mounts, limits and network; for a container the same
image, command, mounts, limits, network and environment), never serve two
calls at once, are recycled after ``recycle_after`` calls (a successor
starting ahead, during the last ``SUCCESSOR_LEAD``, unless a capped pool is
full), stopped after ``idle_timeout_s`` without work, and killed and
replaced after a timeout, crash or protocol error. A plugin grows one
worker per call running at once (so up to the run's concurrency) unless
its ``size`` caps it; a call that waits for a worker of a capped pool
records that wait as ``queued_s``, apart from its ``duration_s``. A plugin
that does not answer the serve loop's ready line falls back to one cold call
per invocation: a process (the ``fallback`` runtime), a sandbox (the
``sandbox`` runtime) or a container (the ``docker`` runtime), and
``on_warning`` hears of it once per plugin.

The invocation's kind decides what a worker is, never its other fields: a
``process`` invocation gets a process worker, a ``sandbox`` one a
bubblewrap sandbox with the one-shot lockdown (:mod:`.sandbox.worker`), a
``docker`` one a container worker (other kinds have no warm workers and are
refused). A container is created by
:meth:`DockerRuntime.create_serving_container` (the one-shot lockdown) and
driven through the ``docker`` CLI (:mod:`.warm_worker`). Each call is driven
on the caller's thread with a selector over the worker's stdout, stderr and
pidfd (:mod:`.warm_call`), so logs are attributed to the call that produced
them and a call's deadline and cancel event are enforced like a cold call's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Problem
from .base import Invocation, InvocationResult, LogCallback, PluginRuntime, RuntimeKind, refuse_other_kinds
from .docker.runtime import DockerRuntime
from .registry import RuntimeSet
from .warm_call import call_worker
from .warm_worker import Spawn, WarmWorker, WorkerGone, container_spawn, process_spawn

if TYPE_CHECKING:
    from .sandbox.runtime import SandboxRuntime

__all__ = [
    "CONTAINER_READY_TIMEOUT_S",
    "DEFAULT_IDLE_TIMEOUT_S",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_RECYCLE_AFTER",
    "READY_TIMEOUT_S",
    "SUCCESSOR_LEAD",
    "WarmPool",
    "WarningCallback",
]

DEFAULT_POOL_SIZE: int | None = None
"""No cap: a plugin gets one worker per call running at once (the run's concurrency)."""
DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_RECYCLE_AFTER = 1000
READY_TIMEOUT_S = 3.0
"""How long a new worker may take to write its ready line before the plugin
is taken not to speak the serve loop."""
SUCCESSOR_LEAD = 200
"""Calls before its quota (at most half of it) that a worker's successor starts: far longer than its start takes."""
CONTAINER_READY_TIMEOUT_S = 10.0
"""The same for a container worker, whose start includes the engine's (about
0.2 s idle, seconds on a busy machine); a miss only costs warm calls."""

_REAP_INTERVAL_S = 1.0
_WARM_KINDS = (RuntimeKind.PROCESS, RuntimeKind.DOCKER, RuntimeKind.SANDBOX)

_Key = tuple[object, ...]
WarningCallback = Callable[[Problem], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sizing:
    """How many workers one plugin may have, how many calls each serves, how long one may idle."""

    size: int | None
    recycle_after: int
    idle_timeout_s: float


class _PluginWorkers:
    """The workers of one plugin, their sizing, and whether it speaks the serve loop at all."""

    def __init__(self, sizing: _Sizing) -> None:
        self.sizing = sizing
        self.idle: list[WarmWorker] = []
        self.total = 0
        self.serving: bool | None = None
        self.lock = threading.Lock()  # taken bare where no one is woken: a Condition's ``with`` is a Python call
        self.available = threading.Condition(self.lock)
        self.waiting = 0  # calls waiting on ``available`` for a worker of a capped pool: none, no notify per call


class WarmPool:
    """A :class:`~workflow_plugin_runtime.runtimes.base.PluginRuntime` of warm workers.

    ``fallback`` runs the cold calls of process invocations; ``sandbox``
    those of sandbox invocations; ``docker`` creates container workers and
    runs the cold calls of container invocations; one not given is the
    registry's runtime of its kind, made on first need. The pool closes
    them all. ``kind`` is ``docker`` or ``sandbox`` for a pool given that
    runtime (restricted mode), else ``process``; each call's metrics name
    the runtime that served it. ``size`` caps the
    workers of each plugin (default: no cap, one per call running at once).
    ``on_warning`` is told, once per plugin, when a plugin cannot be kept
    warm and its calls run cold. ``close()`` stops every worker and removes
    every container; call it (or use the pool as a context manager) when
    the run ends.
    """

    def __init__(
        self,
        *,
        size: int | None = DEFAULT_POOL_SIZE,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
        ready_timeout_s: float = READY_TIMEOUT_S,
        container_ready_timeout_s: float = CONTAINER_READY_TIMEOUT_S,
        fallback: PluginRuntime | None = None,
        docker: DockerRuntime | None = None,
        sandbox: SandboxRuntime | None = None,
        on_warning: WarningCallback | None = None,
    ) -> None:
        if (size is not None and size < 1) or recycle_after < 1 or idle_timeout_s <= 0:
            raise ValueError("pool size, recycle_after and idle_timeout_s must be positive")
        self.size = size
        self.idle_timeout_s = idle_timeout_s
        self.recycle_after = recycle_after
        self.ready_timeout_s = ready_timeout_s
        self.container_ready_timeout_s = container_ready_timeout_s
        given = {RuntimeKind.PROCESS: fallback, RuntimeKind.DOCKER: docker, RuntimeKind.SANDBOX: sandbox}
        restricted = [kind for kind in (RuntimeKind.DOCKER, RuntimeKind.SANDBOX) if given[kind] is not None]
        self.kind = restricted[0] if restricted else RuntimeKind.PROCESS
        self._runtimes = RuntimeSet({kind: runtime for kind, runtime in given.items() if runtime is not None})
        self._plugins: dict[_Key, _PluginWorkers] = {}
        self._on_warning = on_warning
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None
        self._background: list[threading.Thread] = []
        """Workers being retired or successors being started: ``close()`` waits for each."""

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
        """Per-plugin sizing (the manifest's ``runtime.pool``), before its first call; ``None`` keeps the pool's."""
        sizing = _Sizing(
            size=size or self.size,
            recycle_after=recycle_after or self.recycle_after,
            idle_timeout_s=idle_timeout_s or self.idle_timeout_s,
        )
        key = _key_of(invocation)
        with self._lock:
            workers = self._plugins.get(key)
            if workers is None:
                self._plugins[key] = _PluginWorkers(sizing)
            else:
                workers.sizing = sizing

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        if invocation.kind not in _WARM_KINDS:
            refuse_other_kinds(invocation, *_WARM_KINDS)
        workers = self._workers_for(_key_of(invocation))
        asked = time.monotonic()
        worker, queued_s = self._acquire(workers, invocation)
        if worker is None:
            result = self._runtimes.get(invocation.kind).invoke(invocation, on_log=on_log)
            return result.replace(metrics=result.metrics.replace(queued_s=queued_s)) if queued_s else result
        try:
            # A new worker's start is this call's own cost, as a cold call's process start is; waiting is not.
            result, healthy = call_worker(
                worker, invocation, on_log=on_log, started=asked + queued_s, queued_s=queued_s
            )
        except BaseException:  # KeyboardInterrupt, or on_log raised: the worker's state is unknown
            self._release(workers, worker, keep=False, invocation=invocation)
            raise
        self._release(workers, worker, keep=healthy, invocation=invocation)
        return result

    def _spawn(self, invocation: Invocation) -> tuple[Spawn, float]:
        """How to start a worker for ``invocation``, and how long it may take to say it is ready."""
        if invocation.kind is RuntimeKind.PROCESS:
            return process_spawn(invocation), self.ready_timeout_s
        runtime = self._runtimes.get(invocation.kind)
        if invocation.kind is RuntimeKind.SANDBOX:
            from .sandbox.runtime import SandboxRuntime
            from .sandbox.worker import sandbox_spawn

            if not isinstance(runtime, SandboxRuntime):
                raise WorkerGone(f"its {type(runtime).__name__} runtime cannot start warm sandboxes")
            return sandbox_spawn(invocation), self.ready_timeout_s
        if not isinstance(runtime, DockerRuntime):
            raise WorkerGone(f"its {type(runtime).__name__} runtime cannot start warm containers")
        return container_spawn(invocation, runtime), self.container_ready_timeout_s

    def _workers_for(self, key: _Key) -> _PluginWorkers:
        workers = self._plugins.get(key)  # every call asks: a plugin's workers, once made, stay (no lock to read)
        if workers is not None and not self._closed.is_set():
            return workers
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the warm pool is closed")
            workers = self._plugins.get(key)
            if workers is None:
                workers = self._plugins[key] = _PluginWorkers(
                    _Sizing(size=self.size, recycle_after=self.recycle_after, idle_timeout_s=self.idle_timeout_s)
                )
            return workers

    def _acquire(self, workers: _PluginWorkers, invocation: Invocation) -> tuple[WarmWorker | None, float]:
        """A worker for this call (None: run it cold), and the seconds it waited for one.

        Waiting counts the time a capped pool kept the call back and the
        time a worker took to fail its start (then the call runs cold).
        """
        size = workers.sizing.size
        queued_s = 0.0
        with workers.lock:
            while True:
                if workers.serving is False:
                    return None, queued_s
                if workers.idle:
                    return workers.idle.pop(), queued_s
                if size is None or workers.total < size:
                    workers.total += 1
                    break
                waiting_since = time.monotonic()
                workers.waiting += 1  # left counted if the wait raises (Ctrl-C): a notify too many harms no one
                workers.available.wait(0.05)
                workers.waiting -= 1
                queued_s += time.monotonic() - waiting_since
                if invocation.cancel is not None and invocation.cancel.is_set():
                    return None, queued_s
        starting_since = time.monotonic()
        try:
            spawn, ready_timeout_s = self._spawn(invocation)
            worker = WarmWorker(spawn, ready_timeout_s=ready_timeout_s)
        except WorkerGone as exc:
            queued_s += time.monotonic() - starting_since
            with workers.available:
                workers.total -= 1
                workers.serving = False
                workers.available.notify_all()
            self._warn_cold(invocation, exc)
            return None, queued_s
        with workers.available:
            workers.serving = True
        self._start_reaper()
        return worker, queued_s

    def _warn_cold(self, invocation: Invocation, gone: WorkerGone) -> None:
        """Say once per plugin that its calls run cold, and why; a silent fallback looks like a slow plugin."""
        with self._lock:
            if invocation.plugin_ref in self._warned or self._on_warning is None:
                return
            self._warned.add(invocation.plugin_ref)
        from .cold_fallback import cold_fallback_warning  # here: a pool whose workers start never needs it

        self._on_warning(cold_fallback_warning(invocation, gone))

    def _release(self, workers: _PluginWorkers, worker: WarmWorker, *, keep: bool, invocation: Invocation) -> None:
        if keep and worker.alive and not self._closed.is_set():
            quota = workers.sizing.recycle_after
            if worker.calls < quota:
                if worker.calls == quota - min(SUCCESSOR_LEAD, quota // 2):
                    self._start_successor(workers, invocation)
                worker.idle_since = time.monotonic()
                with workers.lock:
                    workers.idle.append(worker)
                    if workers.waiting:
                        workers.available.notify()
                return
            # A healthy worker that served its quota is stopped on a thread of its own: the call that was its
            # last returns at once (killing and reaping it, its tree scan included, takes milliseconds).
            if self._in_background(self._retire, workers, worker, name="warm-pool-retire"):
                return
        self._retire(workers, worker)

    def _in_background(self, target: Callable[..., None], *args: object, name: str) -> bool:
        """Run ``target(*args)`` on a thread ``close()`` will wait for; False once ``close()`` has begun."""
        with self._lock:  # close() joins what it finds here
            if self._closed.is_set():
                return False
            self._background = [thread for thread in self._background if thread.is_alive()]
            thread = threading.Thread(target=target, args=args, name=name)
            self._background.append(thread)
            thread.start()
            return True

    def _start_successor(self, workers: _PluginWorkers, invocation: Invocation) -> None:
        """Start the next worker of ``workers`` in the background, unless that would exceed a capped pool."""
        with workers.available:
            if workers.sizing.size is not None and workers.total >= workers.sizing.size:
                return
            workers.total += 1
        if not self._in_background(self._add_successor, workers, invocation, name="warm-pool-successor"):
            with workers.available:
                workers.total -= 1

    def _add_successor(self, workers: _PluginWorkers, invocation: Invocation) -> None:
        """Start a worker and leave it idle behind the ones already there, which serve out their quotas first."""
        try:
            spawn, ready_timeout_s = self._spawn(invocation)
            worker = WarmWorker(spawn, ready_timeout_s=ready_timeout_s)
        except Exception:  # noqa: BLE001 - the next call that needs a worker starts one itself, and says why it cannot
            with workers.available:
                workers.total -= 1
                workers.available.notify()
            return
        if self._closed.is_set():  # close() took its idle workers already, or is about to (it waits for this thread)
            self._retire(workers, worker)
            return
        worker.idle_since = time.monotonic()
        with workers.available:
            workers.idle.insert(0, worker)
            workers.available.notify()

    @staticmethod
    def _retire(workers: _PluginWorkers, worker: WarmWorker) -> None:
        """Stop ``worker`` and free its place (only then: a capped pool never holds more than ``size``)."""
        try:
            worker.kill()
        finally:  # its place is freed even if stopping it failed, or a capped pool would wait for it forever
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
            for workers in list(self._plugins.values()):
                idle_timeout = workers.sizing.idle_timeout_s
                with workers.available:
                    expired = [w for w in workers.idle if now - w.idle_since >= idle_timeout]
                    workers.idle = [w for w in workers.idle if w not in expired]
                    workers.total -= len(expired)
                for worker in expired:
                    worker.kill()

    def worker_pids(self) -> list[int]:
        """The pids of idle workers: a sandbox's bwrap, a container's ``docker`` CLI (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for workers in self._plugins.values() for w in workers.idle]

    def close(self) -> None:
        """Stop every idle worker (removing its container or sandbox) and the reaper; busy ones stop after a call."""
        self._closed.set()
        if self._reaper is not None:
            self._reaper.join()
        with self._lock:
            plugins = list(self._plugins.values())
            background, self._background = self._background, []
        for thread in background:
            thread.join()
        for workers in plugins:
            with workers.available:
                idle, workers.idle = workers.idle, []
                workers.total -= len(idle)
            for worker in idle:
                worker.kill()
        self._runtimes.close()


def _key_of(invocation: Invocation) -> _Key:
    """What makes two invocations interchangeable for a worker: never shared across different grants."""
    env = tuple(sorted(invocation.env.items()))
    grants = (invocation.mounts, invocation.limits, invocation.network, env)
    if invocation.kind is RuntimeKind.DOCKER:
        return (RuntimeKind.DOCKER, invocation.image, invocation.container_command, *grants)
    if invocation.kind is RuntimeKind.SANDBOX:
        return (RuntimeKind.SANDBOX, invocation.argv, str(invocation.plugin_dir), *grants)
    return (RuntimeKind.PROCESS, invocation.argv, str(invocation.plugin_dir), env)
