"""The child subreaper: orphans plugins leave are killed and reaped, the engine's own children never touched.

These tests make the test process itself the subreaper (as ``workflow run``
does) for their duration, and check what becomes of its children.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workflow_plugin_runtime.runtimes import reaper
from workflow_plugin_runtime.runtimes.base import Invocation
from workflow_plugin_runtime.runtimes.process import ProcessRuntime
from workflow_plugin_runtime.runtimes.proctree import read_stat

MakeInvocation = Callable[..., Invocation]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")


@pytest.fixture
def subreaper() -> Iterator[None]:
    assert not reaper.enabled()
    assert reaper.enable()
    try:
        yield
    finally:
        reaper.reap_all()
        reaper.disable()


def state(pid: int) -> str:
    """``running``, ``zombie`` (not reaped yet) or ``gone``."""
    stat = read_stat(pid)
    if stat is None:
        return "gone"
    return "zombie" if stat.zombie else "running"


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_orphan_is_killed_and_reaped_when_its_call_ends_and_the_engines_own_child_is_untouched(
    subreaper: None, raw: MakeInvocation, tmp_path: Path
) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # in our session
    try:
        result = ProcessRuntime().invoke(raw("leave-orphan", {"pid_dir": str(tmp_path)}))

        assert result.ok, result.failure
        orphan = int((tmp_path / "orphan.pid").read_text())
        assert state(orphan) == "gone"  # killed, and reaped by us: not even a zombie
        assert bystander.poll() is None
    finally:
        bystander.kill()
    assert bystander.wait(timeout=10) == -9  # its status was still ours to collect


def test_an_orphan_that_may_be_a_running_calls_is_kept_and_reaped_once_it_exits(
    subreaper: None, raw: MakeInvocation, tmp_path: Path
) -> None:
    runtime = ProcessRuntime()
    release, started = tmp_path / "release", tmp_path / "started"
    waiting = raw("wait-for", {"path": str(release), "started": str(started)})
    held = threading.Thread(target=runtime.invoke, args=(waiting,))
    held.start()
    try:
        assert wait_until(started.exists)
        # A call that starts after the held one leaves an orphan: it might be the held call's, so it stays...
        assert runtime.invoke(raw("leave-orphan", {"pid_dir": str(tmp_path), "seconds": 0.5})).ok
        orphan = int((tmp_path / "orphan.pid").read_text())
        assert state(orphan) in ("running", "zombie")
        stat = read_stat(orphan)
        assert stat is not None and stat.ppid == os.getpid()  # adopted by us, not by init
        # ...until it exits by itself: a zombie of ours, which the next call's end reaps.
        assert wait_until(lambda: state(orphan) == "zombie")
        assert runtime.invoke(raw("echo", {})).ok
        assert state(orphan) == "gone"
    finally:
        release.touch()
        held.join(timeout=30)
    assert not held.is_alive()
