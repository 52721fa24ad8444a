"""``workflow plugin inspect``: what a plugin offers, what it needs, and what a workflow grants it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .plugin_common import JsonOption, RefOrPathArgument, emit_json, workflow_option
from .workflow_common import PluginsPathOption


def plugin_inspect(
    target: RefOrPathArgument,
    *,
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
    leave it 0. It also says where the workflow's plugins would run on this
    machine: local processes when trusted, else its restricted backend (or
    why none can run here).

    Examples:

      workflow plugin inspect acme/http

      workflow plugin inspect ./plugins/http --workflow release.yaml

      workflow plugin inspect acme/http --json | jq .recommended_permissions
    """
    from workflow_plugin_runtime import Severity, ValidationFailed, capability_warnings

    from ..errors import ErrorKind, ExitCode, InvalidInput
    from ..ui.console import make_console
    from .plugin_common import find_plugin, project_config
    from .plugin_views import inspection, json_ready

    found = find_plugin(target, plugins_path, workflow=workflow)
    manifest = found.manifest
    warnings = capability_warnings(manifest.ref, manifest.capabilities)
    runs_in = None
    if workflow is not None:
        from workflow_plugin_runtime import Resolver, load_workflow, plugin_grant_problems

        from .workflow_common import place

        try:
            loaded = load_workflow(workflow)
        except ValidationFailed as exc:
            raise InvalidInput(ErrorKind.WORKFLOW, exc.problems, summary=f"{workflow}: {exc.message}") from exc
        config = project_config(plugins_path, workflow=workflow)
        warnings += plugin_grant_problems(loaded, manifest, resolver=Resolver.from_config(config))
        runs_in = place(loaded, config.backend).view()
    report = inspection(
        manifest,
        source=found.source,
        warnings=warnings,
        workflow=None if workflow is None else str(workflow),
        runs_in=runs_in,
    )
    if as_json:
        emit_json(json_ready(report))
        if report["warnings"]:  # Rich only when there is something for it to show
            from ..ui.render import print_problem_view

            errors = make_console(stderr=True)
            for view in report["warnings"]:
                print_problem_view(errors, view)
    else:
        from ..ui.render import print_inspection

        print_inspection(make_console(), report)
    if any(problem.severity is Severity.ERROR for problem in warnings):
        raise typer.Exit(ExitCode.FAILED)
