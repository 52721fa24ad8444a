"""Per task through ``workflow run``, cold and warm, against the floors any engine pays, all in one run.

Cold: N no-op tasks of one SDK plugin
(``define_action("noop")`` returning ``{}``, no schemas), run by the real
command, ``python -m workflow_cli run FLOW -c C``; per task is
``(t(N) - t(1)) / (N - 1)``, so the command's fixed cost (imports, checks,
the record's folder) cancels out. The floor is what any engine must pay per
task: the same interpreter with the same flags the engine starts plugins with
(``python -E -s main.py``, the plugin's folder as working directory, the
environment the engine gives a plugin, a session of its own), started by a bare loop that writes
the request on stdin and reads the response: the plugin's own start, SDK
import, request read and answer included. With ``-c 2`` the bare loop runs
on two threads.

Warm: the same plugin under ``workflow run --pool`` (``-c 1`` and
``-c 2``) on a 2,000-task workflow, per task ``(t(2000) - t(1)) / 1999``,
against the floor of any pool: a bare Python worker answering JSON lines
over pipes (``_shared.FLOOR_WORKER``), driven by a bare loop.

Cases are interleaved (one of each per round) and the ratios are medians of
the per-round ratios, so a busy moment of the machine weighs on a case and
its floor alike. ``--quick``: one small round (10 and 200 tasks), the same
table, in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import NamedTuple

from _shared import FLOOR_WORKER, NOOP_PLUGIN, parse_args_with_quick

from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.process import process_environment
from workflow_plugin_sdk.protocol import encode_message, make_request

MANIFEST = """\
namespace: bench
name: noop
version: 1.0.0
description: A no-op action, for the per-task benchmark
runtime: {entrypoint: main.py}
actions:
  noop: {}
"""
COLD_TARGET = 1.15
WARM_TARGET_MS = 0.3
WARM_SHARE_TARGET = 1 / 3


def write_plugin(folder: Path) -> Path:
    plugin = folder / "plugins" / "noop"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(MANIFEST, encoding="utf-8")
    (plugin / "main.py").write_text(NOOP_PLUGIN, encoding="utf-8")
    return plugin


def write_workflow(folder: Path, tasks: int) -> Path:
    """``tasks`` independent no-op tasks: ``-c 1`` runs them one after the other."""
    path = folder / f"noop-{tasks}.yaml"
    lines = ["name: bench", "tasks:", *(f"  t{index}: {{uses: bench/noop.noop}}" for index in range(tasks))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_environment(home: Path) -> dict[str, str]:
    """The command's environment: its own user dirs and run registrations, plain output, bytecode cached."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "WORKFLOW_STATE_DIR": str(home / "state"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every module is compiled again by every run
    return env


class Cost(NamedTuple):
    """Wall seconds, and CPU seconds (user + system) of every process involved, which load inflates far less."""

    wall: float
    cpu: float

    def __sub__(self, other: object) -> Cost:
        assert isinstance(other, Cost)
        return Cost(self.wall - other.wall, self.cpu - other.cpu)

    def __truediv__(self, count: object) -> Cost:
        assert isinstance(count, int)
        return Cost(self.wall / count, self.cpu / count)


def _cpu_s() -> float:
    """CPU time of this process and of its reaped children (a command's plugins are reaped by it, so included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(work: Callable[[], object]) -> Cost:
    cpu = _cpu_s()
    started = time.perf_counter()
    work()
    return Cost(time.perf_counter() - started, _cpu_s() - cpu)


def run_cost(flow: Path, plugins: Path, env: dict[str, str], *options: str) -> Cost:
    argv = [sys.executable, "-m", "workflow_cli", "run", str(flow), "-p", str(plugins), *options]
    done: list[subprocess.CompletedProcess[bytes]] = []
    cost = measured(
        lambda: done.append(subprocess.run(argv, env=env, cwd=flow.parent, capture_output=True, check=False))
    )
    if done[0].returncode != 0:
        raise SystemExit(f"workflow run failed ({done[0].returncode}): {done[0].stderr.decode()[-2000:]}")
    return cost


def per_task(
    one: Path, many: Path, tasks: int, *, plugins: Path, env: dict[str, str], options: Iterable[str]
) -> Callable[[], Cost]:
    """``(t(N) - t(1)) / (N - 1)``: the command's fixed cost (imports, checks, the record's folder) cancels out."""

    def case() -> Cost:
        return (run_cost(many, plugins, env, *options) - run_cost(one, plugins, env, *options)) / (tasks - 1)

    return case


def floor_cost(plugin: Path, scratch: Path, *, calls: int, threads: int) -> Cost:
    """Per call of the bare loop: the plugin's interpreter started, asked, answered, reaped."""
    argv = plugin_argv(plugin, entrypoint="main.py")  # what the engine runs: this interpreter, -E -s
    env = process_environment({}, scratch=scratch)  # and the environment it gives a plugin
    request = encode_message(make_request("noop", {}, secret_inputs=[], context={}))

    def call(_: int) -> None:
        # In a session of its own, as the engine starts a plugin (where the kernel groups processes by session
        # for scheduling, autogroup, that decides its share of a busy machine's CPU).
        done = subprocess.run(
            argv, input=request, capture_output=True, cwd=plugin, env=env, check=False, start_new_session=True
        )
        if done.returncode != 0 or not json.loads(done.stdout)["ok"]:
            raise SystemExit(f"the floor's plugin failed: {done.stderr.decode()[-2000:]}")

    def loop() -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(call, range(calls)))

    return measured(loop) / calls


