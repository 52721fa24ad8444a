"""Where plugins run: one interface, several runtimes.

* :class:`ProcessRuntime`: trusted mode, a local process (fastest);
* :class:`DockerRuntime`: restricted mode, a locked-down container.

Both take a prepared :class:`Invocation` and return an
:class:`InvocationResult`; docs/runtimes.md describes the contract.
"""

from __future__ import annotations

from ..workflows.mount_sources import Mount
from .base import (
    DEFAULT_MAX_STDERR_BYTES,
    DEFAULT_MAX_STDOUT_BYTES,
    DEFAULT_TIMEOUT_S,
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
    "plugin_argv",
    "process_environment",
]
