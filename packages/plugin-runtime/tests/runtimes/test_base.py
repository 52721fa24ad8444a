"""The invocation contract: argv for entrypoints, validation of what a runtime is given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_plugin_runtime.runtimes.base import Invocation, Metrics, MiB, ResourceLimits, RuntimeKind, Timings
from workflow_plugin_runtime.runtimes.host_argv import PYTHON_FLAGS, plugin_argv
from workflow_plugin_sdk.protocol import encode_message, make_request

PROBE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_plugins" / "probe"


def test_a_python_entrypoint_runs_under_this_interpreter_with_the_startup_flags(tmp_path: Path) -> None:
    assert plugin_argv(tmp_path, entrypoint="main.py") == (sys.executable, *PYTHON_FLAGS, str(tmp_path / "main.py"))
    assert plugin_argv(tmp_path, entrypoint="main.py", python="/opt/py") == (
        "/opt/py",
        "-E",
        "-s",
        f"{tmp_path}/main.py",
    )


def test_other_entrypoints_are_executed_and_commands_kept_as_given(tmp_path: Path) -> None:
    assert plugin_argv(tmp_path, entrypoint="bin/plugin") == (str(tmp_path / "bin/plugin"),)
    assert plugin_argv(tmp_path, command=["node", "index.js"]) == ("node", "index.js")


@pytest.mark.parametrize(
    "options", [{}, {"entrypoint": "main.py", "command": ["x"]}, {"command": []}], ids=["none", "both", "empty"]
)
def test_plugin_argv_needs_exactly_one_way_to_start(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"entrypoint|command"):
        plugin_argv(tmp_path, **options)  # type: ignore[arg-type]


def test_startup_flags_keep_the_plugin_directory_importable_and_ignore_python_variables(tmp_path: Path) -> None:
    """Why not -I: it drops the script's folder from sys.path, and the probe imports a sibling module."""
    argv = plugin_argv(PROBE_DIR, entrypoint="main.py")
    request = encode_message(make_request("hello", {}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "PYTHONSAFEPATH": "1"}
    (tmp_path / "workflow_plugin_sdk.py").write_text("raise SystemExit('PYTHONPATH was honoured')")

    works = subprocess.run(argv, cwd=tmp_path, input=request, env=env, capture_output=True, check=False)
    isolated = subprocess.run(
        [argv[0], "-I", argv[-1]], cwd=tmp_path, input=request, env=env, capture_output=True, check=False
    )

    assert json.loads(works.stdout) == {"ok": True, "outputs": {"greeting": "hello world"}}, works.stderr
    assert b"No module named 'helpers'" in isolated.stderr


def test_invocation_rejects_what_no_runtime_could_run(tmp_path: Path) -> None:
    request = make_request("go", {})
    with pytest.raises(ValueError, match="timeout"):
        Invocation(kind=RuntimeKind.DOCKER, plugin_ref="a/b", request=request, image="a/b:1", timeout_s=0)
    with pytest.raises(ValueError, match="output limits"):
        Invocation(kind=RuntimeKind.DOCKER, plugin_ref="a/b", request=request, image="a/b:1", max_stdout_bytes=0)
    with pytest.raises(ValueError, match="environment variable"):
        Invocation(kind=RuntimeKind.DOCKER, plugin_ref="a/b", request=request, image="a/b:1", env={"A=B": "x"})


def test_an_invocation_must_carry_what_its_kind_runs(tmp_path: Path) -> None:
    """The kind decides where a call runs, so a call missing what that place needs is refused when made."""
    request = make_request("go", {})
    with pytest.raises(ValueError, match="a/b: a docker invocation needs an image"):
        Invocation(kind=RuntimeKind.DOCKER, plugin_ref="a/b", request=request, plugin_dir=tmp_path, argv=("x",))
    with pytest.raises(ValueError, match="a/b: a process invocation needs argv and plugin_dir"):
        Invocation(kind=RuntimeKind.PROCESS, plugin_ref="a/b", request=request, image="a/b:1")


def test_resource_limits_have_safe_defaults_and_refuse_nonsense() -> None:
    limits = ResourceLimits()
    assert limits.memory_bytes == 512 * MiB and limits.cpus == 1.0 and limits.pids == 256
    with pytest.raises(ValueError, match="too small"):
        ResourceLimits(memory_bytes=MiB)
    with pytest.raises(ValueError, match="cpus"):
        ResourceLimits(cpus=0)
    with pytest.raises(ValueError, match="pids"):
        ResourceLimits(pids=0)


def test_the_record_splits_a_calls_time_and_counts_both_waits_as_its_queue() -> None:
    metrics = Metrics(
        duration_s=0.6,
        runtime=RuntimeKind.PROCESS,
        queued_s=0.25,
        slot_wait_s=0.5,
        timings=Timings.between(spawned=10.0, ready=10.1, answered=10.4, ended=10.6),
    )
    record = metrics.to_record()
    assert record["queued_s"] == 0.25  # the warm pool's wait, as before
    assert record["timings"] == pytest.approx({"queue_s": 0.75, "startup_s": 0.1, "action_s": 0.3, "teardown_s": 0.2})
