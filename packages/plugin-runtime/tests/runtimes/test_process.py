"""ProcessRuntime with real plugin processes: outcomes, limits, kills, hygiene."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_runtime.errors import FailureKind
from workflow_plugin_runtime.runtimes.base import Invocation, MiB, PluginRuntime, RuntimeKind, Timings
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.process import ProcessRuntime
from workflow_plugin_sdk.protocol import LogRecord

MakeInvocation = Callable[..., Invocation]

SECRET = "s3cr3t-value-that-must-not-leak"
FAST_GRACE_S = 0.3


@pytest.fixture
def runtime() -> ProcessRuntime:
    return ProcessRuntime(kill_grace_s=FAST_GRACE_S)


def _my_zombies() -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        name = entry.name
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(name))
    return zombies


def test_process_runtime_implements_the_protocol(runtime: ProcessRuntime) -> None:
    assert isinstance(runtime, PluginRuntime)
    assert runtime.kind is RuntimeKind.PROCESS


def test_a_docker_invocation_is_refused_even_with_everything_a_process_needs(
    runtime: ProcessRuntime, probe: MakeInvocation, tmp_path: Path
) -> None:
    """The kind decides: a container call run as a bare process would lose its lockdown, so it never starts."""
    invocation = probe(
        "filesystem", {"targets": [str(tmp_path)]}, kind=RuntimeKind.DOCKER, image="workflow-plugins-test/any:1"
    )
    with pytest.raises(ValueError, match="a docker invocation cannot run on a process runtime"):
        runtime.invoke(invocation)
    assert not (tmp_path / "probe.txt").exists()


def test_success_returns_outputs_and_metrics(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    result = runtime.invoke(probe("hello", {"name": "ada"}))

    assert result.failure is None, result.failure
    assert result.outputs == {"greeting": "hello ada"}  # "hello" comes from a sibling module
    metrics = result.metrics
    assert metrics.runtime is RuntimeKind.PROCESS
    assert metrics.exit_code == 0 and metrics.signal is None
    assert 0 < metrics.duration_s < 10
    timings = metrics.timings
    assert min(timings.startup_s, timings.action_s, timings.teardown_s) > 0
    assert timings.startup_s + timings.action_s + timings.teardown_s == pytest.approx(metrics.duration_s)
    assert metrics.cpu_time_s is not None and metrics.cpu_time_s > 0
    assert metrics.peak_memory_bytes is not None and metrics.peak_memory_bytes > 4 * MiB


def test_peak_memory_reflects_what_the_plugin_allocated(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    result = runtime.invoke(probe("allocate", {"mib": 80}))

    assert result.ok, result.failure
    assert result.metrics.peak_memory_bytes is not None and result.metrics.peak_memory_bytes >= 80 * MiB


def test_plugin_reported_error_is_an_action_failure(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    result = runtime.invoke(probe("fail", {"message": "try later"}))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.ACTION
    assert result.failure.message == "try later"
    assert result.failure.retryable is True
    assert result.failure.error_type == "Busy"
    assert result.response is not None and result.response["ok"] is False
    assert result.outputs is None


def test_non_zero_exit_without_response_is_a_crash(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    result = runtime.invoke(raw("exit", {"code": 3}))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.CRASHED
    assert "exited with code 3" in result.failure.message
    assert result.failure.exit_code == 3
    assert "about to fail" in result.failure.stderr_tail
    assert result.metrics.exit_code == 3


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL])
def test_death_by_signal_is_a_crash_naming_the_signal(
    runtime: ProcessRuntime, raw: MakeInvocation, signum: signal.Signals
) -> None:
    result = runtime.invoke(raw("signal", {"signal": int(signum)}))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.CRASHED
    assert signum.name in result.failure.message
    assert result.metrics.signal == signum and result.metrics.exit_code is None


def test_response_then_non_zero_exit_is_a_crash(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    result = runtime.invoke(raw("ok-then-exit"))

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED
    assert "code 3" in result.failure.message


@pytest.mark.parametrize(
    ("action", "expected"),
    [("garbage", "not valid JSON"), ("empty", "without writing a response"), ("two-documents", "Extra data")],
)
def test_stdout_that_is_not_one_response_is_a_protocol_failure(
    runtime: ProcessRuntime, raw: MakeInvocation, action: str, expected: str
) -> None:
    result = runtime.invoke(raw(action))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.PROTOCOL
    assert expected in result.failure.message


def test_megabytes_on_stdout_over_the_limit_fail_fast_without_deadlock(
    runtime: ProcessRuntime, raw: MakeInvocation
) -> None:
    started = time.monotonic()
    result = runtime.invoke(raw("flood-stdout", {"bytes": 32 * MiB}, timeout_s=20))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.PROTOCOL
    assert "more than 16 MiB on stdout" in result.failure.message
    assert time.monotonic() - started < 10


def test_megabytes_on_stderr_within_the_limit_all_become_logs(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    seen: list[LogRecord] = []
    result = runtime.invoke(raw("flood-stderr", {"lines": 4000}), on_log=seen.append)

    assert result.ok, result.failure
    assert len(result.logs) == 4000 == len(seen)
    assert all(record["message"] == "y" * 1000 and record["structured"] for record in result.logs)


def test_megabytes_on_stderr_over_the_limit_fail_as_protocol(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    result = runtime.invoke(raw("flood-stderr", {"lines": 4000}, max_stderr_bytes=1 * MiB))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.PROTOCOL
    assert "more than 1 MiB of logs" in result.failure.message


def test_a_large_request_to_a_plugin_that_never_reads_it(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    invocation = raw("echo", {"blob": "z" * (4 * MiB)}, argv=(sys.executable, "-c", "import sys; sys.exit(4)"))

    result = runtime.invoke(invocation)

    assert result.failure is not None and result.failure.kind is FailureKind.CRASHED
    assert result.failure.exit_code == 4


def test_a_large_request_round_trips(runtime: ProcessRuntime, raw: MakeInvocation) -> None:
    blob = "z" * (2 * MiB)
    result = runtime.invoke(raw("echo", {"blob": blob}))

    assert result.outputs == {"inputs": {"blob": blob}}


def test_timeout_kills_the_plugin_and_grandchildren_that_ignore_sigterm(
    runtime: ProcessRuntime, raw: MakeInvocation, tmp_path: Path, gone_within: Callable[[int, float], bool]
) -> None:
    started = time.monotonic()
    result = runtime.invoke(raw("hang", {"pid_dir": str(tmp_path)}, timeout_s=1.5))
    elapsed = time.monotonic() - started

    assert result.failure is not None
    assert result.failure.kind is FailureKind.TIMEOUT
    assert "1.5 s" in result.failure.message
    assert 1.5 <= elapsed < 1.5 + FAST_GRACE_S + 2
    assert result.metrics.signal == signal.SIGKILL  # it ignored SIGTERM
    # The deadline runs from the spawn, so start-up and action together reach it (a loaded machine makes start-up
    # longer and the action shorter); the stop from there (the grace it ignored, the kill, the reaping) is teardown.
    timings = result.metrics.timings
    assert timings.startup_s + timings.action_s >= 1.5 and timings.teardown_s >= FAST_GRACE_S, timings
    assert timings.startup_s + timings.action_s + timings.teardown_s == pytest.approx(result.metrics.duration_s)
    assert result.metrics.duration_s <= elapsed
    for name in ("in-group.pid", "own-session.pid"):
        pid = int((tmp_path / name).read_text())
        assert gone_within(pid, 3), f"grandchild {name} ({pid}) survived the timeout"
    assert any(record["message"] == "hanging" for record in result.logs)


def test_leftovers_are_killed_when_the_plugin_exits_on_its_own(
    runtime: ProcessRuntime, raw: MakeInvocation, tmp_path: Path, gone_within: Callable[[int, float], bool]
) -> None:
    result = runtime.invoke(raw("leave-daemon", {"pid_dir": str(tmp_path)}))

    assert result.ok, result.failure
    assert gone_within(int((tmp_path / "daemon.pid").read_text()), 3)


def test_a_grandchild_holding_stdout_does_not_keep_the_call_waiting(
    runtime: ProcessRuntime, raw: MakeInvocation, tmp_path: Path, gone_within: Callable[[int, float], bool]
) -> None:
    started = time.monotonic()
    result = runtime.invoke(raw("hold-stdout", {"pid_dir": str(tmp_path)}, timeout_s=20))

    assert result.ok, result.failure
    assert time.monotonic() - started < 5
    assert gone_within(int((tmp_path / "holder.pid").read_text()), 3)


def test_an_exception_in_the_caller_kills_and_reaps_the_plugin(
    runtime: ProcessRuntime, raw: MakeInvocation, tmp_path: Path, gone_within: Callable[[int, float], bool]
) -> None:
    def on_log(record: LogRecord) -> None:
        raise RuntimeError("the caller broke")

    with pytest.raises(RuntimeError, match="the caller broke"):
        runtime.invoke(raw("hang", {"pid_dir": str(tmp_path)}), on_log=on_log)

    for name in ("in-group.pid", "own-session.pid"):
        assert gone_within(int((tmp_path / name).read_text()), 3)
    assert _my_zombies() == []


def test_cancel_kills_an_invocation_in_flight(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        result = runtime.invoke(probe("sleep", {"seconds": 30}, cancel=cancel))
    finally:
        timer.cancel()

    assert result.failure is not None and result.failure.kind is FailureKind.CANCELLED
    assert time.monotonic() - started < 5


def test_operator_environment_and_secrets_never_reach_the_plugin(
    runtime: ProcessRuntime, probe: MakeInvocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFLOW_TEST_OPERATOR_SENTINEL", "operator-only")
    monkeypatch.setenv("WORKFLOW_SECRET_API_TOKEN", SECRET)
    invocation = probe(
        "environment", {"token": SECRET}, secret_inputs=["token"], env={"LOG_LEVEL": "debug", "PYTHONPATH": "/nowhere"}
    )

    result = runtime.invoke(invocation)

    assert result.outputs is not None, result.failure
    env = result.outputs["env"]
    assert "WORKFLOW_TEST_OPERATOR_SENTINEL" not in env
    assert env["LOG_LEVEL"] == "debug"
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "LOG_LEVEL", "PYTHONPATH"}
    assert SECRET not in result.outputs["environ"]
    assert SECRET not in result.outputs["cmdline"]
    assert "operator-only" not in result.outputs["environ"]
    assert Path(result.outputs["cwd"]) == invocation.plugin_dir
    assert not Path(env["HOME"]).exists()  # the scratch home is removed afterwards


@pytest.mark.parametrize(
    "action",
    [
        "litter-home",  # read-only folders, a folder of mode 0, a link to the folder outside
        "litter-deep",  # nested past the recursion limit and PATH_MAX, a fifo, a socket, a link at the bottom
        "home-to-link",  # the home itself replaced by a link to the folder outside
    ],
)
def test_what_a_plugin_leaves_in_its_scratch_home_is_removed_read_only_or_not_and_links_are_not_followed(
    runtime: ProcessRuntime, raw: MakeInvocation, tmp_path: Path, action: str
) -> None:
    outside = tmp_path / "operator-folder"
    outside.mkdir()
    (outside / "kept").write_text("mine")
    outside.chmod(0o500)

    result = runtime.invoke(raw(action, {"outside": str(outside), "depth": sys.getrecursionlimit() + 200}))

    assert result.outputs is not None, result.failure
    assert not os.path.lexists(result.outputs["home"])
    assert outside.stat().st_mode & 0o777 == 0o500  # the link into it was removed, never followed
    assert (outside / "kept").read_text() == "mine"


def test_logs_stream_in_order_structured_and_plain(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    seen: list[LogRecord] = []
    result = runtime.invoke(probe("logs"), on_log=seen.append)

    assert result.ok, result.failure
    assert [(r["message"], r["level"], r["structured"]) for r in seen] == [
        ("one", "info", True),
        ("two", "info", False),
        ("three", "warning", True),
    ]
    assert seen[2].get("data") == {"step": 3}
    assert list(result.logs) == seen


def test_logs_reach_the_caller_while_the_plugin_still_runs(
    runtime: ProcessRuntime, probe: MakeInvocation, tmp_path: Path
) -> None:
    flag = tmp_path / "caller-saw-progress"

    def on_log(record: LogRecord) -> None:
        if record["message"] == "started":
            flag.touch()

    result = runtime.invoke(probe("progress", {"flag": str(flag)}), on_log=on_log)

    assert result.outputs == {"caller_saw_progress": True}


def test_a_missing_interpreter_is_reported_with_a_fix(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    result = runtime.invoke(probe("hello", argv=("no-such-interpreter-here", "main.py")))

    assert result.failure is not None
    assert result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    assert "no-such-interpreter-here" in result.failure.message
    assert "entrypoint/command" in result.failure.message
    assert result.metrics.timings == Timings(startup_s=result.metrics.duration_s)  # it never got ready


def test_a_command_entrypoint_runs_in_the_plugin_directory(runtime: ProcessRuntime, probe: MakeInvocation) -> None:
    assert probe("hello").plugin_dir is not None
    argv = plugin_argv(Path(), command=["python", "-E", "-s", "main.py"])
    result = runtime.invoke(probe("hello", argv=argv))

    assert result.outputs == {"greeting": "hello world"}


def test_no_zombies_and_no_descriptor_leaks_after_many_invocations(
    runtime: ProcessRuntime, probe: MakeInvocation, raw: MakeInvocation, tmp_path: Path
) -> None:
    def fds() -> set[str]:
        return {entry.name for entry in Path("/proc/self/fd").iterdir()}

    runtime.invoke(probe("hello"))  # warm up anything opened once per process
    before = fds()
    for round_ in range(6):
        assert runtime.invoke(probe("hello")).ok
        assert not runtime.invoke(raw("exit", {"code": 1})).ok
        assert not runtime.invoke(raw("garbage")).ok
        assert not runtime.invoke(raw("flood-stdout", {"bytes": 2 * MiB}, max_stdout_bytes=MiB)).ok
        if round_ < 2:
            pid_dir = tmp_path / str(round_)
            pid_dir.mkdir()
            assert not runtime.invoke(raw("hang", {"pid_dir": str(pid_dir)}, timeout_s=0.5)).ok

    assert fds() == before
    assert _my_zombies() == []
