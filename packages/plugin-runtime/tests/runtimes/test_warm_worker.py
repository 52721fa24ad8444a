"""One warm worker driven directly, its calls looking for their answers before they sleep.

A process worker and a sandbox worker (real bubblewrap, whose pipes are the plugin's own) alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workflow_plugin_runtime.runtimes.answer_wait import AnswerWait, Waiting
from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.outcome import Termination
from workflow_plugin_runtime.runtimes.sandbox.worker import sandbox_spawn
from workflow_plugin_runtime.runtimes.streams import LogStream
from workflow_plugin_runtime.runtimes.warm_worker import Spawn, WarmWorker, process_spawn
from workflow_plugin_sdk.protocol import decode_response, make_request

RAW = Path(__file__).resolve().parents[1] / "fixtures" / "pool_plugins" / "raw_worker"


class RecordingWait(AnswerWait):
    """The real policy with a budget no call outlasts, noting whether each call looked."""

    def __init__(self) -> None:
        super().__init__(looks=True, budget_s=120.0, waiting=Waiting(2))
        self.looked: list[bool] = []

    def begin(self, now: float) -> float:
        look_until = super().begin(now)
        self.looked.append(look_until > 0.0)
        return look_until


def invocation(action: str, inputs: dict | None = None, **fields) -> Invocation:
    fields.setdefault("kind", RuntimeKind.PROCESS)
    return Invocation(
        plugin_ref="tests/raw_worker",
        request=make_request(action, inputs or {}),
        plugin_dir=RAW,
        argv=plugin_argv(RAW, entrypoint="main.py"),
        **fields,
    )


@pytest.fixture(
    params=[
        pytest.param((process_spawn, RuntimeKind.PROCESS), id="process"),
        pytest.param((sandbox_spawn, RuntimeKind.SANDBOX), id="sandbox", marks=pytest.mark.sandbox),
    ]
)
def worker(request, gone_within) -> Iterator[WarmWorker]:
    """A raw worker whose next calls look for their answers for the whole call (its first call answered)."""
    spawn: Callable[[Invocation], Spawn]
    spawn, kind = request.param
    warm = WarmWorker(spawn(invocation("pid", kind=kind)), ready_timeout_s=30.0)
    assert warm.answer_wait.looks  # the policy a pool's worker of this kind gets
    warm.answer_wait = wait = RecordingWait()
    try:
        first = warm.call(invocation("pid"), LogStream(1 << 20))
        assert first[1] is Termination.COMPLETED and wait.looked == [False]
        yield warm
    finally:
        warm.kill()
    assert gone_within(warm.process.pid)


def looked(worker: WarmWorker) -> bool:
    assert isinstance(worker.answer_wait, RecordingWait)
    return worker.answer_wait.looked[-1]


def test_answers_found_by_looking_are_each_calls_own_with_the_logs_written_before_them(worker):
    first_pid = decode_response(worker.call(invocation("pid"), LogStream(1 << 20))[0])["outputs"]["pid"]
    for call_id in range(3, 203):
        logs = LogStream(1 << 20)
        line, termination = worker.call(invocation("pid"), logs)
        assert termination is Termination.COMPLETED and looked(worker)
        response = decode_response(line)
        assert response["id"] == call_id and response["outputs"]["pid"] == first_pid
        assert [record["message"] for record in logs.records] == [f"call {call_id} pid"]


def test_a_timeout_ends_a_call_that_looks(worker):
    line, termination = worker.call(invocation("sleep", {"seconds": 60}, timeout_s=0.3), LogStream(1 << 20))
    assert (line, termination) == (b"", Termination.TIMED_OUT) and looked(worker)
    assert worker.exit_status() == (None, None)  # the pool, not the call, decides how to stop it


def test_a_cancel_ends_a_call_that_looks(worker):
    cancel = threading.Event()
    # The worker's log line before it sleeps is read by the looking call, whose callback then cancels it.
    logs = LogStream(1 << 20, on_log=lambda record: cancel.set())
    line, termination = worker.call(invocation("sleep", {"seconds": 60}, cancel=cancel), logs)
    assert (line, termination) == (b"", Termination.CANCELLED) and looked(worker)
    assert [record["message"] for record in logs.records] == ["call 2 sleep"]


def test_a_worker_that_dies_while_its_call_looks_is_told_with_its_logs(worker):
    logs = LogStream(1 << 20)
    line, termination = worker.call(invocation("crash"), logs)
    assert (line, termination) == (b"", Termination.COMPLETED) and looked(worker)
    assert not worker.alive and worker.exit_status() == (3, None)
    assert [record["message"] for record in logs.records] == ["call 2 crash"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [("close-stderr", Termination.COMPLETED), ("close-stdout", Termination.TIMED_OUT)],
)
def test_a_worker_that_closed_a_pipe_is_waited_for_asleep(action, expected, gone_within):
    """A closed pipe is ready at every wait: the wait stops watching it, not spinning to the answer or deadline."""
    warm = WarmWorker(process_spawn(invocation("pid")), ready_timeout_s=30.0)
    try:
        started_cpu = time.thread_time()
        line, termination = warm.call(invocation(action, {"seconds": 0.5}, timeout_s=2.0), LogStream(1 << 20))
        used_cpu = time.thread_time() - started_cpu
        assert termination is expected and (line != b"") is (expected is Termination.COMPLETED)
        assert used_cpu < 0.1, f"the call's wait used {used_cpu:.2f} s of CPU"
    finally:
        warm.kill()
    assert gone_within(warm.process.pid)
