"""Fork server: a fresh process per call from a template, against a cold process and a warm worker, in one run.

Cases, interleaved one call of each per round (medians):

* the floors: ``python -I -c 'import json,sys'`` started as a plugin is
  (subprocess, pipes; what a cold call cannot beat), and ``os.fork()`` of
  this process with the child exiting at once (what a forked call cannot
  beat);
* ``ProcessRuntime.invoke``: a cold no-op call;
* ``ForkServerRuntime.invoke``: the same call forked from the plugin's
  template (its start paid once, before the rounds);
* ``WarmPool.invoke``: the same call answered by a warm worker (no new
  process at all).

Usage: ``python benchmarks/bench_forkserver.py [--rounds N] [--quick]``;
``--quick`` runs one small round and prints the same table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _shared import NOOP_PLUGIN, invoke_once, measure

from workflow_plugin_runtime import Invocation, ProcessRuntime, RuntimeKind, WarmPool, plugin_argv
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_sdk.protocol import encode_message, make_request

REQUEST = make_request("noop", {})
QUICK_ROUNDS = 3


def _interpreter_floor() -> Callable[[], None]:
    argv = [sys.executable, "-I", "-c", "import json,sys"]

    def once() -> None:
        subprocess.run(argv, input=encode_message(REQUEST), capture_output=True, check=True, env={"PATH": "/bin"})

    return once


def _fork_floor() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROUNDS} rounds: the same table in seconds")
    args = parser.parse_args()
    rounds = QUICK_ROUNDS if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as scratch:
        plugin_dir = Path(scratch) / "noop"
        plugin_dir.mkdir()
        (plugin_dir / "main.py").write_text(NOOP_PLUGIN)
        invocation = Invocation(
            kind=RuntimeKind.PROCESS,
            plugin_ref="bench/noop",
            request=REQUEST,
            plugin_dir=plugin_dir,
            argv=plugin_argv(plugin_dir, entrypoint="main.py"),
        )
        cold = ProcessRuntime()
        forks = ForkServerRuntime()
        pool = WarmPool(size=1, recycle_after=rounds + 10)
        floor = "python -I -c 'import json,sys'"
        cases = {
            floor: _interpreter_floor(),
            "os.fork() + exit + wait": _fork_floor,
            "ProcessRuntime.invoke (cold)": invoke_once(cold, invocation),
            "ForkServerRuntime.invoke (fork)": invoke_once(forks, invocation),
            "WarmPool.invoke (warm)": invoke_once(pool, invocation),
        }
        try:
            medians = measure(cases, rounds)
        finally:
            pool.close()
            forks.close()
    cold_s = medians["ProcessRuntime.invoke (cold)"]
    print(f"\nFork server against cold and warm, no-op call ({rounds} rounds, {sys.executable})\n")
    print(f"| case | median (ms) | ratio to `{floor}` | ratio to cold |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds * 1000:.2f} | {seconds / medians[floor]:.2f}x | {seconds / cold_s:.2f}x |")


if __name__ == "__main__":
    main()
