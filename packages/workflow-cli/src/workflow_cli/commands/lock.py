"""``workflow lock``: write a workflow's lock file, or check its plugins against it.

The command's body: Typer's signature and help are in :mod:`.signatures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CommandExit, ExitCode
from ..terminal import echo_json

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["lock"]


def lock(
    file: Path,
    *,
    check: bool,
    var: list[str] | None,
    vars_file: Path | None,
    plugins_path: list[Path] | None,
    json_output: bool,
) -> None:
    """Write ``file``'s lock, or with ``check`` compare its plugins with it (exit 1 on drift)."""
    from workflow_plugin_runtime import (
        SourceLocation,
        WorkflowFileError,
        check_lock,
        lock_path_for,
        locked_plugins,
        neutralise_controls,
        write_lock,
    )

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
            echo_json(
                json_ready(
                    {"lock": str(path), "matched": result.matched, "drift": [item.to_record() for item in result.drift]}
                )
            )
        else:
            print_lock_check(make_console(), shown, result.drift, plugins=len(result.plugins))
        raise CommandExit(ExitCode.OK if result.matched else ExitCode.FAILED)
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
        locked = {ref: entry.to_record() for ref, entry in plugins.items()}
        echo_json(json_ready({"lock": str(path), "plugins": locked}))
    else:
        print_lock_written(make_console(), shown, plugins)
