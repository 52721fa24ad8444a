"""Live runs, findable after their engine dies: one folder per run in the user's state directory.

A run killed outright (SIGKILL, the OOM killer, a crash) cannot clean up
after itself: its plugin processes keep running, its containers keep
existing, its scratch folders stay. So ``workflow run`` registers itself
here before any plugin starts, records what it starts as it starts it, and
removes its folder when it ends; whatever folder remains belongs to a run
that died, and :mod:`.leftovers` finds and removes what it left.

The layout, under :func:`state_root` (``$WORKFLOW_STATE_DIR``, else the
platform's user state directory for ``workflow``, ``~/.local/state/workflow``
on Linux; an empty ``WORKFLOW_STATE_DIR`` turns registration off)::

    runs/<run_id>/owner.json   the owner: pid, its start time, boot id, workflow file, scratch folder;
                               the live run holds an exclusive flock on it, which dies with it
    runs/<run_id>/processes    "pid start_time" per session the run started (plugins, warm
                               workers, docker CLIs) and per orphan it adopted and still keeps
    runs/<run_id>/containers   exists once a container was created for the run, so only then
                               is Docker asked about it (containers carry the run's labels)

A run is dead when its lock can be taken: more reliable than a pid (reused,
or seen from another pid namespace). The pid and start time are what
identify the processes to kill; the boot id tells that none survived a reboot.
A folder is published by renaming it into place once the lock is held, so
a reader never takes a half-made entry for a dead one.

Scratch folders (the run's, and each plugin call's in it) are made and
removed here without ``tempfile`` or ``shutil``: importing ``tempfile``
imports ``shutil``, ``random`` and the compression modules ``shutil`` probes
for, about 4 ms of every ``workflow run``'s start (docs/performance.md,
"What `workflow run` adds to `validate`, cut again"). A folder a plugin left
empty, the usual case, goes with one ``rmdir``; one that is not is
emptied by a walk of its own (:func:`remove_scratch_dir`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from pathlib import Path

from .._util.cachedir import user_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, BinaryIO, TextIO

__all__ = [
    "CONTAINERS_FILE",
    "OWNER_FILE",
    "OWNER_PID_LABEL",
    "PROCESSES_FILE",
    "RUN_ID_LABEL",
    "SCRATCH_PREFIX",
    "STATE_DIR_ENV",
    "STATE_VERSION",
    "RunEntry",
    "active_run",
    "boot_id",
    "make_scratch_dir",
    "register_run",
    "remove_scratch_dir",
    "run_labels",
    "runs_dir",
    "scratch_parent",
    "state_root",
    "temp_dir",
]

STATE_DIR_ENV = "WORKFLOW_STATE_DIR"
RUN_ID_LABEL = "workflow-plugins.run-id"
OWNER_PID_LABEL = "workflow-plugins.owner-pid"
OWNER_FILE = "owner.json"
PROCESSES_FILE = "processes"
CONTAINERS_FILE = "containers"
SCRATCH_PREFIX = "workflow-run-"
STATE_VERSION = 1

_active: RunEntry | None = None


def state_root() -> Path | None:
    """The state directory (not created here); None when registration is off or no directory can be named."""
    found = user_dir(STATE_DIR_ENV, xdg="XDG_STATE_HOME", under_home=".local/state", platformdirs_name="user_state_dir")
    return Path(found) if found else None


def runs_dir(root: Path | None = None) -> Path | None:
    """Where run entries live: ``<state root>/runs``."""
    base = root if root is not None else state_root()
    return None if base is None else base / "runs"


def boot_id() -> str | None:
    """This boot's id (Linux): a process recorded under another boot is certainly gone."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_bytes().decode("ascii").strip()  # no codec to load
    except OSError:
        return None


def active_run() -> RunEntry | None:
    """The run this process registered, while it runs; None in engines that did not register one."""
    return _active


def run_labels() -> dict[str, str]:
    """The labels a container gets for the active run (none without one); asking marks the run as using Docker."""
    entry = _active
    return {} if entry is None else entry.container_labels()


def scratch_parent() -> str | None:
    """Where per-call scratch folders go: the active run's scratch folder, else the system's temp dir (None).

    The system's also when the run's folder went away (a temp cleaner): a call never fails for it.
    """
    entry = _active
    return None if entry is None or not entry.scratch.is_dir() else str(entry.scratch)


