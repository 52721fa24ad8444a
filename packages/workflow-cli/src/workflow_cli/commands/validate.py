"""``workflow validate``: every check that needs no execution, every problem at once."""

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
) -> None:
    """Check a workflow without running anything.

    Schema, task graph (unknown needs, cycles), templates, plugins resolving
    (with requires), typed wiring between tasks, vars and secrets being set,
    and in restricted mode every capability granted and every mount source
    present. Warnings (broad grants, short secrets, and in restricted mode a
    plugin image that is missing or stale, when a Docker daemon answers) are
    shown but do not fail. Exit 0 valid, 2 invalid.

    Examples:

      workflow validate release.yaml

      workflow validate release.yaml --var version=1.2.0 --skip-secrets
    """
    from dataclasses import replace

    from workflow_plugin_runtime import image_problems, neutralise_controls

    from ..ui.console import make_console

    loaded = load_and_check(
        file,
        plugins_paths=plugins_path,
        var_options=var,
        vars_file=vars_file,
        secrets_file=secrets_file,
        check_secrets=not skip_secrets,
    )
    images = image_problems(loaded.check, backend=loaded.config.backend)
    if images:
        loaded = replace(loaded, check=replace(loaded.check, problems=(*loaded.check.problems, *images)))
    report_problems(make_console(stderr=True), loaded)
    workflow = loaded.check.workflow
    assert workflow is not None
    count = len(workflow.tasks)
    shown = neutralise_controls(str(file))  # a file name is text like any other: no control reaches the terminal
    typer.echo(f"{shown}: valid ({count} task{'s' if count != 1 else ''}, {workflow.security.value} mode)")
