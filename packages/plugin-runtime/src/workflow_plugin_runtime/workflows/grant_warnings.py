"""Warnings about grants that open too much, or more than any task needs.

Kept apart from the permission model itself (:mod:`.permissions`): these are
judgements about a workflow's grants, shown by ``workflow validate``
(:func:`workflow_grant_problems`, through :mod:`.checks`) and ``workflow
plugin inspect`` (:func:`plugin_grant_problems`), which share the pieces
here so the two never judge a grant differently. Three are errors in restricted mode: the Docker
socket, because it is root on the host; a mount source inside another
read-write grant, because a plugin could swap it for a symbolic link to any
host folder before the next container is made (:mod:`.mount_sources`); and
a mount source that does not exist, which no container could be made with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import PermissionDeniedError, Problem, Severity, SourceLocation, WorkflowPluginError
from ..plugins.manifest import Access, Capabilities, PluginManifest
from ..plugins.resolve import ResolvedAction, Resolver
from .mount_sources import (
    ISOLATED_UID,
    exposes_docker_socket,
    lenient_resolve,
    missing_source_hint,
    nested_in,
    resolve_source,
    sensitive_reason,
    unwritable_reason,
    writable_fix,
)
from .permissions import (
    Locate,
    MountGrant,
    Permissions,
    SecurityMode,
    capability_problems,
    env_matches,
    missing_grants,
    needs_of,
    permissions_yaml,
    recommended_permissions,
)

TYPE_CHECKING = False  # the workflow model (and through it PyYAML) only for type checkers: inspect needs neither
if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = [
    "broad_grant_problems",
    "capability_warnings",
    "missing_source_problems",
    "plugin_grant_problems",
    "unneeded_grant_problems",
    "workflow_grant_problems",
]


def workflow_grant_problems(
    workflow: Workflow, actions: Mapping[str, ResolvedAction], *, all_resolved: bool
) -> list[Problem]:
    """What ``workflow validate`` finds in a workflow's grants, given each task's resolved action.

    Broad grants always; in restricted mode also missing mount sources,
    missing grants (once per plugin, at its first task) and, when every
    task resolved, grants nothing needs.
    """
    permissions = workflow.permissions
    first_users: dict[int, tuple[str, ResolvedAction]] = {}  # tasks of one action share its resolution
    for task_id, action in actions.items():
        first_users.setdefault(id(action), (task_id, action))
    needs = needs_of((str(action.ref.plugin), action.manifest.capabilities) for _, action in first_users.values())
    problems = _broad_problems(workflow, needs)
    if workflow.security is not SecurityMode.RESTRICTED:
        return problems
    problems += missing_source_problems(permissions, needs, locate=workflow.locate)
    reported: set[str] = set()
    for task_id, action in first_users.values():
        plugin = str(action.ref.plugin)
        if plugin not in reported:
            reported.add(plugin)
            problems += _missing_grant_problems(
                workflow, plugin=plugin, capabilities=action.manifest.capabilities, task_id=task_id
            )
    if all_resolved and permissions.declared:
        problems += unneeded_grant_problems(permissions, needs, locate=workflow.locate)
    return problems


def plugin_grant_problems(workflow: Workflow, manifest: PluginManifest, *, resolver: Resolver) -> list[Problem]:
    """What comparing a workflow's grants with one plugin's needs finds (``workflow plugin inspect``).

    The plugin need not be used by the workflow: its grants are then
    compared as if a task did. "Not needed" is judged against every plugin
    the workflow uses (a mount another task's plugin needs is not excess),
    so it is skipped when some of them do not resolve.
    """
    ref = manifest.ref
    permissions = workflow.permissions
    actions = {task.id: task.action for task in workflow.tasks.values() if task.action is not None}
    users = [task_id for task_id, action in actions.items() if str(action.plugin) == ref]
    needs = {ref: manifest.capabilities}
    unresolved: list[str] = []
    for other in (action.plugin for action in actions.values()):
        if str(other) in needs or str(other) in unresolved:
            continue
        try:
            needs[str(other)] = resolver.resolve(other, specifier=workflow.requires.get(other)).capabilities
        except WorkflowPluginError:
            unresolved.append(str(other))
    problems: list[Problem] = []
    if not users:
        problems.append(
            _warning(
                f"no task of {workflow.path.name} uses {ref}; its grants are compared as if one did",
                workflow.locate(("tasks",)),
            )
        )
    problems += _broad_problems(workflow, needs)
    if workflow.security is SecurityMode.RESTRICTED:
        problems += _missing_grant_problems(
            workflow, plugin=ref, capabilities=manifest.capabilities, task_id=users[0] if users else None
        )
    elif workflow.security is SecurityMode.TRUSTED and not permissions.declared:
        recommended = recommended_permissions(ref, manifest.capabilities)
        grant = f" and grant:\n{permissions_yaml(recommended, indent=4)}" if recommended else ""
        problems.append(
            _warning(
                f"{workflow.path.name} runs trusted: {ref} runs as a local process with all of the operator's rights",
                workflow.locate(("security",)),
                f"to contain it, set security: restricted{grant}",
            )
        )
    if unresolved:
        problems.append(
            _warning(
                f"could not resolve {', '.join(unresolved)}: grants are not checked for being unneeded",
                workflow.locate(("tasks",)),
                "make those plugins resolvable (--plugins-path) to check every grant",
            )
        )
    elif permissions.declared:
        problems += unneeded_grant_problems(permissions, needs, locate=workflow.locate)
    return problems


def _broad_problems(workflow: Workflow, needs: Mapping[str, Capabilities]) -> list[Problem]:
    """:func:`broad_grant_problems` of a workflow, ``needs`` naming the plugins that ask for the network."""
    return broad_grant_problems(
        workflow.permissions,
        security=workflow.security,
        workflow_dir=workflow.directory,
        locate=workflow.locate,
        network_needed=[ref for ref, caps in needs.items() if caps.network],
    )


def _missing_grant_problems(
    workflow: Workflow, *, plugin: str, capabilities: Capabilities, task_id: str | None
) -> list[Problem]:
    """One error per grant ``plugin`` lacks, at ``task_id``'s ``uses`` (at ``permissions`` when no task uses it)."""
    missing = missing_grants(workflow.permissions, plugin_ref=plugin, capabilities=capabilities)
    if missing.ok:
        return []
    where = workflow.locate(("permissions",) if task_id is None else ("tasks", task_id, "uses"))
    return capability_problems(workflow.permissions, missing, task=task_id or "(none)", location=where)


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
        resolved = mount.resolved if mount.resolved is not None else lenient_resolve(mount.source)
        if exposes_docker_socket(mount.source, resolved):
            message = f"mount {mount.written} exposes the Docker socket, which gives root on the host"
            if security is SecurityMode.RESTRICTED:
                problems.append(Problem(message, where, "remove this mount: restricted mode refuses the Docker socket"))
            else:
                problems.append(_warning(message, where, "remove this mount"))
        reason = sensitive_reason(resolved)
        if reason is not None:
            problems.append(_warning(f"mount {mount.written} {reason}", where, "mount only the folder plugins need"))
        if mount.access is Access.READ_WRITE and lenient_resolve(workflow_dir).is_relative_to(resolved):
            problems.append(
                _warning(
                    f"mount {mount.written} is read-write and holds this workflow's own folder: plugins could rewrite"
                    " the workflow file and its lock",
                    where,
                    "mount a subfolder such as ./out, or make it access: read",
                )
            )
    problems += _nesting_problems(permissions.mounts, security=security, locate=locate)
    if security is SecurityMode.RESTRICTED:
        problems += _unwritable_problems(permissions.mounts, locate=locate)
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


def _nesting_problems(mounts: Sequence[MountGrant], *, security: SecurityMode, locate: Locate) -> list[Problem]:
    """Sources inside another grant's read-write source: an error in restricted mode, a warning in trusted mode.

    A read-write grant inside a read-only one is fine: no plugin can change
    the outer folder's path.
    """
    problems: list[Problem] = []
    for index, inner in enumerate(mounts):
        for outer_index, outer in enumerate(mounts):
            if outer_index == index or outer.access is not Access.READ_WRITE:
                continue
            if nested_in(inner.forms, outer.forms) is None:
                continue
            message = (
                f"mount {inner.written} lies inside the read-write mount {outer.written} (mounts[{outer_index}]):"
                f" a plugin that writes {outer.target} could replace it with a symbolic link to any host folder,"
                f" which the next container would show at {inner.target}"
            )
            hint = f"grant folders side by side (such as ./out and ./in), or make mounts[{outer_index}] read-only"
            where = locate(("permissions", "mounts", index, "source"))
            if security is SecurityMode.RESTRICTED:
                problems.append(Problem(message, where, f"restricted mode refuses it: {hint}"))
            else:
                problems.append(_warning(message, where, hint))
    return problems


def missing_source_problems(
    permissions: Permissions, needs: Mapping[str, Capabilities], *, locate: Locate
) -> list[Problem]:
    """Restricted mode's errors for mount sources that do not exist: the run would stop at its first container.

    Only mounts a used plugin needs count (``needs``: plugin ref ->
    capabilities): a grant no plugin needs is never mounted, and is warned
    about as unneeded. A source that exists but could not be resolved (a
    link loop, a link that may not be followed) was reported when the grants
    were read.
    """
    mounted = {
        id(grant)
        for caps in needs.values()
        for need in caps.filesystem
        if (grant := permissions.mount_for(need)) is not None
    }
    problems: list[Problem] = []
    for index, mount in enumerate(permissions.mounts):
        if mount.resolved is not None or id(mount) not in mounted:
            continue
        try:
            if resolve_source(mount.source, shown=mount.written) is not None:
                continue  # made since the grants were read
        except PermissionDeniedError:
            continue  # there, but it cannot be resolved: reported when the grants were read
        what = "a symbolic link to nothing" if mount.source.is_symlink() else "it does not exist"
        problems.append(
            Problem(
                f"mount {mount.written} -> {mount.target}: the source {mount.source} is missing ({what}); restricted"
                " mode cannot mount it",
                locate(("permissions", "mounts", index, "source")),
                missing_source_hint(mount.source),
            )
        )
    return problems


def _unwritable_problems(mounts: Sequence[MountGrant], *, locate: Locate) -> list[Problem]:
    """Read-write grants of host folders the isolated user cannot write: plugins would get 'Permission denied'."""
    problems: list[Problem] = []
    for index, mount in enumerate(mounts):
        if mount.access is not Access.READ_WRITE or mount.resolved is None:
            continue
        reason = unwritable_reason(mount.resolved)
        if reason is not None:
            problems.append(
                _warning(
                    f"mount {mount.written} is read-write, but plugins run as uid {ISOLATED_UID} and cannot write"
                    f" {mount.resolved}: {reason}",
                    locate(("permissions", "mounts", index, "source")),
                    writable_fix(mount.resolved),
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
        resolved = lenient_resolve(path)
        reason = sensitive_reason(resolved)
        if reason is not None:
            problems.append(_warning(f"{plugin_ref} asks for {need.path} ({need.access.value}), which {reason}"))
        elif exposes_docker_socket(path, resolved):
            message = f"{plugin_ref} asks for {need.path}, the Docker socket: root on the host"
            problems.append(_warning(f"{message}; restricted mode refuses it"))
    return problems
