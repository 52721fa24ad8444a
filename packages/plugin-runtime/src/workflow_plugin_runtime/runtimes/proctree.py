"""Finding and signalling every process a plugin started, without cgroups.

A plugin runs as the leader of its own session and process group, so one
``killpg`` reaches everything that stays in the group. A descendant can
leave the group (``setsid()``, ``setpgid()``); :meth:`ProcessTree.scan`
follows parent links in ``/proc`` from the leader to find those while their
ancestors still live, and remembers each by pid and start time so a pid
reused later is never signalled. What this cannot reach: a descendant that
leaves the group *and* is orphaned (its parent exits) before a scan, the
classic double-fork daemon; the sandbox and Docker runtimes contain that one
with a pid namespace, and a child subreaper catches it in trusted mode
(:mod:`.reaper`, docs/runtimes.md, "Kill semantics").
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import defaultdict
from pathlib import Path

from .._frozen import FrozenRecord

__all__ = [
    "ProcStat",
    "ProcessTree",
    "all_stats",
    "kill_tree",
    "read_stat",
]

_PROC = "/proc"


_set = object.__setattr__


class ProcStat(FrozenRecord):
    """What ``/proc/<pid>/stat`` says about a process; ``start_time`` (clock ticks since boot) tells pids apart.

    A FrozenRecord, not a dataclass, for run start-up (docs/performance.md).
    """

    __slots__ = ("pgid", "pid", "ppid", "sid", "start_time", "zombie")
    pid: int
    ppid: int
    pgid: int
    sid: int
    start_time: int
    zombie: bool

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self, pid: int, ppid: int, pgid: int, sid: int, start_time: int, zombie: bool = False
    ) -> None:
        _set(self, "pid", pid)
        _set(self, "ppid", ppid)
        _set(self, "pgid", pgid)
        _set(self, "sid", sid)
        _set(self, "start_time", start_time)
        _set(self, "zombie", zombie)


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat line, or None when it is gone (or unreadable)."""
    try:
        data = Path(f"{_PROC}/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            pid, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), zombie=fields[0] in (b"Z", b"X")
        )
    except (IndexError, ValueError):
        return None


def all_stats() -> list[ProcStat]:
    try:
        names = [entry.name for entry in Path(_PROC).iterdir()]
    except OSError:
        return []
    found = (read_stat(int(name)) for name in names if name.isdigit())
    return [stat for stat in found if stat is not None]


class ProcessTree:
    """The processes of one plugin: its process group plus descendants that left it."""

    __slots__ = ("_known", "leader")

    def __init__(self, leader: int) -> None:
        self.leader = leader
        self._known: dict[int, int] = {}

    def scan(self) -> None:
        """Remember every live descendant of the leader and of processes seen before."""
        stats = all_stats()
        children: defaultdict[int, list[ProcStat]] = defaultdict(list)
        for stat in stats:
            children[stat.ppid].append(stat)
        pending = [self.leader, *self._known]
        pending += [s.pid for s in stats if self.leader in (s.pgid, s.sid)]
        seen = set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            for child in children.get(pid, ()):
                if child.pid != os.getpid():
                    self._known.setdefault(child.pid, child.start_time)
                    pending.append(child.pid)
        for stat in stats:
            if stat.pid in seen and stat.pid != self.leader:
                self._known.setdefault(stat.pid, stat.start_time)

    @property
    def remembered(self) -> dict[int, int]:
        """Every remembered descendant: pid to start time."""
        return dict(self._known)

    def terminate(self, *, leader: bool = True) -> None:
        """SIGTERM to the group and every descendant found by a fresh :meth:`scan` (a :class:`.deadline.Stoppable`).

        Not ``leader``: to the descendants only, for a leader whose death
        would kill them at once and take their grace (bubblewrap's monitor).
        """
        self.scan()
        self.signal_all(signal.SIGTERM, leader=leader)

    def kill(self) -> None:
        """SIGKILL to the group and every descendant found by a fresh :meth:`scan`."""
        self.scan()
        self.signal_all(signal.SIGKILL)

    def signal_all(self, signum: signal.Signals, *, leader: bool = True) -> None:
        """Send ``signum`` to the group (unless not ``leader``) and to every remembered descendant still alive."""
        if leader:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader, signum)
        for pid, start_time in self._known.items():
            stat = read_stat(pid)
            if stat is None or stat.start_time != start_time:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


def kill_tree(pid: int, start_time: int) -> dict[int, int]:
    """SIGKILL a process (when it is still the one that started at ``start_time``), its group, session and descendants.

    For a process that is not its group's leader (the daemon a double fork
    leaves) as much as for a plugin. Returns what was signalled, pid to start
    time, so a caller can reap those that are its children.
    """
    stat = read_stat(pid)
    if stat is None or stat.start_time != start_time:
        return {}
    tree = ProcessTree(pid)
    tree.scan()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    tree.signal_all(signal.SIGKILL)
    return {pid: start_time, **tree.remembered}
