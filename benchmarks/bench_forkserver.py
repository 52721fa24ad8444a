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
  process at all);
* the same three on the bubblewrap sandbox (restricted mode): a new
  sandbox per call, a child forked in the template's sandbox, a warm
  sandbox. Skipped, saying why, where the sandbox cannot run.

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

from _shared import NOOP_PLUGIN, invoke_once, measure, parse_args_with_quick
from bench_sandbox import sandbox_problem

from workflow_plugin_runtime import Invocation, ProcessRuntime, RuntimeKind, WarmPool, plugin_argv
from workflow_plugin_runtime.runtimes.fork_server import ForkServerRuntime
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_sdk.protocol import encode_message, make_request

REQUEST = make_request("noop", {})
QUICK_ROUNDS = 3
COLD_PROCESS = "ProcessRuntime.invoke (cold)"
COLD_SANDBOX = "SandboxRuntime.invoke (cold sandbox)"


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
    rounds = parse_args_with_quick(parser, rounds=QUICK_ROUNDS).rounds
    with tempfile.TemporaryDirectory() as scratch:
        plugin_dir = Path(scratch) / "noop"
        plugin_dir.mkdir()
        (plugin_dir / "main.py").write_text(NOOP_PLUGIN)
        process = Invocation(
            kind=RuntimeKind.PROCESS,
            plugin_ref="bench/noop",
            request=REQUEST,
            plugin_dir=plugin_dir,
            argv=plugin_argv(plugin_dir, entrypoint="main.py"),
        )
        sandboxed = process.replace(kind=RuntimeKind.SANDBOX)
        forks = {kind: ForkServerRuntime(kind) for kind in (RuntimeKind.PROCESS, RuntimeKind.SANDBOX)}
        pool = WarmPool(size=1, recycle_after=2 * rounds + 10)
        floor = "python -I -c 'import json,sys'"
        cases = {
            floor: _interpreter_floor(),
            "os.fork() + exit + wait": _fork_floor,
            COLD_PROCESS: invoke_once(ProcessRuntime(), process),
            "ForkServerRuntime.invoke (fork)": invoke_once(forks[RuntimeKind.PROCESS], process),
            "WarmPool.invoke (warm)": invoke_once(pool, process),
        }
        problem = sandbox_problem()
        if problem is None:
            cases |= {
                COLD_SANDBOX: invoke_once(SandboxRuntime(), sandboxed),
                "ForkServerRuntime.invoke (fork in a sandbox)": invoke_once(forks[RuntimeKind.SANDBOX], sandboxed),
                "WarmPool.invoke (warm sandbox)": invoke_once(pool, sandboxed),
            }
        try:
            medians = measure(cases, rounds)
        finally:
            pool.close()
            for fork_server in forks.values():
                fork_server.close()
    print(f"\nFork server against cold and warm, no-op call ({rounds} rounds, {sys.executable})\n")
    print(f"| case | median (ms) | ratio to `{floor}` | ratio to its kind's cold call |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in medians.items():
        cold = COLD_SANDBOX if "sandbox" in name else COLD_PROCESS
        print(f"| {name} | {seconds * 1000:.2f} | {seconds / medians[floor]:.2f}x | {seconds / medians[cold]:.2f}x |")
    if problem is not None:
        print(f"\nsandbox cases skipped: {problem}")


if __name__ == "__main__":
    main()
