"""Where plugins run: one interface, several runtimes, found by kind.

* :class:`ProcessRuntime`: trusted mode, a local process (fastest);
* :class:`DockerRuntime`: restricted mode, a locked-down container.

Both take a prepared :class:`Invocation` of their kind and return an
:class:`InvocationResult`; :func:`runtime_for` makes the runtime of a kind
(:mod:`.registry`, where a new runtime registers). docs/runtimes.md
describes the contract.
"""

from __future__ import annotations

from ..config import RuntimeKind
from ..plugins.manifest import DEFAULT_TIMEOUT_S
from ..workflows.mount_sources import Mount
from .base import (
    DEFAULT_MAX_STDERR_BYTES,
    DEFAULT_MAX_STDOUT_BYTES,
    PYTHON_FLAGS,
    Invocation,
    InvocationResult,
    LogCallback,
    PluginRuntime,
    ResourceLimits,
    plugin_argv,
)
from .deadline import KILL_GRACE_S
from .docker.runtime import INVOCATION_LABEL, PLUGIN_LABEL, DockerRuntime
from .process import ProcessRuntime, process_environment
from .registry import register_runtime, runtime_for

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
