"""Stopping what runs a plugin call: at its deadline, on cancel, or at once; the one sequence every runtime follows.

A call must end when its deadline passes or its cancel event is set
(:class:`Deadline`; cancel is looked at first, so a call cancelled at its
deadline counts as cancelled). Its runtime then stops what it runs in three
steps (:class:`StopSequence`): terminate (SIGTERM, or the engine's SIGTERM
to a container), :data:`KILL_GRACE_S` for it to clean up and exit, then
kill (SIGKILL). A call stopped for another reason (output over its limit, a
broken protocol) is killed at once, without the grace. Each runtime says
only how to terminate and how to kill its own thing (a :class:`Stoppable`:
a process tree, a container, a warm worker); when each step comes, and why
the call ended (:class:`~.outcome.Termination`), is decided here. Reaping
what was stopped is the runtime's, since only it knows how to wait for its
thing to end.

Two ways to drive the sequence, because the runtimes wait differently:

* a runtime that must keep reading the plugin's output while it waits
  (a one-shot process or container: a plugin blocked on a full pipe never
  exits) runs its own event loop around a :class:`DeadlineWatch`, calling
  :meth:`~DeadlineWatch.check` and waiting at most
  :meth:`~DeadlineWatch.wait_s` in between;
* a runtime with nothing left to read (a warm worker whose call is over:
  its call found the deadline, its pool chose how to stop it) starts a
  :class:`StopSequence` and blocks in :meth:`~StopSequence.wait_for_end`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from .._frozen import FrozenRecord
from .outcome import Termination

__all__ = [
    "CANCEL_POLL_S",
    "KILL_GRACE_S",
    "Deadline",
    "DeadlineWatch",
    "StopSequence",
    "Stoppable",
]

KILL_GRACE_S = 1.0
"""Between terminate and kill: time for a plugin to clean up after a timeout or cancel."""

CANCEL_POLL_S = 0.05
"""How often a waiting runtime looks again at what it cannot wait on: a cancel event, a kill's end."""


class Stoppable(Protocol):
    """What one runtime runs a call in, seen only as something to stop."""

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM): it may clean up and exit on its own."""

    def kill(self) -> None:
        """Stop it now (SIGKILL)."""


class Deadline(FrozenRecord):
    """When a call must end: at the monotonic time ``at``, or as soon as ``cancel`` is set.

    A FrozenRecord, not a dataclass, for run start-up (docs/performance.md).
    """

    __slots__ = ("at", "cancel")
    at: float
    cancel: threading.Event | None

    def __init__(self, at: float, cancel: threading.Event | None = None) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "cancel", cancel)

    def reached(self, now: float) -> Termination | None:
        """Why the call must end now (cancelled, else timed out); None while it may go on."""
        if self.cancel is not None and self.cancel.is_set():
            return Termination.CANCELLED
        if now >= self.at:
            return Termination.TIMED_OUT
        return None

    def wait_s(self, now: float) -> float:
        """How long to wait before looking again: until the deadline, or a poll while a cancel may come."""
        wait = self.at - now
        if self.cancel is not None:
            wait = min(wait, CANCEL_POLL_S)
        return max(0.0, wait)


class StopSequence:
    """Terminate, a grace of ``kill_grace_s``, kill: how one ``target`` is stopped.

    Not thread-safe: the one thread that drives a call drives its sequence.
    """

    __slots__ = ("kill_grace_s", "killed_at", "target", "terminated_at")

    def __init__(self, target: Stoppable, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.target = target
        self.kill_grace_s = kill_grace_s
        self.terminated_at: float | None = None
        self.killed_at: float | None = None

    def begin(self, *, graceful: bool) -> None:
        """Terminate the target and start the grace, or (not ``graceful``) kill it at once."""
        if not graceful:
            self.kill()
            return
        self.target.terminate()
        self.terminated_at = time.monotonic()

    def kill(self) -> None:
        self.target.kill()
        self.killed_at = time.monotonic()

    def advance(self, now: float) -> None:
        """Kill the target once its grace is over (nothing before, nothing twice)."""
        if self.killed_at is None and self.terminated_at is not None and now >= self.terminated_at + self.kill_grace_s:
            self.kill()

    def wait_s(self, now: float) -> float:
        """How long to wait before :meth:`advance` is due: the rest of the grace, else a poll."""
        if self.killed_at is None and self.terminated_at is not None:
            return max(0.0, self.terminated_at + self.kill_grace_s - now)
        return CANCEL_POLL_S

    def wait_for_end(self, ended: Callable[[float], bool], *, after_kill_s: float) -> None:
        """Block until the target ends, killing it when its grace runs out; after a kill, wait at most ``after_kill_s``.

        ``ended(timeout_s)`` waits up to ``timeout_s`` for the target's end
        and says whether it came. A target whose end follows its kill at once
        (a process) needs no ``after_kill_s``; one whose end is reported by
        someone else (a container's ``docker`` CLI) is given that long.
        """
        while self.killed_at is None:
            if ended(self.wait_s(time.monotonic())):
                return
            self.advance(time.monotonic())
        if after_kill_s > 0:
            ended(after_kill_s)


class DeadlineWatch:
    """A running call's deadline and the stop it triggers, for a runtime that drives them from its event loop.

    ``termination`` says why the call ended: :attr:`Termination.COMPLETED`
    until a stop, then the first reason given (a later reason still kills,
    but does not rewrite why the call ended).
    """

    __slots__ = ("deadline", "sequence", "termination")

    def __init__(self, target: Stoppable, *, deadline: Deadline, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.deadline = deadline
        self.sequence = StopSequence(target, kill_grace_s=kill_grace_s)
        self.termination = Termination.COMPLETED

    def check(self, now: float) -> None:
        """Take the step that is due: stop (gracefully) at the deadline or on cancel; kill when the grace is over."""
        if self.termination is Termination.COMPLETED:
            reason = self.deadline.reached(now)
            if reason is not None:
                self.stop(reason, graceful=True)
        else:
            self.sequence.advance(now)

    def wait_s(self, now: float) -> float:
        """How long the event loop may wait for its own events before :meth:`check` is due again."""
        if self.termination is Termination.COMPLETED:
            return self.deadline.wait_s(now)
        return self.sequence.wait_s(now)

    def stop(self, termination: Termination, *, graceful: bool) -> None:
        """Stop the call for ``termination``: terminate, grace, kill; or (not ``graceful``) kill at once."""
        if self.termination is Termination.COMPLETED:
            self.termination = termination
        self.sequence.begin(graceful=graceful)

    def action_ended_at(self, *, answered: float | None, over: float) -> float:
        """When the call's action ended, on the monotonic clock, where its teardown begins.

        When this watch stopped the call, when the stop began; else when its
        response came (``answered``, its last stdout bytes), else when its
        end was seen (``over``).
        """
        sequence = self.sequence
        stopped = sequence.terminated_at if sequence.terminated_at is not None else sequence.killed_at
        if stopped is not None:
            return stopped
        return over if answered is None else answered
