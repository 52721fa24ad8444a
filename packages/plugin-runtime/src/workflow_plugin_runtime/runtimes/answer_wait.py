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
* only while fewer threads of the process look than half the CPUs it may
  use (:func:`spinner_slots`): each looking thread leaves a CPU free for
  the worker it waits on;
* only while the worker's recent answers came within the budget (a moving
  estimate of its answer time, kept whether or not the call looked), so
  a plugin whose calls take milliseconds never makes the engine look and
  costs no CPU more than a blocking wait does.
"""

from __future__ import annotations

import os
import threading

__all__ = [
    "LOOK_BUDGET_S",
    "AnswerWait",
    "spinner_slots",
]

LOOK_BUDGET_S = 0.0003
"""How long a call looks for its answer before it sleeps: a fast worker's answer on a slow host comes within it."""

_ESTIMATE_WEIGHT = 0.25
"""The weight of the latest answer in a worker's estimate: one answer taking 4x the budget stops the looking."""


def spinner_slots(usable_cpus: int) -> tuple[threading.Lock, ...]:
    """One lock per thread that may look at once: half the CPUs (none on one CPU, where it starves the worker)."""
    return tuple(threading.Lock() for _ in range(usable_cpus // 2))


_PROCESS_SLOTS = spinner_slots(len(os.sched_getaffinity(0)))


class AnswerWait:
    """One worker's waiting policy: whether its next call may look, and until when.

    The estimate starts at the budget, so a worker's first call sleeps, and
    its first fast answer lets the next ones look. ``slots`` are shared by
    every worker of the process (taken without blocking, so two threads
    never look in one slot); a call that looks holds one until it
    :meth:`stops looking <stop_looking>`.
    """

    __slots__ = ("_held", "_slots", "budget_s", "estimate_s")

    def __init__(
        self,
        *,
        looks: bool,
        budget_s: float = LOOK_BUDGET_S,
        slots: tuple[threading.Lock, ...] = _PROCESS_SLOTS,
    ) -> None:
        self.budget_s = budget_s
        self.estimate_s = budget_s
        self._slots = slots if looks else ()
        self._held: threading.Lock | None = None

    def look_until(self, now: float) -> float:
        """Until when the call begun at ``now`` looks for its answer; 0.0 (the past) when it sleeps at once."""
        if self.estimate_s >= self.budget_s:
            return 0.0
        for slot in self._slots:
            if slot.acquire(False):
                self._held = slot
                return now + self.budget_s
        return 0.0

    def stop_looking(self) -> None:
        """Give the slot back (the answer came, the budget ran out, or the call ended): another thread may look."""
        held = self._held
        if held is not None:
            self._held = None
            held.release()

    def answered(self, elapsed_s: float) -> None:
        """Note how long the worker took to answer, looked for or slept on."""
        self.estimate_s += (elapsed_s - self.estimate_s) * _ESTIMATE_WEIGHT
