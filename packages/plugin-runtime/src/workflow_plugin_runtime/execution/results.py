"""How tasks and runs end: statuses and results, as the scheduler reports them and the run record keeps them.

A failure's kind and record (:class:`~workflow_plugin_runtime.errors.Failure`) live with the
errors, and an invocation's measurements (:class:`~workflow_plugin_runtime.runtimes.base.Metrics`)
with the runtimes: both are needed below the execution layer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Failure

if TYPE_CHECKING:
    from ..runtimes.base import Metrics
    from ..workflows.workflow import Workflow

__all__ = [
    "RunResult",
    "RunStatus",
    "TaskResult",
    "TaskStatus",
]


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
