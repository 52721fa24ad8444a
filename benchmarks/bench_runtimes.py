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
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _shared import NOOP_PLUGIN, build_noop_image, docker_problem, invoke_once, measure, parse_args_with_quick

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
        "ProcessRuntime.invoke": invoke_once(ProcessRuntime(), invocation),
    }
    report(f"ProcessRuntime, cold no-op ({rounds} rounds, {sys.executable})", measure(cases, rounds), floor)


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
        "DockerRuntime.invoke": invoke_once(
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
    args = parse_args_with_quick(parser, rounds=2, docker_rounds=2)
    with tempfile.TemporaryDirectory() as scratch:
        plugin_dir = Path(scratch) / "noop"
        plugin_dir.mkdir()
        (plugin_dir / "main.py").write_text(NOOP_PLUGIN)
        bench_process(plugin_dir, args.rounds)
        bench_docker(plugin_dir, args.docker_rounds)


if __name__ == "__main__":
    main()
