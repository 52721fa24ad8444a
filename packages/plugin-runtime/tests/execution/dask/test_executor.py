"""The Dask executor on a real LocalCluster of 2 worker processes: same results as local, refusals, loss, cancel."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.config import RuntimeKind
from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.execution.dask.executor import DaskExecutor
from workflow_plugin_runtime.execution.dask.remote import WorkerSite
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager
from workflow_plugin_runtime.execution.records import run_record
from workflow_plugin_runtime.execution.results import RunStatus, TaskStatus
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.plugins.provenance import plugin_content_hash
from workflow_plugin_runtime.plugins.resolve import Resolver

pytestmark = [pytest.mark.dask, pytest.mark.slow]

DAG = """\
name: fan
tasks:
  first: {uses: tests/cluster.echo, inputs: {text: "one {{ secrets.TOKEN }}"}}
  left: {needs: [first], uses: tests/cluster.echo, inputs: {text: "left of {{ tasks.first.outputs.text }}"}}
  right: {needs: [first], uses: tests/cluster.echo, inputs: {text: "right"}}
  last:
    needs: [left, right]
    uses: tests/cluster.echo
    inputs: {text: "{{ tasks.left.outputs.text }} and {{ tasks.right.outputs.text }}"}
outputs:
  joined: "{{ tasks.last.outputs.text }}"
"""
HOLD = "name: hold\ntasks:\n  held: {{uses: tests/cluster.hold, inputs: {inputs}{extra}}}\n"


class Logs:
    """An observer keeping each task's log messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def task_started(self, task_id: str, attempt: int) -> None:
        pass

    def task_log(self, task_id: str, record: Any) -> None:
        with self.lock:
            self.messages.append((task_id, record["message"]))

    def task_finished(self, result: Any) -> None:
        pass


def on_cluster(client: Any, plugins: Path, **options: Any) -> Callable[[PluginManager], DaskExecutor]:
    """An executor factory for ``run_workflow``: the cluster's workers search ``plugins`` (or ``options['site']``)."""
    site = options.pop("site", WorkerSite(plugins_paths=(str(plugins),)))
    return lambda manager: DaskExecutor(client, manager=manager, site=site, **options)


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record's tasks without what differs between any two runs (times, measurements)."""
    return {
        task_id: {key: value for key, value in task.items() if key not in ("started_at", "finished_at", "metrics")}
        for task_id, task in record["tasks"].items()
    }


def test_a_dag_on_the_cluster_ends_as_the_local_run_with_worker_logs_streamed_and_masked(
    local_cluster: Any, cluster_plugins: Path, workflow_file: Callable[[str], Any], run_workflow: Callable[..., Any]
) -> None:
    workflow = workflow_file(DAG)
    secrets = {"TOKEN": "s3cr3t-cluster-value"}
    local = run_workflow(workflow, PluginExecutor, plugins=cluster_plugins, secrets=secrets)
    logs = Logs()
    remote = run_workflow(
        workflow, on_cluster(local_cluster, cluster_plugins, secrets=secrets), plugins=cluster_plugins,
        secrets=secrets, observer=logs,
    )  # fmt: skip

    assert remote.status is RunStatus.SUCCEEDED, remote.tasks
    assert remote.outputs == local.outputs == {"joined": "left of one *** and right"}
    masker = Masker(secrets)
    assert _comparable(run_record(remote, masker=masker)) == _comparable(run_record(local, masker=masker))
    workers = set(local_cluster.scheduler_info()["workers"])
    assert {task.metrics.worker for task in remote.tasks.values()} <= workers
    assert {task.metrics.worker for task in local.tasks.values()} == {None}
    assert ("first", "echo: ***") in logs.messages  # from the worker, live, masked (the SDK masks the whole input)
    assert "s3cr3t" not in repr(logs.messages)


def test_a_worker_holding_another_copy_of_the_plugin_runs_nothing_and_the_preflight_names_every_worker(
    local_cluster: Any,
    cluster_plugins: Path,
    tmp_path: Path,
    held: Any,
    workflow_file: Callable[[str], Any],
    run_workflow: Callable[..., Any],
) -> None:
    other = tmp_path / "other-plugins"
    shutil.copytree(cluster_plugins, other)
    with (other / "cluster" / "main.py").open("a") as main:
        main.write("# another copy\n")
    workflow = workflow_file(HOLD.format(inputs=held.inputs(), extra=""))
    executor = on_cluster(local_cluster, cluster_plugins, site=WorkerSite(plugins_paths=(str(other),)))

    result = run_workflow(workflow, executor, plugins=cluster_plugins)

    failure = result.tasks["held"].failure
    client_hash, worker_hash = plugin_content_hash(cluster_plugins / "cluster"), plugin_content_hash(other / "cluster")
    assert failure is not None and failure.kind is FailureKind.NOT_FOUND
    assert client_hash in failure.message and worker_hash in failure.message
    assert failure.message.startswith("worker tcp://127.0.0.1:")
    assert held.starts() == 0  # nothing ran
    with PluginManager(Resolver([cluster_plugins])) as manager:
        problems = executor(manager).preflight(workflow)
    assert len(problems) == 2  # one per worker
    for problem, worker in zip(problems, sorted(local_cluster.scheduler_info()["workers"]), strict=True):
        assert problem.message == (
            f"worker {worker} holds a different copy of tests/cluster: content {worker_hash}, "
            f"the client's is {client_hash}"
        )


