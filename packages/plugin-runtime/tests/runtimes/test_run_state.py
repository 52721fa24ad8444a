"""Run registration: what an entry holds, and that a live run is never taken for a dead one.

Where it lives (the state directory) is tested with the cache directory, in test_cachedir.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workflow_plugin_runtime.runtimes.leftovers import clean_dead_runs
from workflow_plugin_runtime.runtimes.run_state import (
    OWNER_PID_LABEL,
    RUN_ID_LABEL,
    active_run,
    register_run,
    run_labels,
    scratch_parent,
)


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
