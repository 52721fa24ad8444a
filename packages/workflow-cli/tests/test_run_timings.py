"""Where each task's time went, and what code ran it: the run record of `workflow run --json` on every runtime.

The timing plugin (``fixtures/restricted/timing``; conftest's
``timing_plugin`` and ``timing_image``) starts slowly at module level,
naps in its action and can linger after its response; it measures its
start and its nap itself and answers with both, so each assertion
relates the record's timings to what the plugin lived through (no figure
is hard-coded): a nap is action, a lingering exit is teardown, a warm
worker's slow start is the start-up of the call that spawned it and of no
later call, and the parts add up to the call's duration, within the time
the test measured around the whole run.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PARTS = ("startup_s", "action_s", "teardown_s")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Runner:
    """Runs workflows of the timing plugin on one runtime: trusted processes, or restricted on a backend."""

    runtime: str
    plugin: Any  # conftest.FixturePlugin
    folder: Path
    run_cli: Any

    def run(self, tasks: str, *options: str) -> tuple[dict[str, Any], float]:
        """Run ``tasks`` (YAML under ``tasks:``); the run record, and the wall time the test saw around it."""
        security = "trusted" if self.runtime == "process" else "restricted"
        flow = self.folder / "flow.yaml"
        flow.write_text(f"name: timings\nsecurity: {security}\ntasks:\n{tasks}", encoding="utf-8")
        backend = () if self.runtime == "process" else ("--backend", self.runtime)
        began = time.monotonic()
        done = self.run_cli("run", str(flow), "--json", "-p", str(self.plugin.plugins), *backend, *options)
        wall_s = time.monotonic() - began
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), wall_s


@pytest.fixture(
    params=[
        pytest.param("process"),
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def runner(request: pytest.FixtureRequest, run_cli, tmp_path: Path) -> Runner:
    """Each runtime in turn: the plugin as a process, in a bubblewrap sandbox, in a container of its image."""
    plugin = request.getfixturevalue("timing_image" if request.param == "docker" else "timing_plugin")
    return Runner(request.param, plugin, tmp_path, run_cli)


def assert_parts_add_up(task: dict[str, Any], *, wall_s: float) -> dict[str, float]:
    """No part is negative; the parts are the duration; queue and duration fit in the run; the timings."""
    metrics = task["metrics"]
    timings = metrics["timings"]
    assert all(timings[part] >= 0 for part in PARTS), timings
    assert timings["queue_s"] >= metrics["queued_s"] >= 0, metrics
    assert sum(timings[part] for part in PARTS) == pytest.approx(metrics["duration_s"], abs=1e-5), metrics
    assert timings["queue_s"] + metrics["duration_s"] <= wall_s, (metrics, wall_s)
    return timings


def assert_provenance(task: dict[str, Any], runner: Runner) -> None:
    """The code that ran and what it was granted: ref, version, folder, content hash, runtime, image, grants."""
    provenance = task["provenance"]
    assert provenance["ref"] == "tests/timing"
    assert provenance["version"] == "0.2.0"
    assert Path(provenance["source"]) == runner.plugin.plugins / "timing"
    assert SHA256.fullmatch(provenance["content_hash"]), provenance
    assert provenance["runtime"] == task["metrics"]["runtime"] == runner.runtime
    if runner.runtime == "process":
        assert provenance["grants"] == {"security": "trusted"}
    else:
        assert provenance["grants"] == {"security": "restricted", "network": False, "mounts": [], "env": []}
    if runner.runtime == "docker":
        image = provenance["image"]
        assert image["tag"] == runner.plugin.image
        assert SHA256.fullmatch(image["id"]), image
        assert image["built_from"] == provenance["content_hash"]
    else:
        assert "image" not in provenance


def test_a_cold_call_counts_the_plugins_start_and_nap_as_action_and_its_lingering_exit_as_teardown(runner):
    record, wall_s = runner.run("  nap: {uses: tests/timing.nap, inputs: {seconds: 0.3, linger: 0.4}}\n")
    task = record["tasks"]["nap"]
    timings = assert_parts_add_up(task, wall_s=wall_s)
    plugin = task["outputs"]
    assert task["metrics"]["warm"] is False
    # A one-shot plugin says nothing when it is ready: its own start (module-level code) runs after the spawn,
    # mostly after the engine's ready point, and before the request is read; the nap starts after the request
    # was written, which is after ready. (How much of the start falls before ready depends on scheduling.)
    assert timings["action_s"] >= plugin["slept_s"], (timings, plugin)
    assert timings["startup_s"] + timings["action_s"] >= plugin["start_took_s"] + plugin["slept_s"], (timings, plugin)
    # The exit it delayed 0.4 s after its response: teardown's, less however late the engine read the response.
    assert timings["action_s"] + timings["teardown_s"] >= plugin["slept_s"] + 0.4, (timings, plugin)
    assert timings["teardown_s"] > 0, timings
    assert_provenance(task, runner)


def test_a_warm_workers_start_is_the_start_up_of_the_call_that_spawned_it_and_of_no_later_call(runner):
    record, wall_s = runner.run(
        "  first: {uses: tests/timing.nap, inputs: {seconds: 0.2}}\n"
        "  second: {needs: [first], uses: tests/timing.nap, inputs: {seconds: 0.2}}\n",
        "--pool",
    )
    first, second = record["tasks"]["first"], record["tasks"]["second"]
    assert second["outputs"]["pid"] == first["outputs"]["pid"], "the second call was not served by the same worker"
    assert (first["metrics"]["warm"], second["metrics"]["warm"]) == (False, True)
    for task in (first, second):
        timings = assert_parts_add_up(task, wall_s=wall_s)
        plugin = task["outputs"]
        assert plugin["slept_s"] <= timings["action_s"] < plugin["slept_s"] + plugin["start_took_s"], (timings, plugin)
        assert timings["teardown_s"] < plugin["slept_s"], timings  # the worker stays: nothing is torn down
        assert_provenance(task, runner)
    assert first["metrics"]["timings"]["startup_s"] >= first["outputs"]["start_took_s"]  # up to its ready line
    assert second["metrics"]["timings"]["startup_s"] == 0


def test_a_task_that_waits_for_a_slot_records_the_wait_as_its_queue(run_cli, timing_plugin, tmp_path):
    runner = Runner("process", timing_plugin, tmp_path, run_cli)
    record, wall_s = runner.run(
        "  one: {uses: tests/timing.nap, inputs: {seconds: 0.3}}\n"
        "  two: {uses: tests/timing.nap, inputs: {seconds: 0.3}}\n",
        "--concurrency",
        "1",
    )
    earlier, later = sorted(record["tasks"].values(), key=lambda task: task["metrics"]["timings"]["queue_s"])
    for task in (earlier, later):
        assert_parts_add_up(task, wall_s=wall_s)
        assert task["metrics"]["queued_s"] == 0  # no warm pool to wait for
    assert later["metrics"]["timings"]["queue_s"] >= earlier["metrics"]["duration_s"]  # it waited for the other
