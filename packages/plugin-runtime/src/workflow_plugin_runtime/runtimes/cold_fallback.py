"""What an operator is told when a plugin's calls cannot run on warm workers and run cold instead.

A silent fallback looks like a slow plugin, so the pool (:mod:`.pool`) says
it once per plugin; this module words it. It is imported only when that
happens: a pool whose workers start never loads it.
"""

from __future__ import annotations

from ..errors import Problem, Severity
from .base import Invocation, RuntimeKind
from .warm_worker import WorkerGone

__all__ = ["cold_fallback_warning"]

_COLD = {RuntimeKind.DOCKER: "one container per call", RuntimeKind.SANDBOX: "one sandbox per call"}


def cold_fallback_warning(invocation: Invocation, gone: WorkerGone) -> Problem:
    """The warning that ``invocation``'s plugin runs cold: no worker started, or (``gone.started``) it did not serve."""
    each = _COLD.get(invocation.kind, "one process per call")
    if gone.started:
        message = f"{invocation.plugin_ref} did not start as a warm worker: {gone.reason}; its calls run cold ({each})"
        hint = (
            "a plugin that does not speak the serve loop should say so in its plugin.yaml with "
            "runtime.serve: false; one that does must write its ready line first (docs/protocol.md)"
        )
    else:
        message = f"{invocation.plugin_ref} cannot be kept warm: {gone.reason}; its calls run cold ({each})"
        hint = None
    return Problem(message, hint=hint, severity=Severity.WARNING)
