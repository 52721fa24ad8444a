"""What each ``workflow`` command costs to start, against the bare interpreter, in one run.

Every figure comes from this run and this interpreter (``sys.executable``),
the commands interleaved round by round so that drift on the machine hits
them alike; each figure is the median of its rounds, in wall time and in
CPU time (user + system of the command and of the processes it waited
for, which a busy machine inflates far less than wall time):

    python -c pass                                   the floor
    python -c "import typer"                         what Typer alone costs
    python -c "from workflow_plugin_sdk import ..."  the plugin interpreter's start (its own floor)
    python -c "import workflow_cli.app"              Typer and the commands' definitions
    python -c VALIDATE_RUNTIME FLOW DIR              the runtime's share of validate: its imports and work (see below)
    workflow --help                                  answered without Typer (a console script as pip writes it)
    python -m workflow_cli --help
    workflow validate FLOW                           a one-task trusted workflow: every static check
    workflow validate FLOW --json
    workflow plugin list -p DIR                      a folder of 500 plugins, as a table
    workflow plugin list -p DIR --json
    workflow plugin inspect bench/plugin-0 -p DIR    resolved among the 500
    workflow lock FLOW --check                       the one plugin hashed and compared with the lock
    workflow run FLOW                                one task (one plugin process)
    workflow run FLOW2                               two tasks, the second needing the first
    workflow run CHAIN                               CHAIN_TASKS tasks, each needing the one before

The fixed cost of ``run`` is the one-task run minus its task, where a
task's cost is its marginal cost over a chain of sequential tasks:
``(t(CHAIN_TASKS) - t(1)) / (CHAIN_TASKS - 1)``. Both are taken within each
round (the runs of a round share the machine's moment): a round's fixed
cost is its ``t(1)`` minus its task, and the figure is the median of the
rounds' fixed costs. That marginal task includes everything a task costs
(the plugin's interpreter start, the SDK, the protocol, the scheduler's
work), so the remainder is what every run pays once: start-up, checks,
registering and containing the run, the record.

Why a chain and not one more task: ``t(2) - t(1)`` carries the noise of
two whole runs into each round's task, and so into the fixed cost
(``2 t(1) - t(2)``), where a chain divides its noise by ``CHAIN_TASKS -
1``. The two-task estimate stays in the table, and under it the spread of
both estimates over the rounds (their quartiles), from the same rounds.
What neither removes is the noise of ``t(1)`` itself, whose quartiles are
printed too. The three workflows
run are locked alike before the rounds, so every run checks a lock and
the check cancels out of the task's cost.

Every command gets its own user config, data, cache and state dirs; the
compiled schema validators are cached on disk after the first (uncounted)
round, as on a user's machine, and so are the modules' ``.pyc`` files
(``PYTHONDONTWRITEBYTECODE`` is dropped: an install compiles them too). ``workflow`` is a console script written
here exactly as pip writes one for ``workflow_cli.entry:command``.

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py [--runs N] [--quick]``
(``--quick``: 3 rounds, the same table, for a check that it runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from _shared import parse_args_with_quick

PLUGINS = 500
TARGETS = {
    "workflow --help": 4.0,
    "workflow run (fixed cost)": 6.0,
    "workflow validate": 6.0,
    f"workflow plugin list ({PLUGINS} plugins)": 8.0,
}
"""The targets docs/performance.md sets, as multiples of ``python -c pass``."""
MANIFEST = """\
namespace: bench
name: plugin-{index}
version: 1.{index}.0
description: Benchmark plugin {index}
runtime: {{entrypoint: main.py}}
actions:
  run:
    inputs: {{type: object, properties: {{text: {{type: string}}}}}}
    outputs: {{type: object, properties: {{length: {{type: integer}}}}}}
"""
NOOP_MAIN = """\
from workflow_plugin_sdk import define_action, run


@define_action("run")
def noop(ctx, inputs):
    return {"length": len(inputs.get("text", ""))}


if __name__ == "__main__":
    run()
