"""Resolution among 500 plugins: cold (a new interpreter per call) and warm (within one process).

Run: ``.venv/bin/python benchmarks/bench_resolve.py [--plugins 500] [--runs 21]``

The floor is ``python -I -c pass`` with the same interpreter, measured in the
same run; ``import workflow_plugin_runtime`` is shown too, because every cold
figure includes it. Target: a cold resolve under 3x the floor.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _shared import parse_args_with_quick

MANIFEST = """\
namespace: bench
name: plugin-{index:03d}
version: 1.{index}.0
description: Benchmark plugin number {index}
runtime:
  entrypoint: main.py
  timeout: 20
capabilities:
  network: {network}
  env: [BENCH_{index}]
actions:
  run:
    description: Run the thing
    inputs:
      type: object
      required: [field_{index}]
      properties:
        field_{index}: {{type: string}}
        token: {{type: string, secret: true}}
    outputs:
      type: object
      properties:
        result_{index}: {{type: integer}}
  check:
    inputs:
      type: object
      properties:
        level_{index}: {{type: integer, minimum: 0}}
    examples:
      - inputs: {{level_{index}: 1}}
"""


def generate(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"plugin-{index:03d}"
        folder.mkdir(parents=True)
        (folder / "plugin.yaml").write_text(MANIFEST.format(index=index, network=str(index % 2 == 0).lower()))
        (folder / "main.py").write_text("")


def cold(code: str, runs: int) -> float:
    argv = [sys.executable, "-I", "-c", code]
    subprocess.run(argv, check=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def warm(action: Callable[[], object], runs: int) -> float:
    action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument("--runs", type=int, default=21)
    options = parse_args_with_quick(parser, plugins=20, runs=3)

    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "plugins"
        generate(root, options.plugins)
        last = f"bench/plugin-{options.plugins - 1:03d}.run"
        resolve_code = (
            f"from workflow_plugin_runtime import Resolver\nResolver([{str(root)!r}]).resolve_action({last!r})"
        )
        config_code = (
            "from workflow_plugin_runtime import Resolver, load_config\n"
            f"Resolver.from_config(load_config(plugins_paths=[{str(root)!r}])).resolve_action({last!r})"
        )
        list_code = (
            "from workflow_plugin_runtime import Resolver\n"
            f"assert len(Resolver([{str(root)!r}]).list_plugins().plugins) == {options.plugins}"
        )
        rows: list[tuple[str, float]] = [
            ("floor: python -I -c pass", cold("pass", options.runs)),
            ("import workflow_plugin_runtime", cold("import workflow_plugin_runtime", options.runs)),
            (f"cold resolve {last} (explicit paths)", cold(resolve_code, options.runs)),
            (f"cold resolve {last} (load_config + resolve)", cold(config_code, options.runs)),
            (f"cold list {options.plugins} plugins", cold(list_code, max(5, options.runs // 4))),
        ]

        from workflow_plugin_runtime import Resolver

        shared = Resolver([root])
        rows += [
            ("warm resolve, same Resolver", warm(lambda: shared.resolve_action(last), options.runs * 50)),
            ("warm resolve, new Resolver (rescans)", warm(lambda: Resolver([root]).resolve_action(last), options.runs)),
            ("warm list, new Resolver", warm(lambda: Resolver([root]).list_plugins(), options.runs)),
        ]

    floor = rows[0][1]
    print(f"{'measure':55} {'median':>11} {'x floor':>8}")
    for label, seconds in rows:
        ratio = f"{seconds / floor:7.2f}x" if not label.startswith("warm") else "       -"
        print(f"{label:55} {seconds * 1000:8.2f} ms {ratio}")
    resolve_ratio = rows[2][1] / floor
    print(f"\ntarget: cold resolve < 3x floor; measured {resolve_ratio:.2f}x")


if __name__ == "__main__":
    main()
