"""What every runtime takes and gives back: a prepared invocation, a result.

The executor resolves a task into an :class:`Invocation` (the kind of place
it runs in, argv or image, configured environment, mounts, limits, timeout)
and hands it to the :class:`PluginRuntime` of that kind (:mod:`.registry`);
the runtime only runs it. Keeping the runtimes ignorant of manifests,
templates and permissions lets the process, Docker, sandbox and warm-pool
runtimes share one contract and one failure mapping (:mod:`.outcome`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._frozen import FrozenRecord
from ..config import RuntimeKind
from ..errors import Failure
from ..plugins.manifest import DEFAULT_TIMEOUT_S
from ..workflows.mount_sources import Mount

if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import LogRecord, Request, Response

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_MAX_STDERR_BYTES",
    "DEFAULT_MAX_STDOUT_BYTES",
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_PIDS",
    "Invocation",
    "InvocationResult",
    "KiB",
    "LogCallback",
    "Metrics",
    "MiB",
    "PluginRuntime",
    "ResourceLimits",
    "RuntimeKind",
    "Timings",
    "refuse_other_kinds",
]

KiB = 1024
MiB = 1024 * KiB

DEFAULT_MAX_STDOUT_BYTES = 16 * MiB
DEFAULT_MAX_STDERR_BYTES = 16 * MiB
DEFAULT_MEMORY_BYTES = 512 * MiB
DEFAULT_CPUS = 1.0
DEFAULT_PIDS = 256

LogCallback = Callable[["LogRecord"], None]

_set = object.__setattr__


class Timings(FrozenRecord):
    """Where a call's own time went, so a slow start is never taken for a slow action.

    ``startup_s`` runs from spawning the plugin's process, sandbox or
    container to it being ready, ``action_s`` from then to its response,
    ``teardown_s`` from the response to everything of the call reaped and
    removed. What "ready" is differs per runtime (docs/runtimes.md,
    "Timings"): the three always add up to the call's ``duration_s``.

    This and :class:`ResourceLimits`: FrozenRecords, not dataclasses, for run start-up (docs/performance.md).
    """

    __slots__ = ("action_s", "startup_s", "teardown_s")
    startup_s: float
    action_s: float
    teardown_s: float

    def __init__(self, startup_s: float = 0.0, action_s: float = 0.0, teardown_s: float = 0.0) -> None:
        _set(self, "startup_s", startup_s)
        _set(self, "action_s", action_s)
        _set(self, "teardown_s", teardown_s)

    @classmethod
    def between(cls, *, spawned: float, ready: float, answered: float, ended: float) -> Timings:
        """From the call's events on the monotonic clock (each at or after the one before)."""
        return cls(startup_s=ready - spawned, action_s=answered - ready, teardown_s=ended - answered)

    @classmethod
    def not_started(cls, duration_s: float) -> Timings:
        """A call that failed before its plugin was ready: all of it was start-up."""
        return cls(startup_s=duration_s)


_NO_TIMINGS = Timings()
"""Every call's timings until measured: one shared value, as a frozen default may be."""


