"""The scheduler with engine task types (the handler extension point), templates at dispatch, records."""

from __future__ import annotations

import gc
import json
import re
import threading
import time
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind, TaskHandlerError
from workflow_plugin_runtime.execution.executor import PluginExecutor
from workflow_plugin_runtime.execution.handlers import HandlerCall
from workflow_plugin_runtime.execution.manager import PluginManager
from workflow_plugin_runtime.execution.records import run_record, write_run_record
from workflow_plugin_runtime.execution.results import RunStatus, TaskStatus
from workflow_plugin_runtime.execution.scheduler import Scheduler, new_run_id
from workflow_plugin_runtime.masking.masker import Masker
from workflow_plugin_runtime.plugins.resolve import Resolver
from workflow_plugin_runtime.workflows.checks import check_workflow
from workflow_plugin_runtime.workflows.loading import load_workflow

EXAMPLES = Path(__file__).parents[4] / "examples" / "plugins"


def total(call: HandlerCall) -> dict[str, int]:
    """The tested example of an engine task type: sums its ``numbers`` input."""
    call.log(f"summing {len(call.inputs['numbers'])} numbers")
    return {"sum": sum(call.inputs["numbers"])}


class Flaky:
    """Fails (retryable) the first ``failures`` times it is called."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, call: HandlerCall) -> dict[str, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise TaskHandlerError(f"call {self.calls} failed", retryable=True)
        return {"calls": self.calls}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def task_started(self, task_id: str, attempt: int) -> None:
        with self.lock:
            self.events.append(("started", task_id))

    def task_log(self, task_id: str, record) -> None:
        with self.lock:
            self.events.append(("log", f"{task_id}: {record['message']}"))

    def task_finished(self, result) -> None:
        with self.lock:
            self.events.append((result.status.value, result.task_id))


@pytest.fixture
def executor():
    with PluginManager(Resolver([EXAMPLES], entry_points=False)) as manager:
        yield PluginExecutor(manager)


def workflow_file(tmp_path: Path, text: str):
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return load_workflow(path)


MIXED = """
name: mixed
vars: {numbers: [1, 2, 3, 4]}
tasks:
  add-up:
    uses: engine.sum
    inputs: {numbers: "{{ vars.numbers }}"}
  describe:
    needs: [add-up]
    uses: examples/text.render
    inputs:
      template: "the sum is {total}"
      values: {total: "{{ tasks.add-up.outputs.sum }}"}
outputs:
  text: "{{ tasks.describe.outputs.text }}"
