"""Warm workers versus cold processes, and pooled throughput versus the raw pipe floor.

Three figures from one run, same interpreter, same no-op action
(``examples/text.words``, with input and output schemas, so validation is
included):

* cold: one process per call through the executor (ProcessRuntime);
* warm: the same calls served by a warm worker through the executor;
* floor: a bare Python worker answering JSON lines over pipes, driven by a
  bare loop (no validation, no protocol checks): the most any pool could do.

Targets (docs/performance.md):
warm at least 50x faster than cold; pooled throughput at least a third of
the floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _shared import FLOOR_WORKER, parse_args_with_quick

from workflow_plugin_runtime import ExecutionPolicy, PluginExecutor, PluginManager, Resolver

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "examples" / "plugins"
REF = "examples/text.words"
INPUTS = {"text": "warm workers"}


def floor_rate(calls: int) -> float:
    worker = subprocess.Popen(
        [sys.executable, "-I", "-c", FLOOR_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert worker.stdin is not None and worker.stdout is not None
    reader = worker.stdout
    started = time.perf_counter()
    for index in range(calls):
        worker.stdin.write(json.dumps({"action": "words", "inputs": INPUTS, "id": index}).encode() + b"\n")
        json.loads(reader.readline())
    elapsed = time.perf_counter() - started
    worker.stdin.close()
    worker.wait()
    return calls / elapsed


def cold_seconds(calls: int) -> float:
    with PluginManager(Resolver([PLUGINS], entry_points=False)) as manager:
        executor = PluginExecutor(manager)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            outcome = executor.run(REF, INPUTS)
            times.append(time.perf_counter() - started)
            assert outcome.ok, outcome.failure
    return statistics.median(times)


def warm_figures(calls: int) -> tuple[float, float]:
    """Median seconds per warm call, and calls per second over a sequential burst."""
    policy = ExecutionPolicy(pool=True)
    with PluginManager(Resolver([PLUGINS], entry_points=False), policy=policy) as manager:
        executor = PluginExecutor(manager)
        assert executor.run(REF, INPUTS).ok  # start the worker
        times = []
        burst_started = time.perf_counter()
        for _ in range(calls):
            started = time.perf_counter()
            outcome = executor.run(REF, INPUTS)
            times.append(time.perf_counter() - started)
            assert outcome.ok and outcome.metrics is not None and outcome.metrics.warm, outcome
        rate = calls / (time.perf_counter() - burst_started)
    return statistics.median(times), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=60, help="cold calls")
    parser.add_argument("--warm", type=int, default=900, help="warm calls per burst (under recycle_after: all warm)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating floor runs and warm bursts")
    args = parse_args_with_quick(parser, cold=2, warm=20, rounds=1)
    cold = cold_seconds(args.cold)
    warm, _ = warm_figures(args.warm)  # under the default recycle_after of 1000: every call warm
    # Floor and pool alternate, so a busy moment of the machine weighs on both alike.
    rounds = [(floor_rate(3000), warm_figures(args.warm)[1]) for _ in range(args.rounds)]
    floor = statistics.median(f for f, _ in rounds)
    pooled = statistics.median(p for _, p in rounds)
    share = statistics.median(p / f for f, p in rounds)
    print(f"cold call through the executor : {cold * 1e3:8.2f} ms")
    print(f"warm call through the executor : {warm * 1e3:8.3f} ms  ({cold / warm:.0f}x faster; target >= 50x)")
    print(f"raw pipe floor                 : {floor:8.0f} calls/s (median of {args.rounds} rounds)")
    print(f"pooled through the executor    : {pooled:8.0f} calls/s  ({share:.2f} of the floor; target >= 0.33)")


if __name__ == "__main__":
    main()
