"""Runtimes by kind: where the manager and the warm pool find the runtime of an invocation's kind.

Each place a plugin can run (:class:`~workflow_plugin_runtime.config.RuntimeKind`)
maps to a factory that makes its runtime. The built-in runtimes are
registered at the bottom of this module, so adding one (as the sandbox
was) is its own module implementing :class:`~.base.PluginRuntime` plus one
:func:`register_runtime` line here; nothing that picks a runtime changes.
An engine may register its own factory for a kind, replacing the built-in.

The factories import their module when called: looking up the process
runtime never imports the Docker or sandbox runtime's modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from ..config import RuntimeKind
from ..errors import RuntimeUnavailableError
from .base import PluginRuntime

__all__ = ["RuntimeFactory", "RuntimeSet", "is_registered", "register_runtime", "runtime_for"]

RuntimeFactory = Callable[[], PluginRuntime]
"""Makes a new runtime; each caller (a manager, a warm pool) owns and closes the one it gets."""

_FACTORIES: dict[RuntimeKind, RuntimeFactory] = {}


def register_runtime(kind: RuntimeKind, factory: RuntimeFactory) -> RuntimeFactory | None:
    """Make ``factory`` the maker of ``kind``'s runtime; the factory it replaces, so a caller can put it back."""
    previous = _FACTORIES.get(kind)
    _FACTORIES[kind] = factory
    return previous


def is_registered(kind: RuntimeKind) -> bool:
    return kind in _FACTORIES


def runtime_for(kind: RuntimeKind) -> PluginRuntime:
    """A new runtime of ``kind``.

    Raises :class:`RuntimeUnavailableError` when none is registered: for a
    restricted backend, why it cannot run here (its probe's words), else
    how to register one.
    """
    factory = _FACTORIES.get(kind)
    if factory is not None:
        return factory()
    from .backends import BACKEND_PROBES

    probe = BACKEND_PROBES.get(kind)
    problem = probe() if probe is not None else None
    raise problem or RuntimeUnavailableError(
        f"no {kind.value} runtime is registered",
        hint=f"register one with runtimes.registry.register_runtime(RuntimeKind.{kind.name}, factory) "
        "(docs/runtimes.md, Adding a runtime)",
    )


class RuntimeSet:
    """One owner's runtimes by kind: the ones it was given, and the registry's, each made on first use.

    A manager and a warm pool each own one, so both make a kind's runtime
    once, from the same registry, and close what they made (and were given)
    exactly once. Safe across threads: tasks on several threads ask at once.
    """

    def __init__(self, given: Mapping[RuntimeKind, PluginRuntime] | None = None) -> None:
        self._runtimes: dict[RuntimeKind, PluginRuntime] = dict(given or {})
        self._lock = threading.Lock()

    def get(self, kind: RuntimeKind) -> PluginRuntime:
        """The runtime of ``kind``, made from the registry the first time (raises as :func:`runtime_for`)."""
        with self._lock:
            runtime = self._runtimes.get(kind)
            if runtime is None:
                runtime = self._runtimes[kind] = runtime_for(kind)
            return runtime

    def existing(self, kind: RuntimeKind) -> PluginRuntime | None:
        """The runtime of ``kind`` if one was given or made already; never makes one."""
        with self._lock:
            return self._runtimes.get(kind)

    def kinds(self) -> frozenset[RuntimeKind]:
        with self._lock:
            return frozenset(self._runtimes)

    def close(self) -> None:
        """Close every runtime held, once; the set is empty afterwards (closing twice is safe)."""
        with self._lock:
            runtimes = list(self._runtimes.values())
            self._runtimes.clear()
        for runtime in runtimes:
            runtime.close()


def _process_runtime() -> PluginRuntime:
    from .process import ProcessRuntime

    return ProcessRuntime()


def _docker_runtime() -> PluginRuntime:
    from .docker.runtime import DockerRuntime

    return DockerRuntime()


def _sandbox_runtime() -> PluginRuntime:
    from .sandbox.runtime import SandboxRuntime

    return SandboxRuntime()


register_runtime(RuntimeKind.PROCESS, _process_runtime)
register_runtime(RuntimeKind.DOCKER, _docker_runtime)
register_runtime(RuntimeKind.SANDBOX, _sandbox_runtime)
