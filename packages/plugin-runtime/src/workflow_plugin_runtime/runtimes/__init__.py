"""Where plugins run: one interface, several runtimes, found by kind.

* :class:`ProcessRuntime`: trusted mode, a local process (fastest);
* :class:`DockerRuntime`: restricted mode, a locked-down container.

Both take a prepared :class:`Invocation` of their kind and return an
:class:`InvocationResult`; :func:`runtime_for` makes the runtime of a kind
(:mod:`.registry`, where a new runtime registers). docs/runtimes.md
describes the contract.

The names below load on first use (PEP 562), as the package root's do: a
trusted run reaches this package (the reaper, the process runtime, the
backend probes) and must not pay for the Docker runtime's modules it
never uses (docs/performance.md, "What `workflow run` pays once").
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # as in the package root: the names are imported on first use, typing is not needed

if TYPE_CHECKING:
    from ..config import RuntimeKind
    from ..plugins.manifest import DEFAULT_TIMEOUT_S
    from ..workflows.mount_sources import Mount
    from .base import (
        DEFAULT_MAX_STDERR_BYTES,
        DEFAULT_MAX_STDOUT_BYTES,
        Invocation,
        InvocationResult,
        LogCallback,
        PluginRuntime,
        ResourceLimits,
    )
    from .deadline import KILL_GRACE_S
    from .docker.runtime import INVOCATION_LABEL, PLUGIN_LABEL, DockerRuntime
    from .host_argv import PYTHON_FLAGS, plugin_argv
    from .process import ProcessRuntime, process_environment
    from .registry import register_runtime, runtime_for

_EXPORTS = {
    "DEFAULT_MAX_STDERR_BYTES": "runtimes.base",
    "DEFAULT_MAX_STDOUT_BYTES": "runtimes.base",
    "DEFAULT_TIMEOUT_S": "plugins.manifest",
    "INVOCATION_LABEL": "runtimes.docker.runtime",
    "KILL_GRACE_S": "runtimes.deadline",
    "PLUGIN_LABEL": "runtimes.docker.runtime",
    "PYTHON_FLAGS": "runtimes.host_argv",
    "DockerRuntime": "runtimes.docker.runtime",
    "Invocation": "runtimes.base",
    "InvocationResult": "runtimes.base",
    "LogCallback": "runtimes.base",
    "Mount": "workflows.mount_sources",
    "PluginRuntime": "runtimes.base",
    "ProcessRuntime": "runtimes.process",
    "ResourceLimits": "runtimes.base",
    "RuntimeKind": "config",
    "plugin_argv": "runtimes.host_argv",
    "process_environment": "runtimes.process",
    "register_runtime": "runtimes.registry",
    "runtime_for": "runtimes.registry",
}
"""Each name's module, relative to the package root (as the root's own ``_EXPORTS``)."""

__all__ = [
    "DEFAULT_MAX_STDERR_BYTES",
    "DEFAULT_MAX_STDOUT_BYTES",
    "DEFAULT_TIMEOUT_S",
    "INVOCATION_LABEL",
    "KILL_GRACE_S",
    "PLUGIN_LABEL",
    "PYTHON_FLAGS",
    "DockerRuntime",
    "Invocation",
    "InvocationResult",
    "LogCallback",
    "Mount",
    "PluginRuntime",
    "ProcessRuntime",
    "ResourceLimits",
    "RuntimeKind",
    "plugin_argv",
    "process_environment",
    "register_runtime",
    "runtime_for",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    qualified = f"{__name__.rpartition('.')[0]}.{module}"
    __import__(qualified)  # the import statement's machinery, as the package root does (importtime shows it)
    value = getattr(sys.modules[qualified], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
