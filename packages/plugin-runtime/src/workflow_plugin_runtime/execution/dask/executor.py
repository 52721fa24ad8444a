"""The Dask executor: each attempt of a plugin task is one Dask task, run by :func:`.remote.run_attempt`.

What the client decides and the workers cannot change:

- which code runs: the client resolves each plugin and sends its content
  hash; a worker whose copy differs runs nothing (:mod:`.remote`);
- where secrets go: only inside the attempt's arguments (inputs, env and the
  masker's values for them). Dask keys are ``workflow-<task id>-<uuid>``,
  never inputs; tasks are submitted ``pure=False`` and with no retries;
- where restricted tasks run: on workers holding the backend as a Dask
  resource (``--resources sandbox=1``); when no worker holds it, the task
  fails as ``runtime_unavailable`` naming the resource, instead of waiting
  for a worker that never comes;
- how a lost worker ends: one ``worker_lost`` attempt, then the task's
  ``retries`` policy, as for any failure. The executor's own local cluster
  has ``allowed-failures: 0``, so Dask fails the task (``KilledWorker``);
  a scheduler of the operator's may hand it to another worker, so there
  (``guard_reruns``) each attempt carries a token, a Dask event the first
  worker to start it sets, and a second start reports it lost instead of
  running it again;
- cancelling: the run's Dask event tells running attempts to stop their
  plugin; attempts no worker started yet are cancelled in Dask.

Worker logs come back as events on the run's topic, masked on the worker
and again here before the observer hears them.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import CancelledError
from typing import Any

from distributed import Client, Event, KilledWorker

from workflow_plugin_sdk.protocol import LogRecord

from ...config import RESTRICTED_RUNTIMES, ExecutorSettings, RuntimeKind
from ...errors import FailureKind, Problem, WorkflowPluginError
from ...masking.masker import Masker
from ...plugins.references import parse_action_ref
from ...workflows.permissions import SecurityMode
from ...workflows.workflow import Workflow
from ..executor import PluginExecutor
from ..manager import PluginManager
from ..task_executor import LocalExecutor, PluginTask, TaskOutcome
from .cluster import connected_client
from .remote import RemoteAttempt, WorkerRuntimes, WorkerSite, failed_outcome, held_hashes, run_attempt

__all__ = ["DaskExecutor", "dask_executor"]

_CANCEL_GRACE_S = 30.0  # how long a cancelled attempt's worker gets to say its plugin stopped
_CANCEL_CHECK_S = 0.2


class DaskExecutor:
    """Runs plugin tasks on a Dask cluster's workers; one per run (``close`` when it ends).

    ``manager`` is the client's: it resolves and hashes each plugin (the
    workers must hold that content) and carries the run's policy to the
    workers. ``secrets`` are the run's secrets by name: each attempt carries
    those its inputs or environment hold, for the worker's masker.
    ``guard_reruns`` is off only for a scheduler known to never run a task
    twice (``allowed-failures: 0``): it saves three scheduler calls a task.
    """

    def __init__(
        self,
        client: Client,
        *,
        manager: PluginManager,
        site: WorkerSite,
        secrets: Mapping[str, str] | None = None,
        guard_reruns: bool = True,
    ) -> None:
        self.client = client
        self.manager = manager
        self.site = site
        self.guard_reruns = guard_reruns
        self._secrets = dict(secrets or {})
        self._local = LocalExecutor(PluginExecutor(manager))
        run = uuid.uuid4().hex
        self._policy_key = run
        self._cancel_name = f"workflow-cancel-{run}"
        self._topic = f"workflow-logs-{run}"
        self._lock = threading.Lock()
        self._hashes: dict[tuple[str, str | None], str] = {}
        self._listeners: dict[str, Callable[[LogRecord], None]] = {}
        self._started: set[str] = set()
        self._resources: set[str] | None = None
        self._cancelled = False
        client.register_plugin(WorkerRuntimes())
        client.subscribe_topic(self._topic, self._on_event)

    @property
    def address(self) -> str:
        return str(self.client.scheduler.address)

    def close(self) -> None:
        """Stop listening and forget the run's cancel event (safe to call twice)."""
        self.client.unsubscribe_topic(self._topic)
        Event(self._cancel_name, client=self.client).clear()

    def preflight(self, workflow: Workflow) -> list[Problem]:
        """Every worker missing a plugin the workflow uses, or holding another copy; one problem each.

        Asked of all workers at once before anything runs, so a misconfigured
        cluster fails in seconds with one report.
        """
        wanted: dict[str, str | None] = {}
        for task in workflow.tasks.values():
            if task.action is not None:
                specifier = workflow.requires.get(task.action.plugin)
                wanted[str(task.action.plugin)] = None if specifier is None else str(specifier)
        if not wanted:
            return []
        expected = {ref: self._content_hash(ref, specifier) for ref, specifier in wanted.items()}
        answers = self.client.run(held_hashes, self.site, sorted(wanted.items()), on_error="return")
        if not answers:
            return [Problem(f"the Dask cluster at {self.address} has no workers", hint=_START_WORKER)]
        problems = []
        for worker, held in sorted(answers.items()):
            if isinstance(held, BaseException):
                problems.append(Problem(f"worker {worker} could not report its plugins: {type(held).__name__}"))
                continue
            for ref, want in expected.items():
                got = held.get(ref, "missing: not asked")
                if got == want:
                    continue
                if got.startswith("missing: "):
                    message = f"worker {worker} has no copy of {ref} ({got.removeprefix('missing: ')})"
                else:
                    message = f"worker {worker} holds a different copy of {ref}: content {got}, the client's is {want}"
                problems.append(Problem(message, hint=_SAME_COPY))
        return problems

    def run_task(
        self,
        task: PluginTask,
        *,
        masker: Masker,
        on_log: Callable[[LogRecord], None] | None,
        cancel: threading.Event,
    ) -> TaskOutcome:
        try:
            plugin = str(parse_action_ref(task.ref).plugin)
            expected = self._content_hash(plugin, None if task.specifier is None else str(task.specifier))
        except WorkflowPluginError:  # not resolvable here: fails exactly as a local run, running nothing
            return self._local.run_task(task, masker=masker, on_log=on_log, cancel=cancel)
        resources = None
        policy = self.manager.policy
        if task.security is SecurityMode.RESTRICTED:
            resource = self._restricted_resource()
            if resource is None:
                return failed_outcome(FailureKind.RUNTIME_UNAVAILABLE, self._no_resource_message())
            resources = {resource.value: 1}
            policy = policy.replace(backend=resource)  # the backend the worker was chosen for, never its own auto
        token = f"workflow-attempt-{uuid.uuid4().hex}"
        attempt = RemoteAttempt(
            task=task,
            content_hash=expected,
            policy=policy,
            policy_key=f"{self._policy_key}-{policy.backend}",
            site=self.site,
            attempt=token,
            guard_reruns=self.guard_reruns,
            cancel=self._cancel_name,
            topic=self._topic,
            secrets=self._secrets_in(task),
        )
        if on_log is not None:
            self._listeners[token] = lambda record: on_log(masker.mask_data(record))
        finished = threading.Event()
        future = self.client.submit(
            run_attempt,
            attempt,
            key=f"workflow-{task.task_id}-{uuid.uuid4().hex}",
            pure=False,
            retries=0,
            resources=resources,
        )
        future.add_done_callback(lambda _: finished.set())
        try:
            while not finished.wait(_CANCEL_CHECK_S):
                if cancel.is_set():
                    self._cancel(future, token)
                    break
            return _masked(self._result(future, finished), masker)
        finally:
            with self._lock:
                self._listeners.pop(token, None)
                self._started.discard(token)
            if self.guard_reruns:
                Event(token, client=self.client).clear()  # the scheduler forgets the attempt's token

    def _content_hash(self, ref: str, specifier: str | None) -> str:
        key = (ref, specifier)
        digest = self._hashes.get(key)
        if digest is None:
            manifest = self.manager.resolver.resolve(ref, specifier=specifier)
            digest = self._hashes[key] = self.manager.content_hash(manifest)
        return digest

    def _restricted_resource(self) -> RuntimeKind | None:
        """The backend restricted tasks need as a Dask resource: the configured one, else the first a worker holds."""
        wanted = self.manager.policy.backend
        for refresh in (False, True):  # a worker may have joined since the last look: ask again before failing
            held = self._worker_resources(refresh=refresh)
            kinds = (wanted,) if wanted is not None else RESTRICTED_RUNTIMES
            found = next((kind for kind in kinds if kind.value in held), None)
            if found is not None:
                return found
        return None

    def _worker_resources(self, *, refresh: bool) -> set[str]:
        with self._lock:
            if self._resources is None or refresh:
                workers = self.client.scheduler_info()["workers"].values()
                self._resources = {name for info in workers for name in (info.get("resources") or {})}
            return self._resources

    def _no_resource_message(self) -> str:
        wanted = self.manager.policy.backend
        names = [wanted.value] if wanted is not None else [kind.value for kind in RESTRICTED_RUNTIMES]
        shown = " or ".join(f"'{name}'" for name in names)
        return (
            f"no worker of the Dask cluster at {self.address} has the resource {shown} a restricted task needs; "
            f"start one where that backend works: `dask worker {self.address} --resources {names[0]}=1`"
        )

    def _secrets_in(self, task: PluginTask) -> dict[str, str]:
        """The run's secrets whose values this task's inputs or environment hold: all its worker may mask."""
        text = repr((task.inputs, task.env))
        return {name: value for name, value in self._secrets.items() if value and value in text}

    def _on_event(self, event: tuple[float, Any]) -> None:
        """A worker's message on the run's topic: an attempt started, or one of its log records."""
        message = event[1]
        if not isinstance(message, dict):
            return
        token = str(message.get("attempt"))
        with self._lock:
            if "started" in message:
                self._started.add(token)
                return
            listener = self._listeners.get(token)
        if listener is not None and isinstance(message.get("record"), dict):
            listener(message["record"])

    def _cancel(self, future: Any, token: str) -> None:
        """Tell running attempts to stop their plugins; an attempt no worker started is cancelled in Dask."""
        with self._lock:
            first, self._cancelled = not self._cancelled, True
            started = token in self._started
        if first:
            Event(self._cancel_name, client=self.client).set()
        if not started:
            future.cancel()

    def _result(self, future: Any, finished: threading.Event) -> TaskOutcome:
        if not finished.wait(_CANCEL_GRACE_S):
            return failed_outcome(
                FailureKind.CANCELLED,
                f"the run was cancelled; the worker did not confirm within {_CANCEL_GRACE_S:.0f} s",
            )
        try:
            ended = future.result()
        except KilledWorker as exc:
            lost = getattr(exc.last_worker, "address", "a worker")
            return failed_outcome(FailureKind.WORKER_LOST, f"the Dask worker running it ({lost}) was lost")
        except CancelledError:
            return failed_outcome(FailureKind.CANCELLED, "the run was cancelled before a worker started it")
        except Exception as exc:  # noqa: BLE001 - the cluster's own failure (scheduler gone, ...), reported
            return failed_outcome(FailureKind.CRASHED, f"the Dask cluster failed the task: {type(exc).__name__}: {exc}")
        if not isinstance(ended, TaskOutcome):
            return failed_outcome(FailureKind.CRASHED, f"a worker answered {type(ended).__name__}, not a task outcome")
        return ended


