"""A real Dask cluster for the executor's tests: a LocalCluster of 2 worker processes on 127.0.0.1, and helpers."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.execution.manager import ExecutionPolicy, PluginManager
from workflow_plugin_runtime.execution.results import RunResult
from workflow_plugin_runtime.execution.scheduler import Scheduler
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.loading import load_workflow

CLUSTER_PLUGIN = Path(__file__).resolve().parents[2] / "fixtures" / "dask_plugins" / "cluster"


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of a LocalCluster: 2 worker processes (with nannies), 2 threads each, 127.0.0.1, no dashboard.

    Its scheduler fails a task whose worker dies (``allowed-failures: 0``),
    as the executor's own local cluster does. The workers' run registrations
    go to a folder of the module's.
    """
    import dask.config
    from distributed import Client, LocalCluster

    previous = os.environ.get("WORKFLOW_STATE_DIR")
    os.environ["WORKFLOW_STATE_DIR"] = str(tmp_path_factory.mktemp("dask-state"))
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(
                n_workers=2,
                threads_per_worker=2,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                worker_dashboard_address=None,
            )
        with cluster, Client(cluster) as client:
            yield client
    finally:
        if previous is None:
            os.environ.pop("WORKFLOW_STATE_DIR", None)
        else:
            os.environ["WORKFLOW_STATE_DIR"] = previous


@pytest.fixture
def cluster_plugins(tmp_path: Path) -> Path:
    """A plugins folder holding a copy of the cluster test plugin (tests change their copy freely)."""
    folder = tmp_path / "plugins"
    shutil.copytree(CLUSTER_PLUGIN, folder / "cluster")
    return folder


@dataclass(frozen=True)
class Held:
    """The files of one ``tests/cluster.hold`` call: its journal (a line per start), start signal and release."""

    journal: Path
    started: Path
    release: Path

    def inputs(self) -> str:
        return f"{{journal: '{self.journal}', started: '{self.started}', release: '{self.release}'}}"

    def wait_started(self, seconds: float = 60) -> int:
        """The plugin's process id, once it has started and holds (polls its signal file)."""
        deadline = time.monotonic() + seconds
        while not (self.started.exists() and self.started.read_text()):
            assert time.monotonic() < deadline, "the held task never started"
            time.sleep(0.02)
        return int(self.started.read_text())

    def starts(self) -> int:
        return len(self.journal.read_text().splitlines()) if self.journal.exists() else 0

    def kill_its_worker(self) -> tuple[int, int]:
        """SIGKILL the worker process running the held plugin (the plugin's parent); its and the worker's pids."""
        plugin = self.wait_started()
        stat = Path(f"/proc/{plugin}/stat").read_text()
        worker = int(stat[stat.rfind(")") + 2 :].split()[1])
        os.kill(worker, signal.SIGKILL)
        return plugin, worker


class Running:
    """A run going on in a thread of its own, so the test can act on it meanwhile."""

    def __init__(self, run: Callable[[], RunResult]) -> None:
        self._results: list[RunResult] = []
        self._thread = threading.Thread(target=lambda: self._results.append(run()), name="test-run", daemon=True)
        self._thread.start()

    def result(self, timeout: float = 120) -> RunResult:
        self._thread.join(timeout)
        assert self._results, f"the run did not end within {timeout} s"
        return self._results[0]


@pytest.fixture
def in_background() -> Callable[[Callable[[], RunResult]], Running]:
    """``in_background(lambda: run_workflow(...))``: start a run in a thread; ``.result()`` waits for its end."""
    return Running


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Held]:
    """Files for a held call; released at the end whatever happened, so no plugin waits on."""
    name = uuid.uuid4().hex[:8]
    files = Held(tmp_path / f"{name}.journal", tmp_path / f"{name}.started", tmp_path / f"{name}.release")
    yield files
    files.release.write_text("released")


@pytest.fixture
def workflow_file(tmp_path: Path) -> Callable[[str], Any]:
    """``workflow_file(text)``: the workflow written to a file of its own and loaded."""

    def write(text: str) -> Any:
        path = tmp_path / f"flow-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(text, encoding="utf-8")
        return load_workflow(path)

    return write


def _run_workflow(
    workflow: Any,
    executor_for: Callable[[PluginManager], Any],
    *,
    plugins: Path,
    secrets: dict[str, str] | None = None,
    observer: Any = None,
    cancel: threading.Event | None = None,
    policy: ExecutionPolicy | None = None,
) -> RunResult:
    policy = policy or ExecutionPolicy(security=workflow.security, permissions=workflow.permissions)
    with PluginManager(Resolver([plugins]), policy=policy) as manager:
        scheduler = Scheduler(executor_for(manager), concurrency=4, observer=observer)
        return scheduler.run(workflow, secrets=secrets, masker=Masker(secrets or {}), cancel=cancel)


@pytest.fixture
def run_workflow() -> Callable[..., RunResult]:
    """``run_workflow(workflow, executor_for, plugins=...)``: the scheduler's run with ``executor_for(manager)``.

    The manager resolves from ``plugins`` alone; options: ``secrets``,
    ``observer``, ``cancel``, ``policy`` (default: the workflow's own).
    """
    return _run_workflow
