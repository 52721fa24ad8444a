"""Trusted mode: the plugin runs as a local process, as fast as a process starts.

No isolation beyond a clean environment and its own session: trusted
workflows chose speed over containment. The process gets a fresh scratch
directory as ``HOME`` and ``TMPDIR`` (removed afterwards; inside the run's
scratch folder when a run is registered, :mod:`..run_state`), a fixed ``PATH``
and ``LANG``, and the configured variables; nothing of the operator's
environment. Resource limits are not applied here (docs/runtimes.md).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from ..errors import Failure, FailureKind
from .base import Invocation, InvocationResult, LogCallback, Metrics, RuntimeKind, Timings, refuse_other_kinds
from .deadline import KILL_GRACE_S
from .run_state import make_scratch_dir, remove_scratch_dir, scratch_parent
from .supervise import call_terms, run_supervised
from .supervised_result import supervised_result

__all__ = [
    "SYSTEM_PATH",
    "ProcessRuntime",
    "process_environment",
]

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def process_environment(configured: Mapping[str, str], *, scratch: Path) -> dict[str, str]:
    """The whole environment of a plugin process: a minimal base, then the configured variables.

    ``PATH`` starts with this interpreter's directory so ``command: [python,
    ...]`` finds the engine's Python (and its SDK) rather than a shim.
    """
    env = {
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), *SYSTEM_PATH)),
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
    }
    env.update(configured)
    return env


class ProcessRuntime:
    """Runs each invocation as a child process in its own session and process group."""

    kind = RuntimeKind.PROCESS

    def __init__(self, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.kill_grace_s = kill_grace_s

    def invoke(self, invocation: Invocation, *, on_log: LogCallback | None = None) -> InvocationResult:
        refuse_other_kinds(invocation, RuntimeKind.PROCESS)
        assert invocation.plugin_dir is not None  # a process invocation is refused without one
        started = time.monotonic()
        scratch = make_scratch_dir(prefix="workflow-plugin-", parent=scratch_parent())
        try:
            outcome = run_supervised(
                invocation.argv,
                cwd=invocation.plugin_dir,
                env=process_environment(invocation.env, scratch=Path(scratch)),
                **call_terms(invocation),
                on_log=on_log,
                kill_grace_s=self.kill_grace_s,
            )
        except OSError as exc:
            return _not_started(invocation, exc, time.monotonic() - started)
        finally:
            remove_scratch_dir(scratch)
        return supervised_result(
            invocation,
            outcome,
            spawned=started,
            ended=time.monotonic(),  # the scratch folder removed
            runtime=RuntimeKind.PROCESS,
            killed="its process group",
            cpu_time_s=outcome.cpu_time_s,
            peak_memory_bytes=outcome.peak_memory_bytes,
        )

    def close(self) -> None:
        """Nothing to release: every invocation cleans up after itself."""


def _not_started(invocation: Invocation, exc: OSError, duration_s: float) -> InvocationResult:
    what = exc.filename if exc.filename is not None else invocation.argv[0]
    message = (
        f"{invocation.plugin_ref}: cannot start the plugin: {exc.strerror or exc} ({what}); "
        "check the plugin's runtime entrypoint/command and that its interpreter is installed"
    )
    return InvocationResult(
        response=None,
        failure=Failure(kind=FailureKind.RUNTIME_UNAVAILABLE, message=message),
        metrics=Metrics(duration_s=duration_s, runtime=RuntimeKind.PROCESS, timings=Timings.not_started(duration_s)),
    )