@contextlib.contextmanager
def dask_executor(
    settings: ExecutorSettings, *, manager: PluginManager, concurrency: int, secrets: Mapping[str, str] | None = None
) -> Iterator[DaskExecutor]:
    """The Dask executor of one run on the configured cluster (a local one without an address), closed after it.

    A local cluster's workers share this machine, so they search exactly
    the client's plugins paths; a remote worker searches its own, from
    ``settings.project_dir`` (default: its working directory).
    """
    if settings.address is None:
        site = WorkerSite(plugins_paths=tuple(str(entry.path) for entry in manager.resolver.paths))
    else:
        site = WorkerSite(project_dir=settings.project_dir)
    with connected_client(settings, concurrency=concurrency) as client:
        # Our local cluster never hands a lost worker's task on (allowed-failures: 0): no token needed.
        executor = DaskExecutor(
            client, manager=manager, site=site, secrets=secrets, guard_reruns=bool(settings.address)
        )
        try:
            yield executor
        finally:
            executor.close()


def _masked(ended: TaskOutcome, masker: Masker) -> TaskOutcome:
    """Masked once more with every secret of the run: a worker masks only those the task was given."""
    outcome = ended.outcome
    failure = outcome.failure
    if failure is not None:
        error_type = None if failure.error_type is None else masker.mask(failure.error_type)
        failure = failure.replace(
            message=masker.mask(failure.message),
            stderr_tail=masker.mask(failure.stderr_tail),
            error_type=error_type,
        )
    outputs = None if outcome.outputs is None else masker.mask_data(outcome.outputs)
    logs = tuple(masker.mask_data(dict(record)) for record in outcome.logs)
    return ended.replace(outcome=outcome.replace(outputs=outputs, failure=failure, logs=logs))


_START_WORKER = "start workers with `dask worker ADDRESS` on machines holding the workflow's plugins"
_SAME_COPY = (
    "give every worker the same copy of the plugin: the same folder in its plugins.paths (copied with the same "
    "files), or the same pip-installed plugin distribution; see docs/scaling.md"
)
