"""The options and arguments several commands declare to Typer: one declaration each, one help text.

Typer reads them from the commands' signatures (:mod:`.signatures`, and the
commands only Typer runs); the entry point's table of command lines
(:mod:`workflow_cli.command_lines`) is derived from what Typer makes of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = [
    "JsonOption",
    "PluginsPathOption",
    "RefOrPathArgument",
    "SecretsFileOption",
    "VarOption",
    "VarsFileOption",
    "WorkflowFileArgument",
    "workflow_option",
]

WorkflowFileArgument = Annotated[
    Path, typer.Argument(metavar="FILE", help="The workflow file (YAML).", show_default=False)
]
VarOption = Annotated[
    list[str] | None,
    typer.Option(
        "--var", metavar="NAME=VALUE", help="Set a var (repeatable); wins over --vars-file and the file's vars."
    ),
]
VarsFileOption = Annotated[
    Path | None, typer.Option("--vars-file", metavar="FILE", help="A YAML mapping of vars.", show_default=False)
]
SecretsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--secrets-file",
        metavar="FILE",
        help="A dotenv file of secrets (KEY=value); WORKFLOW_SECRET_<KEY> variables are read too.",
        show_default=False,
    ),
]
PluginsPathOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--plugins-path",
        "-p",
        metavar="DIR",
        show_default=False,
        help="Search DIR for plugins before the configured paths (repeatable; also WORKFLOW_PLUGINS_PATH).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout; messages and warnings go to stderr.")
]
RefOrPathArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF_OR_PATH",
        help="namespace/name (resolved on plugins.paths) or a plugin directory such as ./my-plugin.",
        show_default=False,
    ),
]


def workflow_option(help_text: str) -> Any:  # typer.Option is typed Any, so Annotated takes it
    """``-w, --workflow FILE``, an existing workflow file; ``help_text`` says what the command does with it."""
    return typer.Option(
        "--workflow", "-w", metavar="FILE", exists=True, dir_okay=False, show_default=False, help=help_text
    )
