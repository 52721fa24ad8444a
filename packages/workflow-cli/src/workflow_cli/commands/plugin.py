"""The ``workflow plugin`` command group: list, inspect, build, create and test plugins.

Each command lives in its own module and imports the runtime (and Rich, and
Docker) only when it runs, so ``workflow --help`` stays fast.
"""

from __future__ import annotations

import typer

from ..command import WorkflowCommand, WorkflowGroup
from .plugin_build import plugin_build
from .plugin_new import plugin_new
from .plugin_test import plugin_test
from .signatures import plugin_inspect, plugin_list

plugin_app = typer.Typer(
    name="plugin",
    cls=WorkflowGroup,
    help="""List, inspect, build, create and test plugins.

    Examples:

      workflow plugin list

      workflow plugin inspect acme/http

      workflow plugin build acme/http

      workflow plugin new acme/hello

      workflow plugin test ./hello --runtime sandbox
    """,
    short_help="List, inspect, build, create and test plugins.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
plugin_app.command("list", cls=WorkflowCommand)(plugin_list)
plugin_app.command("inspect", cls=WorkflowCommand)(plugin_inspect)
plugin_app.command("build", cls=WorkflowCommand)(plugin_build)
plugin_app.command("new", cls=WorkflowCommand)(plugin_new)
plugin_app.command("test", cls=WorkflowCommand)(plugin_test)