def test_the_preflight_reports_a_worker_without_the_plugin(
    local_cluster: Any, cluster_plugins: Path, tmp_path: Path, workflow_file: Callable[[str], Any]
) -> None:
    workflow = workflow_file(DAG)
    empty = tmp_path / "empty"
    empty.mkdir()
    with PluginManager(Resolver([cluster_plugins])) as manager:
        executor = on_cluster(local_cluster, cluster_plugins, site=WorkerSite(plugins_paths=(str(empty),)))(manager)
        problems = executor.preflight(workflow)
    assert [problem.message.split(" has no copy of ")[1][:14] for problem in problems] == ["tests/cluster "] * 2


def test_a_restricted_task_fails_as_runtime_unavailable_when_no_worker_has_the_sandbox_resource(
    local_cluster: Any, cluster_plugins: Path, workflow_file: Callable[[str], Any], run_workflow: Callable[..., Any]
) -> None:
    workflow = workflow_file(
        "name: r\nsecurity: restricted\ntasks:\n  only: {uses: tests/cluster.echo, inputs: {text: x}}\n"
    )
    policy = ExecutionPolicy(security=workflow.security, permissions=workflow.permissions, backend=RuntimeKind.SANDBOX)

    result = run_workflow(workflow, on_cluster(local_cluster, cluster_plugins), plugins=cluster_plugins, policy=policy)

    failure = result.tasks["only"].failure
    assert failure is not None and failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert "has the resource 'sandbox'" in failure.message
    assert "--resources sandbox=1" in failure.message


def test_cancel_stops_the_plugin_running_on_a_worker(
    local_cluster: Any,
    cluster_plugins: Path,
    held: Any,
    workflow_file: Callable[[str], Any],
    run_workflow: Callable[..., Any],
    in_background: Callable[..., Any],
    gone_within: Callable[[int, float], bool],
) -> None:
    workflow = workflow_file(HOLD.format(inputs=held.inputs(), extra=""))
    cancel = threading.Event()
    executor = on_cluster(local_cluster, cluster_plugins)
    running = in_background(lambda: run_workflow(workflow, executor, plugins=cluster_plugins, cancel=cancel))
    plugin = held.wait_started()
    cancel.set()
    result = running.result()

    assert result.status is RunStatus.CANCELLED
    assert result.tasks["held"].status is TaskStatus.CANCELLED
    assert gone_within(plugin, 10)  # killed on the worker, not left holding


@pytest.mark.parametrize(("retries", "status", "starts"), [(0, TaskStatus.FAILED, 1), (1, TaskStatus.SUCCEEDED, 2)])
def test_a_worker_killed_mid_task_is_one_worker_lost_attempt_under_the_retries_policy(
    local_cluster: Any,
    cluster_plugins: Path,
    held: Any,
    workflow_file: Callable[[str], Any],
    run_workflow: Callable[..., Any],
    in_background: Callable[..., Any],
    gone_within: Callable[[int, float], bool],
    retries: int,
    status: TaskStatus,
    starts: int,
) -> None:
    workflow = workflow_file(HOLD.format(inputs=held.inputs(), extra=f", retries: {{count: {retries}, backoff: 0}}"))
    local_cluster.wait_for_workers(2, timeout=120)  # the worker killed by the previous case is back
    workers = set(local_cluster.run(os.getpid).values())
    running = in_background(
        lambda: run_workflow(workflow, on_cluster(local_cluster, cluster_plugins), plugins=cluster_plugins)
    )
    plugin, worker = held.kill_its_worker()
    task = running.result().tasks["held"]

    assert worker in workers
    assert task.status is status, task
    assert held.starts() == starts  # the lost attempt once, the retry once: nothing run twice silently
    if retries == 0:
        assert task.failure.kind is FailureKind.WORKER_LOST
        assert "was lost" in task.failure.message
    else:
        assert task.attempts == 2 and task.outputs == {"attempt": 2}
    assert gone_within(plugin, 60)  # the replacement worker killed what the dead one left running
