"""How long the ``workflow`` command takes to start, against the bare interpreter.

Every figure comes from this run and this interpreter (``sys.executable``),
the commands interleaved so that drift on the machine hits them alike:

    python -c pass                                   the floor
    python -c "import typer"                         what Typer alone costs
    python <venv>/bin/workflow --help                the console script, as users run it
    python -m workflow_cli --help
    python <venv>/bin/workflow plugin list -p DIR    a real command: config, resolution, Rich table

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


def _plugins(root: Path) -> Path:
    folder = root / "plugins"
    for index in range(PLUGINS):
        plugin = folder / f"plugin-{index}"
        plugin.mkdir(parents=True)
        (plugin / "plugin.yaml").write_text(MANIFEST.format(index=index))
        (plugin / "main.py").write_text("")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "workflow")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        root = Path(scratch)
        plugins = _plugins(root)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "WORKFLOW_CACHE_DIR": str(root / "cache"),
            "NO_COLOR": "1",
        }
        env.pop("WORKFLOW_PLUGINS_PATH", None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import typer"': [sys.executable, "-c", "import typer"],
            "workflow --help": [sys.executable, script, "--help"],
            "python -m workflow_cli --help": [sys.executable, "-m", "workflow_cli", "--help"],
            f"workflow plugin list ({PLUGINS} plugins)": [sys.executable, script, "plugin", "list", "-p", str(plugins)],
        }
        medians = _interleaved(commands, env, args.runs)
    floor = medians["python -c pass"]
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}); {args.runs} runs each, medians")
    print(f"{'command':<44} {'median':>9} {'vs python -c pass':>18}")
    for name, value in medians.items():
        print(f"{name:<44} {value:>7.1f} ms {value / floor:>17.1f}x")
    ratio = medians["workflow --help"] / floor
    verdict = "met" if ratio < TARGET_RATIO else "NOT met"
    print(f"target: workflow --help under {TARGET_RATIO:g}x python -c pass: {ratio:.1f}x, {verdict}")


if __name__ == "__main__":
    main()
