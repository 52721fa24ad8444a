"""``workflow schema``: the shipped JSON Schemas, for editors and CI checks."""

from __future__ import annotations

import enum
from typing import Annotated

import typer


class SchemaName(enum.StrEnum):
    plugin = "plugin"
    workflow = "workflow"


def schema(
    name: Annotated[
        SchemaName,
        typer.Argument(
            metavar="FORMAT", help="Which file format: plugin (plugin.yaml) or workflow.", show_default=False
        ),
    ],
) -> None:
    """Print the JSON Schema of plugin.yaml or of workflow files.

    Point an editor at it for completion and errors while typing, e.g. with
    the YAML language server's modeline on the first line of the file:

      # yaml-language-server: $schema=plugin.schema.json

    Examples:

      workflow schema plugin > plugin.schema.json

      workflow schema workflow > workflow.schema.json
    """
    from importlib.resources import files

    text = files("workflow_plugin_runtime").joinpath("schemas", f"{name.value}.schema.json").read_text("utf-8")
    typer.echo(text.rstrip("\n"))
