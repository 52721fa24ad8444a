"""On a scheduler and workers started as separate processes: plugins found from each worker's project, secrets
kept out of every log, restricted tasks on the worker with the resource, a rescheduled attempt never run twice."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.execution.dask.executor import DaskExecutor
from workflow_plugin_runtime.execution.dask.remote import WorkerSite
from workflow_plugin_runtime.execution.results import RunStatus, TaskStatus

pytestmark = [pytest.mark.dask, pytest.mark.slow]

SECRET = "pr0cess-cluster-secret-4417"
ECHO = (
    "name: {name}\n{security}tasks:\n  a: {{uses: tests/cluster.echo, inputs: {{text: 'x {{{{ secrets.TOKEN }}}}'}}}}\n"
)


def project_with_plugin(folder: Path, plugins: Path) -> Path:
    """A worker's project: its own .workflow/config.yaml whose plugins.paths holds a copy of the test plugin."""
    (folder / ".workflow").mkdir(parents=True)
    (folder / ".workflow" / "config.yaml").write_text("plugins: {paths: [vendor]}\n")
    shutil.copytree(plugins, folder / "vendor")
    return folder


def on(client: Any) -> Callable[[Any], DaskExecutor]:
    """An executor factory for ``run_workflow``: each worker finds plugins from its own working directory."""
    return lambda manager: DaskExecutor(client, manager=manager, site=WorkerSite(), secrets={"TOKEN": SECRET})


@pytest.mark.sandbox
def test_secrets_stay_out_of_the_logs_and_restricted_tasks_run_on_the_worker_with_the_sandbox_resource(
    dask_processes: Callable[..., Any],
    cluster_plugins: Path,
    tmp_path: Path,
    workflow_file: Callable[[str], Any],
    run_workflow: Callable[..., Any],
) -> None:
    cluster = dask_processes(
        workers={name: project_with_plugin(tmp_path / name, cluster_plugins) for name in ("plain", "boxed")},
        resources={"boxed": "sandbox=1"},
    )
    trusted = workflow_file(ECHO.format(name="trusted", security=""))
    restricted = workflow_file(ECHO.format(name="restricted", security="security: restricted\n"))
    secrets = {"TOKEN": SECRET}
    from distributed import Client  # here: without it, the dask marker fails the test in CI, skips it elsewhere

    with Client(cluster.address) as client:
        ran = [run_workflow(w, on(client), plugins=cluster_plugins, secrets=secrets) for w in (trusted, restricted)]
        names = {info["name"]: address for address, info in client.scheduler_info()["workers"].items()}

    assert [result.status for result in ran] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED], [r.tasks for r in ran]
    boxed_run = ran[1].tasks["a"]
    assert boxed_run.metrics.worker == names["boxed"]
    assert boxed_run.provenance["runtime"] == "sandbox"
    assert boxed_run.provenance["source"] == str(tmp_path / "boxed" / "vendor" / "cluster")  # the worker's own copy
    logs = cluster.log_text()
    assert "Registering Worker plugin workflow-plugin-runtime" in logs  # the logs are the real ones
    assert SECRET not in logs


def test_an_attempt_rescheduled_after_its_worker_died_is_reported_lost_and_not_run_again(
    dask_processes: Callable[..., Any],
    cluster_plugins: Path,
    tmp_path: Path,
    held: Any,
    workflow_file: Callable[[str], Any],
    run_workflow: Callable[..., Any],
    in_background: Callable[..., Any],
) -> None:
    cluster = dask_processes(  # a scheduler of Dask's defaults: it hands a lost worker's task to another
        workers={name: project_with_plugin(tmp_path / name, cluster_plugins) for name in ("w1", "w2")}
    )
    workflow = workflow_file(f"name: once\ntasks:\n  held: {{uses: tests/cluster.hold, inputs: {held.inputs()}}}\n")
    from distributed import Client

    with Client(cluster.address) as client:
        running = in_background(lambda: run_workflow(workflow, on(client), plugins=cluster_plugins))
        held.kill_its_worker()
        result = running.result()

    task = result.tasks["held"]
    assert task.status is TaskStatus.FAILED
    assert task.failure.kind is FailureKind.WORKER_LOST
    assert "not run twice" in task.failure.message
    assert held.starts() == 1
