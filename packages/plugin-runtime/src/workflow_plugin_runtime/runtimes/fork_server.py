"""Fresh processes at close to warm speed: a template that has imported the plugin forks one child per call.

A plugin whose manifest says ``runtime: {start: fork}`` runs its cold
calls through a :class:`ForkServerRuntime` of their kind: a trusted
process, or the bubblewrap sandbox. For each plugin (and, in the sandbox,
each set of grants) the runtime starts one template
(:class:`~.fork_template.Template`): the plugin with
``WORKFLOW_PLUGIN_SERVE=fork`` and only the base environment of a plugin
process (:func:`~.process.process_environment` with no configured
variable), started as a warm worker of that kind is
(:func:`~.warm_worker.process_spawn`, :func:`~.sandbox.worker.sandbox_spawn`:
in the sandbox, the one-shot lockdown, cgroups and rlimits). The SDK
imports the plugin and waits (``workflow_plugin_sdk._fork_server``).

Each call then makes what a cold call makes (for a process, a scratch
folder as ``HOME``; pipes; the whole environment, in a sandbox with the
``PWD`` bwrap sets) and sends the template
only descriptors; the template forks, and the child takes the pipes and
the environment and answers as a one-shot process does. The request is
written by this runtime straight into the child's stdin, so neither it
nor the environment (where a workflow may put secrets) ever passes
through the template. The child is supervised by the same loop as a cold
process (:func:`~.supervise.supervise`: deadline, cancel, output limits,
its process group killed), and its end is read by the same mapping
(:func:`~.supervised_result.supervised_result`).

A template that cannot start (the plugin failed at import, it is not an
SDK plugin, no sandbox can be made) is not retried: its calls run cold,
which reports the same failure a cold call always would. A template
killed during a call kills that call's child with it (the SDK sets
``PR_SET_PDEATHSIG``), and the call fails as a lost worker; the next call
starts a new template. Templates end with the runtime (:meth:`ForkServerRuntime.close`)
or, if the engine dies, when their control channel closes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from workflow_plugin_sdk.protocol import FORK_SERVE_VALUE, SERVE_ENV_VAR

from ..errors import Failure, FailureKind
from .base import (
    Invocation,
    InvocationResult,
    LogCallback,
    Metrics,
    PluginRuntime,
    RuntimeKind,
    Timings,
    refuse_other_kinds,
)
from .deadline import KILL_GRACE_S
from .fork_template import ForkedCall, Template, TemplateFailed
from .process import ProcessRuntime, process_environment
from .run_state import make_scratch_dir, remove_scratch_dir, scratch_parent
from .supervise import call_terms, supervise
from .supervised_result import ProcessOutcome, supervised_result
from .warm_worker import Spawn, WorkerGone, process_spawn

__all__ = ["FORK_KINDS", "TEMPLATE_READY_S", "ForkServerRuntime"]

FORK_KINDS = (RuntimeKind.PROCESS, RuntimeKind.SANDBOX)
"""Where a call can be forked from a template: a trusted process, a sandbox (Docker starts containers)."""
TEMPLATE_READY_S = 10.0
"""How long a template may take to import the plugin and say it is ready (at most the call's timeout).

Longer than a warm worker's wait: a plugin that is not ready by then runs
cold for the rest of the run, and a busy machine must not cause that. A
``.py`` entrypoint that never calls the SDK's ``run()`` costs its first
call this wait, once per run."""

_Key = tuple[object, ...]


class ForkServerRuntime:
    """Runs each call of a ``start: fork`` plugin in a child forked from that plugin's template, on one kind."""

    def __init__(self, kind: RuntimeKind = RuntimeKind.PROCESS, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        if kind not in FORK_KINDS:
            raise ValueError(f"a {kind.value} call cannot be forked from a template")
        self._kind = kind
        self.kill_grace_s = kill_grace_s
        self._cold = _cold_runtime(kind, kill_grace_s=kill_grace_s)
        self._templates: dict[_Key, Template] = {}
        self._cannot_fork: set[_Key] = set()
        self._starting: dict[_Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def kind(self) -> RuntimeKind:
        return self._kind

    def template_pid(self, invocation: Invocation) -> int | None:
        """The pid of the template serving ``invocation``'s plugin, if one runs (for tests and diagnostics)."""
        with self._lock:
            template = self._templates.get(_key_of(invocation))
        return template.pid if template is not None else None

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        refuse_other_kinds(invocation, self._kind)
        started = time.monotonic()
        template = self._template(invocation)
        if template is None:
            return self._cold.invoke(invocation, on_log=on_log)
        with self._environment(invocation) as env:
            try:
                call = template.fork(env=env, deadline=started + invocation.timeout_s)
            except TemplateFailed as exc:
                self._forget(invocation, template)
                return _lost(invocation, f"its fork server's template cannot fork a call ({exc.reason})", started)
            outcome = self._supervise(invocation, call, started=started, on_log=on_log)
        hit_limit = outcome.failed and (template.spawn.oom_killed() or template.spawn.pids_exhausted())
        result = supervised_result(
            invocation,
            outcome,
            spawned=started,
            ended=time.monotonic(),  # the scratch folder removed
            runtime=self._kind,
            killed="its process group" if self._kind is RuntimeKind.PROCESS else "its process group in its sandbox",
            cpu_time_s=outcome.cpu_time_s,
            peak_memory_bytes=outcome.peak_memory_bytes,
            oom_limit_bytes=invocation.limits.memory_bytes if hit_limit and template.spawn.oom_killed() else None,
            pids_limit=invocation.limits.pids if hit_limit and template.spawn.pids_exhausted() else None,
        )
        if hit_limit:  # a sandbox's limit counters never go back: the next call gets a new sandbox
            self._forget(invocation, template)
        if not call.template_lost:
            return result
        self._forget(invocation, template)
        message = f"{invocation.plugin_ref}: its fork server's template ended during the call, and the call with it"
        return result.replace(response=None, failure=Failure(kind=FailureKind.WORKER_LOST, message=message))

    def _supervise(
        self, invocation: Invocation, call: ForkedCall, *, started: float, on_log: LogCallback | None
    ) -> ProcessOutcome:
        return supervise(
            call,
            reap=call.reap,
            pidfd=call.pidfd,
            started=started,
            **call_terms(invocation),
            on_log=on_log,
            kill_grace_s=self.kill_grace_s,
        )

    @contextlib.contextmanager
    def _environment(self, invocation: Invocation) -> Iterator[dict[str, str]]:
        """The call's whole environment, the one a cold call of this kind has (a test compares the two).

        A process gets a scratch folder of its own as ``HOME`` and ``TMPDIR``
        (removed after the call); a sandbox its private ``/tmp``, and ``PWD``
        as bwrap sets it for a one-shot sandbox.
        """
        if self._kind is RuntimeKind.SANDBOX:
            from .sandbox.command import sandbox_environment

            yield sandbox_environment(invocation)
            return
        scratch = make_scratch_dir(prefix="workflow-plugin-", parent=scratch_parent())
        try:
            yield process_environment(invocation.env, scratch=Path(scratch))
        finally:
            remove_scratch_dir(scratch)

    def _template(self, invocation: Invocation) -> Template | None:
        """The running template of ``invocation``'s plugin, started now if needed; None: run it cold.

        One plugin's template starts under that plugin's own lock (two calls
        at once start one template, not two); other plugins' calls go on.
        """
        key = _key_of(invocation)
        with self._lock:
            starting = self._starting.setdefault(key, threading.Lock())
        with starting:
            with self._lock:
                if self._closed or key in self._cannot_fork:
                    return None
                template = self._templates.pop(key, None)
                if template is not None and template.running():
                    self._templates[key] = template
                    return template
            if template is not None:  # it ended between calls: replaced
                template.close()
            try:
                template = Template(
                    self._spawn(invocation), ready_timeout_s=min(TEMPLATE_READY_S, invocation.timeout_s)
                )
            except (TemplateFailed, WorkerGone):
                with self._lock:
                    self._cannot_fork.add(key)
                return None
            with self._lock:
                if not self._closed:
                    self._templates[key] = template
                    return template
            template.close()  # the runtime closed while it started
            return None

    def _spawn(self, invocation: Invocation) -> Spawn:
        """How to start a template: a warm worker's start, with the fork switch as its only configured variable."""
        template = invocation.replace(env={SERVE_ENV_VAR: FORK_SERVE_VALUE})
        if self._kind is RuntimeKind.SANDBOX:
            from .sandbox.worker import sandbox_spawn

            return sandbox_spawn(template, serve=False)
        return process_spawn(template, serve=False)

    def _forget(self, invocation: Invocation, template: Template) -> None:
        key = _key_of(invocation)
        with self._lock:
            if self._templates.get(key) is template:
                del self._templates[key]
        template.close()

    def close(self) -> None:
        """Stop every template (each kills what it still runs); later calls run cold."""
        with self._lock:
            self._closed = True
            templates = list(self._templates.values())
            self._templates.clear()
        for template in templates:
            template.close()
        self._cold.close()


def _key_of(invocation: Invocation) -> _Key:
    """What a template is shared by: the plugin and, in a sandbox, every grant but the environment (sent per call)."""
    plugin = (invocation.kind, invocation.argv, str(invocation.plugin_dir))
    if invocation.kind is RuntimeKind.SANDBOX:
        return (*plugin, invocation.mounts, invocation.limits, invocation.network)
    return plugin


def _cold_runtime(kind: RuntimeKind, *, kill_grace_s: float) -> PluginRuntime:
    if kind is RuntimeKind.SANDBOX:
        from .sandbox.runtime import SandboxRuntime

        return SandboxRuntime(kill_grace_s=kill_grace_s)
    return ProcessRuntime(kill_grace_s=kill_grace_s)


def _lost(invocation: Invocation, reason: str, started: float) -> InvocationResult:
    duration_s = time.monotonic() - started
    return InvocationResult(
        response=None,
        failure=Failure(kind=FailureKind.WORKER_LOST, message=f"{invocation.plugin_ref}: {reason}"),
        metrics=Metrics(duration_s=duration_s, runtime=invocation.kind, timings=Timings.not_started(duration_s)),
    )
