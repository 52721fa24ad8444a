"""What plugins leave behind when the engine is their child subreaper: found, killed and reaped.

A plugin that double-forks a daemon (fork, ``setsid``, fork, exit) leaves a
process outside its group, its session and, once the middle process has
exited, its tree: init adopts it and it outlives the run. An engine that
calls :func:`enable` becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``,
Linux): the kernel hands such orphans to the engine instead, so they stay
findable, as children of the engine, until it kills them.

Telling adopted orphans from the engine's own children. Every process the
runtimes start for a plugin (the plugin, a warm worker, the ``docker`` CLI
of a warm container) is started through :func:`spawn`, which registers it
under a lock as it starts, in a session of its own. A descendant of a
plugin can never be in the engine's session (``setsid`` only makes new
ones). So a child of the engine that is not registered and not in the
engine's session was adopted; a child the engine started elsewhere in its
own session (``subprocess`` without ``start_new_session``) is never
touched, and one it starts in a new session must go through :func:`spawn`
(or it is taken for an orphan). Zombies among adopted children
are reaped at once: their parent is gone, so nobody else wants their status,
and no ``Popen`` object or pidfd refers to them.

Which call left an orphan is not written anywhere once its parents are
gone. What is known, and decides when it is killed:

1. in the session or group of a call still running: that call's, kept;
2. in the session or group of the call that just ended: killed now;
3. started (its start time, in clock ticks) no earlier than some call still
   running: it may be that call's (a daemon it still talks to), kept;
4. otherwise it was started before every call still running, so it belongs
   to one that ended: killed now.

So an orphan never outlives the last call that could have started it, and a
running call never loses one of its own. :func:`ended` applies this when a
call's process has been reaped (a one-shot plugin, or a warm worker when it
is stopped); :func:`reap_all`, when no call runs any more, kills every
adopted process left. Killed processes are reaped as they become zombies
(bounded by :data:`REAP_WAIT_S`; a straggler is reaped by a later pass).

A daemon that hops (forks, and the parent exits, over and over) is a new
child of the engine after each hop: the one a sweep listed may be gone,
its child adopted, by the time the kill lands. So a sweep is repeated
until one finds nothing to kill and no zombie to reap (a parent is a
zombie only once its children are handed over), within :data:`REAP_WAIT_S`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .._frozen import FrozenRecord
from .prctl import set_child_subreaper
from .proctree import ProcessTree, ProcStat, all_stats, kill_tree, read_stat
from .run_state import active_run

__all__ = [
    "REAP_WAIT_S",
    "close_process_files",
    "disable",
    "enable",
    "enabled",
    "ended",
    "kill_and_reap",
    "reap_all",
    "spawn",
]

REAP_WAIT_S = 5.0
"""How long a pass waits for what it killed to become zombies it can reap."""

_POLL_S = 0.005


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class _HasPid(Protocol):
        @property
        def pid(self) -> int: ...

    _Spawned = TypeVar("_Spawned", bound=_HasPid)

_set = object.__setattr__


class _Running(FrozenRecord):
    """One of the engine's own plugin processes, as :func:`spawn` registered it.

    ``start_time`` is 0 until :func:`spawn` has read it: an orphan seen
    meanwhile may be this process's (rule 3 keeps it). A FrozenRecord, not a
    named tuple, for run start-up (docs/performance.md).
    """

    __slots__ = ("process", "start_time")
    start_time: int
    process: object

    def __init__(self, start_time: int, process: object) -> None:
        _set(self, "start_time", start_time)
        _set(self, "process", process)


class _Registry:
    """The engine's own plugin processes (by pid) and the adopted orphans it keeps (pid to start time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, _Running] = {}
        self.kept: dict[int, int] = {}
        self.enabled = False
        self.own_session = -1


_registry = _Registry()


def enable() -> bool:
    """Make this process a child subreaper and start reaping leftovers; False where it is not available."""
    with _registry.lock:
        if not _registry.enabled and set_child_subreaper(True):
            _registry.enabled = True
            _registry.own_session = os.getsid(0)
        return _registry.enabled


def enabled() -> bool:
    return _registry.enabled


def disable() -> None:
    """Stop adopting orphans (call :func:`reap_all` first: what is adopted stays this process's to reap)."""
    with _registry.lock:
        if _registry.enabled:
            set_child_subreaper(False)
            _registry.enabled = False


def spawn(start: Callable[[], _Spawned]) -> _Spawned:
    """Start a plugin's process with ``start`` (it must begin a new session) and register it, atomically.

    The active run (:mod:`..run_state`) records it too, so a cleaner finds it
    if this engine dies. Its start time is read after the lock is released:
    reading ``/proc/<pid>/stat`` waits for the child's ``exec`` to finish
    (about 2 ms for an interpreter), which no other call should wait for.
    """
    with _registry.lock:
        process = start()
        _registry.running[process.pid] = _Running(0, process)
    stat = read_stat(process.pid)
    start_time = stat.start_time if stat is not None else 0
    with _registry.lock:
        registered = _registry.running.get(process.pid)
        if registered is not None and registered.process is process:
            _registry.running[process.pid] = _Running(start_time, process)
    entry = active_run()
    if entry is not None:
        entry.record_process(process.pid, start_time)
    return process


