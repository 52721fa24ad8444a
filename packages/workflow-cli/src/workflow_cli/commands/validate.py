"""``workflow validate``: every check that needs no execution, every problem at once, and where plugins would run."""

from __future__ import annotations

from typing import Annotated

import typer

from .workflow_common import (
    PluginsPathOption,
    SecretsFileOption,
    VarOption,
    VarsFileOption,
    WorkflowFileArgument,
    load_and_check,
    report_problems,
)


def validate(
    file: WorkflowFileArgument,
    *,
    var: VarOption = None,
    vars_file: VarsFileOption = None,
    secrets_file: SecretsFileOption = None,
    plugins_path: PluginsPathOption = None,
    skip_secrets: Annotated[
        bool, typer.Option("--skip-secrets", help="Do not require the secrets the workflow uses to be set.")
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the result as one JSON document on stdout; warnings go to stderr too."),
    ] = False,
) -> None:
    """Check a workflow without running anything.

    Schema, task graph (unknown needs, cycles), templates, plugins resolving
    (with requires), typed wiring between tasks, vars and secrets being set,
    and in restricted mode every capability granted and every mount source
    present. It says where the plugins would run on this machine: local
    processes (trusted), or the restricted backend (config's
    restricted.backend; auto takes the sandbox where bubblewrap works, else
    Docker). Warnings (broad grants, short secrets, a restricted backend that
    cannot run here, and in restricted mode a plugin image that is missing
    or stale, when a Docker daemon answers) are shown but do not fail. When
    the workflow has a lock file (see `workflow lock`), every plugin must
    match it. Exit 0 valid, 2 invalid.

    Examples:

      workflow validate release.yaml

      workflow validate release.yaml --var version=1.2.0 --skip-secrets

      workflow validate release.yaml --json | jq -r .runs_in.runtime
    """
    from dataclasses import replace

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
        loaded = replace(loaded, check=replace(loaded.check, problems=(*loaded.check.problems, *images)))
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

        typer.echo(
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
    typer.echo(
        f"{shown}: valid ({count} task{'s' if count != 1 else ''}, {workflow.security.value} mode);"
        f" runs in: {runs_in_text(placement.view())}"
        + ("" if lock is None else f"; plugins match {neutralise_controls(lock['path'])}")
    )
