"""Running a workflow's task graph: as soon as a task's needs succeed, it starts.

``concurrency`` worker threads run the tasks, and each coordinates for
itself: under the run's one lock, a worker that finishes a task records it,
takes in the dependents that became ready, and takes the next ready task,
then runs it outside the lock. No thread hands a task or a result to
another (each hand-over between two threads is a wake-up and a turn of the
GIL, tens of microseconds on two cores, a third of a warm call); the
caller's thread only waits for the end. Templates are rendered under the
lock right before a task starts, from the outputs of finished tasks. A failed task's
dependents are skipped with the reason; independent branches go on. Setting
the cancel event (Ctrl-C, SIGTERM) kills running calls and marks everything
unfinished ``cancelled``.

Tasks whose ``uses`` is a plugin action go to the executor, a
:class:`~.task_executor.TaskExecutor`: a :class:`PluginExecutor` given here
runs them locally (:class:`~.task_executor.LocalExecutor`), the Dask
executor on a cluster's workers; any other task type goes to a :class:`TaskHandler` an engine registers
under that name — the extension point for engine-native steps. This module
owns when tasks run, their retries and how they end; what a result records
about the code that ran is :mod:`.task_provenance`'s, and the workflow's
outputs, once every task ended, :mod:`.results`'s.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque, namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import Failure, FailureKind, TemplateError
from ..masking.masker import Masker
from ..workflows.templates import Scope, TemplateContext
from ..workflows.workflow import Task, Workflow
from .executor import PluginExecutor
from .handlers import HandlerCall, TaskHandler, handler_log_record, run_handler
from .results import RunResult, RunStatus, TaskResult, TaskStatus, workflow_outputs
from .task_executor import LocalExecutor, PluginTask, TaskExecutor, TaskOutcome

if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import InvocationContext, LogRecord

__all__ = ["RunObserver", "Scheduler", "new_run_id"]

_NOT_STARTED = "the run was cancelled before it started"


class RunObserver(Protocol):
    """Progress callbacks, called from worker threads; ``task_finished`` calls come one at a time, in order."""

    def task_started(self, task_id: str, attempt: int) -> None: ...

    def task_log(self, task_id: str, record: LogRecord) -> None: ...

    def task_finished(self, result: TaskResult) -> None: ...


class _Silent:
    def task_started(self, task_id: str, attempt: int) -> None:
        pass

    def task_log(self, task_id: str, record: LogRecord) -> None:
        pass

    def task_finished(self, result: TaskResult) -> None:
        pass


if TYPE_CHECKING:

    class _Dispatch(NamedTuple):
        """A task handed to a worker thread; ``ready_at`` is when its needs were done (monotonic clock).

        A named tuple: made for every task, and never seen outside this module.
        """

        task: Task
        inputs: Mapping[str, Any]
        env: dict[str, str]
        secret_inputs: tuple[str, ...]
        ready_at: float

else:
    # ``collections.namedtuple`` at run time: ``typing.NamedTuple`` compiles each field's annotation (about 1 ms of
    # every run's start); the type checker reads the declaration above.
    _Dispatch = namedtuple("_Dispatch", ("task", "inputs", "env", "secret_inputs", "ready_at"))


class Scheduler:
    """Runs workflows through one executor; reuse it for several runs of one engine."""

    def __init__(
        self,
        executor: PluginExecutor | TaskExecutor,
        *,
        concurrency: int = 4,
        handlers: Mapping[str, TaskHandler] | None = None,
        observer: RunObserver | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.executor: TaskExecutor = LocalExecutor(executor) if isinstance(executor, PluginExecutor) else executor
        self.concurrency = concurrency
        self.handlers = dict(handlers or {})
        self.observer: RunObserver = observer if observer is not None else _Silent()

    def run(
        self,
        workflow: Workflow,
        *,
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        cancel: threading.Event | None = None,
        masker: Masker | None = None,
    ) -> RunResult:
        run = _Run(
            self,
            workflow,
            secrets=dict(secrets or {}),
            variables=workflow.merged_vars(variables),
            run_id=run_id or new_run_id(),
            cancel=cancel if cancel is not None else threading.Event(),
            masker=masker if masker is not None else Masker(dict(secrets or {})),
        )
        return run.execute()


def new_run_id() -> str:
    """Sortable by start time, unique across machines: ``20261125T154233Z-3f9c1a2b``.

    Eight hex digits of ``os.urandom``, as ``uuid4().hex[:8]`` gave (32 random bits), without ``uuid``'s import.
    """
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + os.urandom(4).hex()


class _Run:
    """The state of one run; workers change it under ``lock`` only."""

    def __init__(
        self,
        scheduler: Scheduler,
        workflow: Workflow,
        *,
        secrets: dict[str, str],
        variables: dict[str, Any],
        run_id: str,
        cancel: threading.Event,
        masker: Masker,
    ) -> None:
        self.scheduler = scheduler
        self.workflow = workflow
        self.run_id = run_id
        self.workflow_dir = str(workflow.directory)  # in every task's context: a Path made and written out once
        self.cancel = cancel
        self.masker = masker
        self.outputs: dict[str, Mapping[str, Any]] = {}
        self.context = TemplateContext(secrets=secrets, vars=variables, task_outputs=self.outputs)
        self.results: dict[str, TaskResult] = {}
        self.waiting = {task_id: len(set(task.needs)) for task_id, task in workflow.tasks.items()}
        self.dependents: dict[str, list[str]] = {task_id: [] for task_id in workflow.tasks}
        for task_id, task in workflow.tasks.items():
            for need in set(task.needs):
                self.dependents[need].append(task_id)
        self.lock = threading.Condition()  # idle workers wait on it for a task to become ready
        self.ready: deque[tuple[str, float]] = deque()  # with when its needs were done (monotonic clock)
        self.running = 0
        self.threads = min(scheduler.concurrency, len(workflow.tasks)) or 1  # every worker not running a task may wait
        self.stopped = False  # no task starts any more: the run is over, or the caller's thread left it
        self.ended = threading.Event()
        self.error: BaseException | None = None

    def execute(self) -> RunResult:
        started = time.time()
        at_start = time.monotonic()
        self.ready.extend((task_id, at_start) for task_id in self.workflow.order if self.waiting[task_id] == 0)
        workers = [
            threading.Thread(target=self._work, name=f"task-worker-{index}", daemon=True)
            for index in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        try:
            while not self.ended.wait(0.2):  # waking regularly keeps Ctrl-C responsive on the main thread
                pass
            if self.error is not None:
                raise self.error
        finally:
            with self.lock:  # after an error or Ctrl-C here, no task may start
                self.stopped = True
                self.lock.notify_all()
        for worker in workers:
            worker.join()
        self._cancel_unfinished()
        outputs, failure = workflow_outputs(
            self.workflow, context=self.context, succeeded=self.outputs, masker=self.masker
        )
        status = self._status()
        return RunResult(
            run_id=self.run_id,
            workflow=self.workflow,
            status=RunStatus.FAILED if failure is not None and status is RunStatus.SUCCEEDED else status,
            outputs=outputs,
            tasks={task_id: self.results[task_id] for task_id in self.workflow.order},
            started_at=started,
            finished_at=time.time(),
            failure=failure,
        )

    def _next(self, finished: TaskResult | None) -> _Dispatch | None:
        """Under the lock: take in the task this worker ``finished``, then its next task (None: the worker ends).

        Waits while nothing is ready but tasks still run (their ends may make
        some ready). The run is over when nothing is ready or nothing may
        start (cancelled) and nothing runs.
        """
        if self.stopped:
            return None
        if finished is not None:
            self.running -= 1
            now = time.monotonic()
            became_ready = self._record(finished)
            self.ready.extend((task_id, now) for task_id in became_ready)
            if (became_ready or self.running == 0) and self.threads - self.running > 1:  # none waits: no notify call
                self.lock.notify_all()
        while not self.stopped:
            if self.ready and not self.cancel.is_set():
                dispatch = self._prepare(*self.ready.popleft())
                if dispatch is not None:
                    self.running += 1
                    return dispatch
                continue
            if self.running == 0:
                self.stopped = True
                self.ended.set()
                self.lock.notify_all()
                return None
            self.lock.wait()
        return None

    def _prepare(self, task_id: str, ready_at: float) -> _Dispatch | None:
        """Render the task's inputs and env now that its needs are done (at ``ready_at``); a bad template fails it."""
        task = self.workflow.tasks[task_id]
        try:
            inputs = task.inputs.render(self.context)
            env = self.workflow.environment_for(task_id, self.context)
        except TemplateError as exc:
            failure = Failure(kind=FailureKind.TEMPLATE, message=self.masker.mask(str(exc)))
            now = time.time()
            result = TaskResult(task_id, TaskStatus.FAILED, failure=failure, started_at=now, finished_at=now)
            self._record(result)
            return None
        if type(inputs) is not dict and not isinstance(inputs, Mapping):  # an ABC's check costs; a dict is the rule
            inputs = {}
        uses = task.inputs.uses
        names = {str(use.path[3]) for use in uses if use.placeholder.scope is Scope.SECRETS and len(use.path) > 3}
        secret_inputs = tuple(sorted(names)) if names else ()
        return _Dispatch(task=task, inputs=inputs, env=env, secret_inputs=secret_inputs, ready_at=ready_at)

    def _record(self, result: TaskResult) -> list[str]:
        """Store a finished task; return the dependents that became ready."""
        self.results[result.task_id] = result
        self.scheduler.observer.task_finished(result)
        if result.status is TaskStatus.SUCCEEDED:
            self.outputs[result.task_id] = result.outputs or {}
            ready = []
            for dependent in self.dependents[result.task_id]:
                self.waiting[dependent] -= 1
                if self.waiting[dependent] == 0 and dependent not in self.results:
                    ready.append(dependent)
            return ready
        if result.status is TaskStatus.FAILED:
            self._skip_dependents(result.task_id)
        return []

    def _skip_dependents(self, failed: str) -> None:
        pending = deque((dependent, failed) for dependent in self.dependents[failed])
        while pending:
            task_id, because = pending.popleft()
            if task_id in self.results:
                continue
            verb = "failed" if because == failed else "was skipped"
            reason = f"skipped because '{because}' {verb}"
            result = TaskResult(task_id, TaskStatus.SKIPPED, reason=reason)
            self.results[task_id] = result
            self.scheduler.observer.task_finished(result)
            pending.extend((dependent, task_id) for dependent in self.dependents[task_id])

    def _cancel_unfinished(self) -> None:
        for task_id in self.workflow.order:
            if task_id not in self.results:
                result = TaskResult(task_id, TaskStatus.CANCELLED, reason=_NOT_STARTED)
                self.results[task_id] = result
                self.scheduler.observer.task_finished(result)

    def _status(self) -> RunStatus:
        if self.cancel.is_set():
            return RunStatus.CANCELLED
        if all(result.status is TaskStatus.SUCCEEDED for result in self.results.values()):
            return RunStatus.SUCCEEDED
        return RunStatus.FAILED

    # -- worker threads --------------------------------------------------------

    def _work(self) -> None:
        finished: TaskResult | None = None
        while True:
            with self.lock:
                try:
                    dispatch = self._next(finished)
                except BaseException as exc:  # noqa: BLE001 - the caller's thread raises it
                    self.error, self.stopped = exc, True
                    self.ended.set()
                    self.lock.notify_all()
                    return
            if dispatch is None:
                return
            try:
                finished = self._run_task(dispatch)
            except BaseException as exc:  # noqa: BLE001 - a worker must always report back
                failure = Failure(kind=FailureKind.CRASHED, message=self.masker.mask(f"internal error: {exc!r}"))
                finished = TaskResult(dispatch.task.id, TaskStatus.FAILED, failure=failure, finished_at=time.time())

    def _run_task(self, dispatch: _Dispatch) -> TaskResult:
        task = dispatch.task
        started_at = time.time()
        # Its wait for a free slot (--concurrency) and its inputs' rendering; recorded on whichever attempt ends it.
        slot_wait_s = time.monotonic() - dispatch.ready_at
        attempt = 0
        while True:
            attempt += 1
            self.scheduler.observer.task_started(task.id, attempt)
            ended = self._attempt(dispatch)
            outcome, provenance = ended.outcome, ended.provenance
            failure = outcome.failure
            if failure is None:
                status = TaskStatus.SUCCEEDED
            elif failure.kind is FailureKind.CANCELLED or self.cancel.is_set():
                status = TaskStatus.CANCELLED
            elif task.retries.should_retry(failure, attempt=attempt):
                if not self.cancel.wait(task.retries.delay_s(attempt)):
                    continue
                status = TaskStatus.CANCELLED  # cancelled while waiting to try again
            else:
                status = TaskStatus.FAILED
            return TaskResult(
                task.id,
                status,
                outputs=outcome.outputs,
                failure=failure,
                metrics=None if outcome.metrics is None else outcome.metrics.replace(slot_wait_s=slot_wait_s),
                attempts=attempt,
                reason="the run was cancelled while it ran" if status is TaskStatus.CANCELLED else None,
                started_at=started_at,
                finished_at=time.time(),
                provenance=provenance,
            )

    def _context(self, task_id: str) -> InvocationContext:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow.name,
            "task": task_id,
            "workflow_dir": self.workflow_dir,
        }

    def _attempt(self, dispatch: _Dispatch) -> TaskOutcome:
        task = dispatch.task
        if task.action is None:
            call = HandlerCall(
                task_id=task.id,
                task_type=str(task.uses),
                inputs=dispatch.inputs,
                context=self._context(task.id),
                cancel=self.cancel,
                log=lambda message: self.scheduler.observer.task_log(task.id, handler_log_record(message, self.masker)),
            )
            return TaskOutcome(
                run_handler(self.scheduler.handlers, call, masker=self.masker), {"handler": str(task.uses)}
            )
        plugin_task = PluginTask(
            ref=str(task.uses),
            inputs=dispatch.inputs,
            task_id=task.id,
            context=self._context(task.id),
            security=self.workflow.security,
            env=dispatch.env,
            secret_inputs=dispatch.secret_inputs,
            timeout=task.timeout_s,
            # Most workflows require nothing: no plugin reference made and hashed per task to learn it.
            specifier=self.workflow.requires.get(task.action.plugin) if self.workflow.requires else None,
        )
        return self.scheduler.executor.run_task(
            plugin_task,
            masker=self.masker,
            on_log=lambda record: self.scheduler.observer.task_log(task.id, record),
            cancel=self.cancel,
        )