def ended(process: _HasPid) -> None:
    """A process :func:`spawn` started has been reaped: kill and reap what it (or calls before it) left behind."""
    with _registry.lock:
        registered = _registry.running.get(process.pid)
        if registered is not None and registered.process is process:
            del _registry.running[process.pid]
        if not _registry.enabled:
            return
        killed = _sweep_until_settled(just_ended=process.pid, everything=False)
    _reap(killed)


def kill_and_reap(process: subprocess.Popen[bytes], tree: ProcessTree) -> None:
    """Kills what is left of a process nobody records the ending of (its group and known descendants), and reaps it."""
    tree.scan()
    tree.signal_all(signal.SIGKILL)
    process.wait()
    ended(process)


def close_process_files(process: subprocess.Popen[bytes], *, pidfd: int) -> None:
    """Closes the pidfd and pipes of a reaped process; a descriptor already closed is not an error."""
    with contextlib.suppress(OSError):
        os.close(pidfd)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def reap_all() -> None:
    """Kill and reap every adopted process: for when no call runs any more (the end of a run)."""
    with _registry.lock:
        if not _registry.enabled:
            return
        killed = _sweep_until_settled(just_ended=None, everything=True)
    _reap(killed)


def _children() -> list[int]:
    """This process's children, from each thread's ``children`` file (or a full ``/proc`` scan without them)."""
    me = os.getpid()
    try:
        threads = [entry.name for entry in os.scandir(f"/proc/{me}/task")]
    except OSError:
        return [stat.pid for stat in all_stats() if stat.ppid == me]
    found: list[int] = []
    for thread in threads:
        try:
            found += [int(pid) for pid in Path(f"/proc/{me}/task/{thread}/children").read_bytes().split()]
        except FileNotFoundError:
            if thread == str(me):  # the main thread has no children file: a kernel without CONFIG_PROC_CHILDREN
                return [stat.pid for stat in all_stats() if stat.ppid == me]
        except (OSError, ValueError):  # a thread that ended meanwhile
            continue
    return found


def _adopted() -> list[ProcStat]:
    me = os.getpid()
    adopted = []
    for pid in _children():
        if pid in _registry.running:
            continue
        stat = read_stat(pid)
        if stat is not None and stat.ppid == me and stat.sid != _registry.own_session:
            adopted.append(stat)
    return adopted


def _keeps(orphan: ProcStat, just_ended: int | None) -> bool:
    """Whether an orphan may still belong to a running call (the rules in the module docstring)."""
    running = _registry.running
    if orphan.sid in running or orphan.pgid in running:
        return True
    if just_ended is not None and just_ended in (orphan.sid, orphan.pgid):
        return False
    return any(own.start_time <= orphan.start_time for own in running.values())


def _sweep_until_settled(*, just_ended: int | None, everything: bool) -> dict[int, int]:
    """Under the lock: :func:`_sweep` again while a pass kills or reaps something (a hopping daemon's next child)."""
    killed: dict[int, int] = {}
    deadline = time.monotonic() + REAP_WAIT_S
    while True:
        found, reaped = _sweep(just_ended=just_ended, everything=everything)
        killed.update(found)
        if not (found or reaped) or time.monotonic() >= deadline:
            return killed


def _sweep(*, just_ended: int | None, everything: bool) -> tuple[dict[int, int], bool]:
    """Under the lock: reap adopted zombies, kill the orphans no running call may own; (killed, any zombie reaped)."""
    killed: dict[int, int] = {}
    reaped = False
    entry = active_run()
    for orphan in _adopted():
        if orphan.zombie:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(orphan.pid, os.WNOHANG)
            _registry.kept.pop(orphan.pid, None)
            reaped = True
            continue
        if not everything and _keeps(orphan, just_ended):
            if entry is not None and _registry.kept.get(orphan.pid) != orphan.start_time:
                entry.record_process(orphan.pid, orphan.start_time)
            _registry.kept[orphan.pid] = orphan.start_time
            continue
        _registry.kept.pop(orphan.pid, None)
        killed.update(kill_tree(orphan.pid, orphan.start_time))
    return killed, reaped


def _reap(killed: dict[int, int]) -> None:
    """Reap what was killed as each becomes this process's zombie (its parent may die first and hand it over)."""
    me = os.getpid()
    deadline = time.monotonic() + REAP_WAIT_S
    pending = dict(killed)
    while pending:
        for pid, start_time in list(pending.items()):
            stat = read_stat(pid)
            if stat is None or stat.start_time != start_time:
                del pending[pid]  # gone: reaped by its own parent, or by init
            elif stat.ppid == me and stat.zombie:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                del pending[pid]
        if pending:
            if time.monotonic() >= deadline:
                return
            time.sleep(_POLL_S)
