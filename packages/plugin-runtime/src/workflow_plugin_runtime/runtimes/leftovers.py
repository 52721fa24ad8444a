"""Removing what dead runs left behind: their processes, containers, sandbox cgroups and scratch folders.

Runs register under the state directory (:mod:`.run_state`). An entry whose
lock can be taken belongs to a run that died without cleaning up; for each:

1. every process it recorded (a plugin's session, a warm worker, a
   ``docker`` CLI, an orphan it had adopted) that still runs with the
   recorded start time, in this boot, is SIGKILLed with its group, its
   session and its descendants;
2. when it created containers, every container labelled with its run id
   is removed (only then is Docker asked: runs without containers never
   make a cleaner import or reach Docker);
3. its scratch folder is deleted;
4. its entry is removed. When its containers could not be removed (no
   Docker daemon), the entry stays, so a later clean tries again.

Entries still locked are live runs, left alone. A root engine also gives
each sandbox a cgroup of its own (:mod:`.sandbox.limits`), which an engine
killed outright cannot remove: every sandbox cgroup whose engine no longer
runs is removed too (whatever still ran in it killed first), counted with
the dead run of that engine, or on its own for an engine that registered
no run. ``workflow clean`` calls :func:`clean_dead_runs`, and so does every
``workflow run`` as it starts; with no dead run it costs a directory
listing (and, as root, one of the engine's own cgroups).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import RuntimeUnavailableError
from .proctree import kill_tree, read_stat
from .run_state import (
    CONTAINERS_FILE,
    OWNER_FILE,
    PROCESSES_FILE,
    RUN_ID_LABEL,
    SCRATCH_PREFIX,
    boot_id,
    runs_dir,
    state_root,
)

__all__ = [
    "PENDING_GRACE_S",
    "DeadRun",
    "DeadRunCleanup",
    "LiveRun",
    "clean_dead_runs",
]

PENDING_GRACE_S = 60.0
"""A half-made registration (its folder still has its temporary name) older than this was abandoned."""


@dataclass(frozen=True, slots=True)
class DeadRun:
    """What was cleaned up after one dead run; ``problems`` says what could not be (its entry then stays)."""

    run_id: str
    pid: int | None
    workflow: str | None
    processes_killed: int = 0
    containers_removed: int = 0
    cgroups_removed: int = 0
    scratch_removed: bool = False
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people: which run, what was done, what could not be."""
        owner = ", ".join(part for part in (f"pid {self.pid}" if self.pid else "", self.workflow or "") if part)
        done = [
            f"killed {_count(self.processes_killed, one='process', many='processes')}",
            f"removed {_count(self.containers_removed, one='container', many='containers')}",
        ]
        if self.cgroups_removed:
            done.append(f"removed {_count(self.cgroups_removed, one='sandbox cgroup', many='sandbox cgroups')}")
        if self.scratch_removed:
            done.append("deleted its scratch folder")
        text = f"cleaned up after dead run {self.run_id}" + (f" ({owner})" if owner else "") + ": " + ", ".join(done)
        for problem in self.problems:
            text += f"; {problem}"
        return text

    def to_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pid": self.pid,
            "workflow": self.workflow,
            "processes_killed": self.processes_killed,
            "containers_removed": self.containers_removed,
            "cgroups_removed": self.cgroups_removed,
            "scratch_removed": self.scratch_removed,
            "problems": list(self.problems),
        }


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A registered run whose engine still runs: never touched."""

    run_id: str
    pid: int | None
    workflow: str | None

    def to_record(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pid": self.pid, "workflow": self.workflow}


@dataclass(frozen=True, slots=True)
class DeadRunCleanup:
    """One pass over the state directory: the dead runs cleaned up and the live runs seen.

    ``cgroups_removed`` counts the sandbox cgroups of dead engines that had
    no dead run registered (those of a dead run count in its
    :class:`DeadRun`); ``problems`` says which could not be removed.
    """

    state_dir: Path | None
    cleaned: tuple[DeadRun, ...] = ()
    running: tuple[LiveRun, ...] = field(default=())
    cgroups_removed: int = 0
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether everything dead runs left was removed."""
        return not self.problems and not any(dead.problems for dead in self.cleaned)

    def to_record(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir) if self.state_dir is not None else None,
            "cleaned": [dead.to_record() for dead in self.cleaned],
            "running": [live.to_record() for live in self.running],
            "cgroups_removed": self.cgroups_removed,
            "problems": list(self.problems),
        }


