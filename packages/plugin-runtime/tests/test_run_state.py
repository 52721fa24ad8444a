"""Run registration: where it lives, what an entry holds, and that a live run is never taken for a dead one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_plugin_runtime.leftovers import clean_dead_runs
from workflow_plugin_runtime.run_state import (
    OWNER_PID_LABEL,
    RUN_ID_LABEL,
    active_run,
    register_run,
    run_labels,
    scratch_parent,
)

PROBE = """
import json, platformdirs
from workflow_plugin_runtime.run_state import state_root
root = state_root()
print(json.dumps([None if root is None else str(root), platformdirs.user_state_dir("workflow")]))
"""


def answers(env: dict[str, str]) -> list[str | None]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    result: list[str | None] = json.loads(done.stdout)
    return result


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_STATE_HOME", "WORKFLOW_STATE_DIR")}
    env["HOME"] = "/home/someone"
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="the shortcut is Linux-only; elsewhere platformdirs answers")
@pytest.mark.parametrize(
    "change",
    [{}, {"XDG_STATE_HOME": "/var/tmp/xdg-state"}, {"XDG_STATE_HOME": "relative/state"}, {"HOME": "/home/someone/"}],
    ids=["home", "xdg", "xdg-relative-ignored", "home-trailing-slash"],
)
def test_the_state_dir_is_platformdirs_user_state_dir(change: dict[str, str]) -> None:
    ours, theirs = answers({**base_env(), **change})
    assert ours == theirs


def test_the_environment_variable_moves_or_disables_registration(tmp_path: Path) -> None:
    assert answers({**base_env(), "WORKFLOW_STATE_DIR": str(tmp_path)})[0] == str(tmp_path)
    assert answers({**base_env(), "WORKFLOW_STATE_DIR": ""})[0] is None


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
