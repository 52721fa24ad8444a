"""The bubblewrap command line of a sandboxed plugin: what it sees, who it is, what it may call.

One function, :func:`sandbox_command`, turns an :class:`~..base.Invocation`
into the ``bwrap`` argv, the descriptors it must inherit and its
environment, for a one-shot call and a warm worker alike (a worker adds
only the serve-loop switch), so both get the same lockdown:

* new user, PID, IPC, UTS, cgroup and network namespaces; the host's
  network only with a network grant (``--share-net``: 127.0.0.1 services
  are reachable, as on Docker's host network);
* an empty root (bwrap's tmpfs, remounted read-only at the end) holding
  only ``/usr`` and its ``/bin``, ``/sbin``, ``/lib*`` links, the dynamic
  loader's cache, the interpreter's prefix and, when the plugin starts
  from the engine's virtualenv, that virtualenv and the source folders its
  ``.pth`` files add (editable installs such as the SDK), all read-only; the
  plugin's folder read-only, as its working directory; a fresh ``/proc``
  and ``/dev``; private tmpfs ``/tmp`` and ``/dev/shm`` (mode 1777, at
  most the memory limit); with a network grant, the resolver's files; and
  the granted mounts, read-only unless granted read-write, from the
  sources :func:`~...workflows.mount_sources.bind_sources` resolved;
* ``--die-with-parent``, ``--new-session`` (no ioctl on the engine's
  terminal), a fixed host name, the seccomp filter (:mod:`.seccomp`);
* uid and gid 65534 with no capability at all. How depends on who runs
  the engine (:class:`Identity`). A non-root engine's sandbox maps 65534
  to the engine's own uid. As root, mapping 65534 to root would make
  the plugin root on every file it can reach (setuid-root files in a
  read-write mount, root-owned folders), and mapping it to the real 65534
  from the start would leave bwrap unable to reach sources under
  root-only folders (the interpreter under ``/root``). So bwrap sets the
  sandbox up as root of a user namespace whose ids map to themselves, and
  ``setpriv`` (util-linux) becomes the real uid 65534, dropping every
  capability, bounding set included, just before the plugin starts: the
  plugin owns what uid 65534 owns on the host, like a container's user.
  The launcher writes those maps (:mod:`.launch`), so bwrap waits for it
  (``--userns-block-fd``) and tells it the sandbox's pid (``--info-fd``);
  the same pipe is ``--block-fd``, which makes the sandbox side close it
  before the plugin starts (it keeps a ``--userns-block-fd`` open).

bwrap starts with the plugin's environment and nothing else: inside the
sandbox its init is PID 1, whose ``/proc/1/environ`` is what bwrap was
started with.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow_plugin_sdk.protocol import SERVE_ENV_VAR

from ...errors import RuntimeUnavailableError
from ...workflows.mount_sources import ISOLATED_GID, ISOLATED_UID, Mount, sensitive_reason
from ..base import Invocation
from ..process import process_environment

__all__ = [
    "HOSTNAME",
    "NETWORK_FILES",
    "SANDBOX_TMP",
    "Identity",
    "SandboxCommand",
    "SandboxFds",
    "sandbox_command",
    "sandbox_environment",
]

SANDBOX_TMP = Path("/tmp")  # noqa: S108 - the sandbox's own private tmpfs
"""``HOME`` and ``TMPDIR`` inside the sandbox: a private tmpfs, as in a container."""
HOSTNAME = "workflow-sandbox"
NETWORK_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ssl/certs",
)
"""What name resolution and TLS read from ``/etc``: bound only for a plugin granted network."""

_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_LOADER_CACHE = "/etc/ld.so.cache"
_PUBLIC_DIR = "01777"
_SETPRIV_OPTIONS = ("--clear-groups", "--inh-caps=-all", "--bounding-set=-all")
_KEPT_UNTIL_SETPRIV = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the sandbox's processes are: the user-namespace maps the launcher writes, and how the plugin is started.

    ``setpriv`` is the path of util-linux's setpriv when the engine is
    root (see the module docstring), else None: the maps alone make the
    plugin uid 65534.
    """

    uid_map: str
    gid_map: str
    setpriv: str | None

    @classmethod
    def of_engine(cls) -> Identity:
        """The identity for this engine's user; raises :class:`RuntimeUnavailableError` for root without setpriv."""
        if os.geteuid() != 0:
            return cls(
                uid_map=f"{ISOLATED_UID} {os.getuid()} 1\n", gid_map=f"{ISOLATED_GID} {os.getgid()} 1\n", setpriv=None
            )
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeUnavailableError(
                "setpriv is not installed: a root engine needs it to start sandboxed plugins as uid 65534",
                hint="install util-linux (Debian: apt-get install util-linux), or run restricted workflows in Docker:"
                " --backend docker",
            )
        return cls(
            uid_map=f"0 0 1\n{ISOLATED_UID} {ISOLATED_UID} 1\n",
            gid_map=f"0 0 1\n{ISOLATED_GID} {ISOLATED_GID} 1\n",
            setpriv=setpriv,
        )


