"""Warnings about grants that open too much, or more than any task needs.

Kept apart from the permission model itself (:mod:`.permissions`): these are
judgements about a workflow's grants, shown by ``workflow validate`` and
``workflow plugin inspect``; only the Docker socket in restricted mode is an
error, because it is root on the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import Problem, Severity, SourceLocation
from .manifest import Access, Capabilities
from .permissions import DOCKER_SOCKETS, Locate, Permissions, SecurityMode, env_matches

__all__ = ["broad_grant_problems", "capability_warnings", "unneeded_grant_problems"]


def _exposes_docker_socket(source: Path) -> bool:
    resolved = source.resolve()
    return any(socket in (source, resolved) or socket.resolve().is_relative_to(resolved) for socket in DOCKER_SOCKETS)


def _sensitive_path(path: Path) -> str | None:
    """Why exposing ``path`` (an absolute host path) is broad, or None."""
    home = Path.home().resolve()
    resolved = path.resolve()
    if resolved == Path("/"):
        return "exposes the whole host filesystem"
    if resolved in (home, Path("/root"), Path("/home")) or resolved.parent == Path("/home"):
        return "exposes a home directory (SSH keys, cloud credentials, shell history)"
    if resolved == Path("/etc"):
        return "exposes the host's configuration (/etc)"
    if resolved.is_relative_to("/proc") or resolved.is_relative_to("/sys"):
        return "exposes kernel interfaces (/proc, /sys)"
    return None


def broad_grant_problems(
    permissions: Permissions,
    *,
    security: SecurityMode,
    workflow_dir: Path,
    locate: Locate,
    network_needed: Sequence[str] = (),
) -> list[Problem]:
    """Warnings for grants that open too much; the Docker socket is an error in restricted mode."""
    problems: list[Problem] = []
    if permissions.declared and security is SecurityMode.TRUSTED:
        problems.append(
            _warning(
                "permissions apply only with security: restricted; this trusted workflow runs plugins with all of"
                " the operator's rights",
                locate(("permissions",)),
                "add `security: restricted` to enforce them",
            )
        )
    for index, mount in enumerate(permissions.mounts):
        where = locate(("permissions", "mounts", index, "source"))
        if _exposes_docker_socket(mount.source):
            message = f"mount {mount.written} exposes the Docker socket, which gives root on the host"
            if security is SecurityMode.RESTRICTED:
                problems.append(Problem(message, where, "remove this mount: restricted mode refuses the Docker socket"))
            else:
                problems.append(_warning(message, where, "remove this mount"))
        reason = _sensitive_path(mount.source)
        if reason is not None:
            problems.append(_warning(f"mount {mount.written} {reason}", where, "mount only the folder plugins need"))
        if mount.access is Access.READ_WRITE and workflow_dir.resolve().is_relative_to(mount.source.resolve()):
            problems.append(
                _warning(
                    f"mount {mount.written} is read-write and holds this workflow's own folder: plugins could rewrite"
                    " the workflow file and its lock",
                    where,
                    "mount a subfolder such as ./out, or make it access: read",
                )
            )
    if permissions.network_all:
        listed = ", ".join(sorted(set(network_needed)))
        hint = f"list the plugins that need it: network: [{listed}]" if listed else "list the plugins that need it"
        problems.append(
            _warning("network: true grants network access to every plugin", locate(("permissions", "network")), hint)
        )
    for index, grant in enumerate(permissions.env):
        if grant == "*":
            problems.append(
                _warning(
                    "env: '*' passes every configured variable to every plugin",
                    locate(("permissions", "env", index)),
                    "list the variable names plugins need",
                )
            )
    return problems


def _warning(message: str, location: SourceLocation | None = None, hint: str | None = None) -> Problem:
    return Problem(message, location, hint, Severity.WARNING)


def unneeded_grant_problems(
    permissions: Permissions, needs: Mapping[str, Capabilities], *, locate: Locate
) -> list[Problem]:
    """Warnings for grants no task's plugin asks for (``needs``: plugin ref -> capabilities of used plugins)."""
    problems: list[Problem] = []
    for index, ref in enumerate(permissions.network):
        if ref not in needs:
            reason = "which no task uses"
        elif not needs[ref].network:
            reason = "which does not ask for network access"
        else:
            continue
        problems.append(
            _warning(
                f"network is granted to {ref}, {reason}",
                locate(("permissions", "network", index)),
                "remove it from network:",
            )
        )
    wanted = [need for caps in needs.values() for need in caps.filesystem]
    for index, mount in enumerate(permissions.mounts):
        if not any(mount.covers(need) for need in wanted):
            problems.append(
                _warning(
                    f"mount {mount.written} -> {mount.target} is not needed by any plugin this workflow uses",
                    locate(("permissions", "mounts", index)),
                    "remove the mount",
                )
            )
    asked = {name for caps in needs.values() for name in caps.env}
    for index, grant in enumerate(permissions.env):
        if grant != "*" and not any(env_matches(grant, name) for name in asked):
            problems.append(
                _warning(
                    f"env {grant} is granted but no plugin this workflow uses asks for it",
                    locate(("permissions", "env", index)),
                    "remove it from env:",
                )
            )
    return problems


def capability_warnings(plugin_ref: str, capabilities: Capabilities) -> list[Problem]:
    """What ``workflow plugin inspect`` warns about before anyone grants this plugin's needs."""
    problems = []
    for need in capabilities.filesystem:
        path = Path(need.path)
        reason = _sensitive_path(path)
        if reason is not None:
            problems.append(_warning(f"{plugin_ref} asks for {need.path} ({need.access.value}), which {reason}"))
        elif _exposes_docker_socket(path):
            message = f"{plugin_ref} asks for {need.path}, the Docker socket: root on the host"
            problems.append(_warning(f"{message}; restricted mode refuses it"))
    return problems
