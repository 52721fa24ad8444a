"""``workflow plugin inspect``: what a plugin offers, what it needs, and what a workflow grants it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .plugin_common import JsonOption, emit_json, workflow_option
from .workflow_common import PluginsPathOption

if TYPE_CHECKING:
    from workflow_plugin_runtime.errors import Problem
    from workflow_plugin_runtime.plugins.manifest import PluginManifest
    from workflow_plugin_runtime.plugins.resolve import Resolver
    from workflow_plugin_runtime.workflows.workflow import Workflow


def plugin_inspect(
    target: Annotated[
        str,
        typer.Argument(
            metavar="REF_OR_PATH",
            help="namespace/name (resolved on plugins.paths) or a plugin directory such as ./my-plugin.",
            show_default=False,
        ),
    ],
    workflow: Annotated[
        Path | None,
        workflow_option(
            "Compare FILE's permissions with what this plugin needs: missing, unneeded and dangerous grants."
            " Plugins are then found as FILE's runs find them (the project is looked up from FILE's folder)."
        ),
    ] = None,
    plugins_path: PluginsPathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a plugin's actions, their inputs and outputs, and the permissions it needs.

    Each action's inputs and outputs are shown field by field: type, whether
    it is required, its default, and secret inputs marked. The recommended
    permissions block is ready to paste into a workflow that runs with
    security: restricted. Requests for dangerous host paths are warned about.

    With --workflow FILE the workflow's grants are compared with the plugin's
    needs: grants it lacks, grants nothing needs, and broad ones (the host's
    /, a home directory, /etc, /proc, /sys, the Docker socket, a read-write
    mount of the workflow's own folder, network: true, env: '*'). The exit
    code is 1 when the workflow could not run this plugin as written (a
    missing grant, the Docker socket in restricted mode); warnings alone
    leave it 0.

    Examples:

      workflow plugin inspect acme/http

      workflow plugin inspect ./plugins/http --workflow release.yaml

      workflow plugin inspect acme/http --json | jq .recommended_permissions
    """
    from workflow_plugin_runtime.errors import ValidationFailed
    from workflow_plugin_runtime.workflows.grant_warnings import capability_warnings

    from ..errors import ErrorKind, ExitCode, InvalidInput
    from ..ui.console import make_console
    from ..ui.render import print_inspection, print_problem_view
    from .plugin_common import find_plugin, make_resolver
    from .plugin_views import inspection, json_ready

    found = find_plugin(target, plugins_path, workflow=workflow)
    manifest = found.manifest
    warnings = capability_warnings(manifest.ref, manifest.capabilities)
    if workflow is not None:
        from workflow_plugin_runtime import load_workflow

        try:
            loaded = load_workflow(workflow)
        except ValidationFailed as exc:
            raise InvalidInput(ErrorKind.WORKFLOW, exc.problems, summary=f"{workflow}: {exc.message}") from exc
        warnings += grant_problems(manifest, loaded, make_resolver(plugins_path, workflow=workflow))
    report = inspection(
        manifest, source=found.source, warnings=warnings, workflow=None if workflow is None else str(workflow)
    )
    if as_json:
        emit_json(json_ready(report))
        errors = make_console(stderr=True)
        for view in report["warnings"]:
            print_problem_view(errors, view)
    else:
        print_inspection(make_console(), report)
    if any(view["severity"] == "error" for view in report["warnings"]):
        raise typer.Exit(ExitCode.FAILED)


def grant_problems(manifest: PluginManifest, workflow: Workflow, resolver: Resolver) -> list[Problem]:
    """What comparing a workflow's grants with this plugin's needs finds, broad grants included.

    "Not needed" is judged against every plugin the workflow uses (a mount
    another task's plugin needs is not excess), so it is skipped when some of
    them do not resolve.
    """
    from workflow_plugin_runtime.errors import Problem, Severity, WorkflowPluginError
    from workflow_plugin_runtime.workflows.grant_warnings import broad_grant_problems, unneeded_grant_problems
    from workflow_plugin_runtime.workflows.permissions import (
        SecurityMode,
        capability_problems,
        missing_grants,
        permissions_yaml,
        recommended_permissions,
    )

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
            Problem(
                f"no task of {workflow.path.name} uses {ref}; its grants are compared as if one did",
                workflow.locate(("tasks",)),
                severity=Severity.WARNING,
            )
        )
    problems += broad_grant_problems(
        permissions,
        security=workflow.security,
        workflow_dir=workflow.directory,
        locate=workflow.locate,
        network_needed=[name for name, caps in needs.items() if caps.network],
    )
    missing = missing_grants(permissions, plugin_ref=ref, capabilities=manifest.capabilities)
    if workflow.security is SecurityMode.RESTRICTED and not missing.ok:
        task_id = users[0] if users else "(none)"
        where = workflow.locate(("tasks", task_id, "uses")) if users else workflow.locate(("permissions",))
        problems += capability_problems(permissions, missing, task=task_id, location=where)
    elif workflow.security is SecurityMode.TRUSTED and not permissions.declared:
        recommended = recommended_permissions(ref, manifest.capabilities)
        grant = f" and grant:\n{permissions_yaml(recommended, indent=4)}" if recommended else ""
        problems.append(
            Problem(
                f"{workflow.path.name} runs trusted: {ref} runs as a local process with all of the operator's rights",
                workflow.locate(("security",)),
                f"to contain it, set security: restricted{grant}",
                Severity.WARNING,
            )
        )
    if unresolved:
        problems.append(
            Problem(
                f"could not resolve {', '.join(unresolved)}: grants are not checked for being unneeded",
                workflow.locate(("tasks",)),
                "make those plugins resolvable (--plugins-path) to check every grant",
                Severity.WARNING,
            )
        )
    elif permissions.declared:
        problems += unneeded_grant_problems(permissions, needs, locate=workflow.locate)
    return problems