"""


def test_an_engine_task_type_runs_through_its_handler_and_feeds_a_plugin(executor, tmp_path):
    workflow = workflow_file(tmp_path, MIXED)
    check = check_workflow(workflow, resolver=executor.manager.resolver, task_types={"engine.sum"})
    assert check.ok, check.errors
    recorder = Recorder()
    result = Scheduler(executor, handlers={"engine.sum": total}, observer=recorder).run(workflow)
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["add-up"].outputs == {"sum": 10}
    assert result.tasks["add-up"].metrics.runtime.value == "engine"
    assert result.tasks["add-up"].provenance == {"handler": "engine.sum"}
    assert result.outputs == {"text": "the sum is 10"}
    assert ("log", "add-up: summing 4 numbers") in recorder.events
    assert recorder.events.index(("succeeded", "add-up")) < recorder.events.index(("started", "describe"))


def test_an_unregistered_task_type_is_a_validation_error_with_the_known_ones(executor, tmp_path):
    workflow = workflow_file(tmp_path, MIXED.replace("engine.sum", "engine.summ"))
    check = check_workflow(workflow, resolver=executor.manager.resolver, task_types={"engine.sum"})
    [problem] = check.errors
    assert problem.message == "unknown task type 'engine.summ' (task 'add-up')"
    assert "did you mean engine.sum?" in problem.hint
    assert problem.location.line == 6


def test_a_retryable_handler_error_is_retried(executor, tmp_path):
    workflow = workflow_file(tmp_path, "name: r\ntasks:\n  a: {uses: flaky, retries: {count: 2, backoff: 0.01}}\n")
    flaky = Flaky(failures=2)
    result = Scheduler(executor, handlers={"flaky": flaky}).run(workflow)
    assert result.tasks["a"].status is TaskStatus.SUCCEEDED
    assert result.tasks["a"].attempts == 3
    assert result.tasks["a"].outputs == {"calls": 3}


def test_a_template_that_cannot_render_at_dispatch_fails_the_task_as_template(executor, tmp_path):
    text = MIXED.replace("tasks.add-up.outputs.sum", "tasks.add-up.outputs.missing")
    result = Scheduler(executor, handlers={"engine.sum": total}).run(workflow_file(tmp_path, text))
    describe = result.tasks["describe"]
    assert describe.status is TaskStatus.FAILED
    assert describe.failure.kind is FailureKind.TEMPLATE
    assert "missing" in describe.failure.message
    assert result.outputs == {"text": None}
    assert result.status is RunStatus.FAILED


def test_the_run_record_is_masked_and_written_atomically(executor, tmp_path):
    secret = "s3cret-handler-value"
    workflow = workflow_file(tmp_path, "name: m\ntasks:\n  a: {uses: leak}\n")
    masker = Masker({"KEY": secret})
    result = Scheduler(executor, handlers={"leak": lambda call: {"value": f"is {secret}"}}).run(workflow, masker=masker)
    record = run_record(result, masker=masker)
    path = write_run_record(record, workflow.directory)
    assert path == tmp_path / ".workflow" / "runs" / f"{result.run_id}.json"
    text = path.read_text()
    assert secret not in text
    assert json.loads(text)["tasks"]["a"]["outputs"] == {"value": "is ***"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("collecting", [True, False], ids=["collector-on", "collector-off"])
def test_building_the_record_leaves_the_collector_as_it_was(executor, tmp_path, collecting):
    workflow = workflow_file(tmp_path, "name: g\ntasks:\n  a: {uses: give}\n  b: {uses: give}\n")
    result = Scheduler(executor, handlers={"give": lambda call: {"n": 1}}).run(workflow)
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        record = run_record(result, masker=Masker({}))
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()
    assert [task["outputs"] for task in record["tasks"].values()] == [{"n": 1}, {"n": 1}]


def test_cancelling_before_start_cancels_every_task(executor, tmp_path):
    cancel = threading.Event()
    cancel.set()
    result = Scheduler(executor, handlers={"engine.sum": total}).run(workflow_file(tmp_path, MIXED), cancel=cancel)
    assert result.status is RunStatus.CANCELLED
    assert {task.status for task in result.tasks.values()} == {TaskStatus.CANCELLED}


def test_cancelling_during_a_retry_backoff_cancels_the_task(executor, tmp_path):
    workflow = workflow_file(tmp_path, "name: r\ntasks:\n  a: {uses: flaky, retries: {count: 3, backoff: 30}}\n")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    result = Scheduler(executor, handlers={"flaky": Flaky(failures=5)}).run(workflow, cancel=cancel)
    assert result.tasks["a"].status is TaskStatus.CANCELLED
    assert result.tasks["a"].attempts == 1
    assert result.status is RunStatus.CANCELLED


def test_an_output_reading_a_key_a_succeeded_task_lacks_fails_the_run(executor, tmp_path):
    text = (
        "name: o\ntasks:\n  a: {uses: give}\noutputs:\n"
        "  fine: '{{ tasks.a.outputs.n }}'\n  bad: '{{ tasks.a.outputs.m }}'\n"
    )
    result = Scheduler(executor, handlers={"give": lambda call: {"n": 1}}).run(workflow_file(tmp_path, text))
    assert result.tasks["a"].status is TaskStatus.SUCCEEDED
    assert result.status is RunStatus.FAILED
    assert result.outputs == {"fine": 1, "bad": None}
    assert result.failure is not None and result.failure.kind is FailureKind.TEMPLATE
    assert result.failure.message == (
        f"workflow output 'bad' ({tmp_path / 'flow.yaml'}:6:8: outputs.bad) cannot be resolved: "
        "tasks.a.outputs has no key 'm' (its keys: n)"
    )
    record = run_record(result, masker=Masker({}))
    assert record["error"] == {"kind": "template", "message": result.failure.message}


def stop_the_run(call: HandlerCall) -> dict[str, int]:
    """An engine task that cancels its own run, as Ctrl-C would while it runs."""
    call.cancel.set()
    return {}


def test_tasks_queued_behind_a_running_one_never_start_once_the_run_is_cancelled(executor, tmp_path):
    workflow = workflow_file(
        tmp_path, "name: q\ntasks:\n  first: {uses: stop}\n  second: {uses: count}\n  third: {uses: count}\n"
    )
    counted: list[str] = []
    recorder = Recorder()
    handlers = {"stop": stop_the_run, "count": lambda call: counted.append(call.task_id) or {}}
    result = Scheduler(executor, concurrency=1, handlers=handlers, observer=recorder).run(workflow)
    assert counted == []
    assert result.status is RunStatus.CANCELLED
    assert result.tasks["first"].status is TaskStatus.SUCCEEDED
    for task_id in ("second", "third"):
        assert result.tasks[task_id].status is TaskStatus.CANCELLED
        assert result.tasks[task_id].reason == "the run was cancelled before it started"
    assert [event for event in recorder.events if event[0] == "started"] == [("started", "first")]


def test_a_task_starts_when_a_worker_takes_it_not_when_it_is_queued(executor, tmp_path):
    workflow = workflow_file(tmp_path, "name: s\ntasks:\n  a: {uses: give}\n  b: {uses: give}\n  c: {uses: give}\n")
    result = Scheduler(executor, concurrency=1, handlers={"give": lambda call: {"n": 1}}).run(workflow)
    a, b, c = (result.tasks[task_id] for task_id in ("a", "b", "c"))
    assert a.finished_at is not None and b.started_at is not None and b.finished_at is not None
    assert a.finished_at <= b.started_at <= b.finished_at <= c.started_at


class FailingObserver(Recorder):
    """Fails when told of its first finished task, as a progress view writing to a closed pipe would."""

    def task_finished(self, result) -> None:
        super().task_finished(result)
        raise OSError(f"cannot show {result.task_id}")


def test_an_observer_error_on_a_worker_reaches_the_caller_and_no_task_starts_after_it(executor, tmp_path):
    workflow = workflow_file(tmp_path, "name: e\ntasks:\n  a: {uses: count}\n  b: {uses: count}\n  c: {uses: count}\n")
    counted: list[str] = []
    handlers = {"count": lambda call: counted.append(call.task_id) or {}}
    observer = FailingObserver()
    with pytest.raises(OSError, match="cannot show a"):
        Scheduler(executor, concurrency=1, handlers=handlers, observer=observer).run(workflow)
    assert counted == ["a"]
    assert observer.events == [("started", "a"), ("succeeded", "a")]


class OneAtATime(Recorder):
    """Notes any ``task_finished`` call that began while another was still in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Lock()
        self.overlaps = 0

    def task_finished(self, result) -> None:
        if not self.inside.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            super().task_finished(result)
        finally:
            self.inside.release()


