"""The sandbox's resource limits: cgroups where the engine may make them, rlimits always.

A limit must bind every process of the sandbox, counted together, or a
plugin that forks gets a budget per process. So, when the engine runs as
root on a machine with cgroup v1 controllers (``memory``, ``pids``,
``cpu``), each sandbox gets a cgroup of its own under the engine's own
(:class:`SandboxCgroup`): ``memory.limit_in_bytes`` (and the same
``memory.memsw.limit_in_bytes``: no swap, as Docker's ``memswap_limit``),
``pids.max``, and a CFS quota of ``cpus``, the mapping the Docker runtime
uses. The kernel's own counters then say which limit a failed call hit
(``oom_kill`` in ``memory.oom_control``, ``max`` in ``pids.events``) and
what the whole sandbox used (``memory.max_usage_in_bytes``,
``cpuacct.usage``): ``wait4`` cannot, since bwrap's monitor, the engine's
child, never reaps the sandbox's init. bwrap is started inside the
cgroups (:meth:`SandboxCgroup.joining`: a shell moves itself in, then
becomes bwrap), so the sandbox is born in them: moving a running process
in from outside would wait for an RCU grace period, about 10 ms a call,
where a process moving itself waits for nothing. bwrap's monitor is thus
in the cgroups too, and ``pids.max`` counts it on top of ``pids``. The
cgroup is removed when the call ends, whatever ends it, with whatever was
still in it killed first.

Without cgroups (a non-root engine, or cgroup v2, where the engine's own
cgroup cannot take children with controllers) the same limits fall back
to rlimits set on the sandbox before it starts anything, which every
process in it inherits: ``RLIMIT_AS`` for memory (address space: a
plugin's allocation fails with ``ENOMEM``, which cannot be told from any
other failure, so no limit message is given), and ``RLIMIT_NPROC`` for
processes. ``RLIMIT_NPROC`` counts every process of the sandbox's host
uid, so it is set to what that uid runs already plus ``pids``; it binds
because a non-root engine's sandbox runs as that non-root uid (it has no
effect on a root one, which is why root uses the pids cgroup).

Whatever the mode, rlimits also cap each process's CPU time (a call's
``cpus`` times its timeout, so that without a CPU quota a plugin still
cannot use more than its share; none for a long-lived worker), the size of
any file it writes (:data:`FILE_SIZE_LIMIT`), its open files
(:data:`OPEN_FILES_LIMIT`) and core dumps (none: a dump would hold the
plugin's secrets). Soft and hard limits are equal, so a plugin cannot
raise its own.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import resource
import secrets
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ..base import MiB, ResourceLimits

__all__ = [
    "CGROUP_PREFIX",
    "FILE_SIZE_LIMIT",
    "OPEN_FILES_LIMIT",
    "REMOVE_WAIT_S",
    "SandboxCgroup",
    "SandboxUsage",
    "apply_rlimits",
    "cgroup_parents",
    "sandbox_cgroups",
]

CGROUP_PREFIX = "workflow-sandbox-"
"""Every sandbox's cgroup is named ``workflow-sandbox-<engine pid>-<random>``, under the engine's own cgroup."""
FILE_SIZE_LIMIT = 8192 * MiB
"""The largest file a sandboxed process may write (``RLIMIT_FSIZE``): past it, writes fail with ``EFBIG``."""
OPEN_FILES_LIMIT = 4096
"""How many files a sandboxed process may hold open (``RLIMIT_NOFILE``)."""
REMOVE_WAIT_S = 5.0
"""How long removing a sandbox's cgroup waits for what was killed in it to be gone."""

_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
_CFS_PERIOD_US = 100_000
_JOIN_THEN_EXEC = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'


@dataclass(frozen=True, slots=True)
class SandboxUsage:
    """What a sandbox used and which limits it ran into, as the kernel counted them (nothing known without cgroups).

    ``peak_memory_bytes`` is the whole sandbox's peak, page cache included.
    """

    memory_exhausted: bool = False
    pids_exhausted: bool = False
    peak_memory_bytes: int | None = None
    cpu_time_s: float | None = None


