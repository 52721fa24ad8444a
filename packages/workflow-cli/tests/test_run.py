"""`workflow run` end to end: a real CLI process running real plugin processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def write(tmp_path: Path, text: str, *, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_json(run_cli, path: Path, *args: str, env: dict[str, str] | None = None):
    done = run_cli("run", str(path), "--json", "-p", str(PLUGINS), *args, env=env)
    record = json.loads(done.stdout) if done.stdout.strip() else None
    return done, record


DAG = """
name: dag
tasks:
  two: {uses: tests/e2e.number, inputs: {value: 2}}
  three: {uses: tests/e2e.number, inputs: {value: 3}}
  five:
    needs: [two, three]
    uses: tests/e2e.add
    inputs: {a: "{{ tasks.two.outputs.value }}", b: "{{ tasks.three.outputs.value }}"}
  ten:
    needs: [five]
    uses: tests/e2e.add
    inputs: {a: "{{ tasks.five.outputs.sum }}", b: "{{ tasks.five.outputs.sum }}"}
outputs:
  total: "{{ tasks.ten.outputs.sum }}"
  sentence: "five is {{ tasks.five.outputs.sum }}"
"""


def test_a_dag_runs_with_typed_values_and_writes_its_record(run_cli, tmp_path):
    done, record = run_json(run_cli, write(tmp_path, DAG))
    assert done.returncode == 0, done.stderr
    assert record["status"] == "succeeded"
    assert record["outputs"] == {"total": 10, "sentence": "five is 5"}
    assert record["tasks"]["five"]["outputs"] == {"sum": 5}
    assert [record["tasks"][t]["status"] for t in ("two", "three", "five", "ten")] == ["succeeded"] * 4
    five = record["tasks"]["five"]
    assert five["metrics"]["runtime"] == "process"
    assert five["metrics"]["exit_code"] == 0
    assert five["provenance"]["ref"] == "tests/e2e"
    assert five["provenance"]["version"] == "0.3.0"
    assert five["provenance"]["content_hash"].startswith("sha256:")
    assert five["provenance"]["grants"] == {"security": "trusted"}
    written = tmp_path / ".workflow" / "runs" / f"{record['run_id']}.json"
    assert json.loads(written.read_text()) == record
    assert "adding 2 and 3" in done.stderr  # plugin logs stream with the task's name


def test_independent_tasks_really_run_in_parallel(run_cli, tmp_path):
    journal = tmp_path / "journal.jsonl"
    tasks = "".join(
        f"  nap{i}: {{uses: tests/e2e.nap, inputs: {{seconds: 1.0, journal: '{journal}'}}}}\n" for i in range(4)
    )
    started = time.monotonic()
    done, _ = run_json(run_cli, write(tmp_path, f"name: parallel\ntasks:\n{tasks}"), "--concurrency", "4")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    naps = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(naps) == 4
    assert max(n["start"] for n in naps) < min(n["end"] for n in naps), "the four naps did not overlap"
    assert elapsed < 4 * 1.0 + 3, elapsed


def test_a_failure_skips_only_its_dependents(run_cli, tmp_path):
    flow = write(
        tmp_path,
        """
name: partial
tasks:
  broken: {uses: tests/e2e.fail}
  after-broken: {needs: [broken], uses: tests/e2e.number, inputs: {value: 1}}
  after-after: {needs: [after-broken], uses: tests/e2e.number, inputs: {value: 1}}
  independent: {uses: tests/e2e.number, inputs: {value: 7}}
""",
    )
    done, record = run_json(run_cli, flow)
    assert done.returncode == 1
    tasks = record["tasks"]
    assert record["status"] == "failed"
    assert tasks["broken"]["status"] == "failed"
    assert tasks["broken"]["error"]["kind"] == "action"
    assert tasks["broken"]["error"]["message"] == "this task fails on purpose"
    assert tasks["after-broken"]["status"] == "skipped"
    assert tasks["after-broken"]["reason"] == "skipped because 'broken' failed"
    assert tasks["after-after"]["reason"] == "skipped because 'after-broken' was skipped"
    assert tasks["independent"]["status"] == "succeeded"
    assert tasks["independent"]["outputs"] == {"value": 7}


@pytest.mark.parametrize(("count", "status", "attempts"), [(3, "succeeded", 3), (1, "failed", 2)])
def test_retryable_failures_are_retried_with_backoff(run_cli, tmp_path, count, status, attempts):
    counter = tmp_path / "counter"
    flow = write(
        tmp_path,
        f"""
name: retries
tasks:
  flaky:
    uses: tests/e2e.flaky
    inputs: {{counter: "{counter}", succeed_on: 3}}
    retries: {{count: {count}, backoff: 0.05}}
