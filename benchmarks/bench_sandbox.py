"""The bubblewrap sandbox: a cold no-op restricted call against a trusted process and Docker, and warm throughput.

Figures from one run, the same no-op SDK action (``define_action("noop")``
returning ``{}``) everywhere:

* cold: ``ProcessRuntime.invoke`` (trusted, no isolation),
  ``SandboxRuntime.invoke`` (a fresh sandbox per call: namespaces, seccomp,
  uid 65534, cgroups as root) and ``DockerRuntime.invoke`` (a fresh
  locked-down container per call), interleaved (one call of each per
  round, so drift hits all alike), medians;
* warm: ``WarmPool.invoke`` of the sandbox invocation, served by one warm
  sandbox, in bursts of sequential calls; a new pool's first call (sandbox
  made, interpreter started, ready line read) and ``close()`` (the sandbox
  killed, its cgroups removed);
* floor: a bare Python loop answering JSON lines over pipes, driven by a
  bare loop (no protocol checks, no selector): the most any pool could do.
  Floor and warm bursts alternate, and the share is the median of the
  per-round ratios.

Targets (docs/performance.md): the cold sandbox
at most 1.3x the trusted process and at least 10x faster than Docker; warm
sandboxed throughput at least a third of the floor. Skipped, saying why,
where the sandbox cannot run (no bubblewrap); the Docker column where no
daemon answers. Usage: ``python benchmarks/bench_sandbox.py [--rounds N]
[--warm N] [--bursts N]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import (
    FLOOR_WORKER,
    NOOP_PLUGIN,
    build_noop_image,
    docker_problem,
    invoke_once,
    measure,
    parse_args_with_quick,
    warm_figures,
)

from workflow_plugin_runtime import (
    DockerRuntime,
    Invocation,
    PluginRuntime,
    ProcessRuntime,
    RuntimeKind,
    RuntimeUnavailableError,
    plugin_argv,
    usable_backend,
)
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_sdk.protocol import make_request

BENCH_IMAGE = "workflow-plugins-bench/noop:latest"
REQUEST = make_request("noop", {})


def sandbox_problem() -> str | None:
    """Why the sandbox cannot run here (no bubblewrap, ...), or None."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        usable_backend(RuntimeKind.SANDBOX)
    except RuntimeUnavailableError as exc:
        return exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    return None


def bench_cold(process: Invocation, sandboxed: Invocation, rounds: int, plugin_dir: Path) -> None:
    runtimes: list[PluginRuntime] = [ProcessRuntime(), SandboxRuntime()]
    cases = {
        "`ProcessRuntime.invoke` (trusted)": invoke_once(runtimes[0], process),
        "`SandboxRuntime.invoke`": invoke_once(runtimes[1], sandboxed),
    }
    problem = docker_problem()
    if problem is None:
        context = plugin_dir.parent / "image"
        context.mkdir()
        build_noop_image(context, BENCH_IMAGE)
        runtimes.append(DockerRuntime())
        docker = Invocation(kind=RuntimeKind.DOCKER, plugin_ref="bench/noop", request=REQUEST, image=BENCH_IMAGE)
        cases["`DockerRuntime.invoke`"] = invoke_once(runtimes[2], docker)
    try:
        medians = measure(cases, rounds)
    finally:
        for runtime in runtimes:
            runtime.close()
    trusted, sandbox = medians["`ProcessRuntime.invoke` (trusted)"], medians["`SandboxRuntime.invoke`"]
    print(f"\nCold no-op call ({rounds} interleaved rounds, {sys.executable})\n")
    print("| case | median (ms) | vs trusted process |")
    print("| --- | ---: | ---: |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / trusted:.2f}x |")
    print(f"\nsandbox vs trusted process: {sandbox / trusted:.2f}x (target <= 1.3x)")
    if problem is None:
        print(f"sandbox vs Docker: {medians['`DockerRuntime.invoke`'] / sandbox:.1f}x faster (target >= 10x)")
    else:
        print(f"DockerRuntime: skipped, {problem}")


def floor_rate(calls: int) -> float:
    worker = subprocess.Popen(
        [sys.executable, "-I", "-c", FLOOR_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert worker.stdin is not None and worker.stdout is not None
    started = time.perf_counter()
    for index in range(calls):
        worker.stdin.write(json.dumps({"action": "noop", "inputs": {}, "id": index}).encode() + b"\n")
        json.loads(worker.stdout.readline())
    elapsed = time.perf_counter() - started
    worker.stdin.close()
    worker.wait()
    return calls / elapsed


def bench_warm(sandboxed: Invocation, calls: int, bursts: int) -> None:
    rounds = [(floor_rate(calls), warm_figures(sandboxed, calls)) for _ in range(bursts)]
    floor = statistics.median(f for f, _ in rounds)
    first = statistics.median(w[0] for _, w in rounds)
    warm = statistics.median(w[1] for _, w in rounds)
    rate = statistics.median(w[2] for _, w in rounds)
    close = statistics.median(w[3] for _, w in rounds)
    share = statistics.median(w[2] / f for f, w in rounds)
    print(f"\nWarm sandbox ({bursts} alternating rounds of {calls} sequential calls, medians)\n")
    print("| case | per call | calls/s |")
    print("| --- | ---: | ---: |")
    print(f"| first call of a new pool (sandbox + interpreter + ready line) | {first * 1e3:.1f} ms | - |")
    print(f"| warm call, `WarmPool.invoke` | {warm * 1e3:.3f} ms | {rate:.0f} |")
    print(f"| `close()` with one warm sandbox (killed, cgroups removed) | {close * 1e3:.1f} ms | - |")
    print(f"| floor: bare JSON-lines loop over pipes | {1e3 / floor:.3f} ms | {floor:.0f} |")
    print(f"\nwarm sandboxed throughput vs floor: {share:.2f} (target >= 0.33)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds of cold calls")
    parser.add_argument("--warm", type=int, default=3000, help="warm calls per burst (and floor run)")
    parser.add_argument("--bursts", type=int, default=5, help="alternating floor runs and warm bursts")
    args = parse_args_with_quick(parser, rounds=2, warm=20, bursts=1)
    problem = sandbox_problem()
    if problem is not None:
        print(f"bench_sandbox: skipped: {problem}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        plugin_dir = Path(scratch) / "noop"
        plugin_dir.mkdir()
        (plugin_dir / "main.py").write_text(NOOP_PLUGIN)
        fields = {"plugin_ref": "bench/noop", "request": REQUEST, "plugin_dir": plugin_dir}
        argv = plugin_argv(plugin_dir, entrypoint="main.py")
        process = Invocation(kind=RuntimeKind.PROCESS, argv=argv, **fields)
        sandboxed = Invocation(kind=RuntimeKind.SANDBOX, argv=argv, **fields)
        bench_cold(process, sandboxed, args.rounds, plugin_dir)
        bench_warm(sandboxed, args.warm, args.bursts)


if __name__ == "__main__":
    main()
