"""How long the ``workflow`` command takes to start, against the bare interpreter.

Every figure comes from this run and this interpreter (``sys.executable``),
the commands interleaved so that drift on the machine hits them alike:

    python -c pass                                   the floor
    python -c "import typer"                         what Typer alone costs
    python workflow --help                           a console script for workflow_cli.entry:main
    python <venv>/bin/workflow --help                the console script as installed (its target shown)
    python -m workflow_cli --help
    python workflow plugin list -p DIR               a real command: config, resolution, Rich table
    python workflow run FLOW -p DIR                  a one-task workflow: start-up, checks, one plugin
                                                     process, the run's registration and containment

The first ``workflow`` is written here exactly as pip writes console
scripts, pointing at ``workflow_cli.entry:main`` (the entry point that
answers ``--help`` without Typer); the installed one shows what an older
install (``workflow_cli.app:main``) costs.

``plugin list`` searches a folder of 20 small plugins, with its own user
config, data and cache dirs (warm: compiled schema validators are cached
on disk after the first run, as on a user's machine).

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py [--runs N]``.
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

from _shared import parse_args_with_quick

TARGET_RATIO = 4.0
PLUGINS = 20
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


def _wall_ms(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - start) * 1000


def _interleaved(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm page cache, .pyc files and the validator cache; not counted
        _wall_ms(argv, env)
    for _ in range(runs):
        for name, argv in commands.items():
            timings[name].append(_wall_ms(argv, env))
    return {name: statistics.median(values) for name, values in timings.items()}


CONSOLE_SCRIPT = """\
import re
import sys
from workflow_cli.entry import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def _installed_target(script: Path) -> str:
    line = next((line for line in script.read_text().splitlines() if line.startswith("from ")), "?")
    return line.removeprefix("from ").replace(" import ", ":")


NOOP_MAIN = """\
from workflow_plugin_sdk import define_action, run


@define_action("run")
def noop(ctx, inputs):
    return {"length": len(inputs.get("text", ""))}


if __name__ == "__main__":
    run()
"""
FLOW = "name: bench\ntasks:\n  one: {uses: bench/plugin-0.run, inputs: {text: hello}}\n"


def _plugins(root: Path) -> Path:
    folder = root / "plugins"
    for index in range(PLUGINS):
        plugin = folder / f"plugin-{index}"
        plugin.mkdir(parents=True)
        (plugin / "plugin.yaml").write_text(MANIFEST.format(index=index))
        (plugin / "main.py").write_text(NOOP_MAIN if index == 0 else "")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parse_args_with_quick(parser, runs=2)
    installed = Path(sys.executable).parent / "workflow"
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        root = Path(scratch)
        plugins = _plugins(root)
        flow = root / "flow.yaml"
        flow.write_text(FLOW)
        script = str(root / "workflow")
        Path(script).write_text(CONSOLE_SCRIPT)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "WORKFLOW_CACHE_DIR": str(root / "cache"),
            "WORKFLOW_STATE_DIR": str(root / "state"),
            "NO_COLOR": "1",
        }
        env.pop("WORKFLOW_PLUGINS_PATH", None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import typer"': [sys.executable, "-c", "import typer"],
            "workflow --help": [sys.executable, script, "--help"],
            f"installed workflow --help ({_installed_target(installed)})": [sys.executable, str(installed), "--help"],
            "python -m workflow_cli --help": [sys.executable, "-m", "workflow_cli", "--help"],
            f"workflow plugin list ({PLUGINS} plugins)": [sys.executable, script, "plugin", "list", "-p", str(plugins)],
            "workflow run (1 task)": [sys.executable, script, "run", str(flow), "-p", str(plugins)],
        }
        medians = _interleaved(commands, env, args.runs)
    floor = medians["python -c pass"]
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}); {args.runs} runs each, medians")
    print(f"{'command':<58} {'median':>9} {'vs python -c pass':>18}")
    for name, value in medians.items():
        print(f"{name:<58} {value:>7.1f} ms {value / floor:>17.1f}x")
    ratio = medians["workflow --help"] / floor
    verdict = "met" if ratio < TARGET_RATIO else "NOT met"
    print(f"target: workflow --help under {TARGET_RATIO:g}x python -c pass: {ratio:.1f}x, {verdict}")


if __name__ == "__main__":
    main()
