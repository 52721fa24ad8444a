"""``workflow plugin list``: the plugins on plugins.paths, the copies they shadow, the broken ones.

The command's body: Typer's signature and help are in :mod:`.signatures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plugin_common import emit_json

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["plugin_list"]


def plugin_list(*, plugins_path: list[Path] | None, workflow: Path | None, as_json: bool) -> None:
    """The plugins ``plugins_path`` and the configs (of ``workflow``'s project, if given) find; the broken on stderr."""
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