"""
ONE_TASK = "name: bench\ntasks:\n  one: {uses: bench/plugin-0.run, inputs: {text: hello}}\n"
TWO_TASKS = ONE_TASK.replace("name: bench", "name: bench-two") + (
    "  two: {uses: bench/plugin-0.run, needs: [one], inputs: {text: hello}}\n"
)
CHAIN_TASKS = 10
"""Tasks in the chain a task's marginal cost is taken over: about 0.4 s a round, so ``--runs 20`` adds ten seconds."""
CHAIN = "name: bench-chain\ntasks:\n" + "".join(
    f"  t{index}: {{uses: bench/plugin-0.run, inputs: {{text: hello}}{f', needs: [t{index - 1}]' if index else ''}}}\n"
    for index in range(CHAIN_TASKS)
)
CHAIN_RUN = f"workflow run ({CHAIN_TASKS} tasks, a chain)"
VALIDATE_RUNTIME = """\
import sys
from pathlib import Path
from workflow_plugin_runtime import (
    Resolver, RuntimeKind, check_lock, check_workflow_file, default_secret_provider, load_config, merge_vars,
    neutralise_controls, parse_var_options,
)
file, plugins = Path(sys.argv[1]), Path(sys.argv[2])
config = load_config(start=file.absolute().parent, plugins_paths=(plugins,))
check = check_workflow_file(
    file, resolver=Resolver.from_config(config), vars_overrides=merge_vars(None, parse_var_options(())),
    secrets=default_secret_provider(secrets_file=None),
)
lock = check_lock(check, runtime=RuntimeKind.PROCESS, project_root=config.project_root)
assert check.ok and lock is not None and lock.matched, check.problems
print(neutralise_controls(str(file)), len(check.workflow.tasks), check.workflow.security.value)
"""
"""What ``validate`` of a trusted workflow asks of the runtime (the config, every check, the lock), without the CLI."""
CONSOLE_SCRIPT = """\
import re
import sys
from workflow_cli.entry import command
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(command())
"""


class Timing(NamedTuple):
    wall_ms: float
    cpu_ms: float
    """User + system CPU time of the command and of the processes it waited for (a plugin's, say)."""


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> Timing:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall_ms = (time.perf_counter() - start) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv)
    return Timing(wall_ms, (usage.ru_utime + usage.ru_stime) * 1000)


def _interleaved(commands: dict[str, list[str]], env: dict[str, str], cwd: Path, runs: int) -> dict[str, list[Timing]]:
    timings: dict[str, list[Timing]] = {name: [] for name in commands}
    for argv in commands.values():  # warm page cache, .pyc files and the validator cache; not counted
        _timed(argv, env, cwd)
    for _ in range(runs):
        for name, argv in commands.items():
            timings[name].append(_timed(argv, env, cwd))
    return timings


def _median(values: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall_ms for t in values), statistics.median(t.cpu_ms for t in values))


def _plugins(root: Path) -> Path:
    folder = root / "plugins"
    for index in range(PLUGINS):
        plugin = folder / f"plugin-{index}"
        plugin.mkdir(parents=True)
        (plugin / "plugin.yaml").write_text(MANIFEST.format(index=index))
        (plugin / "main.py").write_text(NOOP_MAIN if index == 0 else "")
    return folder


