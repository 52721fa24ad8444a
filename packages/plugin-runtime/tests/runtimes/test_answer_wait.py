"""The warm call's waiting policy: the budget, the cap on looking threads, the answer-time estimate."""

from __future__ import annotations

import os
import time

import pytest

from workflow_plugin_runtime.runtimes.answer_wait import LOOK_BUDGET_S, AnswerWait, Waiting


def _fast(wait: AnswerWait) -> None:
    """One call answered at once: the estimate falls under the budget."""
    wait.begin(0.0)
    wait.end(0.0)


def test_a_workers_first_call_sleeps_and_a_fast_answer_lets_the_next_look():
    wait = AnswerWait(looks=True, waiting=Waiting(2))
    assert wait.begin(5.0) == 0.0
    wait.end(LOOK_BUDGET_S / 10)
    assert wait.begin(5.0) == 5.0 + LOOK_BUDGET_S
    wait.end(LOOK_BUDGET_S / 10)


def test_a_container_worker_never_looks():
    wait = AnswerWait(looks=False, waiting=Waiting(2))
    for _ in range(5):
        _fast(wait)
    assert wait.begin(1.0) == 0.0
    wait.end(None)


def test_a_slow_answer_turns_looking_off_and_fast_answers_turn_it_on_again():
    wait = AnswerWait(looks=True, budget_s=0.001, waiting=Waiting(2))
    _fast(wait)
    assert wait.begin(0.0) > 0.0
    wait.end(0.005)  # a plugin taking 5 ms a call
    looked = []
    for _ in range(20):
        looked.append(wait.begin(0.0) > 0.0)
        wait.end(0.005)
    assert not any(looked)  # a slow worker never makes the call look
    fast_calls = 0
    while wait.begin(0.0) == 0.0:
        wait.end(0.0001)
        fast_calls += 1
        assert fast_calls < 50
    wait.end(0.0001)
    assert fast_calls >= 2  # one fast answer among slow ones is not enough


def test_a_call_that_got_no_answer_leaves_the_estimate_as_it_was():
    wait = AnswerWait(looks=True, waiting=Waiting(2))
    _fast(wait)
    estimate = wait.estimate_s
    wait.begin(0.0)
    wait.end(None)  # timed out, cancelled, or the worker died
    assert wait.estimate_s == estimate


@pytest.mark.parametrize(("cpus", "looking"), [(1, 0), (2, 1), (3, 1), (4, 2), (8, 4)])
def test_at_most_half_the_cpus_have_a_thread_waiting_when_one_looks(cpus, looking):
    waiting = Waiting(cpus)
    waits = [AnswerWait(looks=True, waiting=waiting) for _ in range(cpus + 1)]
    for wait in waits:
        _fast(wait)
    looks = [wait.begin(10.0) > 0.0 for wait in waits]  # every thread waiting at once
    assert looks == [True] * looking + [False] * (cpus + 1 - looking)
    for wait in waits:
        wait.end(None)


def test_after_threads_crowded_none_looks_for_a_while_then_one_looks_again():
    waiting = Waiting(2)
    first, second = AnswerWait(looks=True, waiting=waiting), AnswerWait(looks=True, waiting=waiting)
    _fast(first)
    _fast(second)
    assert first.begin(10.0) > 0.0
    assert second.begin(10.0) == 0.0  # two threads waiting on two CPUs
    first.end(None)
    second.end(None)
    assert first.begin(10.05) == 0.0  # alone now, but the threads were crowded a moment ago
    first.end(None)
    assert first.begin(10.5) > 0.0
    first.end(None)


def test_a_thread_waiting_on_any_worker_counts_even_one_that_does_not_look():
    waiting = Waiting(2)
    container, process = AnswerWait(looks=False, waiting=waiting), AnswerWait(looks=True, waiting=waiting)
    _fast(process)
    container.begin(10.0)
    assert process.begin(10.0) == 0.0  # two threads waiting on two CPUs
    process.end(None)
    container.end(None)
    assert process.begin(20.0) > 0.0
    process.end(None)


def test_the_process_wide_cap_follows_the_cpus_this_process_may_use():
    wait = AnswerWait(looks=True)
    later = time.monotonic() + 1.0  # past any crowding of this process's earlier tests
    wait.begin(later)
    wait.end(0.0)
    looks = wait.begin(later) > 0.0
    wait.end(None)
    assert looks == (len(os.sched_getaffinity(0)) >= 2)
