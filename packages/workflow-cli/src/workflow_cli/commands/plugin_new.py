"""``workflow plugin new``: a working plugin to start from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

SDK_TEST_EXTRA = "workflow-plugin-sdk[test]"
"""What the scaffold's tests need besides the SDK: pytest (the SDK's ``test`` extra)."""


def plugin_new(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="NAMESPACE/NAME", help="The new plugin's reference, e.g. acme/http.", show_default=False
        ),
    ],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-d",
            metavar="DIR",
            file_okay=False,
            show_default=False,
            help="Where to create it (default: plugins/NAME in the project, a default plugins path).",
        ),
    ] = None,
) -> None:
    """Create a working plugin: plugin.yaml, main.py with an SDK action, and a test.

    The plugin has one action, greet, with typed inputs and outputs and an
    example. By default it goes to plugins/NAME under the project root (the
    nearest folder whose .workflow holds config.yaml or plugins, else the
    current folder), which is on the default plugins.paths: workflows and
    `workflow plugin inspect` find it at once. An existing, non-empty
    directory is never overwritten.

    Examples:

      workflow plugin new acme/hello

      workflow plugin new acme/hello --dir ./vendor/hello
    """
    import importlib.util

    from workflow_plugin_runtime import find_project_root, parse_plugin_ref

    from ..errors import ExitCode
    from ..scaffold import SCAFFOLD_ACTION, write_scaffold
    from ..ui.console import make_console, print_error_text

    parsed = parse_plugin_ref(ref)
    cwd = Path.cwd()
    target = directory if directory is not None else (find_project_root(cwd) or cwd) / "plugins" / parsed.name
    try:
        written = write_scaffold(target, namespace=parsed.namespace, name=parsed.name)
    except FileExistsError as exc:
        print_error_text(
            make_console(stderr=True),
            f"{target} exists and is not empty; nothing was written (choose another folder with --dir)",
        )
        raise typer.Exit(ExitCode.INVALID) from exc
    shown = _relative(target, cwd)
    typer.echo(f"created {parsed} in {shown}:")
    for path in written:
        typer.echo(f"  {_relative(path, cwd)}")
    where = str(parsed) if directory is None else shown
    workflow = _workflow_command(cwd)
    python = _as_typed(Path(sys.executable), cwd)
    typer.echo("next:")
    typer.echo(f"  {workflow} plugin inspect {where}")
    if importlib.util.find_spec("pytest") is None:
        typer.echo(f"  {python} -m pip install '{SDK_TEST_EXTRA}'   # the tests need pytest")
    typer.echo(f"  {python} -m pytest {_relative(target / 'tests', cwd)}")
    typer.echo(f"  {workflow} plugin build {where}")
    typer.echo(f"  in a workflow: uses: {parsed}.{SCAFFOLD_ACTION}")


def _workflow_command(cwd: Path) -> str:
    """``workflow``, or the path it was started by (``.venv/bin/workflow``) when PATH would not find this one."""
    started_as = Path(sys.argv[0])
    if started_as.name != "workflow":  # python -m workflow_cli
        return "workflow"
    return _as_typed(started_as, cwd)


def _as_typed(program: Path, cwd: Path) -> str:
    """How to start ``program`` from ``cwd``: its bare name when PATH finds this very file, else its path.

    After the Quickstart the virtualenv is not activated: a bare ``python``
    is another interpreter (without the SDK or pytest), so the next steps
    name ``.venv/bin/python``.
    """
    import shlex
    import shutil

    found = shutil.which(program.name)
    if found is not None and Path(found).absolute() == program.absolute():
        return program.name
    return shlex.quote(_relative(program, cwd))


def _relative(path: Path, base: Path) -> str:
    absolute = path.absolute()
    return str(absolute.relative_to(base)) if absolute.is_relative_to(base) else str(absolute)
