"""``workflow lock``: write a workflow's lock file, or check its plugins against it."""

from __future__ import annotations

from typing import Annotated

import typer

from .workflow_common import PluginsPathOption, VarOption, VarsFileOption, WorkflowFileArgument


def lock(
    file: WorkflowFileArgument,
    *,
    check: Annotated[
        bool, typer.Option("--check", help="Compare the plugins with the lock and write nothing; exit 1 on drift.")
    ] = False,
    var: VarOption = None,
    vars_file: VarsFileOption = None,
    plugins_path: PluginsPathOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")] = False,
) -> None:
    """Write a workflow's lock file, or check its plugins against it.

    FILE's lock goes next to it (release.yaml -> release.lock.json). It
    holds, for each plugin the workflow uses, its ref, version, source,
    content hash and per-file digests; for an installed plugin the
    distribution and its version; and when the plugins run on Docker here,
    each image's id and the hash it was built from. While a lock exists,
    `workflow run` and `workflow validate` refuse a plugin that differs from
    it (`workflow run --no-lock` runs anyway).

    Exit codes: 0 written, or --check found no drift; 1 --check found drift;
    2 invalid input (a workflow that fails its checks, a malformed lock).

    Examples:

      workflow lock release.yaml

      workflow lock release.yaml --check
    """
    from workflow_plugin_runtime import (
        SourceLocation,
        WorkflowFileError,
        check_lock,
        lock_path_for,
        locked_plugins,
        neutralise_controls,
        write_lock,
    )

    from ..errors import ExitCode
    from ..ui.console import make_console
    from ..ui.lock_report import print_lock_check, print_lock_written
    from .plugin_views import json_ready
    from .workflow_common import load_and_check, place, report_problems

    loaded = load_and_check(
        file, plugins_paths=plugins_path, var_options=var, vars_file=vars_file, secrets_file=None, check_secrets=False
    )
    report_problems(loaded)
    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    runtime = place(workflow, loaded.config.backend).runtime
    path = lock_path_for(workflow.path)
    shown = neutralise_controls(str(path))
    if check:
        result = check_lock(loaded.check, runtime=runtime, project_root=loaded.config.project_root)
        if result is None:
            raise WorkflowFileError(
                f"{path} does not exist: there is no lock to check", hint=f"write it with `workflow lock {file}`"
            )
        if json_output:
            typer.echo(
                json_ready(
                    {"lock": str(path), "matched": result.matched, "drift": [item.to_record() for item in result.drift]}
                )
            )
        else:
            print_lock_check(make_console(), shown, result.drift, plugins=len(result.plugins))
        raise typer.Exit(ExitCode.OK if result.matched else ExitCode.FAILED)
    plugins = locked_plugins(loaded.check, runtime=runtime, project_root=loaded.config.project_root)
    try:
        write_lock(path, plugins)
    except OSError as exc:
        raise WorkflowFileError(
            f"the lock could not be written: {exc.strerror or exc}",
            location=SourceLocation(path),
            hint=f"make {path.parent} a writable folder",
        ) from None
    if json_output:
        typer.echo(
            json_ready({"lock": str(path), "plugins": {ref: entry.to_record() for ref, entry in plugins.items()}})
        )
    else:
        print_lock_written(make_console(), shown, plugins)