@dataclass(frozen=True, slots=True)
class SandboxFds:
    """The descriptors bwrap inherits: the seccomp program, where it writes the sandbox's pid, what it waits on."""

    seccomp: int
    info: int
    userns_block: int


@dataclass(frozen=True, slots=True)
class SandboxCommand:
    """How to start one sandbox: bwrap's argv, the descriptors it must inherit, its whole environment."""

    argv: tuple[str, ...]
    pass_fds: tuple[int, ...]
    env: Mapping[str, str]


def sandbox_command(
    invocation: Invocation,
    *,
    mounts: tuple[Mount, ...],
    fds: SandboxFds,
    identity: Identity,
    bwrap: str,
    serve: bool = False,
) -> SandboxCommand:
    """The bwrap command that runs ``invocation.argv`` locked down (see the module docstring).

    ``mounts`` are the invocation's mounts as :func:`~...workflows.mount_sources.bind_sources`
    returned them (resolved now, checked); ``serve`` starts the plugin's
    serve loop (a warm worker).
    """
    env = sandbox_environment(invocation)
    if serve:
        env[SERVE_ENV_VAR] = "1"
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        *(("--share-net",) if invocation.network else ()),
        "--userns-block-fd",
        str(fds.userns_block),
        "--block-fd",  # the same pipe: bwrap's sandbox side closes it, which it does not for --userns-block-fd
        str(fds.userns_block),
        "--info-fd",
        str(fds.info),
        "--die-with-parent",
        "--new-session",
        "--hostname",
        HOSTNAME,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *_private_tmpfs(str(SANDBOX_TMP), invocation.limits.memory_bytes),
        *_private_tmpfs("/dev/shm", invocation.limits.memory_bytes),  # noqa: S108 - the sandbox's own
        *_system_binds(),
        *_bind(Path(_LOADER_CACHE), _LOADER_CACHE, writable=False, optional=True),
        *(arg for tree in _interpreter_trees(_program(invocation.argv[0], env["PATH"])) for arg in _bind(tree)),
    ]
    if invocation.network:
        argv += [arg for name in NETWORK_FILES for arg in _bind(Path(name), name, writable=False, optional=True)]
    plugin_dir = _working_dir(invocation)
    if plugin_dir is not None:
        argv += [*_bind(plugin_dir), "--chdir", str(plugin_dir)]
    for mount in mounts:
        argv += _bind(mount.source, mount.target, writable=not mount.read_only)
    argv += ["--remount-ro", "/", "--seccomp", str(fds.seccomp)]
    if identity.setpriv is not None:
        argv += ["--cap-drop", "ALL", *(arg for cap in _KEPT_UNTIL_SETPRIV for arg in ("--cap-add", cap))]
        argv += ["--", identity.setpriv, f"--reuid={ISOLATED_UID}", f"--regid={ISOLATED_GID}", *_SETPRIV_OPTIONS]
    else:
        argv += ["--uid", str(ISOLATED_UID), "--gid", str(ISOLATED_GID)]
    argv += ["--", *invocation.argv]
    return SandboxCommand(argv=tuple(argv), pass_fds=(fds.seccomp, fds.info, fds.userns_block), env=env)


