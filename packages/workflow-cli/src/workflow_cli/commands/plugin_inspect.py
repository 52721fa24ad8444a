"""``workflow plugin inspect``: what a plugin offers, what it needs, and what a workflow grants it.

The command's body: Typer's signature and help are in :mod:`.signatures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandExit, ErrorKind, ExitCode, InvalidInput
from .plugin_common import emit_json

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["plugin_inspect"]


def plugin_inspect(target: str, *, workflow: Path | None, plugins_path: list[Path] | None, as_json: bool) -> None:
    """``target``'s report (with ``workflow``: its grants compared); exit 1 when the workflow could not run it."""
    from workflow_plugin_runtime import Severity, ValidationFailed, capability_warnings

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
        raise CommandExit(ExitCode.FAILED)
