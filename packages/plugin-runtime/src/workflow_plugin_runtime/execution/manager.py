"""From a task reference to a prepared invocation on the right runtime.

The manager is where security decisions are made once for every caller: it
resolves the plugin, checks a restricted workflow's grants against the
plugin's capabilities, decides where the call runs (a
:class:`~workflow_plugin_runtime.config.RuntimeKind`: trusted, a process;
restricted, the configured backend), takes that kind's runtime from the
registry (:mod:`..runtimes.registry`) or a warm pool, and builds the
:class:`Invocation`, marked with its kind, with only what the grants allow:
configured variables the plugin may see, the mounts it needs, network only
when granted. Nothing long-lived is kept unless warm workers were asked for.

A plugin's content hash is computed once per manager
(:meth:`PluginManager.content_hash`): a container call carries it so the
Docker runtime runs only an image built from that content, and provenance
records the same value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_plugin_sdk.protocol import make_request

from .._frozen import FrozenRecord
from ..config import RESTRICTED_RUNTIMES, PoolSettings, RuntimeKind
from ..errors import PermissionDeniedError, Problem
from ..plugins.manifest import DEFAULT_TIMEOUT_S, ActionDef, PluginManifest, StartMode
from ..plugins.provenance import plugin_content_hash, provenance_of
from ..plugins.references import ActionRef
from ..plugins.resolve import Resolver
from ..runtimes.base import Invocation, PluginRuntime, ResourceLimits
from ..runtimes.host_argv import plugin_argv
from ..runtimes.registry import RuntimeSet, is_registered
from ..workflows.permissions import Permissions, SecurityMode, capability_problems, missing_grants

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

    from workflow_plugin_sdk.protocol import InvocationContext

    from ..runtimes.docker.image import ImageIdentity
    from ..runtimes.docker.runtime import DockerRuntime
    from ..runtimes.fork_server import ForkServerRuntime
    from ..runtimes.sandbox.runtime import SandboxRuntime

__all__ = ["ExecutionPolicy", "PluginManager", "PreparedCall", "effective_timeout"]

_RefKey = tuple[str, "str | None"]  # a task's reference and version specifier, as text


class ExecutionPolicy(FrozenRecord, keyword_only=True):
    """How a workflow wants its plugins run: the security mode, its grants, warm workers or not.

    ``backend`` is where a restricted workflow runs, one of
    :data:`~workflow_plugin_runtime.config.RESTRICTED_RUNTIMES`; ``None``
    (auto) is a sandbox runtime when one was given, or when the registered
    one's probe says it can run here, else Docker. ``pool_defaults`` sizes
    warm pools of plugins whose manifest has no ``runtime.pool`` (the
    config file's ``pool`` section). A FrozenRecord, not a dataclass, for
    run start-up (docs/performance.md).
    """

    __slots__ = ("backend", "permissions", "pool", "pool_defaults", "security")
    security: SecurityMode
    permissions: Permissions
    backend: RuntimeKind | None
    pool: bool
    pool_defaults: PoolSettings | None

    def __init__(
        self,
        *,
        security: SecurityMode = SecurityMode.TRUSTED,
        permissions: Permissions | None = None,
        backend: RuntimeKind | None = None,
        pool: bool = False,
        pool_defaults: PoolSettings | None = None,
    ) -> None:
        if backend is not None and backend not in RESTRICTED_RUNTIMES:
            # A restricted workflow run "on" a process would silently lose its isolation.
            raise ValueError(f"{backend.value} is not a restricted backend")
        object.__setattr__(self, "security", security)
        object.__setattr__(self, "permissions", Permissions() if permissions is None else permissions)
        object.__setattr__(self, "backend", backend)
        object.__setattr__(self, "pool", pool)
        object.__setattr__(self, "pool_defaults", pool_defaults)


class PreparedCall(FrozenRecord):
    """Everything needed to run one action call, decided before anything starts (a FrozenRecord: start-up cost)."""

    __slots__ = ("action", "invocation", "manifest", "runtime")
    manifest: PluginManifest
    action: ActionDef
    invocation: Invocation
    runtime: PluginRuntime

    def __init__(
        self, manifest: PluginManifest, action: ActionDef, invocation: Invocation, runtime: PluginRuntime
    ) -> None:
        object.__setattr__(self, "manifest", manifest)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "invocation", invocation)
        object.__setattr__(self, "runtime", runtime)

    @property
    def secret_inputs(self) -> tuple[str, ...]:
        return tuple(self.invocation.request["secret_inputs"])


def effective_timeout(task_timeout: float | None, *, action: ActionDef, manifest: PluginManifest) -> float:
    """Task, then action, then plugin, then the 30-second default."""
    for candidate in (task_timeout, action.timeout, manifest.runtime.timeout):
        if candidate is not None:
            return float(candidate)
    return DEFAULT_TIMEOUT_S


class PluginManager:
    """Resolves, authorises and prepares plugin calls; owns the runtimes it creates.

    ``runtimes`` lets an engine supply its own by kind (a custom Docker
    client, a sandbox); a missing one is the registry's, made on first use.
    ``on_warning`` hears
    what an operator should know but does not fail a call (a plugin that
    cannot be kept warm runs cold). Call :meth:`close` when done: it stops
    warm workers and releases clients.
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        policy: ExecutionPolicy | None = None,
        runtimes: Mapping[RuntimeKind, PluginRuntime] | None = None,
        on_warning: Callable[[Problem], None] | None = None,
    ) -> None:
        self.resolver = resolver
        self.policy = policy if policy is not None else ExecutionPolicy()
        self.on_warning = on_warning
        self._runtimes = RuntimeSet(runtimes)
        self._pool: PluginRuntime | None = None
        self._forks: dict[RuntimeKind, ForkServerRuntime] = {}
        self._lock = threading.Lock()
        self._resolved: dict[_RefKey, tuple[PluginManifest, ActionDef]] = {}  # even for a refused plugin
        self._routes: dict[_RefKey, tuple[PluginManifest, ActionDef, RuntimeKind, PluginRuntime]] = {}
        self._argvs: dict[Path, tuple[str, ...]] = {}
        self._hashes: dict[Path, str] = {}
        self._provenances: dict[Path, dict[str, object]] = {}
        self._hash_lock = threading.Lock()

    def __enter__(self) -> PluginManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def authorise(self, manifest: PluginManifest, *, task: str | None = None) -> None:
        """Refuse a plugin whose needs a restricted workflow does not grant."""
        if self.policy.security is not SecurityMode.RESTRICTED:
            return
        missing = missing_grants(self.policy.permissions, plugin_ref=manifest.ref, capabilities=manifest.capabilities)
        if missing.ok:
            return
        problems = capability_problems(self.policy.permissions, missing, task=task or manifest.ref, location=None)
        first = problems[0]
        raise PermissionDeniedError(first.message, location=first.location, hint=first.hint)

    def prepare(
        self,
        ref: str | ActionRef,
        inputs: Mapping[str, Any],
        *,
        task: str | None = None,
        context: InvocationContext | None = None,
        env: Mapping[str, str] | None = None,
        secret_inputs: Sequence[str] = (),
        timeout: float | None = None,
        specifier: SpecifierSet | str | None = None,
        cancel: threading.Event | None = None,
    ) -> PreparedCall:
        """Resolve ``ref`` and build its invocation; raises the runtime's errors (not found, permission, ...).

        ``secret_inputs`` names inputs filled from secrets; inputs the action's
        schema marks ``secret: true`` are added, so the SDK masks both.
        """
        key = (ref if type(ref) is str else str(ref), None if specifier is None else str(specifier))
        route = self._routes.get(key)  # resolved once per manager (a run's plugins do not change under it), authorised
        if route is None:  # and placed: the first call of this reference, or every call of one that is refused
            found = self._resolved.get(key)
            if found is None:
                with self._lock:  # the resolver's scans are not meant to run on several threads at once
                    resolved = self.resolver.resolve_action(ref, specifier=specifier)
                found = self._resolved[key] = (resolved.manifest, resolved.action)
            self.authorise(found[0], task=task)
            kind = self._kind()
            route = self._routes[key] = (*found, kind, self._runtime_for(found[0], kind))
        manifest, action, kind, runtime = route
        secrets = sorted({*secret_inputs, *(name for name in action.secret_inputs if name in inputs)})
        request = make_request(action.name, dict(inputs), secret_inputs=secrets, context=context or {})
        invocation = self._invocation(
            manifest, kind=kind, request=request, env=env or {}, timeout=timeout, action=action, cancel=cancel
        )
        if manifest.runtime.pool is not None and runtime is self._pool:
            self._size_pool(manifest, invocation)
        return PreparedCall(manifest=manifest, action=action, invocation=invocation, runtime=runtime)

    def content_hash(self, manifest: PluginManifest) -> str:
        """The plugin directory's content hash, computed once per manager (a run's plugins do not change under it)."""
        with self._hash_lock:
            digest = self._hashes.get(manifest.plugin_dir)
        if digest is None:
            digest = plugin_content_hash(manifest.plugin_dir)
            with self._hash_lock:
                digest = self._hashes.setdefault(manifest.plugin_dir, digest)
        return digest

    def provenance(self, manifest: PluginManifest) -> Mapping[str, object]:
        """The run record's provenance of the plugin (:func:`.provenance_of`), built once per manager: read only."""
        found = self._provenances.get(manifest.plugin_dir)
        if found is None:
            found = provenance_of(manifest, content_hash=self.content_hash(manifest))
            found = self._provenances.setdefault(manifest.plugin_dir, found)
        return found

    def image_of(self, call: PreparedCall) -> ImageIdentity | None:
        """The image a container call was checked against and run from; None when it ran no checked image."""
        invocation = call.invocation
        if invocation.kind is not RuntimeKind.DOCKER or invocation.content_hash is None:
            return None
        from ..runtimes.docker.runtime import DockerRuntime  # here: a run that starts no container never loads it

        assert invocation.image is not None  # a docker invocation is refused without one
        docker = self._runtimes.existing(RuntimeKind.DOCKER)
        return docker.checked_image(invocation.image) if isinstance(docker, DockerRuntime) else None

    def _argv(self, manifest: PluginManifest) -> tuple[str, ...]:
        argv = self._argvs.get(manifest.manifest_path)
        if argv is None:
            argv = self._argvs[manifest.manifest_path] = plugin_argv(
                manifest.plugin_dir.resolve(), entrypoint=manifest.runtime.entrypoint, command=manifest.runtime.command
            )
        return argv

    def _invocation(
        self,
        manifest: PluginManifest,
        *,
        kind: RuntimeKind,
        request: Any,
        env: Mapping[str, str],
        timeout: float | None,
        action: ActionDef,
        cancel: threading.Event | None,
    ) -> Invocation:
        common: dict[str, Any] = {
            "kind": kind,
            "plugin_ref": manifest.ref,
            "request": request,
            "plugin_dir": manifest.plugin_dir,
            "timeout_s": effective_timeout(timeout, action=action, manifest=manifest),
            "cancel": cancel,
        }
        if kind is RuntimeKind.PROCESS:
            return Invocation(argv=self._argv(manifest), env=dict(env), **common)
        permissions = self.policy.permissions
        return Invocation(
            argv=self._argv(manifest) if kind is RuntimeKind.SANDBOX else (),
            image=manifest.runtime.image,
            content_hash=self.content_hash(manifest) if kind is RuntimeKind.DOCKER else None,
            env={name: value for name, value in env.items() if permissions.allows_env(name)},
            mounts=permissions.mounts_for(manifest.capabilities),
            limits=_limits(permissions),
            network=manifest.capabilities.network and permissions.allows_network(manifest.ref),
            **common,
        )

    def _kind(self) -> RuntimeKind:
        """Where this manager's calls run: a process when trusted, else the backend (auto: see ExecutionPolicy)."""
        if self.policy.security is not SecurityMode.RESTRICTED:
            return RuntimeKind.PROCESS
        if self.policy.backend is not None:
            return self.policy.backend
        given = self._runtimes.kinds()
        return next((kind for kind in RESTRICTED_RUNTIMES if kind in given or _usable(kind)), RuntimeKind.DOCKER)

    def _runtime_for(self, manifest: PluginManifest, kind: RuntimeKind) -> PluginRuntime:
        # A plugin whose manifest says it does not serve is never asked to: no ready-line wait, no warning.
        warm = (self.policy.pool or manifest.runtime.pool is not None) and manifest.runtime.serve
        if warm and kind is RuntimeKind.PROCESS:
            return self._warm_pool()
        runtime = self._runtimes.get(kind)
        if warm and kind is RuntimeKind.DOCKER:
            from ..runtimes.docker.runtime import DockerRuntime

            if isinstance(runtime, DockerRuntime):
                return self._warm_pool(docker=runtime)
        if warm and kind is RuntimeKind.SANDBOX:
            from ..runtimes.sandbox.runtime import SandboxRuntime

            if isinstance(runtime, SandboxRuntime):
                return self._warm_pool(sandbox=runtime)
        return self._fork_server(runtime) if manifest.runtime.start is StartMode.FORK else runtime

    def _warm_pool(
        self, *, docker: DockerRuntime | None = None, sandbox: SandboxRuntime | None = None
    ) -> PluginRuntime:
        """The one pool of this manager: processes in trusted mode; in restricted, sandboxes or containers.

        Its workers are keyed by everything the grants decide (image or argv,
        mounts, environment, limits, network), so no worker serves two
        different grants. A runtime of the backend's kind that is not ours
        (an engine's own) is never bypassed: its calls run on it, cold.
        """
        if self._pool is not None:  # every warm call asks: once made, it stays (no lock to read it)
            return self._pool
        with self._lock:
            if self._pool is None:
                from ..runtimes.pool import WarmPool

                sizing = self.policy.pool_defaults
                options: dict[str, Any] = {
                    "fallback": self._runtimes.existing(RuntimeKind.PROCESS),
                    "docker": docker,
                    "sandbox": sandbox,
                    "on_warning": self.on_warning,
                }
                if sizing is not None:
                    options |= {
                        "size": sizing.size,
                        "idle_timeout_s": sizing.idle_timeout,
                        "recycle_after": sizing.recycle_after,
                    }
                self._pool = WarmPool(**options)
            return self._pool

    def _fork_server(self, cold: PluginRuntime) -> PluginRuntime:
        """The fork server of ``cold``'s kind; ``cold`` itself for Docker or an engine's own runtime (not bypassed)."""
        from ..runtimes.fork_server import ForkServerRuntime
        from ..runtimes.process import ProcessRuntime
        from ..runtimes.sandbox.runtime import SandboxRuntime

        if not isinstance(cold, (ProcessRuntime, SandboxRuntime)) or type(cold) not in (ProcessRuntime, SandboxRuntime):
            return cold
        with self._lock:
            forks = self._forks.get(cold.kind)
            if forks is None:
                forks = self._forks[cold.kind] = ForkServerRuntime(cold.kind, kill_grace_s=cold.kill_grace_s)
            return forks

    def _size_pool(self, manifest: PluginManifest, invocation: Invocation) -> None:
        """Apply the manifest's ``runtime.pool`` sizing to this plugin's warm workers."""
        from ..runtimes.pool import WarmPool

        settings = manifest.runtime.pool
        if settings is not None and isinstance(self._pool, WarmPool):
            self._pool.configure(
                invocation,
                size=settings.size,
                idle_timeout_s=settings.idle_timeout,
                recycle_after=settings.recycle_after,
            )

    def close(self) -> None:
        """Stop warm workers and release runtime clients; safe to call twice."""
        with self._lock:
            pool, self._pool = self._pool, None
            forks, self._forks = list(self._forks.values()), {}
            self._routes = {}  # they name the runtimes closed here: a call after this places itself again
        if pool is not None:  # the pool first: removing its containers needs the Docker runtime's client still open
            pool.close()
        for fork_server in forks:
            fork_server.close()
        self._runtimes.close()


def _usable(kind: RuntimeKind) -> bool:
    """Whether auto may take ``kind``: registered, and its probe passes here (the sandbox's: once per process).

    Docker, auto's last resort, is not asked: a ping per run would cost more than the failure it saves.
    """
    if not is_registered(kind):
        return False
    if kind is RuntimeKind.DOCKER:
        return True
    from ..runtimes.backends import BACKEND_PROBES

    probe = BACKEND_PROBES.get(kind)
    return probe is None or probe() is None


def _limits(permissions: Permissions) -> ResourceLimits:
    """The ceilings of an isolated call: what the workflow grants, the runtime's defaults for the rest."""
    granted = permissions.resources
    defaults = ResourceLimits()
    return ResourceLimits(
        memory_bytes=granted.memory_bytes or defaults.memory_bytes,
        cpus=granted.cpus or defaults.cpus,
        pids=granted.pids or defaults.pids,
    )