""",
    )
    done, record = run_json(run_cli, flow)
    assert record["tasks"]["flaky"]["status"] == status
    assert record["tasks"]["flaky"]["attempts"] == attempts
    assert int(counter.read_text()) == attempts
    assert done.returncode == (0 if status == "succeeded" else 1)


def test_secrets_reach_the_plugin_but_never_the_terminal_or_the_record(run_cli, tmp_path):
    secret = "tok-5f3a9c-very-secret"
    flow = write(
        tmp_path,
        """
name: secrets
tasks:
  echo:
    uses: tests/e2e.echo
    inputs: {token: "{{ secrets.API_TOKEN }}", plain: "visible"}
""",
    )
    done, record = run_json(run_cli, flow, env={"WORKFLOW_SECRET_API_TOKEN": secret})
    assert done.returncode == 0, done.stderr
    written = (tmp_path / ".workflow" / "runs" / f"{record['run_id']}.json").read_text()
    assert secret not in done.stdout + done.stderr + written
    assert record["tasks"]["echo"]["outputs"] == {"token": "***", "plain": "visible"}
    assert "echoing ***" in done.stderr


@pytest.mark.parametrize(
    ("text", "args", "words"),
    [
        ("name: x\ntasks:\n  a: {uses: tests/e2e.nope}\n", (), "has no action 'nope'"),
        ("name: x\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: '{{ secrets.MISSING }}'}}\n", (), "MISSING"),
        ("name: x\ntasks:\n  a: {uses: tests/e2e.number, needz: []}\n", (), "needz"),
        ("name: x\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: '{{ vars.n }}'}}\n", ("--var", "n"), "no '='"),
    ],
)
def test_invalid_input_exits_2_with_one_clear_message_and_runs_nothing(run_cli, tmp_path, text, args, words):
    done = run_cli("run", str(write(tmp_path, text)), "-p", str(PLUGINS), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_json_output_is_exactly_one_document(run_cli, tmp_path):
    done, record = run_json(run_cli, write(tmp_path, DAG))
    assert json.loads(done.stdout) == record  # nothing else on stdout
    assert "dag: succeeded" in done.stderr


def test_warm_workers_serve_repeated_calls_with_pool(run_cli, tmp_path):
    done, record = run_json(run_cli, write(tmp_path, DAG), "--pool")
    assert done.returncode == 0, done.stderr
    assert record["outputs"]["total"] == 10
    assert record["tasks"]["ten"]["metrics"]["warm"] is True  # "five" warmed the add worker


def test_the_project_config_can_enable_warm_workers_for_every_run(run_cli, tmp_path):
    (tmp_path / ".workflow").mkdir()
    (tmp_path / ".workflow" / "config.yaml").write_text(f"plugins: {{paths: ['{PLUGINS}']}}\npool: {{enabled: true}}\n")
    done = run_cli("run", str(write(tmp_path, DAG)), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tasks"]["ten"]["metrics"]["warm"] is True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_kills_plugins_and_still_writes_the_record(tmp_path, signum, alive):
    pidfile = tmp_path / "pids"
    flow = write(
        tmp_path,
        f"""
name: cancel
tasks:
  hang1: {{uses: tests/e2e.hang, inputs: {{pidfile: "{pidfile}"}}}}
  hang2: {{uses: tests/e2e.hang, inputs: {{pidfile: "{pidfile}"}}}}
  later: {{needs: [hang1], uses: tests/e2e.number, inputs: {{value: 1}}}}
""",
    )
    env = {**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path / "data")}
    cli = subprocess.Popen(
        [sys.executable, "-m", "workflow_cli", "run", str(flow), "--json", "-p", str(PLUGINS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not pidfile.exists() or len(pidfile.read_text().split()) < 4):
        time.sleep(0.05)
    pids = [int(pid) for pid in pidfile.read_text().split()]
    assert len(pids) == 4 and all(alive(pid) for pid in pids)
    cli.send_signal(signum)
    stdout, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 1, stderr
    record = json.loads(stdout)
    assert record["status"] == "cancelled"
    assert {record["tasks"][t]["status"] for t in ("hang1", "hang2", "later")} == {"cancelled"}
    assert record["tasks"]["hang1"]["error"]["kind"] == "cancelled"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)], "a plugin process outlived the cancelled run"
    assert b"Traceback" not in stderr


def containers_of(plugin_ref: str) -> list[str]:
    """The ids of containers, running or not, labelled as the plugin's: none may outlive a run."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=workflow-plugins.plugin={plugin_ref}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.fixture
def e2e_image(run_cli):
    """The e2e fixture plugin built into the image restricted runs use (its manifest's default tag)."""
    done = run_cli("plugin", "build", str(PLUGINS / "e2e"), timeout=300)
    assert done.returncode == 0, done.stderr
    yield "tests/e2e:0.3.0"
    subprocess.run(["docker", "image", "rm", "--force", "tests/e2e:0.3.0"], capture_output=True, check=False)


def bubblewrap_hidden(tmp_path: Path) -> dict[str, str]:
    """A PATH on which no bwrap can be found: auto's machine without bubblewrap."""
    empty = tmp_path / "no-bubblewrap"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


