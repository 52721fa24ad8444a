"""Per task through ``workflow run``, cold and warm, against the floors any engine pays, all in one run.

Cold (issue "Fast everywhere", item 2): N no-op tasks of one SDK plugin
(``define_action("noop")`` returning ``{}``, no schemas), run by the real
command, ``python -m workflow_cli run FLOW -c C``; per task is
``(t(N) - t(1)) / (N - 1)``, so the command's fixed cost (imports, checks,
the record's folder) cancels out. The floor is what any engine must pay per
task: the same interpreter with the same flags the engine starts plugins with
(``python -E -s main.py``, the plugin's folder as working directory, the
environment the engine gives a plugin), started by a bare loop that writes
the request on stdin and reads the response: the plugin's own start, SDK
import, request read and answer included. With ``-c 2`` the bare loop runs
on two threads.

Warm (item 3): the same plugin under ``workflow run --pool`` (``-c 1`` and
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from _shared import FLOOR_WORKER, NOOP_PLUGIN

from workflow_plugin_runtime.runtimes.base import plugin_argv
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


def run_seconds(flow: Path, plugins: Path, env: dict[str, str], *options: str) -> float:
    argv = [sys.executable, "-m", "workflow_cli", "run", str(flow), "-p", str(plugins), *options]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=flow.parent, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"workflow run failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed


def per_task(
    one: Path, many: Path, tasks: int, *, plugins: Path, env: dict[str, str], options: Iterable[str]
) -> Callable[[], float]:
    """``(t(N) - t(1)) / (N - 1)``: the command's fixed cost (imports, checks, the record's folder) cancels out."""

    def case() -> float:
        return (run_seconds(many, plugins, env, *options) - run_seconds(one, plugins, env, *options)) / (tasks - 1)

    return case


def floor_seconds(plugin: Path, scratch: Path, *, calls: int, threads: int) -> float:
    """Seconds per call of the bare loop: the plugin's interpreter started, asked, answered, reaped."""
    argv = plugin_argv(plugin, entrypoint="main.py")  # what the engine runs: this interpreter, -E -s
    env = process_environment({}, scratch=scratch)  # and the environment it gives a plugin
    request = encode_message(make_request("noop", {}, secret_inputs=[], context={}))

    def call(_: int) -> None:
        done = subprocess.run(argv, input=request, capture_output=True, cwd=plugin, env=env, check=False)
        if done.returncode != 0 or not json.loads(done.stdout)["ok"]:
            raise SystemExit(f"the floor's plugin failed: {done.stderr.decode()[-2000:]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(call, range(calls)))
    return (time.perf_counter() - started) / calls


def pipe_floor_seconds(calls: int) -> float:
    """Seconds per round trip to a bare JSON-lines worker, driven by a bare loop."""
    worker = subprocess.Popen(
        [sys.executable, "-I", "-c", FLOOR_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert worker.stdin is not None and worker.stdout is not None
    reader = worker.stdout
    started = time.perf_counter()
    for index in range(calls):
        worker.stdin.write(json.dumps({"action": "noop", "inputs": {}, "id": index}).encode() + b"\n")
        json.loads(reader.readline())
    elapsed = time.perf_counter() - started
    worker.stdin.close()
    worker.wait()
    return elapsed / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small round: the same table, in seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=50, help="cold tasks per workflow (N)")
    parser.add_argument("--warm-tasks", type=int, default=2000)
    args = parser.parse_args()
    rounds, cold_n, warm_n = (1, 10, 200) if args.quick else (args.rounds, args.tasks, args.warm_tasks)
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
            "floor, sequential": partial(floor_seconds, plugin, floor_scratch, calls=cold_n, threads=1),
            "run -c 1": per_task(**cold, options=("-c", "1")),
            "floor, 2 threads": partial(floor_seconds, plugin, floor_scratch, calls=cold_n, threads=2),
            "run -c 2": per_task(**cold, options=("-c", "2")),
            "pipe floor": partial(pipe_floor_seconds, warm_n * 3),
            "run --pool -c 1": per_task(**warm, options=("--pool", "-c", "1")),
            "run --pool -c 2": per_task(**warm, options=("--pool", "-c", "2")),
        }
        run_seconds(one, plugins, env)  # warm the page cache, .pyc files, the plugin index; not counted
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, case in cases.items():
                samples[name].append(case())
    median = {name: statistics.median(values) for name, values in samples.items()}

    def ratio(case: str, floor: str) -> float:
        return statistics.median(c / f for c, f in zip(samples[case], samples[floor], strict=True))

    print(f"per task, medians of {rounds} interleaved round(s); cold N={cold_n}, warm N={warm_n}")
    print("| case | per task | vs floor | target |")
    print("| --- | ---: | ---: | --- |")
    print(f"| floor: `python -E -s main.py` from a bare loop | {median['floor, sequential'] * 1e3:.2f} ms | 1.00x | |")
    print(
        f"| `workflow run -c 1`, cold | {median['run -c 1'] * 1e3:.2f} ms "
        f"| {ratio('run -c 1', 'floor, sequential'):.2f}x | <= {COLD_TARGET}x |"
    )
    print(f"| floor, bare loop on 2 threads | {median['floor, 2 threads'] * 1e3:.2f} ms | 1.00x | |")
    print(
        f"| `workflow run -c 2`, cold | {median['run -c 2'] * 1e3:.2f} ms "
        f"| {ratio('run -c 2', 'floor, 2 threads'):.2f}x | <= {COLD_TARGET}x |"
    )
    pipe = median["pipe floor"]
    print(f"| floor: bare JSON-lines worker over pipes | {pipe * 1e3:.3f} ms ({1 / pipe:,.0f}/s) | 1.00 | |")
    for case in ("run --pool -c 1", "run --pool -c 2"):
        warm = median[case]
        share = statistics.median(f / w for w, f in zip(samples[case], samples["pipe floor"], strict=True))
        print(
            f"| `workflow {case}`, warm | {warm * 1e3:.3f} ms ({1 / warm:,.0f}/s) "
            f"| {share:.2f} of its rate | <= {WARM_TARGET_MS} ms, >= {WARM_SHARE_TARGET:.2f} |"
        )


if __name__ == "__main__":
    main()
