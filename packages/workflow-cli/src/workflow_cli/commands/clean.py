"""``workflow clean``: remove what runs killed outright left behind."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ExitCode

if TYPE_CHECKING:
    from workflow_plugin_runtime import DeadRunCleanup


def clean(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print what was cleaned as one JSON document on stdout.")
    ] = False,
) -> None:
    """Remove what runs killed outright left behind.

    A run that is killed (SIGKILL, the OOM killer, a crash, the hang-up of
    a closed terminal) cannot stop its plugins: their processes keep
    running, their containers keep existing, their scratch folders stay. Every
    `workflow run` registers itself in the user's state directory
    (~/.local/state/workflow/runs, or $WORKFLOW_STATE_DIR) while it runs;
    this command finds the runs whose process is gone and, for each, kills
    the processes it started (checked by start time: a reused pid is never
    killed), removes its containers (labelled workflow-plugins.run-id),
    deletes its scratch folder and its entry. Runs still running are left
    alone. As root it also removes the cgroups sandboxed plugins had
    (workflow-sandbox-<engine pid>-..., under this process's own cgroups)
    whose engine is gone. Every `workflow run` does the same as it starts.

    Exit codes: 0 nothing left behind (or all of it removed), 1 something
    could not be removed (e.g. no Docker daemon answers: run it again once
    it does), 2 invalid option.

    Examples:

      workflow clean

      workflow clean --json | jq '.cleaned[].run_id'
    """
    from workflow_plugin_runtime import clean_dead_runs

    cleanup = clean_dead_runs()
    if json_output:
        from workflow_plugin_runtime import escape_controls_in_json

        from ..terminal import echo_json

        echo_json(escape_controls_in_json(json.dumps(cleanup.to_record(), ensure_ascii=False, indent=2)))
    else:
        _print(cleanup)
    raise typer.Exit(ExitCode.OK if cleanup.complete else ExitCode.FAILED)


def _print(cleanup: DeadRunCleanup) -> None:
    if cleanup.cgroups_removed:
        count = cleanup.cgroups_removed
        _echo(f"removed {count} sandbox cgroup{'s' if count != 1 else ''} of engines that are gone")
    for problem in cleanup.problems:
        _echo(f"error: {problem}", err=True)
    if cleanup.state_dir is None:
        _echo("run registration is off (WORKFLOW_STATE_DIR is empty, or no state directory can be named)")
        return
    for dead in cleanup.cleaned:
        _echo(dead.summary())
        if dead.problems:
            _echo(f"error: run {dead.run_id}: " + "; ".join(dead.problems), err=True)
    for live in cleanup.running:
        owner = f" (pid {live.pid}, {live.workflow})" if live.pid is not None else ""
        _echo(f"run {live.run_id}{owner} is still running: left alone")
    if not cleanup.cleaned and not cleanup.cgroups_removed:
        _echo(f"nothing to clean: no dead run is registered in {cleanup.state_dir / 'runs'}")


def _echo(line: str, *, err: bool = False) -> None:
    """Run ids are ours, but workflow paths and problems are not: shown with control characters made visible."""
    from workflow_plugin_runtime import neutralise_controls

    typer.echo(neutralise_controls(line), err=err)
