"""What every runtime takes and gives back: a prepared invocation, a result.

The executor resolves a task into an :class:`Invocation` (argv or image,
configured environment, mounts, limits, timeout) and hands it to a
:class:`PluginRuntime`; the runtime only runs it. Keeping the runtimes
ignorant of manifests, templates and permissions lets the process, Docker,
sandbox and warm-pool runtimes share one contract and one failure mapping
(:mod:`.outcome`).
"""

from __future__ import annotations

import enum
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from workflow_plugin_sdk.protocol import LogRecord, Request, Response

from ..errors import Failure
from ..workflows.mount_sources import Mount

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_MAX_STDERR_BYTES",
    "DEFAULT_MAX_STDOUT_BYTES",
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_PIDS",
    "DEFAULT_TIMEOUT_S",
    "PYTHON_FLAGS",
    "Invocation",
    "InvocationResult",
    "KiB",
    "LogCallback",
    "Metrics",
    "MiB",
    "PluginRuntime",
    "ResourceLimits",
    "RuntimeKind",
    "plugin_argv",
]

KiB = 1024
MiB = 1024 * KiB

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_STDOUT_BYTES = 16 * MiB
DEFAULT_MAX_STDERR_BYTES = 16 * MiB
DEFAULT_MEMORY_BYTES = 512 * MiB
DEFAULT_CPUS = 1.0
DEFAULT_PIDS = 256

PYTHON_FLAGS = ("-E", "-s")
"""How ``.py`` entrypoints start: ignore ``PYTHON*`` variables and the user's
site-packages. Not ``-I``: it implies ``-P``, which drops the plugin's own
directory from ``sys.path`` and breaks plugins split into several modules.
Not ``-S``: the SDK and a trusted plugin's dependencies live in
site-packages (docs/runtimes.md has the measurements)."""

LogCallback = Callable[[LogRecord], None]


class RuntimeKind(enum.StrEnum):
    """Where a task runs: a local process, a bubblewrap sandbox, a container, or the engine itself (handlers)."""

    PROCESS = "process"
    SANDBOX = "sandbox"
    DOCKER = "docker"
    ENGINE = "engine"


@dataclass(frozen=True, slots=True)
class Metrics:
    """One invocation's measurements; ``None`` where the platform cannot say.

    ``duration_s`` is the call's own time; ``queued_s`` is the time it
    waited before that for a free warm worker (a pool at its size), kept
    apart so a busy pool does not make a plugin look slow.
    """

    duration_s: float
    runtime: RuntimeKind
    exit_code: int | None = None
    signal: int | None = None
    cpu_time_s: float | None = None
    peak_memory_bytes: int | None = None
    warm: bool = False
    queued_s: float = 0.0

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
        }


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Ceilings for an isolated plugin; trusted processes are not limited."""

    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpus: float = DEFAULT_CPUS
    pids: int = DEFAULT_PIDS

    def __post_init__(self) -> None:
        if self.memory_bytes < 6 * MiB:
            raise ValueError(f"memory limit {self.memory_bytes} bytes is too small to start a process (minimum 6 MiB)")
        if self.cpus <= 0:
            raise ValueError(f"cpus must be positive, got {self.cpus}")
        if self.pids < 1:
            raise ValueError(f"pids must be at least 1, got {self.pids}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One prepared plugin call; a runtime uses the fields that apply to it.

    ``argv`` is for runtimes that start a host process (see
    :func:`plugin_argv`); ``image`` and ``container_command`` are for
    containers, where ``None`` means the image's own CMD/ENTRYPOINT. ``env``
    holds the configured variables only: each runtime adds a minimal base and
    never passes the operator's environment. The request travels on stdin
    only, never in argv or the environment. Setting ``cancel`` kills the
    call in flight; the result's failure kind is then ``cancelled``.
    ``content_hash`` is the plugin directory's current hash: a container
    runtime given one runs the image only if it was built from exactly that
    content (:mod:`.docker_image`); ``None`` runs ``image`` unchecked.
    """

    plugin_ref: str
    request: Request
    plugin_dir: Path | None = None
    argv: tuple[str, ...] = ()
    image: str | None = None
    container_command: tuple[str, ...] | None = None
    content_hash: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    network: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_stdout_bytes: int = DEFAULT_MAX_STDOUT_BYTES
    max_stderr_bytes: int = DEFAULT_MAX_STDERR_BYTES
    cancel: threading.Event | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.max_stdout_bytes < 1 or self.max_stderr_bytes < 1:
            raise ValueError("output limits must be positive")
        for name, value in self.env.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise ValueError(f"invalid environment variable name or value for {name!r}")


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """What came back: a response, or a typed failure, and always metrics.

    ``response`` is kept even on failure when the plugin sent a valid error
    document. Nothing here is masked yet: the executor masks before anything
    is printed or recorded.
    """

    response: Response | None
    failure: Failure | None
    metrics: Metrics
    logs: tuple[LogRecord, ...] = ()
    stderr_tail: str = ""

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
    """Runs prepared invocations. ``invoke`` never raises for plugin
    misbehaviour or an unavailable backend: those are failures in the result.
    It raises only for programming errors (e.g. an invocation lacking what
    this runtime needs) and lets ``KeyboardInterrupt`` through after cleaning
    up. ``on_log`` is called on the invoking thread, in order, as lines
    arrive."""

    @property
    def kind(self) -> RuntimeKind: ...

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult: ...

    def close(self) -> None: ...


def plugin_argv(
    plugin_dir: Path,
    *,
    entrypoint: str | None = None,
    command: tuple[str, ...] | list[str] | None = None,
    python: str | None = None,
) -> tuple[str, ...]:
    """The argv that starts a plugin as a host process.

    A ``.py`` entrypoint runs under ``python`` (default: this interpreter,
    started directly rather than through a shim) with :data:`PYTHON_FLAGS`;
    any other entrypoint is executed as a file; a ``command`` is used as given
    (the process runs in ``plugin_dir``, so relative paths in it work).
    """
    if (entrypoint is None) == (command is None):
        raise ValueError("give exactly one of entrypoint and command")
    if command is not None:
        if not command:
            raise ValueError("command must not be empty")
        return tuple(command)
    assert entrypoint is not None
    path = Path(plugin_dir) / entrypoint
    if path.suffix == ".py":
        return (python or sys.executable, *PYTHON_FLAGS, str(path))
    return (str(path),)
