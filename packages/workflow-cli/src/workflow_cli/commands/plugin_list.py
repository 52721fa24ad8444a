"""``workflow plugin list``: the plugins on plugins.paths, the copies they shadow, the broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from .plugin_common import JsonOption, emit_json, workflow_option
from .workflow_common import PluginsPathOption


def plugin_list(
    *,
    plugins_path: PluginsPathOption = None,
    workflow: Annotated[
        Path | None,
        workflow_option("List what FILE's runs find: the project is looked up from FILE's folder, as run FILE does."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the plugins found on plugins.paths, in resolution order.

    The first copy of a namespace/name along the search path wins; the copies
    it hides are listed under it as shadowed. A broken plugin.yaml is reported
    on stderr and skipped: it never stops the listing. With nothing found, the
    command says each place it looked and where that place came from.

    Search order: --plugins-path, WORKFLOW_PLUGINS_PATH, the project's
    .workflow/config.yaml, the user's config.yaml, then .workflow/plugins,
    plugins and the user data dir's plugins. The project is the one of the
    working directory, or with --workflow FILE the one of FILE's folder (as
    workflow run FILE finds its plugins).

    Examples:

      workflow plugin list

      workflow plugin list --workflow examples/workflows/hello.yaml

      workflow plugin list --plugins-path ./vendor/plugins

      workflow plugin list --json | jq -r '.[].ref'
    """
    from workflow_plugin_runtime import Problem, Severity

    from ..ui.console import make_console, print_problems
    from .plugin_common import make_resolver
    from .plugin_views import json_ready, list_entry

    resolver = make_resolver(plugins_path, workflow=workflow)
    listing = resolver.list_plugins()
    print_problems(
        [
            *(problem for copy in listing.broken for problem in copy.problems),
            *(
                Problem(entry_point.message, hint=entry_point.origin, severity=Severity.WARNING)
                for entry_point in listing.entry_point_problems
            ),
        ]
    )
    if listing.broken:
        count = len(listing.broken)
        make_console(stderr=True).print(
            f"skipped {count} broken plugin{'s' if count != 1 else ''} (fix the plugin.yaml above)"
        )
    entries = [list_entry(listed) for listed in listing.plugins]
    if as_json:
        emit_json(json_ready(entries))
    if not entries:
        from ..ui.render import print_nothing_found

        errors = make_console(stderr=True)
        print_nothing_found(errors, resolver.where_looked())
        if workflow is None:
            errors.print(
                "workflow run FILE looks for the project from FILE's folder:"
                " workflow plugin list --workflow FILE lists what it finds"
            )
    elif not as_json:
        from ..ui.plugin_list_text import show_plugin_list  # plain text when piped, Rich's table on a terminal

        show_plugin_list(entries)
