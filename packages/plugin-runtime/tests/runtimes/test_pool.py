"""The warm pool with real worker processes: reuse, recycling, replacement, limits."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.deadline import KILL_GRACE_S
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.pool import WarmPool
from workflow_plugin_sdk.protocol import make_request

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pool_plugins"
EXAMPLES = Path(__file__).parents[4] / "examples" / "plugins"


def invocation(plugin: Path, action: str, inputs: dict | None = None, **options) -> Invocation:
    plugin = plugin.resolve()
    options.setdefault("kind", RuntimeKind.PROCESS)
    return Invocation(
        plugin_ref=f"tests/{plugin.name}",
        request=make_request(action, inputs or {}),
        plugin_dir=plugin,
        argv=plugin_argv(plugin, entrypoint="main.py"),
        **options,
    )


RAW = FIXTURES / "raw_worker"


@pytest.fixture
def pool():
    with WarmPool(size=2, ready_timeout_s=5.0) as warm:
        yield warm


def test_a_worker_is_reused_and_reports_warm(pool):
    first = pool.invoke(invocation(RAW, "pid"))
    second = pool.invoke(invocation(RAW, "pid"))
    assert first.failure is None and second.failure is None
    assert first.outputs["pid"] == second.outputs["pid"]
    assert (first.metrics.warm, second.metrics.warm) == (False, True)


def test_a_worker_is_recycled_after_its_quota_of_calls(gone_within):
    with WarmPool(size=1, recycle_after=2) as pool:
        pids = [pool.invoke(invocation(RAW, "pid")).outputs["pid"] for _ in range(3)]
    assert pids[0] == pids[1] != pids[2]
    assert gone_within(pids[0])


def _idle_workers_reach(pool: WarmPool, count: int, seconds: float = 30.0) -> bool:
    """Wait (up to ``seconds``: a busy machine's interpreter start) for ``count`` idle workers in ``pool``."""
    deadline = time.monotonic() + seconds
    while len(pool.worker_pids()) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_workers_successor_starts_ahead_and_takes_over_warm(gone_within):
    # A quota of 4: the successor starts once 2 calls are left (half the quota), and waits behind the worker.
    with WarmPool(recycle_after=4) as pool:
        results = [pool.invoke(invocation(RAW, "pid")) for _ in range(2)]
        assert _idle_workers_reach(pool, 2)  # the worker, and its successor ready beside it
        results += [pool.invoke(invocation(RAW, "pid")) for _ in range(3)]
    pids = [result.outputs["pid"] for result in results]
    assert pids[0] == pids[1] == pids[2] == pids[3] != pids[4]  # the worker serves out its quota first
    successor = results[4].metrics
    assert successor.warm and successor.timings.startup_s == 0.0  # its start was nobody's wait
    assert gone_within(pids[0]) and gone_within(pids[4])  # recycled; then stopped by close()


def test_a_full_capped_pool_starts_no_successor_ahead():
    with WarmPool(size=1, recycle_after=4) as pool:
        pids = [pool.invoke(invocation(RAW, "pid")).outputs["pid"] for _ in range(3)]
        assert len(pool.worker_pids()) == 1  # a successor would make two: it starts when the worker has gone
        fourth, fifth = (pool.invoke(invocation(RAW, "pid")) for _ in range(2))
    assert len({*pids, fourth.outputs["pid"]}) == 1 and fifth.outputs["pid"] != pids[0]
    assert not fifth.metrics.warm


def test_close_returns_only_once_every_retired_worker_is_gone(alive):
    # Each worker serves one call and is then stopped on a thread of the pool's; with a size of 1 the next call
    # waits for its place, and close() for the last one's stop: no worker may be left when it returns.
    with WarmPool(size=1, recycle_after=1) as pool:
        pids = [pool.invoke(invocation(RAW, "pid")).outputs["pid"] for _ in range(3)]
    assert len(set(pids)) == 3
    assert [pid for pid in pids if alive(pid)] == []


def test_a_workers_scratch_home_is_removed_with_it_however_deep_the_tree_it_left():
    forkable = Path(__file__).parents[1] / "fixtures" / "runtime_plugins" / "forkable"
    with WarmPool(size=1) as pool:
        result = pool.invoke(invocation(forkable, "litter", {"depth": sys.getrecursionlimit() + 200}))
    assert result.outputs is not None, result.failure
    assert not Path(result.outputs["home"]).exists()


@pytest.mark.parametrize(
    ("action", "kind", "words"),
    [
        ("crash", FailureKind.CRASHED, "exited with code 3"),
        ("garbage", FailureKind.PROTOCOL, "not valid JSON"),
        ("wrong-id", FailureKind.PROTOCOL, "must echo each request's id"),
    ],
)
def test_a_misbehaving_worker_fails_its_call_and_is_replaced(pool, action, kind, words, gone_within):
    before = pool.invoke(invocation(RAW, "pid")).outputs["pid"]
    failed = pool.invoke(invocation(RAW, action))
    assert failed.failure is not None
    assert failed.failure.kind is kind
    assert words in failed.failure.message
    assert gone_within(before)
    after = pool.invoke(invocation(RAW, "pid"))
    assert after.failure is None
    assert after.outputs["pid"] != before


def test_a_timed_out_worker_is_killed_with_what_it_started(pool, gone_within):
    spawned = pool.invoke(invocation(RAW, "spawn")).outputs
    failed = pool.invoke(invocation(RAW, "sleep", {"seconds": 60}, timeout_s=0.5))
    assert failed.failure is not None and failed.failure.kind is FailureKind.TIMEOUT
    assert "0.5 s" in failed.failure.message
    assert gone_within(spawned["pid"])
    assert gone_within(spawned["child"])


def test_cancel_stops_a_call_in_flight(pool):
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    result = pool.invoke(invocation(RAW, "sleep", {"seconds": 60}, cancel=cancel))
    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert time.monotonic() - started < 5


def test_no_worker_ever_serves_two_calls_at_once(pool, tmp_path):
    def call(_: int) -> int:
        result = pool.invoke(invocation(RAW, "busy", {"dir": str(tmp_path), "seconds": 0.05}))
        assert result.failure is None, result.failure
        return result.outputs["pid"]

    with ThreadPoolExecutor(max_workers=8) as threads:
        pids = list(threads.map(call, range(24)))
    assert 1 <= len(set(pids)) <= 2


def test_idle_workers_are_stopped_after_the_idle_timeout(gone_within):
    with WarmPool(size=1, idle_timeout_s=0.3) as pool:
        pid = pool.invoke(invocation(RAW, "pid")).outputs["pid"]
        assert gone_within(pid, 5)
        assert pool.worker_pids() == []


def test_close_leaves_no_process_and_no_descriptor_behind(gone_within):
    fds_before = len(list(Path("/proc/self/fd").iterdir()))
    pool = WarmPool(size=2)
    spawned = pool.invoke(invocation(RAW, "spawn")).outputs
    pids = set(pool.worker_pids())
    pool.close()
    assert spawned["pid"] in pids
    assert all(gone_within(pid) for pid in [*pids, spawned["child"]])
    assert len(list(Path("/proc/self/fd").iterdir())) == fds_before


def test_a_plugin_without_the_serve_loop_falls_back_to_cold_calls():
    with WarmPool(size=1, ready_timeout_s=0.5) as pool:
        results = [pool.invoke(invocation(FIXTURES / "one_shot", "hello")) for _ in range(2)]
    assert [r.outputs["action"] for r in results] == ["hello", "hello"]
    assert results[0].outputs["pid"] != results[1].outputs["pid"]
    assert not any(r.metrics.warm for r in results)


def test_logs_of_an_sdk_worker_reach_the_call_that_wrote_them(pool):
    seen: list[str] = []
    for text in ("one", "two words"):
        call = invocation(EXAMPLES / "text", "words", {"text": text})
        result = pool.invoke(call, on_log=lambda r: seen.append(r["message"]))
        assert result.failure is None
        assert [r["message"] for r in result.logs] == [f"counted {len(text.split())} words"]
    assert seen == ["counted 1 words", "counted 2 words"]


def test_every_warm_call_gets_the_logs_written_before_its_response(pool):
    # The response's wait reads the logs that came before it: none is left for the next call to pick up.
    for count in range(1, 201):
        call = invocation(EXAMPLES / "text", "words", {"text": "w " * count})
        result = pool.invoke(call)
        assert result.failure is None and result.metrics.warm == (count > 1)
        assert [r["message"] for r in result.logs] == [f"counted {count} words"]


def test_an_action_error_keeps_the_worker(pool):
    first = pool.invoke(invocation(EXAMPLES / "text", "render", {"template": "{missing}"}))
    second = pool.invoke(invocation(EXAMPLES / "text", "words", {"text": "still here"}))
    assert first.failure is not None and first.failure.kind is FailureKind.ACTION
    assert second.failure is None and second.metrics.warm


def test_without_a_size_the_pool_grows_with_the_calls_running_at_once(tmp_path):
    with WarmPool() as pool, ThreadPoolExecutor(max_workers=4) as threads:
        call = invocation(RAW, "rendezvous", {"dir": str(tmp_path), "count": 4})
        results = list(threads.map(pool.invoke, [call] * 4))
    assert all(result.failure is None for result in results), [r.failure for r in results]
    assert all(result.outputs["met"] for result in results)  # four workers were in the call at once
    assert len({result.outputs["pid"] for result in results}) == 4


def test_a_capped_pool_counts_the_wait_apart_from_the_call(tmp_path):
    with WarmPool(size=1) as pool, ThreadPoolExecutor(max_workers=2) as threads:
        calls = [invocation(RAW, "busy", {"dir": str(tmp_path), "seconds": 0.5}) for _ in range(2)]
        results = list(threads.map(pool.invoke, calls))
    waits = sorted(result.metrics.queued_s for result in results)
    assert waits[0] == 0.0 and waits[1] >= 0.4
    assert all(result.metrics.duration_s < 0.5 + 2.0 for result in results)


def test_a_timed_out_worker_records_how_it_ended(pool):
    failed = pool.invoke(invocation(RAW, "sleep", {"seconds": 60}, timeout_s=0.5))
    # It ignores SIGTERM, so the SIGKILL after the grace period ended it, as it would a one-shot call.
    assert (failed.failure.exit_code, failed.metrics.exit_code, failed.metrics.signal) == (None, None, 9)
    # Its action ran to the deadline; stopping it (the grace it ignored, then the kill) is its teardown.
    timings = failed.metrics.timings
    assert timings.action_s >= 0.5 and timings.teardown_s >= KILL_GRACE_S, timings


def test_a_workers_start_up_is_its_first_calls_and_no_later_ones(pool):
    first = pool.invoke(invocation(RAW, "pid"))
    second = pool.invoke(invocation(RAW, "pid"))
    assert first.outputs["pid"] == second.outputs["pid"]
    assert first.metrics.timings.startup_s > 0  # the interpreter's start, up to the ready line
    assert second.metrics.timings.startup_s == 0
    for result in (first, second):
        timings = result.metrics.timings
        assert min(timings.startup_s, timings.action_s, timings.teardown_s) >= 0
        assert timings.startup_s + timings.action_s + timings.teardown_s == pytest.approx(result.metrics.duration_s)


def test_a_plugin_that_cannot_be_kept_warm_is_warned_about_once():
    warnings = []
    with WarmPool(size=1, ready_timeout_s=0.5, on_warning=warnings.append) as pool:
        results = [pool.invoke(invocation(FIXTURES / "one_shot", "hello")) for _ in range(3)]
    assert all(r.failure is None for r in results)
    [warning] = warnings
    assert warning.message == (
        "tests/one_shot did not start as a warm worker: it wrote no ready line on stdout within 0.5 s; "
        "its calls run cold (one process per call)"
    )
    assert "runtime.serve: false" in warning.hint
    assert results[0].metrics.queued_s >= 0.5  # the first call waited for the ready line in vain


def test_the_kind_not_the_image_makes_a_process_worker(pool):
    """A process call that happens to name an image still gets a process worker, as its kind says."""
    first = pool.invoke(invocation(RAW, "pid", image="workflow-plugins-test/never-built:0"))
    second = pool.invoke(invocation(RAW, "pid", image="workflow-plugins-test/never-built:0"))
    assert first.failure is None and second.failure is None, (first.failure, second.failure)
    assert first.outputs["pid"] == second.outputs["pid"]
    assert (first.metrics.runtime, second.metrics.runtime) == (RuntimeKind.PROCESS, RuntimeKind.PROCESS)
    assert second.metrics.warm


def test_a_kind_without_warm_workers_is_refused(pool):
    in_the_engine = invocation(RAW, "pid", kind=RuntimeKind.ENGINE)
    with pytest.raises(ValueError, match="engine invocation cannot run on a process or docker or sandbox runtime"):
        pool.invoke(in_the_engine)
    assert pool.worker_pids() == []


def test_cold_calls_run_on_the_runtime_registered_for_their_kind(registered_process_runtimes):
    with WarmPool(size=1, ready_timeout_s=0.5) as pool:
        result = pool.invoke(invocation(FIXTURES / "one_shot", "hello"))
        assert len(registered_process_runtimes) == 1
    assert result.failure is None, result.failure
    assert result.metrics.runtime is RuntimeKind.PROCESS and not result.metrics.warm
