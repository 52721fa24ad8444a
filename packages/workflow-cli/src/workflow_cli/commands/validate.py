"""``workflow validate``: every check that needs no execution, every problem at once, and where plugins would run.

The command's body: Typer's signature and help are in :mod:`.signatures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..terminal import echo, echo_json
from .workflow_common import load_and_check, report_problems

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["validate"]


def validate(
    file: Path,
    *,
    var: list[str] | None,
    vars_file: Path | None,
    secrets_file: Path | None,
    plugins_path: list[Path] | None,
    skip_secrets: bool,
    json_output: bool,
) -> None:
    """Every static check of ``file``, its warnings on stderr; valid: one line (or document) on stdout, exit 0."""
    from workflow_plugin_runtime import SecurityMode, neutralise_controls

    from ..ui.console import print_problems
    from .plugin_views import runs_in_text
    from .workflow_common import check_against_lock, place

    loaded = load_and_check(
        file,
        plugins_paths=plugins_path,
        var_options=var,
        vars_file=vars_file,
        secrets_file=secrets_file,
        check_secrets=not skip_secrets,
    )
    checked = loaded.check.workflow
    if checked is not None and checked.security is SecurityMode.RESTRICTED:  # a trusted one loads no runtime code
        from workflow_plugin_runtime import image_problems

        images = image_problems(loaded.check, backend=loaded.config.backend)
        loaded = loaded._replace(check=loaded.check.replace(problems=(*loaded.check.problems, *images)))
    report_problems(loaded)
    workflow = loaded.check.workflow
    assert workflow is not None  # report_problems exited otherwise
    placement = place(workflow, loaded.config.backend)
    lock = check_against_lock(loaded, runtime=placement.runtime)
    unavailable = placement.warning()
    if unavailable is not None:  # what run would refuse: said here too, in the same words
        print_problems([unavailable])
    if json_output:
        from .plugin_views import json_ready, problem_view

        echo_json(
            json_ready(
                {
                    "file": str(file),
                    "tasks": list(workflow.tasks),
                    "runs_in": placement.view(),
                    "lock": None if lock is None else lock["path"],
                    "warnings": [problem_view(problem) for problem in loaded.check.warnings],
                }
            )
        )
        return
    count = len(workflow.tasks)
    shown = neutralise_controls(str(file))  # a file name is text like any other: no control reaches the terminal
    echo(
        f"{shown}: valid ({count} task{'s' if count != 1 else ''}, {workflow.security.value} mode);"
        f" runs in: {runs_in_text(placement.view())}"
        + ("" if lock is None else f"; plugins match {neutralise_controls(lock['path'])}")
    )
