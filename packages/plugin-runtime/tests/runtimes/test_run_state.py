"""Run registration: what an entry holds, that a live run is never taken for a dead one, and dead engines' cgroups.

Where it lives (the state directory) is tested with the cache directory, in test_cachedir.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from workflow_plugin_runtime.runtimes.leftovers import clean_dead_runs
from workflow_plugin_runtime.runtimes.run_state import (
    OWNER_PID_LABEL,
    RUN_ID_LABEL,
    active_run,
    register_run,
    run_labels,
    scratch_parent,
)
from workflow_plugin_runtime.runtimes.sandbox.limits import CGROUP_PREFIX, cgroup_parents


def test_an_entry_records_its_owner_and_goes_away_with_it(tmp_path: Path) -> None:
    entry = register_run("20260101T000000Z-0123abcd", workflow="flow.yaml", root=tmp_path)
    assert entry is not None
    try:
        assert active_run() is entry and scratch_parent() == str(entry.scratch)
        owner = json.loads((entry.folder / "owner.json").read_text())
        assert owner["pid"] == os.getpid() and owner["workflow"] == "flow.yaml"
        assert owner["scratch"] == str(entry.scratch) and entry.scratch.is_dir()
        assert not (entry.folder / "containers").exists()
        assert run_labels() == {RUN_ID_LABEL: entry.run_id, OWNER_PID_LABEL: str(os.getpid())}
        assert (entry.folder / "containers").exists()
        entry.record_process(12345, 678)
        assert (entry.folder / "processes").read_text() == "12345 678\n"
        # Our own lock makes the entry live even to a cleaner in this very process.
        cleanup = clean_dead_runs(tmp_path)
        assert cleanup.cleaned == () and [live.run_id for live in cleanup.running] == [entry.run_id]
    finally:
        entry.close()
    assert active_run() is None and scratch_parent() is None and run_labels() == {}
    assert not entry.folder.exists() and not entry.scratch.exists()


def test_the_cleaner_removes_the_sandbox_cgroups_of_engines_that_are_gone_and_only_those(tmp_path: Path) -> None:
    """Real cgroups, named as sandboxes' are: one of an engine that exited, one of this live process."""
    parents = cgroup_parents()
    if parents is None:
        pytest.skip("sandboxes get no cgroups here (not root, or cgroup v2 only)")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process: an engine killed outright
    suffix = uuid.uuid4().hex[:12]
    dead = {controller: parent / f"{CGROUP_PREFIX}{gone.pid}-{suffix}" for controller, parent in parents.items()}
    live = {controller: parent / f"{CGROUP_PREFIX}{os.getpid()}-{suffix}" for controller, parent in parents.items()}
    for directory in {*dead.values(), *live.values()}:
        directory.mkdir()
    try:
        cleanup = clean_dead_runs(tmp_path)  # no run registered: the cgroups are counted apart

        assert cleanup.cgroups_removed == 1 and cleanup.problems == () and cleanup.complete
        assert not any(directory.exists() for directory in dead.values())
        assert all(directory.exists() for directory in live.values())  # a live engine removes its own
    finally:
        for directory in {*dead.values(), *live.values()}:
            with contextlib.suppress(FileNotFoundError):
                directory.rmdir()
