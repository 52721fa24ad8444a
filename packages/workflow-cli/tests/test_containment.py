"""Trusted mode's containment through `workflow run`: secrets the engine holds, daemons plugins leave.

Trusted plugins run as the operator's user. These tests run real plugins that
try what such a plugin can: read the engine's environment and memory
through /proc, and leave a double-forked daemon behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
UNUSED_SECRET = "operator-secret-nobody-asked-for"


def write(tmp_path: Path, text: str, *, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def unprivileged() -> tuple[str, ...]:
    """A prefix that runs a command as an ordinary operator, as far as other processes' /proc files go.

    Root (as on CI machines) reads any process's environ through
    CAP_SYS_PTRACE, CAP_SYS_ADMIN or CAP_PERFMON whatever it is dumpable or
    not; an operator has none of them. ``setpriv`` drops them from the
    bounding set, so neither the CLI nor its plugins have them.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to run this test as root"
    return (setpriv, "--bounding-set=-sys_ptrace,-sys_admin,-perfmon", "--inh-caps=-all", "--")


def run_json(run_cli, flow: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()):
    done = run_cli("run", str(flow), "--json", "-p", str(PLUGINS), *args, env=env, prefix=prefix)
    record = json.loads(done.stdout) if done.stdout.strip() else None
    return done, record


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_DUMPABLE is Linux's")
def test_a_trusted_plugin_cannot_read_the_engines_environment_or_memory(run_cli, tmp_path):
    flow = write(tmp_path, "name: spy\ntasks:\n  peek: {uses: tests/containment.peek}\n")
    done, record = run_json(run_cli, flow, env={"WORKFLOW_SECRET_UNUSED": UNUSED_SECRET}, prefix=unprivileged())
    assert done.returncode == 0, done.stderr
    outputs = record["tasks"]["peek"]["outputs"]
    assert outputs == {"environ": "EACCES", "mem": "EACCES", "secret_names": []}, outputs


def test_every_secret_the_cli_can_see_is_masked_used_or_not(run_cli, tmp_path):
    secrets_file = tmp_path / ".env"
    secrets_file.write_text("FILE_ONLY=from-the-file-never-used\nSHARED=file-value-that-wins\n")
    secrets_file.chmod(0o600)
    leaked = [UNUSED_SECRET, "from-the-file-never-used", "file-value-that-wins", "env-value-the-file-shadows"]
    flow = write(
        tmp_path,
        "name: leak\ntasks:\n  say: {uses: tests/containment.say, inputs: {text: '{{ vars.found }}'}}\n",
    )
    done, record = run_json(
        run_cli,
        flow,
        "--secrets-file",
        str(secrets_file),
        "--var",
        "found=" + " and ".join(leaked),  # what a plugin could find in a file, another process, the engine
        env={"WORKFLOW_SECRET_UNUSED": UNUSED_SECRET, "WORKFLOW_SECRET_SHARED": "env-value-the-file-shadows"},
    )
    assert done.returncode == 0, done.stderr
    written = (tmp_path / ".workflow" / "runs" / f"{record['run_id']}.json").read_text()
    for text in (done.stdout, done.stderr, written):
        for value in leaked:
            assert value not in text
    assert record["tasks"]["say"]["outputs"] == {"said": " and ".join(["***"] * 4)}
    assert "saying ***" in done.stderr


def _state_of(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return "zombie" if stat[stat.rfind(")") + 2] in "ZX" else "running"


@contextlib.contextmanager
def killed_afterwards(*pidfiles: Path):
    """Whatever the test found, no daemon it caused outlives it."""
    try:
        yield
    finally:
        for pidfile in pidfiles:
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_a_double_forked_daemon_dies_and_is_reaped_with_its_call(run_cli, tmp_path, gone_within):
    pidfile = tmp_path / "daemon.pid"
    flow = write(
        tmp_path,
        f"""
name: daemonize
tasks:
  start: {{uses: tests/containment.daemon, inputs: {{pidfile: "{pidfile}"}}}}
  check:
    needs: [start]
    uses: tests/containment.status
    inputs: {{pid: "{{{{ tasks.start.outputs.pid }}}}"}}
""",
    )
    with killed_afterwards(pidfile):
        done, record = run_json(run_cli, flow)
        assert done.returncode == 0, done.stderr
        pid = int(pidfile.read_text())
        assert record["tasks"]["start"]["outputs"] == {"pid": pid}
        # Killed and reaped as its call ended, not only when the run did.
        assert record["tasks"]["check"]["outputs"] == {"state": "gone"}
        assert gone_within(pid, 5.0)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_a_daemon_started_by_a_warm_worker_dies_when_the_worker_is_stopped(run_cli, tmp_path, gone_within):
    pidfile = tmp_path / "daemon.pid"
    flow = write(
        tmp_path,
        f"name: daemonize\ntasks:\n  start: {{uses: tests/containment.daemon, inputs: {{pidfile: '{pidfile}'}}}}\n",
    )
    with killed_afterwards(pidfile):
        done, record = run_json(run_cli, flow, "--pool")
        assert done.returncode == 0, done.stderr
        pid = int(pidfile.read_text())
        assert record["tasks"]["start"]["outputs"] == {"pid": pid}
        assert gone_within(pid, 5.0)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_a_daemon_is_never_killed_while_the_call_that_may_own_it_runs(run_cli, tmp_path, gone_within):
    """Another call ending must not take a running call's daemon with it; both die by the end of the run."""
    held, quick, flag = tmp_path / "held.pid", tmp_path / "quick.pid", tmp_path / "flag"
    flow = write(
        tmp_path,
        f"""
name: overlap
tasks:
  hold: {{uses: tests/containment.hold, inputs: {{pidfile: "{held}", flag: "{flag}"}}}}
  quick: {{uses: tests/containment.daemon, inputs: {{pidfile: "{quick}"}}}}
  after: {{needs: [quick], uses: tests/containment.touch, inputs: {{path: "{flag}"}}}}
""",
    )
    with killed_afterwards(held, quick):
        done, record = run_json(run_cli, flow, "--concurrency", "2")
        assert done.returncode == 0, done.stderr
        assert record["tasks"]["hold"]["outputs"]["daemon_alive"] is True
        for pidfile in (held, quick):
            pid = int(pidfile.read_text())
            assert gone_within(pid, 5.0), f"{pidfile.name}: {_state_of(pid)}"


def processes_named(name: str) -> list[int]:
    """The pids of the processes whose name (``/proc/<pid>/comm``) is ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def hoppers_killed_afterwards(name: str):
    """Whatever the test found, no hopping daemon it caused outlives it (each kill may miss a hop: repeat)."""
    try:
        yield
    finally:
        for _ in range(1000):
            pids = processes_named(name)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_a_daemon_that_keeps_forking_and_exiting_does_not_outlive_the_run(run_cli, tmp_path):
    """A pid that changes every hop: the one a sweep listed is gone when the kill lands, its child adopted."""
    name = f"hop{os.urandom(5).hex()}"
    flow = write(
        tmp_path,
        f"name: hopping\ntasks:\n  start: {{uses: tests/containment.hop, inputs: {{name: {name}}}}}\n"
        f"  after: {{needs: [start], uses: tests/containment.say, inputs: {{text: later}}}}\n",
    )
    with hoppers_killed_afterwards(name):
        done, record = run_json(run_cli, flow)
        assert done.returncode == 0, done.stderr
        assert record["tasks"]["after"]["status"] == "succeeded"
        # The run reaps what it killed before it exits: nothing may be left to wait for.
        assert processes_named(name) == []