def test_two_workers_run_independent_tasks_at_once_and_take_a_dependent_when_both_are_done(executor, tmp_path):
    text = (
        "name: d\ntasks:\n  left: {uses: meet}\n  right: {uses: meet}\n"
        "  join: {uses: give, needs: [left, right], inputs: {seen: '{{ tasks.left.outputs.met }}'}}\n"
    )
    both = threading.Barrier(2, timeout=10)  # broken (and the task failed) unless left and right run at once

    def meet(call: HandlerCall) -> dict[str, bool]:
        both.wait()
        return {"met": True}

    observer = OneAtATime()
    handlers = {"meet": meet, "give": lambda call: {"seen": call.inputs["seen"]}}
    result = Scheduler(executor, concurrency=2, handlers=handlers, observer=observer).run(workflow_file(tmp_path, text))
    assert result.status is RunStatus.SUCCEEDED, result.tasks
    assert result.tasks["join"].outputs == {"seen": True}
    assert observer.overlaps == 0
    finished = [task_id for status, task_id in observer.events if status == "succeeded"]
    assert sorted(finished[:2]) == ["left", "right"] and finished[2] == "join"
    join, left, right = (result.tasks[task_id] for task_id in ("join", "left", "right"))
    assert join.started_at is not None and left.finished_at is not None and right.finished_at is not None
    assert join.started_at >= max(left.finished_at, right.finished_at)


def test_a_run_id_is_its_start_time_and_eight_random_hex_digits():
    before = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    ids = [new_run_id() for _ in range(200)]
    after = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())

    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run_id) for run_id in ids), ids[:3]
    assert all(before <= run_id.split("-")[0] <= after for run_id in ids)
    assert len({run_id.split("-")[1] for run_id in ids}) == len(ids)  # 32 random bits: a clash here: about 1 in 200,000
