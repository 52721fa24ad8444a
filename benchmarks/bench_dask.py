"""The Dask executor's cost: a 1,000-task no-op workflow on the local executor and on 2 local Dask workers.

All cases run in one process, interleaved round by round (medians), so a
busy machine slows them alike; figures are ratios to the local executor's
time in the same run:

* local: the scheduler with today's executor, concurrency 8;
* dask: the same workflow through the Dask executor on a LocalCluster of 2
  worker processes with 4 threads each (8 tasks at once), 127.0.0.1 only;
* Dask's own floor: as many no-op Python functions submitted to the same
  cluster, 8 in flight: what a round trip through the scheduler costs
  whatever runs;
* per-task overhead of the Dask path = (dask - local) / tasks.

Cold calls (a process per task) and warm workers (``pool``) are both shown.
``--quick`` runs one small round (100 tasks) with the same table.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.config
from _shared import parse_args_with_quick
from distributed import Client, LocalCluster, wait

from workflow_plugin_runtime import (
    DaskExecutor,
    ExecutionPolicy,
    PluginExecutor,
    PluginManager,
    Resolver,
    RunStatus,
    Scheduler,
    WorkerSite,
    Workflow,
    load_workflow,
)

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "examples" / "plugins"
ACTION = "examples/text.echo"
CONCURRENCY = 8
WORKERS = 2


def write_workflow(folder: Path, tasks: int) -> Workflow:
    """``tasks`` independent no-op tasks: as parallel as the concurrency allows."""
    lines = ["name: bench-dask", "tasks:", *(f"  t{i}: {{uses: {ACTION}}}" for i in range(tasks))]
    path = folder / f"bench-dask-{tasks}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_workflow(path)


def timed_run(executor: Any, workflow: Workflow) -> float:
    started = time.perf_counter()
    result = Scheduler(executor, concurrency=CONCURRENCY).run(workflow)
    elapsed = time.perf_counter() - started
    assert result.status is RunStatus.SUCCEEDED, [t.failure for t in result.tasks.values() if t.failure][:1]
    return elapsed


def nothing(index: int) -> int:
    return index


def dask_floor(client: Client, tasks: int) -> float:
    """``tasks`` trivial functions through the scheduler, at most 8 in flight: Dask's own round trip."""
    started = time.perf_counter()
    pending: list[Any] = []
    for index in range(tasks):
        if len(pending) == CONCURRENCY:
            pending = list(wait(pending, return_when="FIRST_COMPLETED").not_done)
        pending.append(client.submit(nothing, index, pure=False))
    wait(pending)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parse_args_with_quick(parser, tasks=100, rounds=1)
    tasks, rounds = args.tasks, args.rounds
    resolver = Resolver([PLUGINS], entry_points=False)
    site = WorkerSite(plugins_paths=(str(PLUGINS),))
    with tempfile.TemporaryDirectory() as scratch:
        workflow = write_workflow(Path(scratch), tasks)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=CONCURRENCY // WORKERS,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                worker_dashboard_address=None,
            )
        with cluster, Client(cluster) as client:
            print(f"{tasks} no-op tasks, concurrency {CONCURRENCY}, {WORKERS} local Dask workers, {rounds} round(s)")
            for warm in (False, True):
                with PluginManager(resolver, policy=ExecutionPolicy(pool=warm)) as manager:
                    local = PluginExecutor(manager)
                    remote = DaskExecutor(client, manager=manager, site=site, guard_reruns=False)  # as workflow run
                    if warm:  # start the warm workers of both paths first
                        timed_run(local, workflow)
                        timed_run(remote, workflow)
                    cases: dict[str, Callable[[], float]] = {
                        "local executor": functools.partial(timed_run, local, workflow),
                        "dask executor": functools.partial(timed_run, remote, workflow),
                        "Dask's own floor": functools.partial(dask_floor, client, tasks),
                    }
                    times: dict[str, list[float]] = {name: [] for name in cases}
                    for _ in range(rounds):
                        for name, case in cases.items():
                            times[name].append(case())
                    remote.close()
                medians = {name: statistics.median(values) for name, values in times.items()}
                floor = medians["local executor"]
                print(f"{'warm workers' if warm else 'cold processes'}:")
                for name, seconds in medians.items():
                    print(
                        f"  {name:<18} {seconds:8.3f} s  {seconds / tasks * 1e3:7.3f} ms/task  {seconds / floor:5.2f}x"
                    )
                overhead = (medians["dask executor"] - floor) / tasks * 1e3
                print(f"  per-task overhead of the Dask path: {overhead:+.3f} ms (dask - local, per task)")


if __name__ == "__main__":
    main()
