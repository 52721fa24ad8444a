"""Whether a warm call looks for its worker's answer without sleeping first, and for how long.

A warm call is two wake-ups of a sleeping process: the worker, woken by
the request, and then the calling thread, woken by the answer. On a host
that halts an idle CPU at once (a virtual machine), each wake-up of a
halted CPU goes through the host, and for a fast worker the second one is
a good part of the call. A calling thread that looks for the answer
without sleeping (``poll`` with no wait, then ``sched_yield``, neither
holding the GIL) for a short budget skips it, but the CPU it keeps is
taken from whatever else could run there: the worker it waits on, or
another task thread. So it looks only when that costs nothing else:

* only for a worker whose answers come straight through its pipes (a
  process or a sandbox; a container's come through the Docker engine's
  relay, in milliseconds);
* only while the threads waiting on warm workers, this one included, are
  at most half the CPUs the process may use, and were for the last
  :data:`_CROWDED_HOLD_S` (:class:`Waiting`): a thread that looks keeps a
  CPU and leaves one to the worker it waits on. Where more threads wait
  at once (two task threads on two CPUs), every CPU may be needed by a
  worker or by another thread's Python work, and a looking thread would
  also take the GIL back from that thread at every look: measured at
  ``-c 2``, letting a thread look whenever it waited alone (one call in
  eight) did not make the run faster, so with the hold none looks;
* only while the worker's recent answers came within the budget (a moving
  estimate of its answer time, kept whether or not the call looked), so
  a plugin whose calls take milliseconds never makes the engine look and
  costs no CPU more than a blocking wait does.
"""

from __future__ import annotations

import os

__all__ = [
    "LOOK_BUDGET_S",
    "AnswerWait",
    "Waiting",
]

LOOK_BUDGET_S = 0.0003
"""How long a call looks for its answer before it sleeps: a fast worker's answer on a slow host comes within it."""

_ESTIMATE_WEIGHT = 0.25
"""The weight of the latest answer in a worker's estimate: one answer taking 4x the budget stops the looking."""


_CROWDED_HOLD_S = 0.1
"""How long nobody looks after more threads waited at once than half the CPUs: while they may do so again."""


class Waiting:
    """The threads of a process waiting on a warm worker now, against the CPUs it may use.

    A list of markers, not an int: ``append`` and ``pop`` are single steps
    under the GIL, so two threads never lose a count (``+= 1`` is three).
    """

    __slots__ = ("_crowded_until", "_threads", "looking_cap")

    def __init__(self, usable_cpus: int) -> None:
        self.looking_cap = usable_cpus // 2
        self._threads: list[None] = []
        self._crowded_until = 0.0

    def enter(self, now: float) -> bool:
        """Count the calling thread in; whether it may look: not while waiting threads are, or lately were, crowded."""
        threads = self._threads
        threads.append(None)
        if len(threads) > self.looking_cap:
            self._crowded_until = now + _CROWDED_HOLD_S
            return False
        return now >= self._crowded_until

    def leave(self) -> None:
        self._threads.pop()


_PROCESS_WAITING = Waiting(len(os.sched_getaffinity(0)))


class AnswerWait:
    """One worker's waiting policy: whether its next call may look, and until when.

    The estimate starts at the budget, so a worker's first call sleeps, and
    its first fast answer lets the next ones look. ``waiting`` is shared by
    every worker of the process.
    """

    __slots__ = ("_waiting", "budget_s", "estimate_s", "looks")

    def __init__(self, *, looks: bool, budget_s: float = LOOK_BUDGET_S, waiting: Waiting = _PROCESS_WAITING) -> None:
        self.looks = looks
        self.budget_s = budget_s
        self.estimate_s = budget_s
        self._waiting = waiting

    def begin(self, now: float) -> float:
        """Until when the call begun at ``now`` looks for its answer; 0.0 (the past) when it sleeps at once.

        Every :meth:`begin` is matched by one :meth:`end`.
        """
        may_look = self._waiting.enter(now)
        if may_look and self.looks and self.estimate_s < self.budget_s:
            return now + self.budget_s
        return 0.0

    def end(self, answered_in_s: float | None) -> None:
        """The call's wait is over: note how long the worker took to answer (None: it did not), looked for or not."""
        self._waiting.leave()
        if answered_in_s is not None:
            self.estimate_s += (answered_in_s - self.estimate_s) * _ESTIMATE_WEIGHT
