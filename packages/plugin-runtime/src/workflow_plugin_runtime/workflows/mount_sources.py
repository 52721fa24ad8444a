"""The host side of granted mounts: where each source really leads, checked twice.

A mount source is a host path, and a path can change while a workflow runs:
a plugin granted ``./out`` read-write can replace ``./out/sub`` with a
symbolic link to ``/``, and Docker follows links when it makes the next
container. So a source is resolved (every link followed) and checked when
the workflow is loaded, and again at the moment each container or sandbox
is made:

* :func:`resolve_source` at load time: the resolution is kept with the
  grant (``MountGrant.resolved``) and handed to the runtime (``Mount.pinned``);
* :func:`nested_in` refuses a source that lies inside another grant's
  read-write source, lexically or once resolved: then no plugin can rewrite
  any folder on the path of a source;
* :func:`bind_sources` at creation time resolves each source again and
  refuses one that now leads elsewhere, lies inside a read-write grant,
  exposes the Docker socket or ``/``, or (when it was never checked) a
  sensitive host folder; the runtime binds the resolved path it returns.

What remains (docs/permissions.md): between :func:`bind_sources` and the
engine's own mount, a process *on the host* that can write a folder on a
source's path could still swap it. No plugin can, because of the nesting
rule; a runtime that takes a descriptor instead of a path (bubblewrap's
``--bind-fd``) can close even that by opening the resolved path with
``O_PATH | O_NOFOLLOW`` and checking that ``/proc/self/fd/N`` still names it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .._frozen import FrozenRecord
from ..errors import PermissionDeniedError

__all__ = [
    "DOCKER_SOCKETS",
    "ISOLATED_GID",
    "ISOLATED_UID",
    "Mount",
    "bind_sources",
    "exposes_docker_socket",
    "lenient_resolve",
    "missing_source_hint",
    "nested_in",
    "resolve_source",
    "sensitive_reason",
    "unwritable_mounts_hint",
    "unwritable_reason",
    "writable_fix",
]

DOCKER_SOCKETS = (Path("/var/run/docker.sock"), Path("/run/docker.sock"))
ISOLATED_UID = 65534
ISOLATED_GID = 65534
"""The user and group restricted runtimes run plugins as (nobody; ``runtimes.docker.CONTAINER_USER``)."""

_MISSING = (errno.ENOENT, errno.ENOTDIR)
_ACL_XATTR = "system.posix_acl_access"
_set = object.__setattr__


class Mount(FrozenRecord):
    """A host path made visible to an isolated plugin at ``target``.

    ``source`` is the path as granted; a runtime binds what
    :func:`workflow_plugin_runtime.workflows.mount_sources.bind_sources` makes of it
    when it creates the container, never ``source`` itself. ``pinned`` is
    where ``source`` led when the grants were checked (None: it was not
    checked, or did not exist then); ``writable_roots`` are the host folders
    other grants let plugins write, which ``source`` must not lie inside.
    """

    __slots__ = ("pinned", "read_only", "source", "target", "writable_roots")
    source: Path
    target: str
    read_only: bool
    pinned: Path | None
    writable_roots: tuple[Path, ...]

    def __init__(
        self,
        source: Path,
        target: str,
        read_only: bool = True,
        pinned: Path | None = None,
        writable_roots: tuple[Path, ...] = (),
    ) -> None:
        _set(self, "source", source)
        _set(self, "target", target)
        _set(self, "read_only", read_only)
        _set(self, "pinned", pinned)
        _set(self, "writable_roots", writable_roots)


def resolve_source(source: Path, *, shown: str) -> Path | None:
    """Where ``source`` leads with every symbolic link followed; None when nothing is there.

    Raises :class:`PermissionDeniedError` (one clear message, ``shown``
    naming the source) for a link loop, a link that may not be read (such
    as ``/proc/1/root``) or any other path that cannot be resolved.
    """
    try:
        return Path(os.path.realpath(source, strict=True))
    except ValueError as exc:  # an embedded NUL byte
        raise PermissionDeniedError(f"mount source {shown} is not a valid path: {exc}") from exc
    except OSError as exc:
        if exc.errno in _MISSING:
            return None
        if exc.errno == errno.ELOOP:
            message, hint = "is a symbolic link loop", "point the link at a real folder, or grant the folder itself"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            message, hint = (
                "cannot be resolved: permission denied",
                "grant a plain folder, not a link you may not follow (such as /proc/<pid>/root)",
            )
        else:
            message, hint = f"cannot be resolved: {exc.strerror or exc}", "grant a plain folder"
        raise PermissionDeniedError(f"mount source {shown} {message}", hint=hint) from exc


def missing_source_hint(source: Path) -> str:
    """How to fix a mount whose source does not exist (``source`` absolute, as the grant resolves it)."""
    if source.is_symlink():  # mkdir -p refuses a link to nothing: make what it leads to
        return f"create the folder it links to (`mkdir -p {lenient_resolve(source)}`), or correct the grant's source"
    return f"create it (`mkdir -p {source}`), or correct the grant's source"


def lenient_resolve(path: Path) -> Path:
    """``path`` with the links that can be followed followed; never raises (for warnings, not for binding)."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return path


def nested_in(forms: Iterable[Path], folders: Iterable[Path]) -> Path | None:
    """The folder of ``folders`` that one of ``forms`` (a path, lexical or resolved) lies strictly inside."""
    candidates = tuple(forms)
    for folder in folders:
        if any(path != folder and path.is_relative_to(folder) for path in candidates):
            return folder
    return None