class RunEntry:
    """This process's registration as a live run; :meth:`close` removes it (and the run's scratch folder)."""

    def __init__(self, run_id: str, *, folder: Path, scratch: Path, lock: TextIO) -> None:
        self.run_id = run_id
        self.folder = folder
        self.scratch = scratch
        self._lock_file = lock
        self._guard = threading.Lock()
        self._processes: BinaryIO | None = None
        self._containers = False

    def record_process(self, pid: int, start_time: int) -> None:
        """Remember a process (a new session, or an adopted orphan) a dead run's cleaner must kill."""
        with self._guard:
            try:
                if self._processes is None:
                    self._processes = (self.folder / PROCESSES_FILE).open("ab")  # ASCII, without loading its codec
                self._processes.write(b"%d %d\n" % (pid, start_time))
                self._processes.flush()
            except OSError:  # a full disk loses a cleaner's hint, never a run
                return

    def container_labels(self) -> dict[str, str]:
        """The labels every container of this run carries; the first call marks the run as using Docker."""
        with self._guard:
            if not self._containers:
                with contextlib.suppress(OSError):
                    (self.folder / CONTAINERS_FILE).touch()
                self._containers = True
        return {RUN_ID_LABEL: self.run_id, OWNER_PID_LABEL: str(os.getpid())}

    def close(self) -> None:
        """Unregister: the run ended and took what it started with it."""
        global _active  # noqa: PLW0603 - the one registration of this process
        if _active is self:
            _active = None
        with self._guard:
            if self._processes is not None:
                self._processes.close()
                self._processes = None
        remove_scratch_dir(self.scratch)
        for name in (OWNER_FILE, PROCESSES_FILE, CONTAINERS_FILE):  # what this module writes: then rmdir does
            with contextlib.suppress(OSError):
                (self.folder / name).unlink()
        remove_scratch_dir(self.folder)
        self._lock_file.close()


def register_run(run_id: str, *, workflow: Path | str, root: Path | None = None) -> RunEntry | None:
    """Register this process as the live run ``run_id``; None when registration is off.

    Raises ``OSError`` when the state directory cannot be written.
    """
    global _active  # noqa: PLW0603 - the one registration of this process
    from .proctree import read_stat

    runs = runs_dir(root)
    if runs is None:
        return None
    runs.mkdir(parents=True, exist_ok=True)
    pending = Path(make_scratch_dir(prefix=f".{run_id}.", parent=runs))
    lock: TextIO | None = None
    scratch: Path | None = None
    try:
        lock = (pending / OWNER_FILE).open("w", encoding="utf-8")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        scratch = _new_folder(None, lambda: f"{SCRATCH_PREFIX}{run_id}", draw_again=False)
        me = read_stat(os.getpid())
        owner: dict[str, Any] = {
            "state_version": STATE_VERSION,
            "run_id": run_id,
            "pid": os.getpid(),
            "start_time": me.start_time if me is not None else None,
            "boot_id": boot_id(),
            "workflow": str(workflow),
            "started_at": time.time(),
            "scratch": str(scratch),
        }
        json.dump(owner, lock, indent=2)
        lock.write("\n")
        lock.flush()
        folder = runs / run_id
        pending.rename(folder)
    except BaseException:
        if lock is not None:
            lock.close()
        with contextlib.suppress(OSError):
            (pending / OWNER_FILE).unlink()
        remove_scratch_dir(pending)
        if scratch is not None:
            remove_scratch_dir(scratch)
        raise
    entry = RunEntry(run_id, folder=folder, scratch=scratch, lock=lock)
    _active = entry
    return entry


def temp_dir() -> str:
    """The system's temp dir, as ``tempfile.gettempdir()`` names it, without importing ``tempfile`` (see above).

    The first of ``$TMPDIR``, ``$TEMP``, ``$TMP``, ``/tmp``, ``/var/tmp``, ``/usr/tmp`` and the
    working directory that this process may make a folder in, in ``tempfile``'s order (it writes
    a test file there; see :func:`_may_make_folders_in`). Where ``tempfile`` is loaded already (it
    may have been told another ``tempfile.tempdir``), or on Windows, it is asked instead.
    """
    if _ask_tempfile():
        import tempfile

        return tempfile.gettempdir()
    for candidate in _candidates():
        if _may_make_folders_in(candidate):
            return str(Path(candidate).absolute())
    return _working_directory()


def _ask_tempfile() -> bool:
    return "tempfile" in sys.modules or os.name == "nt"


def _candidates() -> Iterator[str]:
    """The folders ``tempfile`` tries, in its order, that ``access(2)`` lets this process make folders in."""
    named = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    found = (*named, "/tmp", "/var/tmp", "/usr/tmp")  # noqa: S108 - tempfile's own list
    folders = (folder for folder in found if folder and Path(folder).is_dir())
    return (folder for folder in folders if os.access(folder, os.W_OK | os.X_OK))


