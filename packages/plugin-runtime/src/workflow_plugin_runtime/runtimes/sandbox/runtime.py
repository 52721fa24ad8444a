"""Restricted mode without a daemon: each invocation runs in a fresh bubblewrap sandbox.

The plugin starts from the same argv as a trusted process
(:func:`~..base.plugin_argv`), with the engine's interpreter, but locked
down as a container would lock it down (:mod:`.command`): its own
namespaces, no network unless granted, a read-only root holding only the
system, the interpreter and the plugin, a private ``/tmp``, only the
granted mounts, uid 65534 without capabilities, the seccomp filter
(:mod:`.seccomp`), and memory, process and CPU limits on the whole
sandbox (:mod:`.limits`). It speaks the same protocol over the same
pipes, is supervised by the same loop as a process
(:func:`~..supervise.run_supervised`: deadline, cancel, output limits,
the whole tree killed) and reports through the same mapping
(:func:`~..outcome.classify`), so a workflow behaves the same on every
runtime; a plugin killed at its memory limit, or failing once refused a
process at its pids limit, is told so with the grant that gives more.

Nothing outlives the call: bwrap dies with the engine
(``--die-with-parent``), everything in the sandbox dies with its PID
namespace, and the call's cgroups are emptied and removed on every path.
"""

from __future__ import annotations

import math
import time

from ...errors import Failure, FailureKind, PermissionDeniedError, RuntimeUnavailableError
from ..base import Invocation, InvocationResult, LogCallback, Metrics, RuntimeKind, Timings, refuse_other_kinds
from ..deadline import KILL_GRACE_S
from ..supervised_result import supervised_result
from .launch import SandboxLaunch
from .probe import sandbox_problem, sandbox_tools

__all__ = ["NOT_FOUND_FIX", "SandboxRuntime", "cpu_time_limit"]

NOT_FOUND_FIX = (
    "the sandbox shows plugins only /usr (with /bin and /lib), the engine's Python and the plugin's folder: install"
    " the program under /usr, or run the workflow on Docker (--backend docker) with an image that has it"
)
"""What to do when the plugin's program (or its interpreter) is not in the sandbox (exit 127)."""


_UNAVAILABLE = FailureKind.RUNTIME_UNAVAILABLE


def cpu_time_limit(invocation: Invocation) -> int:
    """A one-shot call's CPU time (``RLIMIT_CPU``): its ``cpus`` for its whole timeout, and a second to spare."""
    return math.ceil(invocation.timeout_s * invocation.limits.cpus) + 1


class SandboxRuntime:
    """Runs each invocation in a new bubblewrap sandbox; needs ``invocation.argv`` (a host program)."""

    kind = RuntimeKind.SANDBOX

    def __init__(self, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.kill_grace_s = kill_grace_s

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        refuse_other_kinds(invocation, RuntimeKind.SANDBOX)
        if not invocation.argv:
            raise ValueError(f"{invocation.plugin_ref}: a sandbox invocation needs argv (see plugin_argv)")
        started = time.monotonic()
        try:
            problem = sandbox_problem()
            if problem is not None:
                raise problem
            spawned = time.monotonic()  # the sandbox's making starts here; the probe above runs once per engine
            launch = SandboxLaunch(invocation, tools=sandbox_tools(), cpu_time_s=cpu_time_limit(invocation))
        except RuntimeUnavailableError as exc:
            return _failed(invocation, _UNAVAILABLE, exc.message, exc.hint, started)
        except PermissionDeniedError as exc:  # a mount source refused as the sandbox is made
            return _failed(invocation, FailureKind.PERMISSION, exc.message, exc.hint, started)
        except OSError as exc:
            return _failed(invocation, _UNAVAILABLE, f"cannot prepare the sandbox: {exc}", None, started)
        try:
            outcome = launch.run(on_log=on_log, kill_grace_s=self.kill_grace_s)
        except OSError as exc:
            return _failed(invocation, _UNAVAILABLE, f"cannot start the sandbox: {exc}", None, started)
        finally:
            usage = launch.finish()
        return supervised_result(
            invocation,
            outcome,
            spawned=spawned,
            ended=time.monotonic(),  # the sandbox's init ended and its cgroups removed
            runtime=RuntimeKind.SANDBOX,
            killed="its sandbox",
            cpu_time_s=usage.cpu_time_s,
            peak_memory_bytes=usage.peak_memory_bytes,
            oom_limit_bytes=invocation.limits.memory_bytes if outcome.failed and usage.memory_exhausted else None,
            pids_limit=invocation.limits.pids if outcome.failed and usage.pids_exhausted else None,
            not_found_fix=NOT_FOUND_FIX,
        )

    def close(self) -> None:
        """Nothing to release: every invocation cleans up after itself."""


def _failed(
    invocation: Invocation, kind: FailureKind, message: str, hint: str | None, started: float
) -> InvocationResult:
    text = f"{invocation.plugin_ref}: {message}" + (f" (hint: {hint})" if hint else "")
    duration_s = time.monotonic() - started
    return InvocationResult(
        response=None,
        failure=Failure(kind=kind, message=text),
        metrics=Metrics(duration_s=duration_s, runtime=RuntimeKind.SANDBOX, timings=Timings.not_started(duration_s)),
    )
