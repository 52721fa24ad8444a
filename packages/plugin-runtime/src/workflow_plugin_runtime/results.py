"""What invocations and runs leave behind: metrics, typed failures, task and run results.

These are plain data shared by the runtimes, the executor, the scheduler and
the run record, so they live apart from all of them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .workflow import Workflow


class FailureKind(enum.StrEnum):
    """Why a task failed; the values are the run record's ``error.kind``."""

    NOT_FOUND = "not_found"
    MANIFEST = "manifest"
    PERMISSION = "permission"
    INPUT_VALIDATION = "input_validation"
    OUTPUT_VALIDATION = "output_validation"
    TEMPLATE = "template"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    PROTOCOL = "protocol"
    ACTION = "action"
    RUNTIME_UNAVAILABLE = "runtime_unavailable"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"


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
class Failure:
    """A failed invocation, already masked: safe to print and to record.

    ``retryable`` is the plugin's own word (from its error response); the
    scheduler decides whether to retry. ``stdout_head`` is the start of a
    stdout that was not a response, as a runtime read it: the executor
    quotes it in ``message`` (masked, then cut short) and empties it, so it
    is never printed or recorded as is.
    """

    kind: FailureKind
    message: str
    exit_code: int | None = None
    stderr_tail: str = ""
    retryable: bool = False
    error_type: str | None = None
    stdout_head: str = ""

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.error_type is not None:
            record["type"] = self.error_type
        if self.exit_code is not None:
            record["exit_code"] = self.exit_code
        if self.stderr_tail:
            record["stderr_tail"] = self.stderr_tail
        if self.retryable:
            record["retryable"] = True
        return record


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How one task ended; ``reason`` says why a task was skipped or cancelled."""

    task_id: str
    status: TaskStatus
    outputs: Mapping[str, Any] | None = None
    failure: Failure | None = None
    metrics: Metrics | None = None
    attempts: int = 0
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    provenance: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended; ``failure`` is a run-level error (a workflow output that cannot be resolved)."""

    run_id: str
    workflow: Workflow
    status: RunStatus
    outputs: Mapping[str, Any]
    tasks: Mapping[str, TaskResult]
    started_at: float
    finished_at: float
    failure: Failure | None = None