def pipe_floor_cost(calls: int) -> Cost:
    """Per round trip to a bare JSON-lines worker, driven by a bare loop (both processes' CPU counted)."""

    def loop() -> None:
        worker = subprocess.Popen(
            [sys.executable, "-I", "-c", FLOOR_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        assert worker.stdin is not None and worker.stdout is not None
        reader = worker.stdout
        for index in range(calls):
            worker.stdin.write(json.dumps({"action": "noop", "inputs": {}, "id": index}).encode() + b"\n")
            json.loads(reader.readline())
        worker.stdin.close()
        worker.wait()

    return measured(loop) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=50, help="cold tasks per workflow (N)")
    parser.add_argument("--warm-tasks", type=int, default=2000)
    args = parse_args_with_quick(parser, rounds=1, tasks=10, warm_tasks=200)
    rounds, cold_n, warm_n = args.rounds, args.tasks, args.warm_tasks
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        folder = Path(scratch)
        plugin = write_plugin(folder)
        plugins = plugin.parent
        env = cli_environment(folder)
        one, cold_flow, warm_flow = (write_workflow(folder, n) for n in (1, cold_n, warm_n))
        floor_scratch = folder / "floor-home"
        floor_scratch.mkdir()
        cold = {"one": one, "many": cold_flow, "tasks": cold_n, "plugins": plugins, "env": env}
        warm = {"one": one, "many": warm_flow, "tasks": warm_n, "plugins": plugins, "env": env}
        cases = {
            "floor, sequential": partial(floor_cost, plugin, floor_scratch, calls=cold_n, threads=1),
            "run -c 1": per_task(**cold, options=("-c", "1")),
            "floor, 2 threads": partial(floor_cost, plugin, floor_scratch, calls=cold_n, threads=2),
            "run -c 2": per_task(**cold, options=("-c", "2")),
            "pipe floor": partial(pipe_floor_cost, warm_n * 3),
            "run --pool -c 1": per_task(**warm, options=("--pool", "-c", "1")),
            "run --pool -c 2": per_task(**warm, options=("--pool", "-c", "2")),
        }
        run_cost(one, plugins, env)  # warm the page cache, .pyc files, the plugin index; not counted
        samples: dict[str, list[Cost]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, case in cases.items():
                samples[name].append(case())
    print_table(samples, rounds=rounds, cold_n=cold_n, warm_n=warm_n)


def print_table(samples: dict[str, list[Cost]], *, rounds: int, cold_n: int, warm_n: int) -> None:
    def median(case: str, field: str) -> float:
        return statistics.median(getattr(cost, field) for cost in samples[case])

    def ratio(case: str, floor: str, field: str) -> float:
        pairs = zip(samples[case], samples[floor], strict=True)
        return statistics.median(getattr(c, field) / getattr(f, field) for c, f in pairs)

    def row(label: str, case: str, floor: str, target: str) -> None:
        print(
            f"| {label} | {median(case, 'wall') * 1e3:.3f} ms | {ratio(case, floor, 'wall'):.2f}x "
            f"| {median(case, 'cpu') * 1e3:.3f} ms | {ratio(case, floor, 'cpu'):.2f}x | {target} |"
        )

    print(f"Per task: medians of {rounds} interleaved round(s); cold N={cold_n}, warm N={warm_n}.")
    print("| case | wall | vs floor | CPU | vs floor | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    row("floor: `python -E -s main.py` from a bare loop", "floor, sequential", "floor, sequential", "")
    row("`workflow run -c 1`, cold", "run -c 1", "floor, sequential", f"<= {COLD_TARGET}x")
    row("floor: the bare loop on 2 threads", "floor, 2 threads", "floor, 2 threads", "")
    row("`workflow run -c 2`, cold", "run -c 2", "floor, 2 threads", f"<= {COLD_TARGET}x")
    row("floor: a bare JSON-lines worker over pipes", "pipe floor", "pipe floor", "")
    for case in ("run --pool -c 1", "run --pool -c 2"):
        row(f"`workflow {case}`, warm", case, "pipe floor", f"<= {WARM_TARGET_MS} ms")
        share = 1 / ratio(case, "pipe floor", "wall")
        warm = median(case, "wall")
        print(
            f"|   its throughput: {1 / warm:,.0f} tasks/s, {share:.2f} of the pipe floor's "
            f"{1 / median('pipe floor', 'wall'):,.0f} calls/s | | | | | >= {WARM_SHARE_TARGET:.2f} |"
        )


if __name__ == "__main__":
    main()
