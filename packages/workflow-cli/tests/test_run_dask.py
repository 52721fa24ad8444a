"""``workflow run --executor dask``: a local cluster, a scheduler's address, the pre-flight, refusals, Ctrl-C.

Every cluster listens on 127.0.0.1 only: the executor's own local cluster,
or a scheduler and workers started as processes (the ``dask_processes``
fixture of the repository's conftest).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def hello_project(folder: Path, *, config: str = "") -> Path:
    """The hello example in a project of its own (its records stay there), plugins from its config."""
    (folder / ".workflow").mkdir(parents=True)
    shutil.copytree(EXAMPLES / "plugins" / "text", folder / "vendor" / "text")
    (folder / ".workflow" / "config.yaml").write_text(f"plugins: {{paths: [vendor]}}\n{config}")
    return Path(shutil.copy(EXAMPLES / "workflows" / "hello.yaml", folder / "hello.yaml"))


def record_of(done: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)  # exactly one JSON document, or this fails


@pytest.mark.dask
@pytest.mark.slow
def test_the_config_selects_dask_and_the_run_ends_as_the_local_run_does(run_cli: Any, tmp_path: Path) -> None:
    flow = hello_project(tmp_path / "project", config="executor: {kind: dask}\n")

    local = record_of(run_cli("run", str(flow), "--json", "--executor", "local"))
    remote = record_of(run_cli("run", str(flow), "--json"))

    assert (local["status"], remote["status"]) == ("succeeded", "succeeded")
    assert remote["outputs"] == local["outputs"]
    for task_id, task in remote["tasks"].items():
        assert (task["status"], task["outputs"], task["attempts"]) == (
            local["tasks"][task_id]["status"],
            local["tasks"][task_id]["outputs"],
            local["tasks"][task_id]["attempts"],
        )
        assert task["provenance"] == local["tasks"][task_id]["provenance"]
        assert task["metrics"]["worker"].startswith("tcp://127.0.0.1:")
        assert local["tasks"][task_id]["metrics"]["worker"] is None


@pytest.mark.dask
@pytest.mark.sandbox
@pytest.mark.slow
def test_a_restricted_workflow_on_the_local_cluster_runs_sandboxed_on_its_workers(run_cli: Any, tmp_path: Path) -> None:
    hello_project(tmp_path / "project")
    flow = tmp_path / "project" / "restricted.yaml"
    flow.write_text(
        "name: boxed\nsecurity: restricted\ntasks:\n"
        "  count: {uses: examples/text.words, inputs: {text: one two three}}\n",
        encoding="utf-8",
    )
    record = record_of(run_cli("run", str(flow), "--json", "--executor", "dask", "--backend", "sandbox"))
    task = record["tasks"]["count"]
    assert record["status"] == "succeeded", task
    assert task["outputs"]["count"] == 3
    assert (task["metrics"]["runtime"], task["provenance"]["runtime"]) == ("sandbox", "sandbox")
    assert task["metrics"]["worker"].startswith("tcp://127.0.0.1:")


@pytest.mark.dask
@pytest.mark.slow
def test_workers_holding_another_copy_stop_the_run_before_it_starts_with_one_report(
    run_cli: Any, tmp_path: Path, dask_processes: Callable[..., Any]
) -> None:
    flow = hello_project(tmp_path / "client")
    workers = {}
    for name in ("w1", "w2"):
        hello_project(tmp_path / name)
        workers[name] = tmp_path / name
    with (tmp_path / "w2" / "vendor" / "text" / "main.py").open("a") as main:
        main.write("# edited on this worker only\n")
    cluster = dask_processes(workers=workers)

    started = time.monotonic()
    done = run_cli("run", str(flow), "--executor", "dask", "--dask-address", cluster.address)

    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 60
    assert "holds a different copy of examples/text: content sha256:" in done.stderr
    assert "the client's is sha256:" in done.stderr
    assert done.stderr.count("holds a different copy") == 1  # w1 holds the same copy
    assert "nothing was run" in done.stderr
    assert not (flow.parent / ".workflow" / "runs").exists()


@pytest.mark.dask
def test_a_scheduler_off_this_machine_without_tls_is_refused_before_connecting(run_cli: Any, tmp_path: Path) -> None:
    flow = hello_project(tmp_path / "project")
    started = time.monotonic()
    done = run_cli("run", str(flow), "--executor", "dask", "--dask-address", "tcp://192.0.2.7:8786")
    assert done.returncode == 2
    assert time.monotonic() - started < 30  # no connection was tried (it would wait for its timeout)
    assert "refusing to connect to the Dask scheduler at tcp://192.0.2.7:8786 without TLS" in done.stderr
    assert "executor.tls.ca_file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.dask
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("garbage", "'garbage' is not a Dask scheduler address: missing port number"),
        ("tcp://[::1]:x", "'tcp://[::1]:x' is not a Dask scheduler address: invalid literal for int()"),
        ("tcp://127.0.0.1:99999", "the port 99999 is not between 1 and 65535"),
        ("inproc://127.0.0.1/1/1", "'inproc://127.0.0.1/1/1' is not a Dask scheduler address"),
        ("ws://127.0.0.1:8786", "ws:// is not one of tcp://, tls://"),
        ("tls://127.0.0.1:8786", "is tls:// but no TLS files are configured"),
        ("tcp://x@127.0.0.1:8786", "refusing to connect to the Dask scheduler at tcp://x@127.0.0.1:8786 without TLS"),
    ],
)
def test_a_dask_address_dask_could_not_use_is_one_clear_message_before_connecting(
    run_cli: Any, tmp_path: Path, address: str, message: str
) -> None:
    flow = hello_project(tmp_path / "project")
    done = run_cli("run", str(flow), "--executor", "dask", "--dask-address", address)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert message in errors[0]
    assert not (flow.parent / ".workflow" / "runs").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--executor", "cluster"), "'cluster' is not one of local, dask"),
        (("--executor", "local", "--dask-address", "tcp://127.0.0.1:8786"), "only the dask executor has a scheduler"),
    ],
)
def test_bad_executor_options_are_invalid_input(
    run_cli: Any, tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    done = run_cli("run", str(hello_project(tmp_path / "project")), *options)
    assert done.returncode == 2
    assert message in done.stderr


def test_without_distributed_a_local_run_works_and_dask_says_what_to_install(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    flow = hello_project(tmp_path / "project")
    blocked = (  # as if the [dask] extra were not installed: any import of them fails
        "import sys; sys.modules['distributed'] = sys.modules['dask'] = None; "
        "from workflow_cli.entry import main; sys.argv[0] = 'workflow'; main()"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", blocked, "run", str(flow), *args],
            capture_output=True, text=True, env=cli_env, cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip

    local = run("--json")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["status"] == "succeeded"
    dask = run("--executor", "dask")
    assert dask.returncode == 2
    assert "the dask executor needs Dask's distributed, which is not installed here" in dask.stderr
    assert "pip install 'workflow-plugin-runtime[dask]'" in dask.stderr
    assert "Traceback" not in dask.stderr


def _processes_with_environment(marker: str) -> list[int]:
    """The live processes whose environment holds ``marker`` (every descendant of the CLI inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if marker.encode() in (entry / "environ").read_bytes() and stat[stat.rfind(")") + 2] != "Z":
                    found.append(int(entry.name))
    return found


@pytest.mark.dask
@pytest.mark.slow
def test_sigint_cancels_the_run_on_the_cluster_and_leaves_no_process_behind(
    tmp_path: Path, cli_env: dict[str, str], alive: Callable[[int], bool]
) -> None:
    pidfile = tmp_path / "pids"
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f'name: cancel\ntasks:\n  hang: {{uses: tests/e2e.hang, inputs: {{pidfile: "{pidfile}"}}}}\n'
        "  later: {needs: [hang], uses: tests/e2e.number, inputs: {value: 1}}\n",
        encoding="utf-8",
    )
    marker = f"dask-sigint-{uuid.uuid4().hex}"
    env = {**cli_env, "WORKFLOW_TEST_MARKER": marker}
    cli = subprocess.Popen(
        [sys.executable, "-m", "workflow_cli", "run", str(flow), "--json", "-p", str(PLUGINS), "--executor", "dask"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (pidfile.exists() and len(pidfile.read_text().split()) == 2):  # the plugin and its child run
        assert time.monotonic() < deadline and cli.poll() is None, "the task never started"
        time.sleep(0.05)
    plugin_pids = [int(pid) for pid in pidfile.read_text().split()]
    assert all(alive(pid) for pid in plugin_pids)

    cli.send_signal(signal.SIGINT)
    stdout, stderr = cli.communicate(timeout=120)

    assert cli.returncode == 1, stderr
    record = json.loads(stdout)
    assert record["status"] == "cancelled"
    assert record["tasks"]["hang"]["status"] == "cancelled"
    assert record["tasks"]["later"]["status"] == "cancelled"
    assert not any(alive(pid) for pid in plugin_pids)  # the plugin and its child, on the worker
    assert _processes_with_environment(marker) == []  # no worker, nanny or plugin left
    assert "Traceback" not in stderr
