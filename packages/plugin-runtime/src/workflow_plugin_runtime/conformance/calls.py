"""Calls to the plugin under test, made as the engine makes them.

Well-formed requests go through the real runtime of the chosen kind (its
:meth:`~..runtimes.base.PluginRuntime.invoke`, or a
:class:`~..runtimes.pool.WarmPool` for the serve loop), so a plugin is
judged by the same code that will run it. The probes that must break the
rules themselves (bytes that are not JSON, a request written in two parts,
SIGTERM while the plugin waits for the rest) need the plugin's pipes:
:meth:`PluginCalls.spawn` starts the plugin one-shot in the same place
the runtime would (a process with the runtime's environment, bubblewrap
with the sandbox's lockdown, a container with the Docker runtime's).

The calls carry no grants: no network, no mounts, no configured
variables. A plugin's examples should not need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from workflow_plugin_sdk.protocol import Request, make_request

from ..config import RuntimeKind
from ..errors import Problem, RuntimeUnavailableError
from ..execution.executor import ActionOutcome, PluginExecutor
from ..execution.manager import PluginManager, PreparedCall, effective_timeout
from ..plugins.manifest import PluginManifest
from ..plugins.provenance import plugin_content_hash
from ..plugins.resolve import Resolver
from ..runtimes.base import Invocation, InvocationResult, PluginRuntime
from ..runtimes.docker.runtime import DockerRuntime
from ..runtimes.host_argv import plugin_argv
from ..runtimes.pool import WarmPool
from ..runtimes.registry import runtime_for
from ..runtimes.sandbox.runtime import SandboxRuntime
from ..runtimes.sandbox.worker import sandbox_spawn
from ..runtimes.warm_worker import Spawn, WorkerGone, container_spawn, process_spawn

__all__ = ["PluginCalls"]


class PluginCalls:
    """One plugin's calls on one runtime kind; :meth:`close` releases the runtimes made for them.

    Raises :class:`RuntimeUnavailableError` when the kind cannot run here
    (no bubblewrap, no registered runtime): the registry's words.
    """

    def __init__(self, manifest: PluginManifest, *, kind: RuntimeKind) -> None:
        self.manifest = manifest
        self.kind = kind
        self._runtime = runtime_for(kind)
        self._argv = plugin_argv(
            manifest.plugin_dir.resolve(), entrypoint=manifest.runtime.entrypoint, command=manifest.runtime.command
        )
        self._content_hash = plugin_content_hash(manifest.plugin_dir) if kind is RuntimeKind.DOCKER else None
        # The executor checks inputs and outputs against the action's schemas as a run does; its
        # manager resolves nothing here (every call is prepared from the manifest under test).
        self._executor = PluginExecutor(PluginManager(Resolver((), entry_points=False)))

    def request(self, action: str, inputs: Mapping[str, Any], *, secret_inputs: Sequence[str] = ()) -> Request:
        return make_request(action, dict(inputs), secret_inputs=secret_inputs, context={"task": "conformance"})

    def invocation(self, request: Request) -> Invocation:
        """The invocation the engine would build for ``request`` (no grants; see the module's docstring)."""
        restricted = self.kind is not RuntimeKind.PROCESS
        return Invocation(
            kind=self.kind,
            plugin_ref=self.manifest.ref,
            request=request,
            plugin_dir=self.manifest.plugin_dir,
            argv=self._argv if self.kind is not RuntimeKind.DOCKER else (),
            image=self.manifest.runtime.image if restricted else None,
            content_hash=self._content_hash,
            timeout_s=self._timeout_s(request["action"]),
        )

    def _timeout_s(self, action_name: str) -> float:
        action = self.manifest.actions.get(action_name)
        if action is None:  # a probe's unknown action: the plugin's own timeout
            return self.manifest.runtime.timeout
        return effective_timeout(None, action=action, manifest=self.manifest)

    def call(self, request: Request) -> InvocationResult:
        """One cold call through the runtime, as ``workflow run`` makes it without ``--pool``."""
        return self._runtime.invoke(self.invocation(request))

    def execute(self, action: str, inputs: Mapping[str, Any]) -> ActionOutcome:
        """A call of a declared action as a run executes it: inputs and outputs checked against its schemas."""
        request = self.request(action, inputs)
        call = PreparedCall(
            manifest=self.manifest,
            action=self.manifest.action(action),
            invocation=self.invocation(request),
            runtime=self._runtime,
        )
        return self._executor.execute(call)

    def warm_pool(self, on_warning: Callable[[Problem], None]) -> WarmPool:
        """A pool of this kind's warm workers (the caller closes it), as ``workflow run --pool`` makes one."""
        runtime: PluginRuntime = runtime_for(self.kind)
        if isinstance(runtime, DockerRuntime):
            return WarmPool(docker=runtime, on_warning=on_warning)
        if isinstance(runtime, SandboxRuntime):
            return WarmPool(sandbox=runtime, on_warning=on_warning)
        return WarmPool(fallback=runtime, on_warning=on_warning)

    def spawn(self, request: Request) -> Spawn:
        """How to start the plugin one-shot, driven by the caller; ``request`` only shapes its lockdown.

        Raises :class:`RuntimeUnavailableError` when its place cannot be
        made (no bubblewrap, no image), with the runtime's words.
        """
        invocation = self.invocation(request)
        try:
            if self.kind is RuntimeKind.SANDBOX:
                return sandbox_spawn(invocation, serve=False)
            if self.kind is RuntimeKind.DOCKER:
                assert isinstance(self._runtime, DockerRuntime)  # the registry's docker runtime
                return container_spawn(invocation, self._runtime, serve=False)
        except WorkerGone as exc:
            raise RuntimeUnavailableError(f"{self.manifest.ref}: {exc.reason}") from exc
        return process_spawn(invocation, serve=False)

    def close(self) -> None:
        self._executor.manager.close()
        self._runtime.close()
