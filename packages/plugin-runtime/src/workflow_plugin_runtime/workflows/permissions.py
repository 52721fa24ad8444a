"""The permission model: ``security`` and ``permissions`` grants against what plugins ask for.

In restricted mode a plugin gets nothing it was not granted: no network, no
host path, no environment variable. A plugin declares what it needs
(``capabilities`` in plugin.yaml); the workflow grants it (``permissions``);
every task's needs are checked against the grants before anything runs, and
a refusal shows the exact YAML that would grant it. Grants that open too
much (the host's root, home, /etc, the Docker socket, every plugin on the
network, every environment variable) are warned about; the Docker socket is
refused outright in restricted mode because it is root on the host.

See docs/permissions.md for the user-facing description.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from .._frozen import FrozenRecord
from .._util.yaml_document import FieldPath, Locate
from ..errors import PermissionDeniedError, Problem, SourceLocation
from ..plugins.manifest import Access, Capabilities, FilesystemNeed
from .mount_sources import DOCKER_SOCKETS, Mount, resolve_source

__all__ = [
    "DOCKER_SOCKETS",
    "Locate",
    "MissingGrants",
    "MountGrant",
    "Permissions",
    "Report",
    "ResourceGrant",
    "SecurityMode",
    "capability_problems",
    "env_matches",
    "missing_grants",
    "needs_of",
    "parse_permissions",
    "parse_size",
    "permissions_yaml",
    "recommended_permissions",
]

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
Report = Callable[[Problem], None]
_set = object.__setattr__


class SecurityMode(enum.StrEnum):
    """A workflow's policy: trusted (plugins get what the operator has) or restricted (only what is granted).

    A policy, not a place: where a restricted workflow's plugins run is a
    :class:`~workflow_plugin_runtime.config.RuntimeKind` chosen by the
    ``restricted.backend`` setting; a trusted one's run as processes.
    """

    TRUSTED = "trusted"
    RESTRICTED = "restricted"


class MountGrant(FrozenRecord):
    """A host path made visible at ``target``; ``source`` is absolute (``written`` is as in the file).

    ``resolved`` is where ``source`` led, every symbolic link followed, when
    the workflow was loaded (None when nothing was there): the checks judge
    it, and each container's creation refuses a source that leads elsewhere.
    This module's classes are :class:`~.._frozen.FrozenRecord`
    subclasses, not dataclasses: each dataclass costs ``validate`` 0.7 ms to make.
    """

    __slots__ = ("access", "resolved", "source", "target", "written")
    source: Path
    target: str
    access: Access
    written: str
    resolved: Path | None

    def __init__(
        self, source: Path, target: str, access: Access = Access.READ, written: str = "", resolved: Path | None = None
    ) -> None:
        _set(self, "source", source)
        _set(self, "target", target)
        _set(self, "access", access)
        _set(self, "written", written)
        _set(self, "resolved", resolved)

    @property
    def forms(self) -> tuple[Path, ...]:
        """The source as granted and as resolved: what nesting is judged on."""
        return (self.source,) if self.resolved is None else (self.source, self.resolved)

    def covers(self, need: FilesystemNeed) -> bool:
        return PurePosixPath(need.path).is_relative_to(PurePosixPath(self.target))


class ResourceGrant(FrozenRecord):
    """The ceilings a workflow's ``permissions.resources`` raises or lowers; ``None`` where it says nothing.

    Not the limits a call runs under: the manager fills each ``None`` with
    the runtime's default to make those
    (:class:`~workflow_plugin_runtime.runtimes.base.ResourceLimits`).
    """

    __slots__ = ("cpus", "memory_bytes", "pids")
    memory_bytes: int | None
    cpus: float | None
    pids: int | None

    def __init__(self, memory_bytes: int | None = None, cpus: float | None = None, pids: int | None = None) -> None:
        _set(self, "memory_bytes", memory_bytes)
        _set(self, "cpus", cpus)
        _set(self, "pids", pids)


_NO_RESOURCES = ResourceGrant()


class Permissions(FrozenRecord):
    """What a workflow grants; ``declared`` says whether it had a ``permissions`` block at all."""

    __slots__ = ("declared", "env", "mounts", "network", "network_all", "resources")
    network_all: bool
    network: tuple[str, ...]
    mounts: tuple[MountGrant, ...]
    env: tuple[str, ...]
    resources: ResourceGrant
    declared: bool

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        network_all: bool = False,
        network: tuple[str, ...] = (),
        mounts: tuple[MountGrant, ...] = (),
        env: tuple[str, ...] = (),
        resources: ResourceGrant = _NO_RESOURCES,
        declared: bool = False,
    ) -> None:
        _set(self, "network_all", network_all)
        _set(self, "network", network)
        _set(self, "mounts", mounts)
        _set(self, "env", env)
        _set(self, "resources", resources)
        _set(self, "declared", declared)

    def allows_network(self, plugin_ref: str) -> bool:
        return self.network_all or plugin_ref in self.network

    def allows_env(self, name: str) -> bool:
        return any(env_matches(grant, name) for grant in self.env)

    def mount_for(self, need: FilesystemNeed) -> MountGrant | None:
        """The most specific mount covering ``need``'s path."""
        covering = [mount for mount in self.mounts if mount.covers(need)]
        return max(covering, key=lambda mount: len(mount.target), default=None)

    def mounts_for(self, capabilities: Capabilities) -> tuple[Mount, ...]:
        """The granted mounts covering a plugin's declared paths, read-only unless both sides say read-write.

        Each carries what the runtime re-checks when it makes the container
        (:func:`.mount_sources.bind_sources`): where its source led when the
        grants were checked, and every other grant's read-write source.
        """
        mounts: dict[str, Mount] = {}
        for need in capabilities.filesystem:
            grant = self.mount_for(need)
            if grant is None:
                continue
            writable = grant.access is Access.READ_WRITE and need.access is Access.READ_WRITE
            previous = mounts.get(grant.target)
            if previous is None or (writable and previous.read_only):
                roots = tuple(
                    form
                    for other in self.mounts
                    if other is not grant and other.access is Access.READ_WRITE
                    for form in other.forms
                )
                mounts[grant.target] = Mount(
                    source=Path(grant.source),
                    target=grant.target,
                    read_only=not writable,
                    pinned=grant.resolved,
                    writable_roots=roots,
                )
        return tuple(mounts.values())


