"""What importing the SDK as a plugin does adds to a plugin's start, against the bare interpreter.

A one-shot plugin starts once per call, so the SDK's import cost is paid on
every task. Both commands run in this run, with this interpreter
(``sys.executable``) and the same flags, interleaved so that drift on the
machine hits both alike:

    python -I -c pass
    python -I -c "from workflow_plugin_sdk import define_action, run"

(the package's names load on first use, so a bare ``import
workflow_plugin_sdk`` would load almost nothing: the command imports what
every plugin names).

``-I`` (isolated) keeps ``site`` and its ``.pth`` files, so the editable
install still imports; ``-S`` would not. A ``-X importtime`` run then shows
which modules the cost is made of (cumulative microseconds, median of runs).

Run: ``.venv/bin/python benchmarks/bench_sdk_import.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time

from _shared import parse_args_with_quick

TARGET_MS = 10.0
BARE = [sys.executable, "-I", "-c", "pass"]
PLUGIN_IMPORT = "from workflow_plugin_sdk import define_action, run"
SDK = [sys.executable, "-I", "-c", PLUGIN_IMPORT]
STDLIB_FLOOR = [sys.executable, "-I", "-c", "import json"]
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _wall_ms(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def _interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the page cache and .pyc files; not counted
        _wall_ms(argv)
    for _ in range(runs):
        for name, argv in commands.items():
            timings[name].append(_wall_ms(argv))
    return {name: statistics.median(values) for name, values in timings.items()}


def _importtime(runs: int) -> list[tuple[str, int, float, float]]:
    """Our modules and the stdlib modules they pull in: (name, depth, self µs, cumulative µs), medians."""
    samples: dict[str, list[tuple[int, int]]] = {}
    depth_of: dict[str, int] = {}
    order: list[str] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-I", "-X", "importtime", "-c", PLUGIN_IMPORT],
            check=True,
            capture_output=True,
            text=True,
        )
        lines = done.stderr.splitlines()
        start = next(i for i, line in enumerate(lines) if re.search(r"\|\s*site$", line)) + 1
        for line in lines[start:]:
            match = IMPORTTIME_LINE.match(line)
            if match is None:
                continue
            own, cumulative, indent, name = match.groups()
            if name not in samples:
                samples[name] = []
                order.append(name)
                depth_of[name] = (len(indent) - 1) // 2
            samples[name].append((int(own), int(cumulative)))
    return [
        (
            name,
            depth_of[name],
            statistics.median(own for own, _ in samples[name]),
            statistics.median(cumulative for _, cumulative in samples[name]),
        )
        for name in order
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="interleaved runs of each command (default 200)")
    args = parse_args_with_quick(parser, runs=3)
    importtime_runs = 3 if args.quick else 30

    medians = _interleaved({"bare": BARE, "sdk": SDK, "json": STDLIB_FLOOR}, args.runs)
    added = medians["sdk"] - medians["bare"]
    json_added = medians["json"] - medians["bare"]
    print(f"interpreter: {sys.executable} ({sys.version.split()[0]}), {args.runs} interleaved runs, medians")
    labels = {
        "bare": "python -I -c pass",
        "json": 'python -I -c "import json" (stdlib floor)',
        "sdk": f'python -I -c "{PLUGIN_IMPORT}"',
    }
    print(f"{'command':44} {'median ms':>10} {'vs bare':>9}")
    for name, label in labels.items():
        print(f"{label:44} {medians[name]:10.2f} {medians[name] / medians['bare']:9.2f}x")
    print(f"import json adds {json_added:.2f} ms; the SDK adds {added:.2f} ms, {added - json_added:.2f} ms beyond json")
    verdict = "meets" if added < TARGET_MS else "MISSES"
    print(f"target: under {TARGET_MS:.0f} ms over the bare interpreter -> {verdict} ({added:.2f} ms)")

    print(f"\n-X importtime, modules loaded by `{PLUGIN_IMPORT}` (median µs over {importtime_runs} runs):")
    print(f"{'module':44} {'self':>8} {'cumulative':>11}")
    for name, depth, own, cumulative in _importtime(importtime_runs):
        print(f"{'  ' * depth + name:44} {own:8.0f} {cumulative:11.0f}")


if __name__ == "__main__":
    main()
