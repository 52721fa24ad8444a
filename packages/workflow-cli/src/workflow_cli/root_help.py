"""The root help of ``workflow``, as Typer renders it for terminals of 80 columns or more.

:mod:`workflow_cli.entry` prints it for ``workflow --help`` without loading
Typer (which alone costs several interpreter starts). It is a copy, so a
test renders the Typer app and compares: when a command or the root
docstring changes, that test fails and prints the new text to paste here.
``{prog}`` stands for the program name, detected as Click does.
"""

from __future__ import annotations

ROOT_HELP = """\
Usage: {prog} [OPTIONS] COMMAND [ARGS]...

  Run workflow files and manage the plugins they use.

  Examples:

    workflow run examples/workflows/hello.yaml

    workflow plugin list

    workflow schema plugin > plugin.schema.json

Options:
  --version             Print the version and exit.
  --install-completion  Install completion for the current shell.
  --show-completion     Show completion for the current shell, to copy it or
                        customize the installation.
  -h, --help            Show this message and exit.

Commands:
  run       Run a workflow file.
  validate  Check a workflow without running anything.
  lock      Write a workflow's lock file, or check its plugins against it.
  schema    Print the JSON Schema of plugin.yaml or of workflow files.
  clean     Remove what runs killed outright left behind.
  plugin    List, inspect, build, create and test plugins.
"""