@pytest.mark.parametrize(
    ("backend", "hide_bubblewrap", "runtime"),
    [
        pytest.param("docker", False, "docker", marks=pytest.mark.docker, id="docker"),
        pytest.param("sandbox", False, "sandbox", marks=pytest.mark.sandbox, id="sandbox"),
        pytest.param(None, False, "sandbox", marks=pytest.mark.sandbox, id="auto-with-bubblewrap"),
        pytest.param(None, True, "docker", marks=pytest.mark.docker, id="auto-without-bubblewrap"),
    ],
)
def test_a_restricted_workflow_runs_its_plugins_isolated_on_its_backend(
    run_cli, tmp_path, request, backend, hide_bubblewrap, runtime
):
    if runtime == "docker":
        request.getfixturevalue("e2e_image")
    flow = write(
        tmp_path,
        DAG.replace("name: dag\n", "name: restricted-dag\nsecurity: restricted\nenv: {LOG_LEVEL: debug}\n"),
    )
    args = ("--backend", backend) if backend is not None else ()
    done, record = run_json(run_cli, flow, *args, env=bubblewrap_hidden(tmp_path) if hide_bubblewrap else None)
    assert done.returncode == 0, done.stderr
    assert record["security"] == "restricted"
    assert record["outputs"] == {"total": 10, "sentence": "five is 5"}
    for task in record["tasks"].values():  # the run record names where each call ran
        assert task["metrics"]["runtime"] == runtime
        assert task["provenance"]["runtime"] == runtime
    assert record["tasks"]["five"]["provenance"]["grants"] == {
        "security": "restricted",
        "network": False,
        "mounts": [],
        "env": [],
    }
    if runtime == "docker":
        assert containers_of("tests/e2e") == []


@pytest.mark.docker
@pytest.mark.parametrize("pool", [False, True], ids=["one-shot", "warm"])
def test_an_image_without_the_plugins_interpreter_is_runtime_unavailable(run_cli, tmp_path, image_tags, pool):
    tag = image_tags("no-node")
    plugins = tmp_path / "plugins"
    plugin = plugins / "js"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(
        f"namespace: tests\nname: js\nversion: 1.0.0\nruntime: {{command: [node, index.js], image: '{tag}'}}\n"
        "actions: {go: {}}\n"
    )
    (plugin / "index.js").write_text('process.stdout.write(\'{"ok": true, "outputs": {}}\')\n')
    (plugin / "Dockerfile").write_text(  # the author's own Dockerfile, on a base with no node
        'FROM python:3.11-slim\nCOPY . /plugin/\nWORKDIR /plugin\nUSER 65534:65534\nCMD ["node", "index.js"]\n'
    )
    built = run_cli("plugin", "build", str(plugin), timeout=300)
    assert built.returncode == 0, built.stderr
    flow = write(tmp_path, "name: js\nsecurity: restricted\ntasks:\n  go: {uses: tests/js.go}\n")

    done = run_cli("run", str(flow), "--json", "-p", str(plugins), "--backend", "docker", *(["--pool"] if pool else []))

    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["tasks"]["go"]["error"]
    assert error["kind"] == "runtime_unavailable", error
    assert "tests/js could not start: node was not found (exit code 127)" in error["message"]
    assert f"the image {tag} does not have it" in error["message"]
    assert f"workflow plugin build {plugin} --base-image IMAGE" in error["message"]
    assert containers_of("tests/js") == []


def test_a_piped_summary_keeps_each_row_whole(run_cli, tmp_path):
    task = "a_task_whose_name_alone_is_longer_than_an_eighty_column_terminal_is_wide_xxxxxxxx"
    flow = write(tmp_path, f"name: wide\ntasks:\n  {task}: {{uses: tests/e2e.fail}}\n")

    done = run_cli("run", str(flow), "-p", str(PLUGINS), unset=("COLUMNS", "NO_COLOR"))

    assert done.returncode == 1, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 1, done.stdout  # one task, one line: no cell folded onto a second one
    cells = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    assert cells[:2] == [task, "FAILED"]
    assert cells[3:] == ["process", "action: this task fails on purpose"]


def test_schema_defaults_are_not_filled_in_by_the_engine(run_cli, tmp_path):
    plugins = tmp_path / "plugins"
    shutil.copytree(PLUGINS / "e2e", plugins / "e2e")
    manifest = plugins / "e2e" / "plugin.yaml"
    token = "        token: {type: string, secret: true}\n"
    manifest.write_text(manifest.read_text().replace(token, token + "        greeting: {type: string, default: hi}\n"))
    flow = write(tmp_path, "name: defaults\ntasks:\n  echo: {uses: tests/e2e.echo, inputs: {}}\n")

    done = run_cli("run", str(flow), "--json", "-p", str(plugins))

    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)["tasks"]["echo"]
    assert task["outputs"] == {}  # what the plugin received: the key left out, not the schema's default