class Metrics(FrozenRecord):
    """One invocation's measurements; ``None`` where the platform cannot say.

    ``duration_s`` is the call's own time, split in ``timings``;
    ``queued_s`` is the time it waited before that for a free warm worker
    (a pool at its size), kept apart so a busy pool does not make a plugin
    look slow. ``slot_wait_s`` is the scheduler's to fill (a runtime leaves
    it 0): how long the task waited for a free slot before it was called.
    ``worker`` is the address of the Dask worker that ran the call (None:
    it ran in this process's runtimes).

    This, :class:`Invocation` and :class:`InvocationResult`: FrozenRecords for run start-up (docs/performance.md).
    """

    __slots__ = (
        "cpu_time_s",
        "duration_s",
        "exit_code",
        "peak_memory_bytes",
        "queued_s",
        "runtime",
        "signal",
        "slot_wait_s",
        "timings",
        "warm",
        "worker",
    )
    duration_s: float
    runtime: RuntimeKind
    exit_code: int | None
    signal: int | None
    cpu_time_s: float | None
    peak_memory_bytes: int | None
    warm: bool
    queued_s: float
    timings: Timings
    slot_wait_s: float
    worker: str | None

    def __init__(  # noqa: PLR0917 - positional, as the dataclass's were (and as unpickling passes them)
        self,
        duration_s: float,
        runtime: RuntimeKind,
        exit_code: int | None = None,
        signal: int | None = None,
        cpu_time_s: float | None = None,
        peak_memory_bytes: int | None = None,
        warm: bool = False,
        queued_s: float = 0.0,
        timings: Timings = _NO_TIMINGS,
        slot_wait_s: float = 0.0,
        worker: str | None = None,
    ) -> None:
        _set(self, "duration_s", duration_s)
        _set(self, "runtime", runtime)
        _set(self, "exit_code", exit_code)
        _set(self, "signal", signal)
        _set(self, "cpu_time_s", cpu_time_s)
        _set(self, "peak_memory_bytes", peak_memory_bytes)
        _set(self, "warm", warm)
        _set(self, "queued_s", queued_s)
        _set(self, "timings", timings)
        _set(self, "slot_wait_s", slot_wait_s)
        _set(self, "worker", worker)

    def to_record(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 6),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "cpu_time_s": None if self.cpu_time_s is None else round(self.cpu_time_s, 6),
            "peak_memory_bytes": self.peak_memory_bytes,
            "runtime": self.runtime.value,
            "warm": self.warm,
            "queued_s": round(self.queued_s, 6),
            "timings": {
                "queue_s": round(self.slot_wait_s + self.queued_s, 6),
                "startup_s": round(self.timings.startup_s, 6),
                "action_s": round(self.timings.action_s, 6),
                "teardown_s": round(self.timings.teardown_s, 6),
            },
            "worker": self.worker,
        }


class ResourceLimits(FrozenRecord):
    """The ceilings an isolated call runs under; trusted processes are not limited.

    Always complete, unlike a workflow's
    :class:`~workflow_plugin_runtime.workflows.permissions.ResourceGrant`
    (which says only what it changes): the manager fills what a grant leaves
    out with these defaults.
    """

    __slots__ = ("cpus", "memory_bytes", "pids")
    memory_bytes: int
    cpus: float
    pids: int

    def __init__(
        self, memory_bytes: int = DEFAULT_MEMORY_BYTES, cpus: float = DEFAULT_CPUS, pids: int = DEFAULT_PIDS
    ) -> None:
        if memory_bytes < 6 * MiB:
            raise ValueError(f"memory limit {memory_bytes} bytes is too small to start a process (minimum 6 MiB)")
        if cpus <= 0:
            raise ValueError(f"cpus must be positive, got {cpus}")
        if pids < 1:
            raise ValueError(f"pids must be at least 1, got {pids}")
        _set(self, "memory_bytes", memory_bytes)
        _set(self, "cpus", cpus)
        _set(self, "pids", pids)


_DEFAULT_LIMITS = ResourceLimits()
"""The limits of an invocation given none: one shared value (it is frozen), not one made per call."""


