"""Warm sandboxed workers: the one-shot call's lockdown around a plugin that stays to serve.

A warm worker of a sandbox invocation is one :class:`~.launch.SandboxLaunch`
made with ``serve=True``: the bwrap command line of a one-shot call
(:mod:`.command`) plus the serve-loop switch, with the same seccomp
filter, cgroups and rlimits, the same uid 65534 without capabilities, and
the granted mounts resolved and checked
(:func:`~...workflows.mount_sources.bind_sources`) as the worker starts.
The pool starts it as it starts any worker
(:class:`~..warm_worker.WarmWorker`), and the launch limits and releases
the waiting sandbox (:meth:`~.launch.SandboxLaunch.admit`) before anything
of the plugin runs. One limit differs, because a worker outlives its
calls: no ``RLIMIT_CPU``, which is a one-shot call's ``cpus`` for its
timeout (each call's timeout still kills its worker, and the cgroup's CPU
quota still holds).

The pool keys workers by everything the grants decide (argv, plugin
folder, mounts, environment, limits, network), so a worker never serves
two grants. When a worker goes (timeout, crash, protocol error, recycle,
idle, close) the pool kills its process tree, bwrap first among them, and
``cleanup`` closes the launch: the sandbox's init killed, and with it its
PID namespace, its cgroups emptied and removed, its descriptors closed.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import PermissionDeniedError, RuntimeUnavailableError
from ..base import Invocation, RuntimeKind
from ..warm_worker import Spawn, WorkerGone
from .launch import SandboxLaunch
from .probe import sandbox_problem, sandbox_tools

__all__ = ["sandbox_spawn"]


def sandbox_spawn(invocation: Invocation, *, serve: bool = True) -> Spawn:
    """How to start a warm sandbox for ``invocation``: bwrap, waiting for its limits.

    Raises :class:`~..warm_worker.WorkerGone` when no sandbox can be made
    (no bubblewrap, a mount source refused, no cgroup): the pool then runs
    the plugin's calls one sandbox each, and they fail with the same kind
    and message.
    """
    try:
        problem = sandbox_problem()
        if problem is not None:
            raise problem
        launch = SandboxLaunch(invocation, tools=sandbox_tools(), cpu_time_s=None, serve=serve)
    except (RuntimeUnavailableError, PermissionDeniedError) as exc:
        raise WorkerGone(str(exc)) from exc
    except OSError as exc:
        raise WorkerGone(f"cannot prepare the sandbox: {exc}") from exc
    return Spawn(
        runtime=RuntimeKind.SANDBOX,
        argv=launch.command.argv,
        env=dict(launch.command.env),
        cwd=Path("/"),
        pass_fds=launch.command.pass_fds,
        on_start=launch.admit,
        terminate_leader=False,
        cleanup=launch.close,
        oom_killed=lambda: launch.usage().memory_exhausted,
        pids_exhausted=lambda: launch.usage().pids_exhausted,
    )
