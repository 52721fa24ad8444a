"""What content hashing and lock checks cost: a 1,000-file plugin cold and cached, and ``workflow run`` with a lock.

Two measures, each as ratios within this run:

* hashing a plugin of 1,000 small files (10 folders of 100, 4 KiB each)
  with an empty cache (every file read) against a warm cache (every file's
  stat signature matches: one ``lstat`` each, nothing read). Each cold
  round uses a fresh cache directory; the files were written before the
  first round and have settled, so the cached rounds reuse every digest.
* ``workflow run`` of a one-task workflow (one SDK plugin process) with no
  lock against the same workflow with a matching ``.lock.json`` (its
  plugin's digests cached), interleaved, medians. The difference is what a
  lock check adds to a run's start-up; on a shared machine it drowns in the
  noise of whole runs, so the check itself (:func:`check_lock` on the
  checked workflow, cached, in this process) is also timed and set against
  the run without a lock.

Run: ``.venv/bin/python benchmarks/bench_lock.py [--rounds N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import NOOP_PLUGIN, parse_args_with_quick

from workflow_plugin_runtime.plugins.content import plugin_content

TARGET_ADDED = 0.05
FILES = 1000
PER_FOLDER = 100
FILE_BYTES = 4096
MANIFEST = """\
namespace: bench
name: locked
version: 1.0.0
runtime: {entrypoint: main.py}
actions:
  noop: {}
"""
FLOW = "name: bench\ntasks:\n  one: {uses: bench/locked.noop}\n"


def _big_plugin(root: Path) -> Path:
    plugin = root / "big"
    for index in range(FILES):
        folder = plugin / f"pkg{index // PER_FOLDER:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{index:04d}.py").write_bytes(os.urandom(FILE_BYTES // 2).hex().encode())
    return plugin


def _settle() -> None:
    """Files written within a clock tick are never cached (see plugins/content.py): let the tick pass."""
    time.sleep(0.25)


def hashing(root: Path, rounds: int) -> tuple[float, float]:
    plugin = _big_plugin(root)
    _settle()
    cold, cached = [], []
    warm_cache = root / "warm-cache"
    os.environ["WORKFLOW_CACHE_DIR"] = str(warm_cache)
    plugin_content(plugin)  # fills the warm cache
    for index in range(rounds):
        os.environ["WORKFLOW_CACHE_DIR"] = str(root / f"cold-cache-{index}")
        started = time.perf_counter()
        plugin_content(plugin)
        cold.append(time.perf_counter() - started)
        os.environ["WORKFLOW_CACHE_DIR"] = str(warm_cache)
        started = time.perf_counter()
        plugin_content(plugin)
        cached.append(time.perf_counter() - started)
    return statistics.median(cold), statistics.median(cached)


def _workflow_cli(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "workflow_cli", *args, "-p", str(root / "plugins")]


def runs(root: Path, count: int) -> tuple[float, float]:
    plugin = root / "plugins" / "locked"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(MANIFEST)
    (plugin / "main.py").write_text(NOOP_PLUGIN)
    for name in ("plain", "locked"):
        (root / name).mkdir()
        (root / name / "flow.yaml").write_text(FLOW)
    env = {**os.environ, "WORKFLOW_CACHE_DIR": str(root / "run-cache"), "NO_COLOR": "1"}
    _settle()
    subprocess.run(
        _workflow_cli(root, "lock", str(root / "locked" / "flow.yaml")), check=True, env=env, stdout=subprocess.DEVNULL
    )
    commands = {
        "plain": _workflow_cli(root, "run", str(root / "plain" / "flow.yaml")),
        "locked": _workflow_cli(root, "run", str(root / "locked" / "flow.yaml")),
    }
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the caches (validators, plugin index, content digests) once
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(count):
        for name, argv in commands.items():
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            timings[name].append(time.perf_counter() - started)
    return statistics.median(timings["plain"]), statistics.median(timings["locked"])


def check_alone(root: Path, rounds: int) -> float:
    """Median seconds of one cached lock check of the locked workflow, as ``workflow run`` makes it."""
    from workflow_plugin_runtime import Resolver, check_lock, check_workflow_file

    os.environ["WORKFLOW_CACHE_DIR"] = str(root / "run-cache")
    flow = root / "locked" / "flow.yaml"
    check = check_workflow_file(flow, resolver=Resolver([root / "plugins"], entry_points=False))
    times = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        result = check_lock(check, runtime=None, project_root=None)
        times.append(time.perf_counter() - started)
        assert result is not None and result.matched
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="hashing rounds (cold and cached each)")
    parser.add_argument("--runs", type=int, default=20, help="workflow runs of each kind")
    args = parse_args_with_quick(parser, rounds=1, runs=1)
    root = Path(tempfile.mkdtemp(prefix="bench-lock-"))
    try:
        cold, cached = hashing(root, args.rounds)
        print(f"hash {FILES} files, cold (every file read): {cold * 1000:8.1f} ms")
        print(f"hash {FILES} files, cached (stat only):      {cached * 1000:8.1f} ms  ({cold / cached:.1f}x faster)")
        plain, locked = runs(root, args.runs)
        alone = check_alone(root, args.rounds)
        added = alone / plain
        print(f"workflow run, no lock:                  {plain * 1000:8.1f} ms")
        print(f"workflow run, lock checked (cached):    {locked * 1000:8.1f} ms  ({locked / plain - 1:+.1%})")
        print(f"the lock check alone (cached):          {alone * 1000:8.2f} ms  ({added:.2%} of a run)")
        verdict = "met" if added < TARGET_ADDED else "NOT met"
        print(f"target: a cached lock check adds under {TARGET_ADDED:.0%} to a run: {verdict}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
