"""Engine-native task types: the extension point for steps that are not plugins.

An engine registers a :class:`TaskHandler` under a task type name; a task
whose ``uses`` is that name (no ``/``, so never a plugin action) is run by
the handler on a scheduler worker thread, with rendered inputs, and its
outputs, errors and logs go through the run's masker like a plugin's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._frozen import FrozenRecord
from ..errors import Failure, FailureKind, TaskHandlerError
from ..masking.masker import Masker
from ..runtimes.base import Metrics, RuntimeKind, Timings
from .executor import ActionOutcome

if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import InvocationContext, LogRecord

__all__ = ["HandlerCall", "TaskHandler", "handler_log_record", "run_handler"]


class HandlerCall(FrozenRecord):
    """What an engine-native task handler gets: rendered inputs, where it runs, how to log.

    A FrozenRecord, not a dataclass, for run start-up (docs/performance.md).
    """

    __slots__ = ("cancel", "context", "inputs", "log", "task_id", "task_type")
    task_id: str
    task_type: str
    inputs: Mapping[str, Any]
    context: InvocationContext
    cancel: threading.Event
    log: Callable[[str], None]

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        task_id: str,
        task_type: str,
        inputs: Mapping[str, Any],
        context: InvocationContext,
        cancel: threading.Event,
        log: Callable[[str], None],
    ) -> None:
        object.__setattr__(self, "task_id", task_id)
        object.__setattr__(self, "task_type", task_type)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "cancel", cancel)
        object.__setattr__(self, "log", log)


class TaskHandler(Protocol):
    """Runs a task whose ``uses`` is not a plugin action; returns its outputs.

    Raise :class:`~workflow_plugin_runtime.errors.TaskHandlerError` to fail
    the task (``retryable`` honoured by ``retries``); any other exception
    fails it as ``crashed``.
    """

    def __call__(self, call: HandlerCall) -> Mapping[str, Any]: ...


def handler_log_record(message: str, masker: Masker) -> LogRecord:
    return {"level": "info", "message": masker.mask(message), "structured": True}


def run_handler(handlers: Mapping[str, TaskHandler], call: HandlerCall, *, masker: Masker) -> ActionOutcome:
    """Run the handler registered for ``call.task_type``; every failure becomes a typed, masked Failure."""
    handler = handlers.get(call.task_type)
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        message = f"no handler for task type {call.task_type!r} (registered: {known})"
        return ActionOutcome(outputs=None, failure=Failure(kind=FailureKind.NOT_FOUND, message=message))
    started = time.monotonic()
    failure: Failure | None = None
    outputs: dict[str, Any] | None = None
    try:
        outputs = dict(handler(call))
    except TaskHandlerError as exc:
        failure = Failure(FailureKind.ACTION, masker.mask(exc.message), retryable=exc.retryable)
    except Exception as exc:  # noqa: BLE001 - any handler failure is the task's failure
        failure = Failure(FailureKind.CRASHED, masker.mask(f"{type(exc).__name__}: {exc}"))
    duration_s = time.monotonic() - started
    metrics = Metrics(duration_s=duration_s, runtime=RuntimeKind.ENGINE, timings=Timings(action_s=duration_s))
    masked = None if outputs is None else masker.mask_data(outputs)
    return ActionOutcome(outputs=masked, failure=failure, metrics=metrics)
