"""Warm containers versus one container per call, and warm throughput versus the raw pipe floor.

Figures from one run, same image (the SDK and a no-op action on the base
image), every restriction on (no network, read-only root, uid 65534, no
capabilities, limits):

* cold: ``DockerRuntime.invoke``, one container per call;
* warm: ``WarmPool.invoke`` of the same invocation, served by a warm
  container through the ``docker`` CLI's pipes (``docker start -a -i``);
* first warm call: a new pool's first call (container created, started,
  ready line read), and ``close()`` of that pool (the CLI killed, the
  container force-removed);
* floor: a bare Python loop answering JSON lines in a ``docker run -i``
  container, driven by a bare loop (no protocol checks, no selector): the
  most any pool could do over the CLI's pipes.

Targets (as for warm processes, bench_pool.py): warm at least 50x faster
than cold; warm throughput at least a third of the floor. Usage: ``python
benchmarks/bench_pool_docker.py [--cold N] [--warm N] [--bursts N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _shared import FLOOR_WORKER, build_noop_image, parse_args_with_quick, warm_figures

from workflow_plugin_runtime import DockerRuntime, Invocation, RuntimeKind
from workflow_plugin_sdk.protocol import make_request

BENCH_IMAGE = "workflow-plugins-bench/pool-noop:latest"
INVOCATION = Invocation(
    kind=RuntimeKind.DOCKER, plugin_ref="bench/pool-noop", request=make_request("noop", {}), image=BENCH_IMAGE
)


def floor_rate(calls: int) -> float:
    worker = subprocess.Popen(
        ["docker", "run", "--rm", "-i", "--network", "none", BENCH_IMAGE, "python3", "-I", "-c", FLOOR_WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    assert worker.stdin is not None and worker.stdout is not None
    request = {"action": "noop", "inputs": {}, "id": -1}
    worker.stdin.write(json.dumps(request).encode() + b"\n")
    worker.stdout.readline()  # the container is up
    started = time.perf_counter()
    for index in range(calls):
        worker.stdin.write(json.dumps({**request, "id": index}).encode() + b"\n")
        json.loads(worker.stdout.readline())
    elapsed = time.perf_counter() - started
    worker.stdin.close()
    worker.wait()
    return calls / elapsed


def cold_seconds(calls: int) -> float:
    runtime = DockerRuntime()
    try:
        assert runtime.invoke(INVOCATION).ok  # the client connects, the image is in the page cache
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            result = runtime.invoke(INVOCATION)
            times.append(time.perf_counter() - started)
            assert result.ok, result.failure
    finally:
        runtime.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=30, help="cold calls (one container each)")
    parser.add_argument("--warm", type=int, default=3000, help="warm calls per burst")
    parser.add_argument("--bursts", type=int, default=3, help="warm bursts and floor runs (medians)")
    args = parse_args_with_quick(parser, cold=2, warm=20, bursts=1)
    with tempfile.TemporaryDirectory() as scratch:
        build_noop_image(Path(scratch), BENCH_IMAGE)
    cold = cold_seconds(args.cold)
    bursts = [warm_figures(INVOCATION, args.warm) for _ in range(args.bursts)]
    first = statistics.median(b[0] for b in bursts)
    warm = statistics.median(b[1] for b in bursts)
    rate = statistics.median(b[2] for b in bursts)
    removal = statistics.median(b[3] for b in bursts)
    floor = statistics.median(floor_rate(args.warm) for _ in range(args.bursts))
    print("| case | per call | calls/s |")
    print("| --- | ---: | ---: |")
    print(f"| cold call, `DockerRuntime.invoke` (median of {args.cold}) | {cold * 1e3:.1f} ms | {1 / cold:.1f} |")
    print(f"| first call of a new pool (container start + ready line) | {first * 1e3:.1f} ms | - |")
    burst = f"{args.warm} x {args.bursts}"
    print(f"| warm call, `WarmPool.invoke` (median of {burst}) | {warm * 1e3:.3f} ms | {rate:.0f} |")
    print(f"| `close()` with one warm container (kill the CLI, remove the container) | {removal * 1e3:.1f} ms | - |")
    print(f"| floor: bare JSON-lines loop over `docker run -i` pipes | {1e3 / floor:.3f} ms | {floor:.0f} |")
    print(f"\nwarm vs cold: {cold / warm:.0f}x faster (target >= 50x)")
    print(f"warm throughput vs floor: {rate / floor:.2f} (target >= 0.33)")


if __name__ == "__main__":
    main()
