"""The scheduler's own cost, against the executor's time for the same calls, and how it scales.

Workflows of no-op tasks, half a wide fan-out from one root and half a long
chain, concurrency 8, all measured in one run:

* executor floor: the same invocations submitted straight to the executor by
  8 threads (no graph, no templates, no record): what the calls cost;
* the scheduler running the workflow (cold processes, then warm workers);
* overhead per task = (scheduler wall time - executor floor) / tasks, on an
  all-fan-out graph, as parallel as the floor's threads (a chain cannot use
  the 8 workers the floor's calls get: the fan-out-and-chain run is shown
  beside it, for what it is);
* pure scheduling: the same graph of engine task types whose handler returns
  at once, so the wall time is the scheduler alone;
* the curve: 100, 1,000 and 10,000 tasks with warm workers, run record
  (built and written) and the live progress observer included.

Targets (docs/performance.md): scheduling overhead under 0.2 ms per task; the
1,000-task run with warm workers within 1.5x of the executor's own time;
cost growing no faster than linearly with the number of tasks.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _shared import parse_args_with_quick

from workflow_cli.ui.console import make_console
from workflow_cli.ui.progress import RunProgress
from workflow_plugin_runtime import (
    ExecutionPolicy,
    HandlerCall,
    Masker,
    PluginExecutor,
    PluginManager,
    Resolver,
    RunStatus,
    Scheduler,
    Workflow,
    load_workflow,
    run_record,
    write_run_record,
)

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "examples" / "plugins"
ACTION = "examples/text.echo"
CONCURRENCY = 8


def write_workflow(folder: Path, tasks: int, uses: str, *, chain: bool = True) -> Workflow:
    """Half a fan-out from ``root``, half a chain after it (or all fan-out when ``chain`` is false)."""
    half = tasks // 2 if chain else 0
    lines = ["name: bench", "tasks:", f"  root: {{uses: {uses}}}"]
    lines += [f"  fan{i}: {{needs: [root], uses: {uses}}}" for i in range(tasks - half - 1)]
    previous = "root"
    for index in range(half):
        lines.append(f"  chain{index}: {{needs: [{previous}], uses: {uses}}}")
        previous = f"chain{index}"
    path = folder / f"bench-{tasks}-{uses.replace('/', '-')}-{int(chain)}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_workflow(path)


def executor_floor(executor: PluginExecutor, tasks: int) -> float:
    """The same no-op calls through the executor from 8 threads: no scheduler at all."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as threads:
        outcomes = list(threads.map(lambda _: executor.run(ACTION, {}), range(tasks)))
    elapsed = time.perf_counter() - started
    assert all(outcome.ok for outcome in outcomes)
    return elapsed


def scheduled(executor: PluginExecutor, workflow: Workflow, **options: object) -> float:
    started = time.perf_counter()
    result = Scheduler(executor, concurrency=CONCURRENCY, **options).run(workflow)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert result.status is RunStatus.SUCCEEDED, [t.failure for t in result.tasks.values() if t.failure][:1]
    return elapsed


def full_run(executor: PluginExecutor, workflow: Workflow, folder: Path) -> float:
    """A run as the CLI does it: progress observer (plain-line mode), record built and written."""
    console = make_console(file=io.StringIO(), width=120)
    masker = Masker({})
    started = time.perf_counter()
    with RunProgress(console, total=len(workflow.tasks)) as progress:
        result = Scheduler(executor, concurrency=CONCURRENCY, observer=progress).run(workflow, masker=masker)
    write_run_record(run_record(result, masker=masker), folder)
    elapsed = time.perf_counter() - started
    assert result.status is RunStatus.SUCCEEDED
    return elapsed


def noop(call: HandlerCall) -> dict[str, object]:
    return {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-process run (slowest part)")
    args = parse_args_with_quick(parser, tasks=20)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        resolver = Resolver([PLUGINS], entry_points=False)
        plugin_flow = write_workflow(folder, args.tasks, ACTION)
        handler_flow = write_workflow(folder, args.tasks, "noop")

        with PluginManager(resolver) as manager:
            executor = PluginExecutor(manager)
            pure = scheduled(executor, handler_flow, handlers={"noop": noop})
            print(
                f"pure scheduling ({args.tasks} engine tasks): {pure / args.tasks * 1e3:.3f} ms/task "
                f"({args.tasks / pure:,.0f} tasks/s; target < 0.2 ms/task)"
            )
            if not args.skip_cold:
                # Cold calls take ~20 ms each, so a 500-task chain alone would take 10 s whatever the
                # scheduler does: compare like with like, a graph as parallel as the floor's threads.
                fanout = write_workflow(folder, args.tasks, ACTION, chain=False)
                floor = executor_floor(executor, args.tasks)
                wall = scheduled(executor, fanout)
                print(
                    f"cold, fan-out only: executor {floor:.2f} s, scheduler {wall:.2f} s, "
                    f"overhead {(wall - floor) / args.tasks * 1e3:.3f} ms/task, ratio {wall / floor:.2f}x"
                )

        with PluginManager(resolver, policy=ExecutionPolicy(pool=True)) as manager:
            executor = PluginExecutor(manager)
            executor_floor(executor, 200)  # start the warm workers (one per thread: the pool grows to 8)
            fanout = write_workflow(folder, args.tasks, ACTION, chain=False)
            floor = min(executor_floor(executor, args.tasks) for _ in range(3))
            wall = min(scheduled(executor, fanout) for _ in range(3))
            chained = min(scheduled(executor, plugin_flow) for _ in range(3))
            print(
                f"warm, fan-out only: executor {floor:.3f} s, scheduler {wall:.3f} s, "
                f"overhead {(wall - floor) / args.tasks * 1e3:.3f} ms/task, ratio {wall / floor:.2f}x (target <= 1.5x)"
            )
            print(
                f"warm, fan-out and chain: scheduler {chained:.3f} s, {chained / floor:.2f}x the executor "
                f"(its {args.tasks // 2}-task chain runs one call at a time)"
            )
            print("curve (warm workers, progress observer and run record included):")
            for size in (20,) if args.quick else (100, 1000, 10000):
                flow = write_workflow(folder, size, ACTION)
                elapsed = min(full_run(executor, flow, folder) for _ in range(2 if size < 10000 else 1))
                print(f"  {size:>6} tasks: {elapsed:7.3f} s  {elapsed / size * 1e3:.3f} ms/task")


if __name__ == "__main__":
    main()