def _working_directory() -> str:
    try:
        return str(Path.cwd())
    except OSError:
        return os.curdir


def _may_make_folders_in(folder: str) -> bool:
    """Whether this process may make a folder in ``folder``, one of :func:`_candidates`: for root, one made and removed.

    ``access(2)`` answers exactly for any other user (a read-only mount
    included) but says yes to root for every folder, so only root pays a probe.
    """
    if os.geteuid() != 0:
        return True
    probe = Path(folder, f".workflow-probe-{os.urandom(5).hex()}")
    try:
        probe.mkdir(0o700)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def make_scratch_dir(*, prefix: str, parent: str | os.PathLike[str] | None) -> str:
    """A new folder ``<parent>/<prefix><random>``, mode 0o700, as ``tempfile.mkdtemp`` makes one; its absolute path.

    ``parent`` None: the system's temp dir (:func:`temp_dir`).
    """
    return str(_new_folder(parent, lambda: f"{prefix}{os.urandom(5).hex()}", draw_again=True))


def _new_folder(parent: str | os.PathLike[str] | None, name: Callable[[], str], *, draw_again: bool) -> Path:
    """A new folder ``name()``, mode 0o700, in ``parent`` or else the temp dir; its absolute path.

    Root makes it in the first of the temp dir's candidates that takes it:
    the folder is the probe :func:`temp_dir` would make and remove there (a
    ``rmdir`` on a busy disk can take milliseconds).
    """
    if parent is None and not _ask_tempfile() and os.geteuid() == 0:
        for folder in _candidates():
            try:
                return _made(folder, name, draw_again=draw_again)
            except FileExistsError:
                raise
            except OSError:  # where nothing can be made (a read-only mount, /proc): the next candidate
                continue
        parent = _working_directory()
    return _made(str(parent) if parent is not None else temp_dir(), name, draw_again=draw_again)


def _made(folder: str, name: Callable[[], str], *, draw_again: bool) -> Path:
    while True:
        path = Path(folder, name())
        try:
            path.mkdir(0o700)
        except FileExistsError:  # 40 random bits taken already: draw again, as mkdtemp does (a run's id: raise)
            if draw_again:
                continue
            raise
        return path.absolute()


def remove_scratch_dir(path: str | os.PathLike[str]) -> None:
    """Remove a scratch folder and whatever a plugin left in it; never raises.

    Empty (the usual case) it goes with one ``rmdir``. Else, as
    ``tempfile.TemporaryDirectory`` does, folders the plugin left read-only
    are made writable again, and links are removed, never followed. The
    walk is a loop, not a recursion, through descriptors, not paths: a
    plugin's tree may be nested deeper than Python's recursion limit
    (``shutil.rmtree`` and ``os.walk`` raise ``RecursionError`` there on
    3.11) and its paths longer than the system allows.
    """
    folder = Path(path)
    try:
        folder.rmdir()
    except FileNotFoundError:
        return
    except OSError:
        if folder.is_symlink() or not folder.is_dir():  # the plugin put a link (or a file) in its place: that goes
            with contextlib.suppress(OSError):
                folder.unlink()
            return
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
        with contextlib.suppress(OSError):
            _remove_tree(os.open(folder, _DIRECTORY_FLAGS))
        with contextlib.suppress(OSError):
            folder.rmdir()


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _remove_tree(top: int) -> None:
    """Empty the folder open as ``top`` (closed here), deepest folders first, holding one descriptor at a time.

    Each folder is entered once: one that cannot be entered or removed is
    left, so the walk ends whatever the plugin left.
    """
    current = top
    above: list[tuple[str, list[str]]] = []  # per level entered: its name, and its parent's folders still to do
    try:
        pending = _unlink_all_but_folders(current)
        while True:
            if pending:
                name = pending.pop()
                try:
                    os.chmod(name, 0o700, dir_fd=current)  # a folder (not a link) a moment ago; the plugin is gone
                    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=current)
                except OSError:
                    continue
                above.append((name, pending))
                os.close(current)
                current = child
                pending = _unlink_all_but_folders(current)
                continue
            if not above:
                return
            name, pending = above.pop()
            parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=current)
            os.close(current)
            current = parent
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=current)
    finally:
        os.close(current)


def _unlink_all_but_folders(folder: int) -> list[str]:
    """Unlink every entry of ``folder`` but its folders (links, fifos and sockets included); their names."""
    folders: list[str] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=folder)
    return folders