def sandbox_environment(invocation: Invocation) -> dict[str, str]:
    """The whole environment of the sandboxed plugin's process: what bwrap is given, and ``PWD``, which bwrap sets.

    bwrap sets ``PWD`` to the folder it starts the plugin in; a call forked
    from a sandboxed template (:mod:`..fork_server`) takes this environment
    instead of its template's, and so sees the same variables.
    """
    env = process_environment(invocation.env, scratch=SANDBOX_TMP)
    plugin_dir = _working_dir(invocation)
    if plugin_dir is not None:
        env["PWD"] = str(plugin_dir)
    return env


def _working_dir(invocation: Invocation) -> Path | None:
    """The folder the plugin starts in (``--chdir``): its own, as the host resolves it."""
    return None if invocation.plugin_dir is None else Path(os.path.realpath(invocation.plugin_dir))


def _private_tmpfs(target: str, size: int) -> tuple[str, ...]:
    return ("--perms", _PUBLIC_DIR, "--size", str(size), "--tmpfs", target)


def _bind(source: Path, target: str | None = None, *, writable: bool = False, optional: bool = False) -> list[str]:
    """Bind ``source`` at ``target`` (default: its own path), its missing parents made 0755 first.

    bwrap 0.8 makes a bind's missing parents mode 0700, owned by the
    sandbox's root: uid 65534 could not pass them.
    """
    target = str(source) if target is None else target
    folder = target if source.is_dir() else str(Path(target).parent)
    flag = "--bind" if writable else "--ro-bind"
    return ["--dir", folder, f"{flag}-try" if optional else flag, str(source), target]


@functools.cache
def _system_binds() -> tuple[str, ...]:
    """``/usr`` and the top-level folders that lead into it: links where the host has links, binds where folders."""
    argv = list(_bind(Path("/usr")))
    for name in _SYSTEM_LINKS:
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", str(path.readlink()), name]
        elif path.is_dir():
            argv += _bind(path)
    return tuple(argv)


def _program(command: str, path: str) -> Path | None:
    """Where the plugin's program is on the host (found on the plugin's PATH when the command names no folder)."""
    if os.sep in command:
        return Path(command)
    found = shutil.which(command, path=path)
    return None if found is None else Path(found)


@functools.cache
def _interpreter_trees(program: Path | None) -> tuple[Path, ...]:
    """The read-only trees a plugin's interpreter needs outside ``/usr``.

    This interpreter's prefix, always; and when the plugin's program lies
    in the engine's own virtualenv (``sys.prefix``), that virtualenv at the
    path the program names it by (Python finds ``pyvenv.cfg`` there) and
    the folders its ``.pth`` files put on ``sys.path``. No other
    virtualenv: the plugin chooses its program, and the ``.pth`` files of
    one it ships in its folder would choose which host folders it sees. A
    tree inside another, in ``/usr``, or a sensitive folder (a home,
    ``/etc``) is left out.
    """
    trees = [Path(os.path.realpath(sys.base_prefix))]
    venv = None if program is None else program.parent.parent
    if venv is not None and sys.prefix != sys.base_prefix and os.path.realpath(venv) == os.path.realpath(sys.prefix):
        trees.append(venv)
        for pth in sorted(venv.glob("lib/python*/site-packages/*.pth")):
            for line in pth.read_text(errors="replace").splitlines():
                entry = Path(line.strip())
                if entry.is_absolute() and entry.is_dir() and sensitive_reason(Path(os.path.realpath(entry))) is None:
                    trees.append(entry)
    kept: list[Path] = []
    for tree in trees:
        if tree.is_relative_to("/usr") or any(tree.is_relative_to(other) for other in kept):
            continue
        kept = [other for other in kept if not other.is_relative_to(tree)]
        kept.append(tree)
    return tuple(kept)