def env_matches(grant: str, name: str) -> bool:
    return name.startswith(grant[:-1]) if grant.endswith("*") else grant == name


def parse_size(text: str | int) -> int:
    """``256m`` -> 268435456; a bare number is bytes. Raises ValueError for a size of zero."""
    if isinstance(text, int):
        size = text
    else:
        lowered = text.lower().removesuffix("b")
        unit = lowered[-1] if lowered[-1:] in ("k", "m", "g") else ""
        size = int(float(lowered.removesuffix(unit)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError("a size must be greater than zero")
    return size


def parse_permissions(data: Mapping[str, Any] | None, *, base_dir: Path, locate: Locate, report: Report) -> Permissions:
    """Build grants from schema-valid data; problems the schema cannot see go to ``report``."""
    if data is None:
        return Permissions()
    network = data.get("network", False)
    mounts: list[MountGrant] = []
    targets: dict[str, int] = {}
    for index, item in enumerate(data.get("mounts", ())):
        where: FieldPath = ("permissions", "mounts", index)
        target = os.path.normpath(item["target"])
        if target == "/" or ".." in PurePosixPath(item["target"]).parts:
            report(
                Problem(
                    f"mount target {item['target']!r} is not allowed",
                    locate((*where, "target")),
                    "mount into a folder such as /data; not over / and without '..'",
                )
            )
        if target in targets:
            report(
                Problem(
                    f"mount target {target} is used twice (also by mounts[{targets[target]}])",
                    locate((*where, "target")),
                    "give each mount its own target",
                )
            )
        targets.setdefault(target, index)
        source = Path(os.path.normpath(base_dir / Path(item["source"]).expanduser()))
        resolved = None
        try:
            resolved = resolve_source(source, shown=item["source"])
        except PermissionDeniedError as exc:
            report(Problem(exc.message, locate((*where, "source")), exc.hint))
        mounts.append(MountGrant(source, target, Access(item.get("access", "read")), item["source"], resolved))
    resources = data.get("resources", {})
    memory: int | None = None
    if "memory" in resources:
        try:
            memory = parse_size(resources["memory"])
        except ValueError as exc:
            report(Problem(str(exc), locate(("permissions", "resources", "memory")), "write a size such as 256m"))
    return Permissions(
        network_all=network is True,
        network=tuple(network) if isinstance(network, list) else (),
        mounts=tuple(mounts),
        env=tuple(data.get("env", ())),
        resources=ResourceGrant(memory_bytes=memory, cpus=resources.get("cpus"), pids=resources.get("pids")),
        declared=True,
    )


class MissingGrants(FrozenRecord):
    """What a plugin needs that the grants do not give."""

    __slots__ = ("env", "mounts", "network", "plugin", "read_only")
    plugin: str
    network: bool
    mounts: tuple[FilesystemNeed, ...]
    read_only: tuple[tuple[FilesystemNeed, MountGrant], ...]
    env: tuple[str, ...]

    def __init__(
        self,
        plugin: str,
        network: bool = False,
        mounts: tuple[FilesystemNeed, ...] = (),
        read_only: tuple[tuple[FilesystemNeed, MountGrant], ...] = (),
        env: tuple[str, ...] = (),
    ) -> None:
        _set(self, "plugin", plugin)
        _set(self, "network", network)
        _set(self, "mounts", mounts)
        _set(self, "read_only", read_only)
        _set(self, "env", env)

    @property
    def ok(self) -> bool:
        return not (self.network or self.mounts or self.read_only or self.env)


def missing_grants(permissions: Permissions, *, plugin_ref: str, capabilities: Capabilities) -> MissingGrants:
    """Compare a plugin's needs with a workflow's grants."""
    absent: list[FilesystemNeed] = []
    read_only: list[tuple[FilesystemNeed, MountGrant]] = []
    for need in capabilities.filesystem:
        mount = permissions.mount_for(need)
        if mount is None:
            absent.append(need)
        elif need.access is Access.READ_WRITE and mount.access is not Access.READ_WRITE:
            read_only.append((need, mount))
    return MissingGrants(
        plugin_ref,
        network=capabilities.network and not permissions.allows_network(plugin_ref),
        mounts=tuple(absent),
        read_only=tuple(read_only),
        env=tuple(name for name in capabilities.env if not permissions.allows_env(name)),
    )


def _mount_entry(need: FilesystemNeed) -> dict[str, str]:
    name = PurePosixPath(need.path).name or "data"
    return {"source": f"./{name}", "target": need.path, "access": need.access.value}


def recommended_permissions(plugin_ref: str, capabilities: Capabilities) -> dict[str, Any]:
    """The smallest ``permissions`` block that lets the plugin run restricted (empty: it needs nothing).

    Mount sources are stand-ins named after the target: the operator
    chooses which host folder to expose.
    """
    block: dict[str, Any] = {}
    if capabilities.network:
        block["network"] = [plugin_ref]
    if capabilities.filesystem:
        block["mounts"] = [_mount_entry(need) for need in capabilities.filesystem]
    if capabilities.env:
        block["env"] = list(capabilities.env)
    return block


def permissions_yaml(block: Mapping[str, Any], *, indent: int = 0) -> str:
    """``{"network": ["acme/http"]}`` as the YAML to paste: ``permissions:\\n  network: [acme/http]``."""
    import yaml  # lazily: the runtime's import stays cheap for engines that never print YAML

    text = yaml.safe_dump({"permissions": dict(block)}, default_flow_style=None, sort_keys=False, width=1000)
    return "\n".join(" " * indent + line for line in text.rstrip("\n").splitlines())


def _add_hint(block: Mapping[str, Any]) -> str:
    return "add to the workflow file:\n" + permissions_yaml(block, indent=4)


def capability_problems(
    permissions: Permissions, missing: MissingGrants, *, task: str, location: SourceLocation | None
) -> list[Problem]:
    """One error per missing grant, each showing the YAML that grants it."""
    problems = []
    uses = f"task '{task}' uses {missing.plugin}, which"
    if missing.network:
        listed = sorted({*permissions.network, missing.plugin})
        problems.append(
            Problem(
                f"{uses} needs network access; restricted mode grants it only to listed plugins",
                location,
                _add_hint({"network": listed}),
            )
        )
    for need in missing.mounts:
        problems.append(
            Problem(
                f"{uses} needs {need.path} ({need.access.value}), but no mount grants it",
                location,
                _add_hint({"mounts": [_mount_entry(need)]}) + f"\n    (choose the host folder to show at {need.path})",
            )
        )
    for need, mount in missing.read_only:
        problems.append(
            Problem(
                f"{uses} needs {need.path} read-write, but it is mounted read-only (from {mount.written})",
                location,
                f"set access: read-write on the mount with target {mount.target}",
            )
        )
    if missing.env:
        names = ", ".join(missing.env)
        listed = [*permissions.env, *(name for name in missing.env if name not in permissions.env)]
        problems.append(
            Problem(
                f"{uses} needs the environment variable{'s' if len(missing.env) > 1 else ''} {names},"
                " which the workflow does not grant",
                location,
                _add_hint({"env": listed}),
            )
        )
    return problems


def needs_of(capabilities: Iterable[tuple[str, Capabilities]]) -> dict[str, Capabilities]:
    """Plugin ref -> capabilities, first occurrence wins (several tasks may use one plugin)."""
    found: dict[str, Capabilities] = {}
    for ref, caps in capabilities:
        found.setdefault(ref, caps)
    return found
