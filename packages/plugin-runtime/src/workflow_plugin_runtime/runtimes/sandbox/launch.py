"""Starting one sandbox with its limits in place before anything in it runs.

A limit given after the sandbox started would come too late: a plugin
forks in its first millisecond. So bwrap starts inside the call's cgroups
(:mod:`.limits`), and waits: it creates the sandbox's first process (in
its new namespaces, nothing of the plugin run yet), writes that process's
pid on the info descriptor and waits on the user-namespace descriptor.
Meanwhile :meth:`SandboxLaunch.admit` writes the user namespace's maps
(:class:`.command.Identity`) and sets the process's rlimits, and only then
lets bwrap go on: everything the plugin ever starts descends from a
process that was already limited.

A one-shot call runs it with :meth:`~SandboxLaunch.run`, which gives
:meth:`~SandboxLaunch.admit` to :func:`~..supervise.run_supervised` as its
``on_start``, and calls :meth:`~SandboxLaunch.finish` once bwrap is reaped:
it reads what the sandbox used and which limits it hit
(:meth:`~SandboxLaunch.usage`), then closes. A warm worker (:mod:`.worker`)
gives ``admit`` to the :class:`~..warm_worker.WarmWorker` that starts
bwrap, reads ``usage`` when a call fails, and closes once it is killed.
Closing, on every path, kills the sandbox's init if it still runs (bwrap's
monitor can end first, and the init's end is what kills everything left
in its PID namespace) and waits for its end, kills anything left in the
cgroups, removes them and closes the descriptors.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ...workflows.mount_sources import bind_sources
from ..base import Invocation, LogCallback
from ..deadline import KILL_GRACE_S
from ..supervise import call_terms, run_supervised
from ..supervised_result import ProcessOutcome
from .command import Identity, SandboxCommand, SandboxFds, sandbox_command
from .limits import REMOVE_WAIT_S, SandboxCgroup, SandboxUsage, apply_rlimits, cgroup_parents
from .seccomp import seccomp_program_fd

__all__ = ["SandboxLaunch", "SandboxTools"]


@dataclass(frozen=True, slots=True)
class SandboxTools:
    """What starts sandboxes on this machine: the bwrap executable, and who the sandboxed plugin is."""

    bwrap: str
    identity: Identity


class SandboxLaunch:
    """One sandbox from its command line to its cleanup.

    Made before the sandbox starts: the mount sources are resolved and
    checked now (raises :class:`~...errors.PermissionDeniedError`), the
    seccomp program and the descriptors are made, and so are the cgroups
    (raises ``OSError`` when they cannot be). :attr:`command` is what to
    start. Call :meth:`finish` (or at least :meth:`close`) whatever happens.
    """

    def __init__(
        self, invocation: Invocation, *, tools: SandboxTools, cpu_time_s: int | None, serve: bool = False
    ) -> None:
        self.invocation = invocation
        self.identity = tools.identity
        self.cpu_time_s = cpu_time_s
        self.deadline = time.monotonic() + invocation.timeout_s
        self.cgroup: SandboxCgroup | None = None
        self._child_fds: list[int] = []
        self._info: int | None = None
        self._release: int | None = None
        self._sandbox: int | None = None  # a pidfd of the sandbox's first process, its init
        mounts = bind_sources(invocation.mounts)  # now, not when the grants were checked: paths change
        try:
            self._info, info_child = os.pipe()
            self._child_fds.append(info_child)
            release_child, self._release = os.pipe()
            self._child_fds.append(release_child)
            self._child_fds.append(seccomp_program_fd())
            parents = cgroup_parents()
            if parents is not None:
                self.cgroup = SandboxCgroup.create(parents, invocation.limits)
            command = sandbox_command(
                invocation,
                mounts=mounts,
                fds=SandboxFds(seccomp=self._child_fds[2], info=info_child, userns_block=release_child),
                identity=tools.identity,
                bwrap=tools.bwrap,
                serve=serve,
            )
            if self.cgroup is not None:
                command = replace(command, argv=self.cgroup.joining(command.argv))
            self.command: SandboxCommand = command
        except BaseException:
            self.close()
            raise

    def admit(self, process: subprocess.Popen[bytes]) -> None:
        """Limit the waiting sandbox and let it go on (a :func:`~..supervise.run_supervised` ``on_start``).

        Raises ``OSError`` when that fails; the caller then kills the
        process. A bwrap that ended before making the sandbox (a bad
        option) is left to end: its stderr says why.
        """
        self._close_child_fds()
        pid = self._sandbox_pid()
        if pid is None:
            return
        self._sandbox = os.pidfd_open(pid)
        if self.identity.setpriv is None:
            _write_proc(pid, "setgroups", "deny\n")  # what lets an unprivileged engine write a gid map
        _write_proc(pid, "uid_map", self.identity.uid_map)
        _write_proc(pid, "gid_map", self.identity.gid_map)
        apply_rlimits(pid, self.invocation.limits, cpu_time_s=self.cpu_time_s, cgroups=self.cgroup is not None)
        assert self._release is not None
        with contextlib.suppress(BrokenPipeError):  # bwrap ended meanwhile: its exit says why
            os.write(self._release, b"\n\n")  # one for bwrap's monitor, one for the sandbox (see .command)
        self._close("_release")

    def run(self, *, on_log: LogCallback | None = None, kill_grace_s: float = KILL_GRACE_S) -> ProcessOutcome:
        """Start the sandbox and supervise its call to the end; raises ``OSError`` when it cannot start.

        A timeout's SIGTERM goes to the plugin, not to bwrap, whose death
        would kill the plugin at once, without its grace.
        """
        return run_supervised(
            self.command.argv,
            cwd=Path("/"),
            env=self.command.env,
            pass_fds=self.command.pass_fds,
            on_start=self.admit,
            **call_terms(self.invocation),
            on_log=on_log,
            kill_grace_s=kill_grace_s,
            terminate_leader=False,
        )

    def _sandbox_pid(self) -> int | None:
        """The pid bwrap reports for the sandbox's first process; None when bwrap ended without one."""
        assert self._info is not None
        report = b""
        while not report.rstrip().endswith(b"}"):
            wait = self.deadline - time.monotonic()
            if wait <= 0 or not select.select([self._info], [], [], wait)[0]:
                raise OSError(errno.ETIMEDOUT, "bubblewrap did not create the sandbox within the call's timeout")
            chunk = os.read(self._info, 4096)
            if not chunk:
                return None
            report += chunk
        pid = json.loads(report)["child-pid"]
        assert isinstance(pid, int)
        return pid

    def usage(self) -> SandboxUsage:
        """What the sandbox used and which limits it hit so far (nothing known without cgroups)."""
        return self.cgroup.usage() if self.cgroup is not None else SandboxUsage()

    def finish(self) -> SandboxUsage:
        """Once the sandbox is reaped: what it used and which limits it hit; then everything is removed and closed."""
        try:
            return self.usage()
        finally:
            self.close()

    def close(self) -> None:
        """Kill what is left of the sandbox, remove its cgroups, close every descriptor; safe to call twice."""
        try:
            if self._sandbox is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._sandbox, signal.SIGKILL)
                select.select([self._sandbox], [], [], REMOVE_WAIT_S)
            if self.cgroup is not None:
                self.cgroup.remove()
        finally:
            self._close_child_fds()
            self._close("_info")
            self._close("_release")
            self._close("_sandbox")

    def _close_child_fds(self) -> None:
        while self._child_fds:
            os.close(self._child_fds.pop())

    def _close(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is not None:
            setattr(self, name, None)
            os.close(fd)


def _write_proc(pid: int, name: str, text: str) -> None:
    """One write, as ``/proc/<pid>/uid_map`` and friends require."""
    fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