def _count(number: int, *, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def clean_dead_runs(root: Path | None = None) -> DeadRunCleanup:
    """Clean up after every dead run registered under ``root`` (default: :func:`.run_state.state_root`)."""
    base = root if root is not None else state_root()
    cgroups, problems = _remove_dead_engines_cgroups()
    runs = runs_dir(base)
    entries: list[os.DirEntry[str]] = []
    if runs is not None:
        # No runs folder yet (nothing ever registered), or unreadable: nothing to do there.
        with contextlib.suppress(OSError):
            entries = sorted(os.scandir(runs), key=lambda entry: entry.name)
    cleaned: list[DeadRun] = []
    running: list[LiveRun] = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        folder = Path(entry.path)
        if entry.name.startswith("."):
            _remove_abandoned_registration(folder)
            continue
        found = _clean_entry(folder, cgroups=cgroups)
        if isinstance(found, LiveRun):
            running.append(found)
        elif found is not None:
            cleaned.append(found)
    return DeadRunCleanup(
        state_dir=base if runs is not None else None,
        cleaned=tuple(cleaned),
        running=tuple(running),
        cgroups_removed=sum(cgroups.values()),
        problems=tuple(problems),
    )


def _remove_dead_engines_cgroups() -> tuple[dict[int, int], list[str]]:
    """Remove every sandbox cgroup whose engine no longer runs: how many per engine pid, and what could not be.

    An engine that still runs (not a zombie) removes its own, so they are
    left alone; a pid reused since only keeps a dead engine's cgroups until
    a later pass.
    """
    if os.geteuid() != 0:  # only a root engine makes them (sandbox.limits.cgroup_parents): spare the import
        return {}, []
    from .sandbox.limits import sandbox_cgroups

    removed: dict[int, int] = {}
    problems: list[str] = []
    for pid, cgroup in sandbox_cgroups():
        engine = read_stat(pid)
        if engine is not None and not engine.zombie:
            continue
        name = next(iter(cgroup.directories.values())).name
        try:
            cgroup.remove()
        except OSError as exc:
            problems.append(f"could not remove the sandbox cgroup {name} of dead engine {pid}: {exc.strerror or exc}")
        else:
            removed[pid] = removed.get(pid, 0) + 1
    return removed, problems


def _clean_entry(folder: Path, *, cgroups: dict[int, int]) -> DeadRun | LiveRun | None:
    """Clean one entry if its owner is dead (its lock is free); None when it vanished meanwhile.

    ``cgroups`` holds how many sandbox cgroups each dead engine left; this run's owner takes its count out.
    """
    run_id = folder.name
    try:
        lock = (folder / OWNER_FILE).open("r", encoding="utf-8")
    except OSError:
        return None
    with lock:
        owner = _read_owner(lock)
        if _owner_alive(lock, owner):
            return LiveRun(run_id=run_id, pid=_int(owner.get("pid")), workflow=_str(owner.get("workflow")))
        if not (folder / OWNER_FILE).exists():  # another cleaner finished with it between our open and our lock
            return None
        problems: list[str] = []
        killed = _kill_processes(folder, owner)
        removed = 0
        if (folder / CONTAINERS_FILE).exists():
            try:
                removed = _remove_containers(run_id)
            except RuntimeUnavailableError as exc:
                problems.append(
                    f"could not remove its containers ({exc.message}); it stays registered: "
                    "run `workflow clean` again once Docker answers"
                )
        scratch_removed = _remove_scratch(run_id, owner.get("scratch"))
        if not problems:
            shutil.rmtree(folder, ignore_errors=True)
    pid = _int(owner.get("pid"))
    return DeadRun(
        run_id=run_id,
        pid=pid,
        workflow=_str(owner.get("workflow")),
        processes_killed=killed,
        containers_removed=removed,
        cgroups_removed=cgroups.pop(pid, 0) if pid is not None else 0,
        scratch_removed=scratch_removed,
        problems=tuple(problems),
    )


def _read_owner(lock: TextIO) -> dict[str, Any]:
    try:
        owner = json.load(lock)
    except (OSError, ValueError):  # a run killed while writing it: what else it left is still found
        return {}
    return owner if isinstance(owner, dict) else {}


def _owner_alive(lock: TextIO, owner: dict[str, Any]) -> bool:
    """Whether the owner holds its lock; where locks do not work, whether its pid still runs with its start time."""
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks: judge by the pid, its start time and the boot
        pid, start_time = _int(owner.get("pid")), _int(owner.get("start_time"))
        if pid is None or start_time is None or owner.get("boot_id") != boot_id():
            return False
        stat = read_stat(pid)
        return stat is not None and stat.start_time == start_time
    return False


def _kill_processes(folder: Path, owner: dict[str, Any]) -> int:
    """SIGKILL every recorded process still alive with its recorded start time; how many processes were killed."""
    this_boot = boot_id()
    if this_boot is None or owner.get("boot_id") not in (this_boot, None):
        return 0  # recorded in an earlier boot: all gone, and their pids mean nothing now
    try:
        lines = (folder / PROCESSES_FILE).read_text(encoding="ascii").splitlines()
    except (OSError, ValueError):
        return 0
    killed: dict[int, int] = {}
    for line in lines:
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            killed.update(kill_tree(int(fields[0]), int(fields[1])))
    return len(killed)


def _remove_containers(run_id: str) -> int:
    from .docker.client import remove_labelled_containers

    return remove_labelled_containers(RUN_ID_LABEL, run_id)


def _remove_scratch(run_id: str, recorded: object) -> bool:
    """Delete the run's scratch folder: the recorded one if it bears the run's name, else the default place."""
    name = f"{SCRATCH_PREFIX}{run_id}"
    path = Path(recorded) if isinstance(recorded, str) else Path(tempfile.gettempdir()) / name
    if path.name != name or path.is_symlink() or not path.is_dir():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def _remove_abandoned_registration(folder: Path) -> None:
    """A folder still named ``.<run_id>.<random>`` whose maker died registering: removed once old enough."""
    try:
        if time.time() - folder.stat().st_mtime < PENDING_GRACE_S:
            return
        lock: TextIO | None = (folder / OWNER_FILE).open("r", encoding="utf-8")
    except FileNotFoundError:
        lock = None
    except OSError:
        return
    with lock if lock is not None else contextlib.nullcontext():
        if lock is not None and _owner_alive(lock, {}):
            return
        _remove_scratch(folder.name[1:].split(".")[0], None)
        shutil.rmtree(folder, ignore_errors=True)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
