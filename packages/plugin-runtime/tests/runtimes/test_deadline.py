"""The one stop sequence (runtimes.deadline) on real processes: terminate, grace, kill, and why a call ended.

Each test starts a real child in a session of its own, waits for its ready
line, and stops its process tree (the target the process runtime and the
warm workers use) through the sequence. Waiting is on the child's pidfd,
never a sleep; the grace is short so a kill after it comes soon.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from workflow_plugin_runtime.runtimes.deadline import Deadline, DeadlineWatch, StopSequence
from workflow_plugin_runtime.runtimes.outcome import Termination
from workflow_plugin_runtime.runtimes.proctree import ProcessTree

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on pidfds (Linux)")

StartChild = Callable[[str], "subprocess.Popen[str]"]

GRACE_S = 0.3
LONG_S = 60.0
"""Far enough that reaching it means the test failed."""

IGNORES_SIGTERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
READY_AND_WAIT = "print('ready', flush=True)\nwhile True: signal.pause()\n"
LEAVES_A_GRANDCHILD = """
import subprocess, sys
grandchild = subprocess.Popen(
    [sys.executable, "-c", "import os, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); os.setsid(); "
     "print('ready', flush=True); signal.pause()"],
    stdout=subprocess.PIPE,
)
grandchild.stdout.readline()
print(grandchild.pid, flush=True)
"""


class _Recording:
    """A process tree that remembers which of its steps the sequence took, in order."""

    def __init__(self, tree: ProcessTree) -> None:
        self.tree = tree
        self.steps: list[str] = []

    def terminate(self) -> None:
        self.steps.append("terminate")
        self.tree.terminate()

    def kill(self) -> None:
        self.steps.append("kill")
        self.tree.kill()


@pytest.fixture
def start_child() -> Iterator[StartChild]:
    """Start ``python -c <code>`` in its own session once it printed ``ready``; whatever is left is killed after."""
    started: list[subprocess.Popen[str]] = []

    def start(code: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        started.append(child)
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        return child

    yield start
    for child in started:
        if child.returncode is None:  # not reaped by the test: its pid is still ours to signal
            ProcessTree(child.pid).kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def _exited_within(pid: int, timeout_s: float) -> bool:
    pidfd = os.pidfd_open(pid)
    try:
        return bool(select.select([pidfd], [], [], timeout_s)[0])
    finally:
        os.close(pidfd)


def _drive(watch: DeadlineWatch, child: subprocess.Popen[str]) -> None:
    """A runtime's event loop reduced to its deadline: check, then wait for the child's end at most ``wait_s``."""
    pidfd = os.pidfd_open(child.pid)
    try:
        while True:
            watch.check(time.monotonic())
            if select.select([pidfd], [], [], watch.wait_s(time.monotonic()))[0]:
                return
            assert time.monotonic() < watch.deadline.at + LONG_S, "the child never ended"
    finally:
        os.close(pidfd)


def test_a_child_that_ignores_sigterm_is_killed_once_the_grace_is_over(start_child: StartChild) -> None:
    child = start_child(IGNORES_SIGTERM + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    watch = DeadlineWatch(target, deadline=Deadline(at=time.monotonic()), kill_grace_s=GRACE_S)

    _drive(watch, child)

    assert child.wait() == -signal.SIGKILL
    assert watch.termination is Termination.TIMED_OUT
    assert target.steps == ["terminate", "kill"]
    sequence = watch.sequence
    assert sequence.terminated_at is not None and sequence.killed_at is not None
    assert sequence.killed_at - sequence.terminated_at >= GRACE_S


def test_a_child_that_exits_on_sigterm_is_not_killed(start_child: StartChild) -> None:
    child = start_child("import signal\n" + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    watch = DeadlineWatch(target, deadline=Deadline(at=time.monotonic()), kill_grace_s=LONG_S)

    _drive(watch, child)

    assert child.wait() == -signal.SIGTERM
    assert watch.termination is Termination.TIMED_OUT
    assert target.steps == ["terminate"]
    assert watch.sequence.killed_at is None


def test_a_cancel_stops_the_child_long_before_its_deadline(start_child: StartChild) -> None:
    child = start_child("import signal\n" + READY_AND_WAIT)
    cancel = threading.Event()
    deadline = Deadline(at=time.monotonic() + LONG_S, cancel=cancel)
    watch = DeadlineWatch(ProcessTree(child.pid), deadline=deadline, kill_grace_s=GRACE_S)
    watch.check(time.monotonic())
    assert watch.sequence.terminated_at is None  # nothing is due yet: the child runs on

    cancel.set()
    _drive(watch, child)

    assert child.wait() == -signal.SIGTERM
    assert watch.termination is Termination.CANCELLED
    assert time.monotonic() < deadline.at


def test_cancel_counts_before_a_deadline_reached_at_the_same_time() -> None:
    cancel = threading.Event()
    now = time.monotonic()
    deadline = Deadline(at=now, cancel=cancel)

    assert deadline.reached(now) is Termination.TIMED_OUT
    cancel.set()
    assert deadline.reached(now) is Termination.CANCELLED
    assert Deadline(at=now + LONG_S, cancel=cancel).reached(now) is Termination.CANCELLED
    assert Deadline(at=now + LONG_S).reached(now) is None
    assert Deadline(at=now + LONG_S).wait_s(now) == pytest.approx(LONG_S)  # float: (now + 60) - now
    assert deadline.wait_s(now) == 0.0  # past it: look again at once


def test_a_later_reason_kills_at_once_but_keeps_the_first_reason(start_child: StartChild) -> None:
    child = start_child(IGNORES_SIGTERM + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    watch = DeadlineWatch(target, deadline=Deadline(at=time.monotonic()), kill_grace_s=LONG_S)
    watch.check(time.monotonic())
    assert target.steps == ["terminate"]

    watch.stop(Termination.STDOUT_TOO_LARGE, graceful=False)  # the grace is not waited out

    assert _exited_within(child.pid, LONG_S)
    assert child.wait() == -signal.SIGKILL
    assert target.steps == ["terminate", "kill"]
    assert watch.termination is Termination.TIMED_OUT


def test_a_stop_that_is_not_graceful_kills_without_terminating(start_child: StartChild) -> None:
    child = start_child("import signal\n" + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    watch = DeadlineWatch(target, deadline=Deadline(at=time.monotonic() + LONG_S), kill_grace_s=LONG_S)

    watch.stop(Termination.STDERR_TOO_LARGE, graceful=False)
    _drive(watch, child)

    assert child.wait() == -signal.SIGKILL
    assert target.steps == ["kill"]
    assert watch.termination is Termination.STDERR_TOO_LARGE


def test_nothing_the_child_started_is_left_running(start_child: StartChild) -> None:
    child = start_child(IGNORES_SIGTERM + "print('ready', flush=True)\n" + LEAVES_A_GRANDCHILD + "signal.pause()\n")
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())  # in a session of its own, ignoring SIGTERM too
    watch = DeadlineWatch(ProcessTree(child.pid), deadline=Deadline(at=time.monotonic()), kill_grace_s=GRACE_S)

    _drive(watch, child)

    assert child.wait() == -signal.SIGKILL
    assert _exited_within(grandchild, LONG_S), "the grandchild outlived the stop"
    with pytest.raises(ProcessLookupError):
        os.killpg(child.pid, 0)


def test_the_blocking_drive_waits_out_the_grace_then_kills(start_child: StartChild) -> None:
    child = start_child(IGNORES_SIGTERM + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    sequence = StopSequence(target, kill_grace_s=GRACE_S)

    sequence.begin(graceful=True)
    sequence.wait_for_end(lambda timeout_s: _exited_within(child.pid, timeout_s), after_kill_s=LONG_S)

    assert child.wait() == -signal.SIGKILL
    assert target.steps == ["terminate", "kill"]
    assert sequence.terminated_at is not None and sequence.killed_at is not None
    assert sequence.killed_at - sequence.terminated_at >= GRACE_S


def test_the_blocking_drive_returns_when_the_child_exits_in_its_grace(start_child: StartChild) -> None:
    child = start_child("import signal, sys\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n" + READY_AND_WAIT)
    target = _Recording(ProcessTree(child.pid))
    sequence = StopSequence(target, kill_grace_s=LONG_S)

    sequence.begin(graceful=True)
    sequence.wait_for_end(lambda timeout_s: _exited_within(child.pid, timeout_s), after_kill_s=0.0)

    assert child.wait() == 3  # its own clean-up ran
    assert target.steps == ["terminate"]
    assert sequence.killed_at is None