def exposes_docker_socket(path: Path, resolved: Path) -> bool:
    """Whether binding ``path`` (leading to ``resolved``) shows the Docker socket: it, or a folder holding it."""
    return any(
        socket in (path, resolved) or lenient_resolve(socket).is_relative_to(resolved) for socket in DOCKER_SOCKETS
    )


def sensitive_reason(resolved: Path) -> str | None:
    """Why exposing ``resolved`` (an absolute host path, links followed) is broad, or None."""
    home = lenient_resolve(Path.home())
    if resolved == Path("/"):
        return "exposes the whole host filesystem"
    if resolved in (home, Path("/root"), Path("/home")) or resolved.parent == Path("/home"):
        return "exposes a home directory (SSH keys, cloud credentials, shell history)"
    if resolved == Path("/etc"):
        return "exposes the host's configuration (/etc)"
    if resolved.is_relative_to("/proc") or resolved.is_relative_to("/sys"):
        return "exposes kernel interfaces (/proc, /sys)"
    return None


def unwritable_reason(resolved: Path) -> str | None:
    """Why the isolated user (uid :data:`ISOLATED_UID`) cannot write ``resolved``, or None when it can or we cannot say.

    Read from the mode bits; a folder with an access control list is taken
    to be writable (its entries are not interpreted here).
    """
    try:
        info = os.stat(resolved)  # noqa: PTH116 - a stat_result, for the mode bits
    except OSError:
        return None
    try:
        if os.getxattr(resolved, _ACL_XATTR):
            return None
    except OSError:
        pass  # no ACL (or no xattr support): the mode bits decide
    folder = stat.S_ISDIR(info.st_mode)
    if info.st_uid == ISOLATED_UID:
        bits, who = stat.S_IWUSR | (stat.S_IXUSR if folder else 0), "its owner"
    elif info.st_gid == ISOLATED_GID:
        bits, who = stat.S_IWGRP | (stat.S_IXGRP if folder else 0), "its group"
    else:
        bits, who = stat.S_IWOTH | (stat.S_IXOTH if folder else 0), "other users"
    if info.st_mode & bits == bits:
        return None
    mode = stat.filemode(info.st_mode)
    return f"it is owned by uid {info.st_uid}, gid {info.st_gid} with mode {mode}, which gives {who} no write access"


def writable_fix(resolved: Path) -> str:
    """The commands that let the isolated user write ``resolved``."""
    return (
        f"make it writable by uid {ISOLATED_UID}: `chown {ISOLATED_UID}:{ISOLATED_GID} {resolved}` "
        f"(or `chmod a+rwx {resolved}`, or an ACL: `setfacl -m u:{ISOLATED_UID}:rwx {resolved}`)"
    )


def unwritable_mounts_hint(mounts: Iterable[Mount]) -> str | None:
    """Why a plugin's writes in its read-write mounts are denied, with the fix; None when the isolated user can write.

    For a failure that says "Permission denied": the usual cause is a host
    folder owned by the operator, which uid :data:`ISOLATED_UID` may not write.
    """
    for mount in mounts:
        if mount.read_only:
            continue
        resolved = mount.pinned if mount.pinned is not None else lenient_resolve(mount.source)
        reason = unwritable_reason(resolved)
        if reason is not None:
            return (
                f"{mount.target} is mounted read-write from {resolved}, but plugins run as uid {ISOLATED_UID} and"
                f" {reason}; {writable_fix(resolved)}"
            )
    return None


def bind_sources(mounts: Iterable[Mount]) -> tuple[Mount, ...]:
    """``mounts`` with each source resolved now and checked again: what a runtime binds, at creation time.

    Raises :class:`PermissionDeniedError` for a source that does not exist,
    cannot be resolved, now leads elsewhere than when the grants were checked
    (``Mount.pinned``), lies inside a folder another grant lets plugins write
    (``Mount.writable_roots``), exposes the Docker socket or ``/``, or, when
    it was never checked, exposes a sensitive host folder.
    """
    return tuple(_bind_source(mount) for mount in mounts)


def _bind_source(mount: Mount) -> Mount:
    shown = f"{mount.source} (mounted at {mount.target})"
    roots = mount.writable_roots
    resolved = resolve_source(mount.source, shown=shown)
    if resolved is None:
        raise PermissionDeniedError(f"mount source {shown} does not exist", hint=missing_source_hint(mount.source))
    if mount.pinned is not None and resolved != mount.pinned:
        raise PermissionDeniedError(
            f"mount source {shown} now leads to {resolved}, not to {mount.pinned} as when the workflow was checked",
            hint="a folder on its path was replaced (by a symbolic link?); restore it, and keep the folders a"
            " workflow grants from changing while it runs",
        )
    enclosing = nested_in((mount.source, resolved), (*roots, *(lenient_resolve(root) for root in roots)))
    if enclosing is not None:
        raise PermissionDeniedError(
            f"mount source {shown} lies inside {enclosing}, which a read-write grant lets plugins change",
            hint="grant folders side by side (./out and ./in), not one inside a read-write one",
        )
    if exposes_docker_socket(mount.source, resolved):
        raise PermissionDeniedError(
            f"mount source {shown} leads to {resolved}, which exposes the Docker socket: root on the host",
            hint="remove this mount",
        )
    reason = sensitive_reason(resolved) if mount.pinned is None else None
    if reason is not None:
        raise PermissionDeniedError(
            f"mount source {shown} leads to {resolved}, which {reason}, and was not checked when the workflow was"
            " loaded",
            hint="grant only the folder plugins need, and make sure it exists before the run",
        )
    return Mount(resolved, mount.target, mount.read_only, mount.pinned, mount.writable_roots)
