"""What several benchmarks measure with: a no-op plugin, its image, a bare JSON-lines worker, and how they time.

Imported by the ``bench_*.py`` scripts (run from the repository root, so
this folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import workflow_plugin_sdk
from workflow_plugin_runtime import Invocation, PluginRuntime, WarmPool

NOOP_PLUGIN = """\
from workflow_plugin_sdk import define_action, run


@define_action("noop")
def noop(ctx, inputs):
    return {}


if __name__ == "__main__":
    run()
"""

NOOP_DOCKERFILE = """\
FROM python:3.11-slim
COPY workflow_plugin_sdk /usr/lib/python3/dist-packages/workflow_plugin_sdk
COPY main.py /plugin/main.py
WORKDIR /plugin
CMD ["python3", "-E", "-s", "main.py"]
"""

FLOOR_WORKER = r"""
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.write(json.dumps({"ok": True, "outputs": {}, "id": request["id"]}) + "\n")
    sys.stdout.flush()
"""
"""The floor of any warm pool: a bare Python loop answering JSON lines, no validation, no protocol checks."""


def parse_args_with_quick(parser: argparse.ArgumentParser, **quick: object) -> argparse.Namespace:
    """``parser``'s arguments and ``--quick``, which gives the options named in ``quick`` those small values.

    With ``--quick`` a benchmark does one small round and prints the same
    table in seconds: the docs' sample test runs every documented benchmark
    command that way, to know each still runs. Its figures mean nothing.
    An option given on the command line still wins.
    """
    parser.add_argument("--quick", action="store_true", help="one small round, same table, in seconds (no figures)")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args()


def docker_problem() -> str | None:
    """Why the Docker benchmarks cannot run here, or None when a daemon answers."""
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker daemon answers (bash .ci/setup-isolation.sh)"
    return None


def build_noop_image(context: Path, tag: str) -> None:
    """Build the no-op plugin's image (the SDK copied in, as generated plugin images have it)."""
    shutil.copytree(Path(workflow_plugin_sdk.__file__).parent, context / "workflow_plugin_sdk")
    (context / "main.py").write_text(NOOP_PLUGIN)
    (context / "Dockerfile").write_text(NOOP_DOCKERFILE)
    subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], capture_output=True, check=True)


def invoke_once(runtime: PluginRuntime, invocation: Invocation) -> Callable[[], None]:
    """One call of ``invocation`` on ``runtime``, for :func:`measure`; a failed call ends the benchmark."""

    def once() -> None:
        result = runtime.invoke(invocation)
        if result.failure is not None:
            raise SystemExit(f"{runtime.kind.value}: {result.failure.message}")

    return once


def measure(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median seconds of each case, one call of each per round (so drift hits all alike)."""
    for case in cases.values():
        case()  # warm caches once
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter()
            case()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def warm_figures(invocation: Invocation, calls: int) -> tuple[float, float, float, float]:
    """A new pool's first call, the median warm call, warm calls per second over a burst, and close()."""
    pool = WarmPool(size=1, recycle_after=calls + 2)  # the worker stays for close()
    try:
        started = time.perf_counter()
        first = pool.invoke(invocation)
        first_s = time.perf_counter() - started
        assert first.ok and first.metrics.runtime is invocation.kind, first.failure
        times = []
        burst_started = time.perf_counter()
        for _ in range(calls):
            started = time.perf_counter()
            result = pool.invoke(invocation)
            times.append(time.perf_counter() - started)
            assert result.ok and result.metrics.warm, result
        rate = calls / (time.perf_counter() - burst_started)
    finally:
        started = time.perf_counter()
        pool.close()  # stops the worker: for a container, kills the CLI and force-removes the container
        close_s = time.perf_counter() - started
    return first_s, statistics.median(times), rate, close_s