def _commands(root: Path, plugins: Path) -> dict[str, list[str]]:
    python = sys.executable
    workflow = [python, str(root / "workflow")]
    (root / "workflow").write_text(CONSOLE_SCRIPT)
    one, two, chain = root / "flow.yaml", root / "flow2.yaml", root / "chain.yaml"
    one.write_text(ONE_TASK)
    two.write_text(TWO_TASKS)
    chain.write_text(CHAIN)
    listing = [*workflow, "plugin", "list", "-p", str(plugins)]
    return {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import typer"': [python, "-c", "import typer"],
        'python -c "from workflow_plugin_sdk import ..."': [
            python,
            "-c",
            "from workflow_plugin_sdk import define_action, run",
        ],
        'python -c "import workflow_cli.app"': [python, "-c", "import workflow_cli.app"],
        "python -c VALIDATE_RUNTIME": [python, "-c", VALIDATE_RUNTIME, str(one), str(plugins)],
        "workflow --help": [*workflow, "--help"],
        "python -m workflow_cli --help": [python, "-m", "workflow_cli", "--help"],
        "workflow validate": [*workflow, "validate", str(one), "-p", str(plugins)],
        "workflow validate --json": [*workflow, "validate", str(one), "-p", str(plugins), "--json"],
        f"workflow plugin list ({PLUGINS} plugins)": listing,
        f"workflow plugin list ({PLUGINS} plugins) --json": [*listing, "--json"],
        "workflow plugin inspect": [*workflow, "plugin", "inspect", "bench/plugin-0", "-p", str(plugins)],
        "workflow lock --check": [*workflow, "lock", str(one), "--check", "-p", str(plugins)],
        "workflow run (1 task)": [*workflow, "run", str(one), "-p", str(plugins)],
        "workflow run (2 tasks)": [*workflow, "run", str(two), "-p", str(plugins)],
        CHAIN_RUN: [*workflow, "run", str(chain), "-p", str(plugins)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds of every command (default 30)")
    runs = parse_args_with_quick(parser, runs=3).runs
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        root = Path(scratch)
        plugins = _plugins(root)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "WORKFLOW_CACHE_DIR": str(root / "cache"),
            "WORKFLOW_STATE_DIR": str(root / "state"),
            "NO_COLOR": "1",
        }
        env.pop("WORKFLOW_PLUGINS_PATH", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, as an install compiles; never per command
        commands = _commands(root, plugins)
        for run in ("workflow run (1 task)", "workflow run (2 tasks)", CHAIN_RUN):  # every run checks a lock alike
            lock = [*commands[run]]
            lock[lock.index("run")] = "lock"
            subprocess.run(lock, check=True, stdout=subprocess.DEVNULL, env=env, cwd=root)
        timings = _interleaved(commands, env, root, runs)
    medians = {name: _median(values) for name, values in timings.items()}
    one_task, two_tasks = timings["workflow run (1 task)"], timings["workflow run (2 tasks)"]
    estimates = {  # label: (the task's row, the fixed cost's row, each round's task and fixed cost)
        "2 tasks": (
            "a task (2 tasks - 1 task)",
            "workflow run (fixed cost, over 2 tasks)",
            _estimate(one_task, two_tasks, tasks=2),
        ),
        f"a chain of {CHAIN_TASKS}": (
            f"a task (over the chain: (t({CHAIN_TASKS}) - t(1)) / {CHAIN_TASKS - 1})",
            "workflow run (fixed cost)",
            _estimate(one_task, timings[CHAIN_RUN], tasks=CHAIN_TASKS),
        ),
    }
    for task_row, fixed_row, (task, fixed) in estimates.values():
        medians[task_row] = _median(task)
        medians[fixed_row] = _median(fixed)
    floor = medians["python -c pass"]
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}); {runs} rounds, medians")
    print(f"{'command':<46} {'wall':>10} {'vs floor':>9} {'CPU':>10} {'vs floor':>9}")
    for name, value in medians.items():
        wall, cpu = value.wall_ms / floor.wall_ms, value.cpu_ms / floor.cpu_ms
        print(f"{name:<46} {value.wall_ms:>7.1f} ms {wall:>8.1f}x {value.cpu_ms:>7.1f} ms {cpu:>8.1f}x")
    spreads = {"the one-task run itself": one_task}  # the noise no estimate of the task can take out
    spreads.update({f"fixed cost over {label}": fixed for label, (_, _, (_, fixed)) in estimates.items()})
    for label, values in spreads.items():
        wall, cpu = _quartiles([t.wall_ms for t in values]), _quartiles([t.cpu_ms for t in values])
        print(f"{label}, the rounds' quartiles: wall {_spread(wall, floor.wall_ms)}, CPU {_spread(cpu, floor.cpu_ms)}")
    for name, target in TARGETS.items():
        ratio = medians[name].wall_ms / floor.wall_ms
        verdict = "met" if ratio <= target else "NOT met"
        cpu = medians[name].cpu_ms / floor.cpu_ms
        print(f"target: {name} at most {target:g}x python -c pass: {ratio:.1f}x wall ({cpu:.1f}x CPU), {verdict}")


def _estimate(one_task: list[Timing], longer: list[Timing], *, tasks: int) -> tuple[list[Timing], list[Timing]]:
    """Each round's task, ``(t(tasks) - t(1)) / (tasks - 1)``, and its fixed cost, ``t(1)`` minus that task."""
    task = [
        Timing((long.wall_ms - one.wall_ms) / (tasks - 1), (long.cpu_ms - one.cpu_ms) / (tasks - 1))
        for one, long in zip(one_task, longer, strict=True)
    ]
    fixed = [Timing(one.wall_ms - t.wall_ms, one.cpu_ms - t.cpu_ms) for one, t in zip(one_task, task, strict=True)]
    return task, fixed


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles: half the rounds lie between them."""
    if len(values) < 2:
        return values[0], values[0]
    low, _, high = statistics.quantiles(values, n=4)
    return low, high


def _spread(quartiles: tuple[float, float], floor_ms: float) -> str:
    low, high = quartiles
    return f"{low:.1f}-{high:.1f} ms ({high - low:.1f} ms apart; {low / floor_ms:.2f}-{high / floor_ms:.2f}x)"


if __name__ == "__main__":
    main()
