"""What runs on a Dask worker: one attempt of a plugin task, and the pre-flight's content hashes.

Dask pickles :func:`run_attempt` by reference, so a worker needs this
runtime installed (``workflow-plugin-runtime[dask]``); the plugin itself is
found on the worker, by the worker's own ``plugins.paths``
(:class:`WorkerSite`), and runs only when its content hash is the one the
client resolved: a worker holding a different copy, or none, fails the task
as ``not_found`` naming itself and both hashes, never running other code.

Each worker keeps one :class:`~..executor.PluginExecutor` per run's policy
in :class:`WorkerRuntimes`, a Dask worker plugin the client registers: it
also makes the worker a contained run (:func:`..containment.contained_run`),
so what a worker killed outright left running is killed by the worker that
replaces it, or by ``workflow clean`` on that machine.

Nothing here may raise: Dask logs a failed task with the repr of its
arguments, and the arguments carry the inputs, secrets included. Every
error becomes a failed outcome, and the records' reprs leave inputs out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Event, get_client, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from workflow_plugin_sdk.protocol import LogRecord

from ...config import load_config
from ...errors import Failure, FailureKind, WorkflowPluginError
from ...masking.masker import Masker
from ...plugins.provenance import plugin_content_hash
from ...plugins.resolve import Resolver
from ..containment import contained_run
from ..executor import ActionOutcome, PluginExecutor
from ..manager import ExecutionPolicy, PluginManager
from ..task_executor import PluginTask, TaskOutcome
from ..task_provenance import task_provenance

__all__ = [
    "WORKER_PLUGIN_NAME",
    "RemoteAttempt",
    "WorkerRuntimes",
    "WorkerSite",
    "failed_outcome",
    "held_hashes",
    "run_attempt",
]

WORKER_PLUGIN_NAME = "workflow-plugin-runtime"
_CANCEL_POLL_S = 0.5  # how soon a running plugin is stopped after the client cancels the run
_KEPT_POLICIES = 4  # executors kept per worker: runs with other grants replace the oldest
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSite:
    """Where a worker finds plugins: a project folder (None: its working directory), or exactly these paths.

    ``plugins_paths`` is set for a local cluster, whose workers share this
    machine and so search exactly the client's paths, in its order.
    """

    project_dir: str | None = None
    plugins_paths: tuple[str, ...] | None = None

    def resolver(self) -> Resolver:
        if self.plugins_paths is not None:
            return Resolver(list(self.plugins_paths))
        return Resolver.from_config(load_config(start=Path(self.project_dir) if self.project_dir else None))


@dataclass(frozen=True, slots=True)
class RemoteAttempt:
    """One attempt as the worker gets it: the task, the plugin's expected content hash, and the run's channels.

    ``secrets`` are the run's secrets whose values this task's inputs or
    environment hold, for the worker's masker. ``attempt`` identifies the
    attempt (its log events, its Dask key); with ``guard_reruns`` it also
    names the attempt's Dask event, set when a worker starts it, so a second
    start (a scheduler handing a lost worker's task to another) is reported
    as ``worker_lost``, never run again. ``cancel`` names the run's event,
    ``topic`` its log topic, ``policy_key`` the run's policy among a
    worker's executors.
    """

    task: PluginTask
    content_hash: str
    policy: ExecutionPolicy
    policy_key: str
    site: WorkerSite
    attempt: str
    guard_reruns: bool
    cancel: str
    topic: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)


def failed_outcome(kind: FailureKind, message: str, *, worker: str | None = None) -> TaskOutcome:
    """A failed attempt that ran no plugin (``worker``: where that was decided, for the message only)."""
    where = f"worker {worker}: " if worker else ""
    return TaskOutcome(ActionOutcome(outputs=None, failure=Failure(kind=kind, message=where + message)), None)


class WorkerRuntimes(WorkerPlugin):  # type: ignore[misc]  # Dask dispatches on the class; its names are Any to mypy
    """The worker's executors, one per run policy, closed with the worker, inside a contained run."""

    name = WORKER_PLUGIN_NAME
    idempotent = True

    def __init__(self) -> None:
        self._executors: OrderedDict[tuple[WorkerSite, str], PluginExecutor] = OrderedDict()
        self._lock = threading.Lock()
        self._containment: contextlib.ExitStack | None = None

    def __reduce__(self) -> tuple[type[WorkerRuntimes], tuple[()]]:
        """Only the class travels to the workers: each makes its own executors there."""
        return (type(self), ())

    def setup(self, worker: Any) -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(
            contained_run(f"dask-worker-{uuid.uuid4().hex[:12]}", workflow=worker.address, report=_log.warning)
        )
        self._containment = stack

    def teardown(self, worker: Any) -> None:
        with self._lock:
            executors, self._executors = list(self._executors.values()), OrderedDict()
        for executor in executors:
            executor.manager.close()
        if self._containment is not None:
            self._containment.close()

    def executor(self, site: WorkerSite, *, policy: ExecutionPolicy, policy_key: str) -> PluginExecutor:
        key = (site, policy_key)
        evicted: list[PluginExecutor] = []
        with self._lock:
            executor = self._executors.get(key)
            if executor is None:
                executor = self._executors[key] = PluginExecutor(PluginManager(site.resolver(), policy=policy))
                while len(self._executors) > _KEPT_POLICIES:
                    evicted.append(self._executors.popitem(last=False)[1])
            self._executors.move_to_end(key)
        for old in evicted:
            old.manager.close()
        return executor


def run_attempt(attempt: RemoteAttempt) -> TaskOutcome:
    """Run one attempt on this worker; always returns (see the module's note on why it never raises)."""
    address = "unknown"
    try:
        worker = get_worker()
        address = worker.address
        client = get_client()
        if attempt.guard_reruns:
            token = Event(attempt.attempt, client=client)
            if token.is_set():
                return failed_outcome(
                    FailureKind.WORKER_LOST,
                    "the worker that started this attempt was lost; Dask handed it on, and it is not run twice",
                    worker=address,
                )
            token.set()
        run_cancel = Event(attempt.cancel, client=client)  # watched while the plugin runs (not asked first: an RPC)
        worker.log_event(attempt.topic, {"attempt": attempt.attempt, "started": address})
        runtimes = worker.plugins[WORKER_PLUGIN_NAME]
        executor = runtimes.executor(attempt.site, policy=attempt.policy, policy_key=attempt.policy_key)

        def forward(record: LogRecord) -> None:
            worker.log_event(attempt.topic, {"attempt": attempt.attempt, "record": dict(record)})

        cancel = threading.Event()
        with _cancel_when_set(run_cancel, cancel):
            return _run(executor, attempt, address=address, on_log=forward, cancel=cancel)
    except BaseException as exc:  # noqa: BLE001 - see the module's note: a raise would log the inputs
        return failed_outcome(
            FailureKind.CRASHED, f"internal error on the worker: {type(exc).__name__}", worker=address
        )


def _run(
    executor: PluginExecutor,
    attempt: RemoteAttempt,
    *,
    address: str,
    on_log: Callable[[LogRecord], None],
    cancel: threading.Event,
) -> TaskOutcome:
    task = attempt.task
    masker = Masker(attempt.secrets)
    try:
        call = executor.manager.prepare(task.ref, task.inputs, **task.prepare_options(cancel))
    except WorkflowPluginError:  # the failure exactly as a local run reports it (not found, permission, ...)
        outcome = executor.run(task.ref, task.inputs, masker=masker, on_log=on_log, **task.prepare_options(cancel))
        return TaskOutcome(_portable(outcome, address), None)
    held = executor.manager.content_hash(call.manifest)
    if held != attempt.content_hash:
        return failed_outcome(
            FailureKind.NOT_FOUND,
            f"its copy of {call.manifest.ref} ({call.manifest.plugin_dir}) hashes to {held}, but the client "
            f"resolved content {attempt.content_hash}; it was not run (give every worker the same plugin copy)",
            worker=address,
        )
    outcome = executor.execute(call, masker=masker, on_log=on_log)
    provenance = task_provenance(outcome, manager=executor.manager, security=task.security)
    return TaskOutcome(_portable(outcome, address), provenance)


def _portable(outcome: ActionOutcome, address: str) -> ActionOutcome:
    """The outcome as it can travel: without the prepared call (runtimes, locks), with the worker in its metrics."""
    metrics = None if outcome.metrics is None else outcome.metrics.replace(worker=address)
    return outcome.replace(metrics=metrics, call=None)


@contextlib.contextmanager
def _cancel_when_set(run_cancel: Event, cancel: threading.Event) -> Any:
    """Set ``cancel`` (which stops the plugin) when the client sets the run's event, while the block runs."""
    finished = threading.Event()

    def watch() -> None:
        # Asked, not awaited on the scheduler: a wait left pending there when the cluster closes is logged as an error.
        while not finished.wait(_CANCEL_POLL_S):
            with contextlib.suppress(Exception):  # a scheduler that went away: the worker's own end stops the call
                if run_cancel.is_set():
                    cancel.set()
                    return

    watcher = threading.Thread(target=watch, name="workflow-cancel-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()


def held_hashes(site: WorkerSite, wanted: list[tuple[str, str | None]]) -> dict[str, str]:
    """Each wanted plugin's content hash as this worker holds it, or ``missing: <why>``; for ``Client.run``.

    ``wanted`` lists plugin references with their version specifier.
    """
    resolver = site.resolver()
    found: dict[str, str] = {}
    for ref, specifier in wanted:
        try:
            manifest = resolver.resolve(ref, specifier=specifier)
        except WorkflowPluginError as exc:
            found[ref] = f"missing: {exc.message}"
            continue
        except Exception as exc:  # noqa: BLE001 - one report for the whole cluster, whatever a worker hit
            found[ref] = f"missing: {type(exc).__name__}"
            continue
        found[ref] = plugin_content_hash(manifest.plugin_dir)
    return found
