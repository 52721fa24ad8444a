"""A workflow file's typed model: its tasks, their retry policy, grants, vars and compiled values.

Built by the loader (:mod:`.loading`), which checks the file first; what a
run needs from the model (the task order, each task's upstream, the env a
task's plugin gets) is answered here without reading the file again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._frozen import FrozenRecord
from .._util.yaml_document import FieldPath, YamlDocument
from ..errors import Failure, FailureKind, Problem, SourceLocation
from ..plugins.references import ActionRef, PluginRef
from .permissions import Permissions, SecurityMode
from .secrets import merge_vars
from .template_values import CompiledValue, TemplateUse
from .templates import TemplateContext, interpolate

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "UNPARSED_ACTION",
    "RetryPolicy",
    "Task",
    "Workflow",
    "is_task_type",
]


_set = object.__setattr__


class RetryPolicy(FrozenRecord):
    """``retries: N`` or ``{count, backoff, on_timeout}``.

    Retried: a crash, a lost worker, and an action error the plugin marks
    retryable; a timeout only with ``on_timeout`` (a task that timed out
    once usually times out again, and each attempt costs the full timeout).
    The wait before retry *n* (1-based) is ``backoff * 2 ** (n - 1)`` seconds.
    The model's classes are :class:`~.._frozen.FrozenRecord` subclasses,
    not dataclasses: each dataclass costs ``validate`` 0.7 ms to make.
    """

    __slots__ = ("backoff_s", "count", "on_timeout")
    count: int
    backoff_s: float
    on_timeout: bool

    def __init__(self, count: int = 0, backoff_s: float = 1.0, on_timeout: bool = False) -> None:
        _set(self, "count", count)
        _set(self, "backoff_s", backoff_s)
        _set(self, "on_timeout", on_timeout)

    def should_retry(self, failure: Failure, *, attempt: int) -> bool:
        """Whether to retry after the ``attempt``-th try (1-based) failed with ``failure``."""
        if attempt > self.count:
            return False
        if failure.kind is FailureKind.TIMEOUT:
            return self.on_timeout
        if failure.kind is FailureKind.ACTION:
            return failure.retryable
        return failure.kind in (FailureKind.CRASHED, FailureKind.WORKER_LOST)

    def delay_s(self, retry: int) -> float:
        return float(self.backoff_s * 2 ** (retry - 1))


_NO_RETRIES = RetryPolicy()

UNPARSED_ACTION = ActionRef("invalid", "invalid", "invalid")
"""A task's ``uses`` when it was missing or did not parse (already reported): nothing to resolve."""

_TASK_TYPE = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$"


def is_task_type(text: str) -> bool:
    """Whether ``text`` names an engine task type (``approval``, ``engine.sleep``): no ``/``, never a plugin action.

    ``re`` compiles (and keeps) the pattern at the first ``uses`` that is not an action: most workflows have none.
    """
    return re.match(_TASK_TYPE, text) is not None


class Task(FrozenRecord):
    """One task; ``uses`` is a plugin action, or the name of an engine task type (a handler)."""

    __slots__ = ("description", "env", "id", "inputs", "location", "needs", "retries", "timeout_s", "uses")
    id: str
    uses: ActionRef | str
    needs: tuple[str, ...]
    inputs: CompiledValue
    env: CompiledValue
    timeout_s: float | None
    retries: RetryPolicy
    description: str
    location: SourceLocation | None

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        id: str,  # noqa: A002 - the task's id, as the file names it
        uses: ActionRef | str,
        needs: tuple[str, ...],
        inputs: CompiledValue,
        env: CompiledValue,
        timeout_s: float | None = None,
        retries: RetryPolicy = _NO_RETRIES,
        description: str = "",
        location: SourceLocation | None = None,
    ) -> None:
        _set(self, "id", id)
        _set(self, "uses", uses)
        _set(self, "needs", needs)
        _set(self, "inputs", inputs)
        _set(self, "env", env)
        _set(self, "timeout_s", timeout_s)
        _set(self, "retries", retries)
        _set(self, "description", description)
        _set(self, "location", location)

    @property
    def action(self) -> ActionRef | None:
        """The plugin action this task calls; None for an engine task type."""
        return self.uses if isinstance(self.uses, ActionRef) else None


class Workflow(FrozenRecord):
    """A loaded workflow; ``warnings`` are the loader's non-fatal findings."""

    __slots__ = (
        "description",
        "document",
        "env",
        "name",
        "order",
        "outputs",
        "path",
        "permissions",
        "requires",
        "security",
        "tasks",
        "upstream",
        "vars",
        "warnings",
    )
    name: str
    path: Path
    security: SecurityMode
    permissions: Permissions
    vars: Mapping[str, Any]
    env: CompiledValue
    tasks: Mapping[str, Task]
    outputs: CompiledValue
    requires: Mapping[PluginRef, SpecifierSet]
    order: tuple[str, ...]
    upstream: Mapping[str, frozenset[str]]
    document: YamlDocument
    description: str
    warnings: tuple[Problem, ...]

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        name: str,
        path: Path,
        security: SecurityMode,
        permissions: Permissions,
        vars: Mapping[str, Any],  # noqa: A002 - the file's key
        env: CompiledValue,
        tasks: Mapping[str, Task],
        outputs: CompiledValue,
        requires: Mapping[PluginRef, SpecifierSet],
        order: tuple[str, ...],
        upstream: Mapping[str, frozenset[str]],
        document: YamlDocument,
        description: str = "",
        warnings: tuple[Problem, ...] = (),
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "security", security)
        _set(self, "permissions", permissions)
        _set(self, "vars", vars)
        _set(self, "env", env)
        _set(self, "tasks", tasks)
        _set(self, "outputs", outputs)
        _set(self, "requires", requires)
        _set(self, "order", order)
        _set(self, "upstream", upstream)
        _set(self, "document", document)
        _set(self, "description", description)
        _set(self, "warnings", warnings)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def locate(self, path: FieldPath, *, key: bool = False) -> SourceLocation:
        return self.document.location(path, key=key)

    def template_uses(self) -> list[TemplateUse]:
        """Every placeholder in the file, where it sits: workflow env, each task's inputs and env, outputs."""
        uses = list(self.env.uses)
        for task in self.tasks.values():
            uses += task.inputs.uses
            uses += task.env.uses
        uses += self.outputs.uses
        return uses

    def merged_vars(self, *overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """The workflow's vars under a vars file and ``--var`` options (later wins)."""
        return merge_vars(self.vars, *overrides)

    def environment_for(self, task_id: str, context: TemplateContext) -> dict[str, str]:
        """The configured variables for one task's plugin: workflow env, then the task's."""
        merged = {**self.env.render(context), **self.tasks[task_id].env.render(context)}
        return {name: interpolate(value) for name, value in merged.items()}
