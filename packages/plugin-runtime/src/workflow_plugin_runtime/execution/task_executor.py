"""Where the scheduler's plugin tasks run: the one interface between "when" and "where".

The scheduler (:mod:`.scheduler`) decides when a task runs, how often it is
tried and how it ends; a :class:`TaskExecutor` runs one attempt of it and
says what came of it. :class:`LocalExecutor`, today's and the default,
runs the attempt here through a :class:`PluginExecutor`; the Dask executor
(:mod:`.dask`) ships the same :class:`PluginTask` to a worker of a cluster,
which is why a task is plain, picklable data and the answer carries its own
provenance: on a worker, the prepared call it was read from stays there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._frozen import FrozenRecord
from ..config import RuntimeKind
from ..masking.masker import Masker
from ..workflows.permissions import SecurityMode
from .executor import ActionOutcome, PluginExecutor
from .task_provenance import task_provenance

if TYPE_CHECKING:  # a task's specifier comes parsed from its workflow: a run without ``requires`` never loads packaging
    from packaging.specifiers import SpecifierSet

    from workflow_plugin_sdk.protocol import InvocationContext, LogRecord

__all__ = ["LocalExecutor", "PluginTask", "TaskExecutor", "TaskOutcome"]

_set = object.__setattr__


class PluginTask(FrozenRecord, keyword_only=True, unshown=("env", "inputs")):
    """One attempt's call of a plugin action, with its inputs rendered: data only, so it can travel.

    ``secret_inputs`` names the inputs filled from secrets; secrets reach a
    plugin only inside ``inputs`` (and ``env``), nowhere else, and neither
    is in the repr (a log line that shows a task shows no secret). This and
    :class:`TaskOutcome`: FrozenRecords for run start-up (docs/performance.md).
    """

    __slots__ = ("context", "env", "inputs", "ref", "secret_inputs", "security", "specifier", "task_id", "timeout")
    ref: str
    inputs: Mapping[str, Any]
    task_id: str
    context: InvocationContext
    security: SecurityMode
    env: Mapping[str, str]
    secret_inputs: tuple[str, ...]
    timeout: float | None
    specifier: SpecifierSet | None

    def __init__(
        self,
        *,
        ref: str,
        inputs: Mapping[str, Any],
        task_id: str,
        context: InvocationContext,
        security: SecurityMode,
        env: Mapping[str, str] | None = None,
        secret_inputs: tuple[str, ...] = (),
        timeout: float | None = None,
        specifier: SpecifierSet | None = None,
    ) -> None:
        _set(self, "ref", ref)
        _set(self, "inputs", inputs)
        _set(self, "task_id", task_id)
        _set(self, "context", context)
        _set(self, "security", security)
        _set(self, "env", {} if env is None else env)
        _set(self, "secret_inputs", secret_inputs)
        _set(self, "timeout", timeout)
        _set(self, "specifier", specifier)

    def prepare_options(self, cancel: threading.Event) -> dict[str, Any]:
        """The options :meth:`.manager.PluginManager.prepare` (and :meth:`PluginExecutor.run`) take for this task."""
        return {
            "task": self.task_id,
            "context": self.context,
            "env": self.env,
            "secret_inputs": self.secret_inputs,
            "timeout": self.timeout,
            "specifier": self.specifier,
            "cancel": cancel,
        }


class TaskOutcome(FrozenRecord):
    """How an attempt ended (masked) and the provenance of the code that ran it (None: nothing was prepared)."""

    __slots__ = ("outcome", "provenance")
    outcome: ActionOutcome
    provenance: Mapping[str, Any] | None

    def __init__(self, outcome: ActionOutcome, provenance: Mapping[str, Any] | None) -> None:
        _set(self, "outcome", outcome)
        _set(self, "provenance", provenance)


class TaskExecutor(Protocol):
    """Runs one attempt of a plugin task; never raises for a failed call, and stops it when ``cancel`` is set.

    ``on_log`` hears the call's log records as they come, already masked;
    it may be called from any thread.
    """

    def run_task(
        self,
        task: PluginTask,
        *,
        masker: Masker,
        on_log: Callable[[LogRecord], None] | None,
        cancel: threading.Event,
    ) -> TaskOutcome: ...


class LocalExecutor:
    """Runs each attempt in this process's runtimes: the default executor."""

    def __init__(self, executor: PluginExecutor) -> None:
        self.executor = executor
        self._trusted: dict[tuple[int, int], Mapping[str, Any] | None] = {}
        """A trusted call's provenance by plugin and runtime (they live as long as the manager): the same every call."""

    def run_task(
        self,
        task: PluginTask,
        *,
        masker: Masker,
        on_log: Callable[[LogRecord], None] | None,
        cancel: threading.Event,
    ) -> TaskOutcome:
        outcome = self.executor.run(task.ref, task.inputs, masker=masker, on_log=on_log, **task.prepare_options(cancel))
        call, manager = outcome.call, self.executor.manager
        if call is None or task.security is not SecurityMode.TRUSTED or call.invocation.kind is not RuntimeKind.PROCESS:
            return TaskOutcome(outcome, task_provenance(outcome, manager=manager, security=task.security))
        key = (id(call.manifest), id(call.runtime))
        provenance = self._trusted.get(key)
        if provenance is None:
            provenance = self._trusted[key] = task_provenance(outcome, manager=manager, security=task.security)
        return TaskOutcome(outcome, provenance)
