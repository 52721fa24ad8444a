"""Runtimes: a cold no-op action through each runtime against its floor, in one run.

* ProcessRuntime versus ``python -I -c 'import json,sys'`` started the same
  way (subprocess, pipes) with the same interpreter: target at most 1.5x.
  Also shown: the same floor with the base (pyenv) interpreter, and the
  plugin started by a bare ``subprocess.run``, which separates the runtime's
  own cost from the SDK's import cost.
* DockerRuntime (all restrictions on) versus a bare ``docker run --rm -i``
  of the same image answering the same request: target at most 1.2x. Also
  shown: ``docker run`` with the same restrictions as the runtime's.

Measurements are interleaved (one of each per round) so drift hits all
alike; figures are medians. Usage: ``python benchmarks/bench_runtimes.py
[--rounds N] [--docker-rounds N]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _shared import NOOP_PLUGIN, build_noop_image

from workflow_plugin_runtime import DockerRuntime, Invocation, ProcessRuntime, RuntimeKind, plugin_argv
from workflow_plugin_sdk.protocol import encode_message, make_request

BENCH_IMAGE = "workflow-plugins-bench/noop:latest"
RESTRICTED_RUN_FLAGS = [
    *("--network", "none", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"),
    *("--tmpfs", "/tmp"),  # noqa: S108 - the container's own tmpfs
    *("--user", "65534:65534", "--memory", "512m", "--pids-limit", "256", "--init"),
]

REQUEST = make_request("noop", {})
REQUEST_BYTES = encode_message(REQUEST)


def _run(argv: list[str]) -> Callable[[], None]:
    def once() -> None:
        done = subprocess.run(
            argv, input=REQUEST_BYTES, capture_output=True, check=False, env={"PATH": "/usr/bin:/bin"}
        )
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed: {done.stderr.decode(errors='replace')}")

    return once


def _invoke(runtime: ProcessRuntime | DockerRuntime, invocation: Invocation) -> Callable[[], None]:
    def once() -> None:
        result = runtime.invoke(invocation)
        if result.failure is not None:
            raise SystemExit(f"{runtime.kind.value}: {result.failure.message}")

    return once


def measure(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median seconds of each case, one call of each per round."""
    for case in cases.values():
        case()  # warm caches once
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter()
            case()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float], floor: str) -> None:
    print(f"\n{title}\n")
    print(f"| case | median (ms) | ratio to `{floor}` |")
    print("| --- | ---: | ---: |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / medians[floor]:.2f}x |")


def bench_process(plugin_dir: Path, rounds: int) -> None:
    base_python = getattr(sys, "_base_executable", sys.executable)
    invocation = Invocation(
        kind=RuntimeKind.PROCESS,
        plugin_ref="bench/noop",
        request=REQUEST,
        plugin_dir=plugin_dir,
        argv=plugin_argv(plugin_dir, entrypoint="main.py"),
    )
    floor = "python -I -c 'import json,sys'"
    cases = {
        floor: _run([sys.executable, "-I", "-c", "import json,sys"]),
        "base interpreter -I -c 'import json,sys'": _run([base_python, "-I", "-c", "import json,sys"]),
        "plugin via bare subprocess.run": _run(list(invocation.argv)),
        "ProcessRuntime.invoke": _invoke(ProcessRuntime(), invocation),
    }
    report(f"ProcessRuntime, cold no-op ({rounds} rounds, {sys.executable})", measure(cases, rounds), floor)


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker daemon answers (bash .ci/setup-isolation.sh)"
    return None


def bench_docker(plugin_dir: Path, rounds: int) -> None:
    problem = docker_problem()
    if problem is not None:
        print(f"\nDockerRuntime: skipped, {problem}")
        return
    context = plugin_dir.parent / "image"
    context.mkdir()
    build_noop_image(context, BENCH_IMAGE)
    runtime = DockerRuntime()
    floor = "docker run --rm -i"
    cases = {
        floor: _run(["docker", "run", "--rm", "-i", BENCH_IMAGE]),
        "docker run --rm -i + runtime's restrictions": _run(
            ["docker", "run", "--rm", "-i", *RESTRICTED_RUN_FLAGS, BENCH_IMAGE]
        ),
        "DockerRuntime.invoke": _invoke(
            runtime, Invocation(kind=RuntimeKind.DOCKER, plugin_ref="bench/noop", request=REQUEST, image=BENCH_IMAGE)
        ),
    }
    try:
        report(f"DockerRuntime, cold no-op ({rounds} rounds)", measure(cases, rounds), floor)
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--docker-rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        plugin_dir = Path(scratch) / "noop"
        plugin_dir.mkdir()
        (plugin_dir / "main.py").write_text(NOOP_PLUGIN)
        bench_process(plugin_dir, args.rounds)
        bench_docker(plugin_dir, args.docker_rounds)


if __name__ == "__main__":
    main()
