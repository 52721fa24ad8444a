"""What a supervised host process (a trusted process, a sandbox) ended as, and the call's result from it.

:mod:`.supervise` runs the process and hands back a :class:`ProcessOutcome`;
the runtime that started it adds what only it knows (its usage figures,
the limits it saw hit, when its scratch folder was made and removed) and
:func:`supervised_result` turns the lot into the call's
:class:`~.base.InvocationResult`, the protocol interpreted by
:func:`~.outcome.classify`.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Protocol

from .._frozen import FrozenRecord
from .base import Invocation, InvocationResult, Metrics, RuntimeKind, Timings
from .outcome import Ending, Termination, classify

if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import LogRecord

__all__ = ["ProcessOutcome", "Reaped", "SupervisedProcess", "supervised_result"]


_set = object.__setattr__


class Reaped(FrozenRecord):
    """How a supervised process ended (its wait status) and what it used, once it is reaped.

    This and :class:`ProcessOutcome`: FrozenRecords, not dataclasses, for run start-up (docs/performance.md).
    """

    __slots__ = ("cpu_time_s", "peak_memory_bytes", "status")
    status: int
    cpu_time_s: float
    peak_memory_bytes: int

    def __init__(self, status: int, cpu_time_s: float, peak_memory_bytes: int) -> None:
        _set(self, "status", status)
        _set(self, "cpu_time_s", cpu_time_s)
        _set(self, "peak_memory_bytes", peak_memory_bytes)


class SupervisedProcess(Protocol):
    """What the loop drives: a session leader's pid and its three pipes (a ``Popen``, or a fork server's call)."""

    @property
    def pid(self) -> int: ...

    @property
    def stdin(self) -> IO[bytes] | None: ...

    @property
    def stdout(self) -> IO[bytes] | None: ...

    @property
    def stderr(self) -> IO[bytes] | None: ...


class ProcessOutcome(FrozenRecord):
    """How a supervised process ended, before any protocol interpretation.

    ``ready_at`` (started, and released by ``on_start``) and ``answered_at``
    (its last stdout bytes read; when it wrote none, its end seen; when the
    engine stopped it, the stop's start) are on the monotonic clock: the runtime that started the process splits its
    call's time there (:class:`~.base.Timings`).
    """

    __slots__ = (
        "answered_at",
        "cpu_time_s",
        "exit_code",
        "logs",
        "peak_memory_bytes",
        "ready_at",
        "signal",
        "stderr_tail",
        "stdout",
        "termination",
    )
    stdout: bytes
    termination: Termination
    exit_code: int | None
    signal: int | None
    ready_at: float
    answered_at: float
    cpu_time_s: float
    peak_memory_bytes: int
    logs: tuple[LogRecord, ...]
    stderr_tail: str

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        stdout: bytes,
        termination: Termination,
        exit_code: int | None,
        signal: int | None,
        ready_at: float,
        answered_at: float,
        cpu_time_s: float,
        peak_memory_bytes: int,
        logs: tuple[LogRecord, ...],
        stderr_tail: str,
    ) -> None:
        _set(self, "stdout", stdout)
        _set(self, "termination", termination)
        _set(self, "exit_code", exit_code)
        _set(self, "signal", signal)
        _set(self, "ready_at", ready_at)
        _set(self, "answered_at", answered_at)
        _set(self, "cpu_time_s", cpu_time_s)
        _set(self, "peak_memory_bytes", peak_memory_bytes)
        _set(self, "logs", logs)
        _set(self, "stderr_tail", stderr_tail)

    @property
    def failed(self) -> bool:
        """Whether it ended by itself, but not well: a non-zero exit or a signal (what a limit's kill looks like)."""
        return self.termination is Termination.COMPLETED and (self.exit_code != 0 or self.signal is not None)


def supervised_result(
    invocation: Invocation,
    outcome: ProcessOutcome,
    *,
    spawned: float,
    ended: float,
    runtime: RuntimeKind,
    killed: str,
    cpu_time_s: float | None,
    peak_memory_bytes: int | None,
    oom_limit_bytes: int | None = None,
    pids_limit: int | None = None,
    not_found_fix: str | None = None,
) -> InvocationResult:
    """The result of a call that ran as a supervised host process (a trusted process, a sandbox).

    ``spawned`` and ``ended`` are when the runtime began making the call's
    process (its scratch folder, its sandbox) and when everything of it was
    reaped and removed, on the monotonic clock: the call's ``duration_s``.
    ``killed`` names what a timeout killed, for the message; the usage is
    the runtime's to say (``wait4``'s for a process, the cgroup's for a
    sandbox), as are the limits it saw hit (:class:`~.outcome.Ending`).
    """
    response, failure = classify(
        Ending(
            plugin_ref=invocation.plugin_ref,
            stdout=outcome.stdout,
            termination=outcome.termination,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            stderr_tail=outcome.stderr_tail,
            timeout_s=invocation.timeout_s,
            killed=killed,
            stdout_limit=invocation.max_stdout_bytes,
            stderr_limit=invocation.max_stderr_bytes,
            oom_limit_bytes=oom_limit_bytes,
            pids_limit=pids_limit,
            not_found_fix=not_found_fix,
        )
    )
    metrics = Metrics(
        duration_s=ended - spawned,
        runtime=runtime,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        cpu_time_s=cpu_time_s,
        peak_memory_bytes=peak_memory_bytes,
        timings=Timings.between(spawned=spawned, ready=outcome.ready_at, answered=outcome.answered_at, ended=ended),
    )
    return InvocationResult(
        response=response, failure=failure, metrics=metrics, logs=outcome.logs, stderr_tail=outcome.stderr_tail
    )