class Invocation(FrozenRecord, keyword_only=True, uncompared=("cancel",)):
    """One prepared plugin call; a runtime uses the fields that apply to it.

    ``kind`` says where it runs, and only it decides which runtime takes the
    call: a runtime refuses another kind (:func:`refuse_other_kinds`) rather
    than guess from the other fields (a sandbox call has no image either).
    ``argv`` is for runtimes that start a host process (see
    :func:`.host_argv.plugin_argv`; a process call needs it and ``plugin_dir``);
    ``image`` and ``container_command`` are for containers (a docker call
    needs ``image``; a ``container_command`` of ``None`` means the image's
    own CMD/ENTRYPOINT). ``env`` holds the configured variables only: each
    runtime adds a minimal base and never passes the operator's environment.
    The request travels on stdin only, never in argv or the environment.
    Setting ``cancel`` kills the call in flight; the result's failure kind
    is then ``cancelled``. ``content_hash`` is the plugin directory's
    current hash: a container runtime given one runs the image only if it
    was built from exactly that content (:mod:`.docker.image`); ``None``
    runs ``image`` unchecked.
    """

    __slots__ = (
        "argv",
        "cancel",
        "container_command",
        "content_hash",
        "env",
        "image",
        "kind",
        "limits",
        "max_stderr_bytes",
        "max_stdout_bytes",
        "mounts",
        "network",
        "plugin_dir",
        "plugin_ref",
        "request",
        "timeout_s",
    )
    kind: RuntimeKind
    plugin_ref: str
    request: Request
    plugin_dir: Path | None
    argv: tuple[str, ...]
    image: str | None
    container_command: tuple[str, ...] | None
    content_hash: str | None
    env: Mapping[str, str]
    mounts: tuple[Mount, ...]
    limits: ResourceLimits
    network: bool
    timeout_s: float
    max_stdout_bytes: int
    max_stderr_bytes: int
    cancel: threading.Event | None

    def __init__(
        self,
        *,
        kind: RuntimeKind,
        plugin_ref: str,
        request: Request,
        plugin_dir: Path | None = None,
        argv: tuple[str, ...] = (),
        image: str | None = None,
        container_command: tuple[str, ...] | None = None,
        content_hash: str | None = None,
        env: Mapping[str, str] | None = None,
        mounts: tuple[Mount, ...] = (),
        limits: ResourceLimits | None = None,
        network: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES,
        max_stderr_bytes: int = DEFAULT_MAX_STDERR_BYTES,
        cancel: threading.Event | None = None,
    ) -> None:
        env = {} if env is None else env
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_stdout_bytes < 1 or max_stderr_bytes < 1:
            raise ValueError("output limits must be positive")
        for name, value in env.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise ValueError(f"invalid environment variable name or value for {name!r}")
        if kind is RuntimeKind.PROCESS and (not argv or plugin_dir is None):
            raise ValueError(f"{plugin_ref}: a process invocation needs argv and plugin_dir (see plugin_argv)")
        if kind is RuntimeKind.DOCKER and image is None:
            raise ValueError(f"{plugin_ref}: a docker invocation needs an image")
        _set(self, "kind", kind)
        _set(self, "plugin_ref", plugin_ref)
        _set(self, "request", request)
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "argv", argv)
        _set(self, "image", image)
        _set(self, "container_command", container_command)
        _set(self, "content_hash", content_hash)
        _set(self, "env", env)
        _set(self, "mounts", mounts)
        _set(self, "limits", _DEFAULT_LIMITS if limits is None else limits)
        _set(self, "network", network)
        _set(self, "timeout_s", timeout_s)
        _set(self, "max_stdout_bytes", max_stdout_bytes)
        _set(self, "max_stderr_bytes", max_stderr_bytes)
        _set(self, "cancel", cancel)


def refuse_other_kinds(invocation: Invocation, *kinds: RuntimeKind) -> None:
    """Raise ValueError for an invocation prepared for another place than ``kinds``.

    Running it anyway would silently drop what its kind promises (a
    container's lockdown run as a bare process), so this is a programming
    error, never a plugin's failure.
    """
    if invocation.kind not in kinds:
        runs = " or ".join(kind.value for kind in kinds)
        raise ValueError(
            f"{invocation.plugin_ref}: a {invocation.kind.value} invocation cannot run on a {runs} runtime"
        )


class InvocationResult(FrozenRecord):
    """What came back: a response, or a typed failure, and always metrics.

    ``response`` is kept even on failure when the plugin sent a valid error
    document. Nothing here is masked yet: the executor masks before anything
    is printed or recorded.
    """

    __slots__ = ("failure", "logs", "metrics", "response", "stderr_tail")
    response: Response | None
    failure: Failure | None
    metrics: Metrics
    logs: tuple[LogRecord, ...]
    stderr_tail: str

    def __init__(
        self,
        response: Response | None,
        failure: Failure | None,
        metrics: Metrics,
        logs: tuple[LogRecord, ...] = (),
        stderr_tail: str = "",
    ) -> None:
        _set(self, "response", response)
        _set(self, "failure", failure)
        _set(self, "metrics", metrics)
        _set(self, "logs", logs)
        _set(self, "stderr_tail", stderr_tail)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def outputs(self) -> dict[str, Any] | None:
        if self.failure is not None or self.response is None or not self.response["ok"]:
            return None
        return self.response["outputs"]


@runtime_checkable
class PluginRuntime(Protocol):
    """Runs prepared invocations of its ``kind``. ``invoke`` never raises for
    plugin misbehaviour or an unavailable backend: those are failures in the
    result. It raises only for programming errors (e.g. an invocation of
    another kind) and lets ``KeyboardInterrupt`` through after cleaning up.
    ``on_log`` is called on the invoking thread, in order, as lines arrive.
    A new runtime implements this and registers itself by kind
    (:mod:`.registry`)."""

    @property
    def kind(self) -> RuntimeKind: ...

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult: ...

    def close(self) -> None: ...
