"""A finished run's workflow outputs: each declared output resolved from the outputs of the tasks that succeeded.

Kept apart from the scheduler, which decides when tasks run: this runs once,
after every task has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Failure, FailureKind, TemplateError
from ..masking.masker import Masker
from ..workflows.template_values import CompiledValue
from ..workflows.templates import Scope, TemplateContext
from ..workflows.workflow import Workflow

__all__ = ["workflow_outputs"]


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