def _own_cgroups() -> dict[str, str]:
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(","):
            own[name] = path
    return own


def _controller_mounts() -> dict[str, tuple[Path, str]]:
    """Each v1 controller's mount point and the hierarchy path mounted there (from ``/proc/self/mountinfo``)."""
    mounts: dict[str, tuple[Path, str]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        after = fields.index("-")
        if fields[after + 1] != "cgroup":
            continue
        for option in fields[after + 3].split(","):
            if option in _CONTROLLERS:
                mounts[option] = (Path(fields[4].replace("\\040", " ")), fields[3])
    return mounts


@functools.cache
def cgroup_parents() -> MappingProxyType[str, Path] | None:
    """Where this process's own v1 cgroup of each controller is, when the engine may make children in all; else None.

    Looked up once per process: the engine does not move between cgroups.
    """
    if os.geteuid() != 0:
        return None
    try:
        mounts, own = _controller_mounts(), _own_cgroups()
    except OSError:
        return None
    parents: dict[str, Path] = {}
    for controller in _CONTROLLERS:
        if controller not in mounts or controller not in own:
            return None
        mount_point, mounted = mounts[controller]
        inside = Path(own[controller])
        if not inside.is_relative_to(mounted):
            return None
        parent = mount_point / inside.relative_to(mounted)
        if not os.access(parent, os.W_OK):
            return None
        parents[controller] = parent
    return MappingProxyType(parents)


class SandboxCgroup:
    """One sandbox's cgroup in each controller: made with its limits, given the sandbox, read, then removed.

    Made before the sandbox starts (:meth:`create` fails rather than start
    it with weaker limits); the sandbox is started through :meth:`joining`.
    """

    def __init__(self, directories: dict[str, Path]) -> None:
        self.directories = directories

    @classmethod
    def create(cls, parents: MappingProxyType[str, Path], limits: ResourceLimits) -> SandboxCgroup:
        """Raises ``OSError`` when a cgroup cannot be made or limited (nothing is left behind)."""
        name = f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        made = cls({})
        try:
            for controller, parent in parents.items():
                directory = parent / name
                if directory not in made.directories.values():  # cpu and cpuacct are often mounted together
                    directory.mkdir()
                made.directories[controller] = directory
            made._write("memory", "memory.limit_in_bytes", limits.memory_bytes)
            if (made.directories["memory"] / "memory.memsw.limit_in_bytes").exists():
                made._write("memory", "memory.memsw.limit_in_bytes", limits.memory_bytes)
            made._write("pids", "pids.max", limits.pids + 1)  # and bwrap's monitor
            made._write("cpu", "cpu.cfs_period_us", _CFS_PERIOD_US)
            made._write("cpu", "cpu.cfs_quota_us", max(1000, round(limits.cpus * _CFS_PERIOD_US)))
        except BaseException:
            made.remove()
            raise
        return made

    def _write(self, controller: str, name: str, value: int) -> None:
        (self.directories[controller] / name).write_text(f"{value}\n")

    def joining(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """``argv`` started by a shell that first moves itself into every cgroup (writing 0, itself, in ``tasks``)."""
        tasks = sorted(str(directory / "tasks") for directory in set(self.directories.values()))
        return ("/bin/sh", "-c", _JOIN_THEN_EXEC, "sh", *tasks, "--", *argv)

    def usage(self) -> SandboxUsage:
        """What the kernel counted: an out-of-memory kill, a process refused at ``pids.max``, the peaks."""
        return SandboxUsage(
            memory_exhausted=self._counter("memory", "memory.oom_control", "oom_kill") > 0,
            pids_exhausted=self._counter("pids", "pids.events", "max") > 0,
            peak_memory_bytes=self._counter("memory", "memory.max_usage_in_bytes"),
            cpu_time_s=self._counter("cpuacct", "cpuacct.usage") / 1e9,
        )

    def _counter(self, controller: str, name: str, key: str | None = None) -> int:
        """A number the kernel keeps in a cgroup file: the whole file, or the value after ``key`` on its line."""
        text = (self.directories[controller] / name).read_text()
        if key is None:
            return int(text)
        for line in text.splitlines():
            field, _, value = line.partition(" ")
            if field == key:
                return int(value)
        return 0

    def remove(self) -> None:
        """Kill whatever is still in the cgroups, wait for it to be gone, and remove them; safe to call twice."""
        deadline = time.monotonic() + REMOVE_WAIT_S
        for directory in set(self.directories.values()):
            _empty(directory, deadline)
            with contextlib.suppress(FileNotFoundError):
                _remove_when_free(directory, deadline)
        self.directories.clear()


def sandbox_cgroups() -> list[tuple[int, SandboxCgroup]]:
    """The sandboxes' cgroups under this process's own cgroups, each with the pid of the engine that made it.

    For the cleaner of dead runs: an engine killed outright leaves its
    sandboxes' cgroups behind (their processes die with it: bwrap dies with
    its parent, and everything in a PID namespace with its init). Found are
    those of engines that ran in the same cgroups as this process (started
    from the same shell, service or CI job), where this one would make its
    own; empty when this process makes none (:func:`cgroup_parents`).
    """
    parents = cgroup_parents()
    if parents is None:
        return []
    found: dict[str, dict[str, Path]] = {}
    for controller, parent in parents.items():
        try:
            with os.scandir(parent) as entries:
                names = [entry.name for entry in entries if entry.name.startswith(CGROUP_PREFIX) and entry.is_dir()]
        except OSError:
            continue
        for name in names:
            found.setdefault(name, {})[controller] = parent / name
    engines = ((name[len(CGROUP_PREFIX) :].partition("-")[0], directories) for name, directories in found.items())
    return [(int(pid), SandboxCgroup(directories)) for pid, directories in engines if pid.isdigit()]


def _empty(directory: Path, deadline: float) -> None:
    """SIGKILL every process in a cgroup and wait (on pidfds) until none is left, or the deadline."""
    while time.monotonic() < deadline:
        try:
            pids = [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return
        if not pids:
            return
        pidfds: list[int] = []
        try:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    pidfds.append(os.pidfd_open(pid))
                    signal.pidfd_send_signal(pidfds[-1], signal.SIGKILL)
            for pidfd in pidfds:
                select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            for pidfd in pidfds:
                os.close(pidfd)


def _remove_when_free(directory: Path, deadline: float) -> None:
    """rmdir, retried while the kernel still counts a process that has just exited (EBUSY)."""
    while True:
        try:
            directory.rmdir()
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                raise
        os.sched_yield()


def _processes_of(uid: int) -> int:
    """How many processes ``uid`` runs now (what ``RLIMIT_NPROC`` counts against)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def apply_rlimits(pid: int, limits: ResourceLimits, *, cpu_time_s: int | None, cgroups: bool) -> None:
    """Set the sandbox's rlimits on ``pid`` (its first process, still waiting): what every process in it inherits.

    With ``cgroups`` memory and processes are already bound by them;
    otherwise ``RLIMIT_AS`` and ``RLIMIT_NPROC`` stand in (see the module
    docstring). Raises ``OSError`` when a limit cannot be set.
    """
    plan = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_FSIZE: FILE_SIZE_LIMIT,
        resource.RLIMIT_NOFILE: OPEN_FILES_LIMIT,
    }
    if cpu_time_s is not None:
        plan[resource.RLIMIT_CPU] = cpu_time_s
    if not cgroups:
        plan[resource.RLIMIT_AS] = limits.memory_bytes
        plan[resource.RLIMIT_NPROC] = _processes_of(os.getuid()) + limits.pids
    for which, wanted in plan.items():
        _, hard = resource.prlimit(pid, which)
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)  # only root may raise a hard limit
        resource.prlimit(pid, which, (value, value))
