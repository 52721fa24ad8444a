"""How tasks and runs end: statuses and results, as the scheduler reports them and the run record keeps them.

A run's workflow outputs are resolved here too (:func:`workflow_outputs`),
once every task ended, from the outputs of the tasks that succeeded.

A failure's kind and record (:class:`~workflow_plugin_runtime.errors.Failure`) live with the
errors, and an invocation's measurements (:class:`~workflow_plugin_runtime.runtimes.base.Metrics`)
with the runtimes: both are needed below the execution layer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._frozen import FrozenRecord
from ..errors import Failure, FailureKind, TemplateError
from ..workflows.template_values import CompiledValue
from ..workflows.templates import Scope, TemplateContext

if TYPE_CHECKING:
    from ..masking.masker import Masker
    from ..runtimes.base import Metrics
    from ..workflows.workflow import Workflow

__all__ = [
    "RunResult",
    "RunStatus",
    "TaskResult",
    "TaskStatus",
    "workflow_outputs",
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


_set = object.__setattr__


class TaskResult(FrozenRecord):
    """How one task ended; ``reason`` says why a task was skipped or cancelled.

    This and :class:`RunResult`: FrozenRecords, not dataclasses, for run start-up (docs/performance.md).
    """

    __slots__ = (
        "attempts",
        "failure",
        "finished_at",
        "metrics",
        "outputs",
        "provenance",
        "reason",
        "started_at",
        "status",
        "task_id",
    )
    task_id: str
    status: TaskStatus
    outputs: Mapping[str, Any] | None
    failure: Failure | None
    metrics: Metrics | None
    attempts: int
    reason: str | None
    started_at: float | None
    finished_at: float | None
    provenance: Mapping[str, Any] | None

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        task_id: str,
        status: TaskStatus,
        outputs: Mapping[str, Any] | None = None,
        failure: Failure | None = None,
        metrics: Metrics | None = None,
        attempts: int = 0,
        reason: str | None = None,
        started_at: float | None = None,
        finished_at: float | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        _set(self, "task_id", task_id)
        _set(self, "status", status)
        _set(self, "outputs", outputs)
        _set(self, "failure", failure)
        _set(self, "metrics", metrics)
        _set(self, "attempts", attempts)
        _set(self, "reason", reason)
        _set(self, "started_at", started_at)
        _set(self, "finished_at", finished_at)
        _set(self, "provenance", provenance)


class RunResult(FrozenRecord):
    """How a run ended; ``failure`` is a run-level error (a workflow output that cannot be resolved)."""

    __slots__ = ("failure", "finished_at", "outputs", "run_id", "started_at", "status", "tasks", "workflow")
    run_id: str
    workflow: Workflow
    status: RunStatus
    outputs: Mapping[str, Any]
    tasks: Mapping[str, TaskResult]
    started_at: float
    finished_at: float
    failure: Failure | None

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        run_id: str,
        workflow: Workflow,
        status: RunStatus,
        outputs: Mapping[str, Any],
        tasks: Mapping[str, TaskResult],
        started_at: float,
        finished_at: float,
        failure: Failure | None = None,
    ) -> None:
        _set(self, "run_id", run_id)
        _set(self, "workflow", workflow)
        _set(self, "status", status)
        _set(self, "outputs", outputs)
        _set(self, "tasks", tasks)
        _set(self, "started_at", started_at)
        _set(self, "finished_at", finished_at)
        _set(self, "failure", failure)


def workflow_outputs(
    workflow: Workflow, *, context: TemplateContext, succeeded: Mapping[str, object], masker: Masker
) -> tuple[dict[str, Any], Failure | None]:
    """Each declared output (masked), and the run's failure when one reads a key a succeeded task lacks.

    ``succeeded`` holds the tasks that succeeded, by id. An output reading a
    task that did not succeed is null: that task's failure already says why.
    """
    tree = workflow.outputs.tree
    if not isinstance(tree, Mapping):
        return {}, None
    reads: dict[str, set[str]] = {}
    for use in workflow.outputs.uses:
        if use.placeholder.scope is Scope.TASKS and len(use.path) > 1:
            reads.setdefault(str(use.path[1]), set()).add(use.placeholder.name)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in tree.items():
        values[name] = None
        if not reads.get(str(name), set()) <= succeeded.keys():
            continue
        try:
            values[name] = CompiledValue(value, (), has_templates=True).render(context)
        except TemplateError as exc:
            where = f" ({exc.location})" if exc.location is not None and str(exc.location) else ""
            problems.append(f"workflow output '{name}'{where} cannot be resolved: {exc.message}")
    failure = None
    if problems:
        failure = Failure(kind=FailureKind.TEMPLATE, message=masker.mask("; ".join(problems)))
    return masker.mask_data(values), failure
