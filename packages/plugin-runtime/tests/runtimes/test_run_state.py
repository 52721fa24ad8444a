"""Run registration: what an entry holds, that a live run is never taken for a dead one, and dead engines' cgroups.

Where it lives (the state directory) is tested with the cache directory, in test_cachedir.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from workflow_plugin_runtime.runtimes.leftovers import clean_dead_runs
from workflow_plugin_runtime.runtimes.run_state import (
    OWNER_PID_LABEL,
    RUN_ID_LABEL,
    active_run,
    make_scratch_dir,
    register_run,
    remove_scratch_dir,
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


TEMP_DIR_OF_BOTH = """
import os, sys
from workflow_plugin_runtime.runtimes.run_state import make_scratch_dir, remove_scratch_dir, temp_dir
ours = temp_dir()
removed = []
sys.addaudithook(lambda event, args: removed.append(args[0]) if event == "os.rmdir" else None)
scratch = make_scratch_dir(prefix="workflow-test-", parent=None)
assert removed == [], f"making a scratch folder removed {removed}: a probe, as root, where the folder itself tells"
remove_scratch_dir(scratch)
assert "tempfile" not in sys.modules, "temp_dir() imported tempfile"
import tempfile
print(ours == tempfile.gettempdir() == os.path.dirname(scratch), ours, scratch)
"""


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"TMPDIR": "{tmp}"},
        {"TMPDIR": "{missing}", "TMP": "{tmp}"},
        {"TMPDIR": "", "TEMP": "{missing}"},
        {"TMPDIR": "{file}"},
        {"TMPDIR": "relative-folder"},
        {"TMPDIR": "/proc"},  # a folder access(2) lets root write to, where nothing can be made
    ],
    ids=["defaults", "tmpdir", "missing-then-tmp", "empty-then-missing", "a-file", "relative", "proc"],
)
def test_the_temp_dir_is_the_one_tempfile_names_and_scratch_folders_go_there(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    (tmp_path / "relative-folder").mkdir()
    (tmp_path / "a-file").write_text("")
    names = {"tmp": str(tmp_path), "missing": str(tmp_path / "missing"), "file": str(tmp_path / "a-file")}
    env = {key: value for key, value in os.environ.items() if key not in ("TMPDIR", "TEMP", "TMP")}
    env.update({key: value.format(**names) for key, value in variables.items()})

    done = subprocess.run(
        [sys.executable, "-c", TEMP_DIR_OF_BOTH], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True "), done.stdout


def test_a_scratch_folder_is_private_fresh_and_removed_with_what_it_holds(tmp_path: Path) -> None:
    first = make_scratch_dir(prefix="workflow-test-", parent=tmp_path)
    second = make_scratch_dir(prefix="workflow-test-", parent=tmp_path)

    assert first != second and Path(first).parent == tmp_path and Path(first).name.startswith("workflow-test-")
    assert Path(first).stat().st_mode & 0o777 == 0o700
    (Path(first) / "deep" / "er").mkdir(parents=True)
    (Path(first) / "deep" / "er" / "file").write_text("x")
    remove_scratch_dir(first)
    remove_scratch_dir(second)
    remove_scratch_dir(first)  # gone already: nothing to do, no error
    assert not Path(first).exists() and not Path(second).exists()
