"""`workflow clean`, and the start of `workflow run`: what a SIGKILLed run left behind is found and removed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def start_run(cli_env: dict[str, str], flow: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workflow_cli", "run", str(flow), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=flow.parent,
        env=cli_env,
    )


def wait_for(path: Path, cli: subprocess.Popen[bytes], *, seconds: float = 120) -> str:
    """The file's content once it exists (the plugin is running); fails at once if the CLI ended first."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if cli.poll() is not None:
            _, stderr = cli.communicate()
            pytest.fail(f"the run ended (exit {cli.returncode}) before its plugin started: {stderr.decode()}")
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.02)
    return path.read_text()


def sigkill(cli: subprocess.Popen[bytes]) -> None:
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=30)
    assert cli.returncode == -signal.SIGKILL


def stop(cli: subprocess.Popen[bytes]) -> None:
    """After a failed assertion: the run ends, and its pipe is read."""
    if cli.poll() is None:
        cli.kill()
    if cli.stderr is not None and not cli.stderr.closed:
        cli.communicate(timeout=30)


def the_run_entry(tmp_path: Path) -> Path:
    entries = list((tmp_path / "state" / "runs").iterdir())
    assert len(entries) == 1, entries
    return entries[0]


def lingering(tmp_path: Path, marker: str, *, header: str = "") -> Path:
    flow = tmp_path / "flow.yaml"
    task = f"  linger: {{uses: tests/containment.linger, inputs: {{marker: '{marker}'}}}}\n"
    flow.write_text(f"name: lingering\n{header}tasks:\n{task}")
    return flow


def test_workflow_clean_kills_what_a_sigkilled_run_left_and_removes_its_entry(
    run_cli, cli_env, tmp_path, alive, gone_within
):
    marker = tmp_path / "started"
    cli = start_run(cli_env, lingering(tmp_path, str(marker)), "-p", str(PLUGINS))
    plugin = int(wait_for(marker, cli))
    try:
        entry = the_run_entry(tmp_path)
        scratch = Path(json.loads((entry / "owner.json").read_text())["scratch"])
        assert scratch.is_dir()
        sigkill(cli)
        assert alive(plugin), "the plugin should still run after its engine was SIGKILLed"

        done = run_cli("clean")

        assert done.returncode == 0, done.stderr
        assert f"cleaned up after dead run {entry.name}" in done.stdout
        assert "killed 1 process" in done.stdout and "deleted its scratch folder" in done.stdout
        assert gone_within(plugin, 5.0)
        assert not entry.exists()
        assert not scratch.exists()
        again = run_cli("clean", "--json")
        assert again.returncode == 0
        assert json.loads(again.stdout)["cleaned"] == []
    finally:
        if alive(plugin):
            os.kill(plugin, signal.SIGKILL)
        stop(cli)


def test_the_next_run_cleans_up_after_a_sigkilled_run_as_it_starts(run_cli, cli_env, tmp_path, alive, gone_within):
    marker = tmp_path / "started"
    cli = start_run(cli_env, lingering(tmp_path, str(marker)), "-p", str(PLUGINS))
    plugin = int(wait_for(marker, cli))
    try:
        entry = the_run_entry(tmp_path)
        sigkill(cli)
        assert alive(plugin)
        quick = tmp_path / "quick.yaml"
        quick.write_text("name: quick\ntasks:\n  one: {uses: tests/e2e.number, inputs: {value: 1}}\n")

        done = run_cli("run", str(quick), "--json", "-p", str(PLUGINS))

        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "succeeded"
        assert f"cleaned up after dead run {entry.name}" in done.stderr
        assert gone_within(plugin, 5.0)
        assert not entry.exists()
        assert list((tmp_path / "state" / "runs").iterdir()) == []  # the new run removed its own entry too
    finally:
        if alive(plugin):
            os.kill(plugin, signal.SIGKILL)
        stop(cli)


def test_clean_leaves_a_live_run_alone(run_cli, cli_env, tmp_path, alive):
    marker = tmp_path / "started"
    cli = start_run(cli_env, lingering(tmp_path, str(marker)), "-p", str(PLUGINS))
    plugin = int(wait_for(marker, cli))
    try:
        entry = the_run_entry(tmp_path)

        done = run_cli("clean", "--json")

        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["cleaned"] == []
        assert [run["run_id"] for run in report["running"]] == [entry.name]
        assert report["running"][0]["pid"] == cli.pid
        assert alive(plugin) and entry.exists()
    finally:
        cli.send_signal(signal.SIGTERM)
        cli.communicate(timeout=30)
        if alive(plugin):
            os.kill(plugin, signal.SIGKILL)


def start_restricted_lingering(cli_env: dict[str, str], tmp_path: Path, backend: str, plugins: Path):
    """A restricted run on ``backend`` whose plugin writes ``./out/started``, then lingers until killed."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the plugin runs as 65534
    header = "security: restricted\npermissions:\n  mounts: [{source: ./out, target: /out, access: read-write}]\n"
    flow = lingering(tmp_path, "/out/started", header=header)
    return start_run(cli_env, flow, "--backend", backend, "-p", str(plugins))


def containers(selector: str) -> list[str]:
    done = subprocess.run(["docker", "ps", "-aq", "--filter", selector], capture_output=True, text=True, check=True)
    return done.stdout.split()


def docker_labelled(run_id: str) -> list[str]:
    return containers(f"label=workflow-plugins.run-id={run_id}")


@pytest.mark.docker
def test_workflow_clean_removes_the_container_of_a_sigkilled_restricted_run(run_cli, cli_env, tmp_path, image_tags):
    tag = image_tags("containment")
    plugins = tmp_path / "plugins"
    plugin = plugins / "containment"
    shutil.copytree(PLUGINS / "containment", plugin, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = plugin / "plugin.yaml"
    manifest.write_text(
        manifest.read_text().replace("  entrypoint: main.py\n", f"  entrypoint: main.py\n  image: {tag}\n")
    )
    built = run_cli("plugin", "build", str(plugin), timeout=300)
    assert built.returncode == 0, built.stderr
    cli = start_restricted_lingering(cli_env, tmp_path, "docker", plugins)
    try:
        wait_for(tmp_path / "out" / "started", cli)
        run_id = the_run_entry(tmp_path).name
        assert len(docker_labelled(run_id)) == 1
        sigkill(cli)
        assert len(docker_labelled(run_id)) == 1, "the container should outlive its SIGKILLed engine"

        done = run_cli("clean", "--json")

        assert done.returncode == 0, done.stderr
        cleaned = json.loads(done.stdout)["cleaned"]
        assert [(run["run_id"], run["containers_removed"], run["problems"]) for run in cleaned] == [(run_id, 1, [])]
        assert docker_labelled(run_id) == []
        assert not (tmp_path / "state" / "runs" / run_id).exists()
    finally:
        stop(cli)
        if left := containers(f"ancestor={tag}"):
            subprocess.run(["docker", "rm", "--force", *left], capture_output=True, check=False)


DIES_REGISTERED = """
import os, sys
from workflow_plugin_runtime.runtimes.run_state import register_run
entry = register_run(sys.argv[1], workflow="died.yaml")
entry.container_labels()  # as the Docker runtime asks before it creates a container
os._exit(0)  # no clean-up, as after a SIGKILL
"""


def test_clean_exits_1_and_keeps_the_entry_when_docker_cannot_be_reached(run_cli, cli_env, tmp_path):
    run_id = "20260101T000000Z-0badc0de"
    subprocess.run([sys.executable, "-c", DIES_REGISTERED, run_id], env=cli_env, check=True, timeout=60)
    entry = tmp_path / "state" / "runs" / run_id
    assert (entry / "containers").exists()

    done = run_cli("clean", env={"DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}"})

    assert done.returncode == 1, done.stderr
    assert f"error: run {run_id}: could not remove its containers (no Docker daemon" in done.stderr
    assert "run `workflow clean` again once Docker answers" in done.stderr
    assert "Traceback" not in done.stderr
    assert entry.exists(), "the entry stays, so a later clean tries again"
    assert not (Path(tempfile.gettempdir()) / f"workflow-run-{run_id}").exists()  # the rest was cleaned


def test_a_dead_runs_workflow_path_is_shown_with_its_control_characters_escaped(run_cli, cli_env, tmp_path):
    """Runs that died without unregistering, whose workflow file's name holds terminal controls."""
    hostile = tmp_path / "flow\x1b]0;owned\x07\x9b.yaml"

    def dead_run(run_id: str) -> None:
        register = (
            "import os, sys; from workflow_plugin_runtime.runtimes.run_state import register_run; "
            "register_run(sys.argv[2], workflow=sys.argv[1]); os._exit(0)"  # dies holding its entry
        )
        subprocess.run([sys.executable, "-c", register, str(hostile), run_id], env=cli_env, check=True)

    dead_run("20261206T000000Z-deadbee1")
    document = run_cli("clean", "--json")
    dead_run("20261206T000000Z-deadbee2")
    shown = run_cli("clean")

    assert document.returncode == 0, document.stderr
    [cleaned] = json.loads(document.stdout)["cleaned"]
    assert cleaned["workflow"] == str(hostile)  # the value kept, its controls escaped in the JSON text
    assert "\x9b" not in document.stdout and "\x1b" not in document.stdout
    assert shown.returncode == 0, shown.stderr
    assert "\\x1b]0;owned\\x07\\x9b.yaml" in shown.stdout  # visible, never obeyed
    assert not any(char in shown.stdout + shown.stderr for char in "\x1b\x07\x9b")


@pytest.fixture
def cgroups_required() -> None:
    """What a sandbox's cgroups need: a root engine on a machine with cgroup v1 controllers (CI's)."""
    from workflow_plugin_runtime.runtimes.sandbox.limits import cgroup_parents

    if cgroup_parents() is None:
        pytest.skip("sandboxes get no cgroups here (the engine is not root, or cgroup v2 only)")


@pytest.mark.sandbox
@pytest.mark.parametrize("cleaner", ["clean", "run"])
def test_the_sandbox_cgroups_of_a_sigkilled_engine_are_removed_by_the_next_clean(
    run_cli, cli_env, tmp_path, cgroups_required, sandbox_cgroups_of, cleaner
):
    cli = start_restricted_lingering(cli_env, tmp_path, "sandbox", PLUGINS)
    try:
        wait_for(tmp_path / "out" / "started", cli)
        run_id = the_run_entry(tmp_path).name
        made = sandbox_cgroups_of(cli.pid)
        assert made, "the sandbox should have cgroups of its own"
        sigkill(cli)
        assert sandbox_cgroups_of(cli.pid) == made, "a SIGKILLed engine cannot remove its sandboxes' cgroups"
        quick = tmp_path / "quick.yaml"
        quick.write_text("name: quick\ntasks:\n  one: {uses: tests/e2e.number, inputs: {value: 1}}\n")

        done = run_cli("clean") if cleaner == "clean" else run_cli("run", str(quick), "-p", str(PLUGINS))

        assert done.returncode == 0, done.stderr
        said = done.stdout if cleaner == "clean" else done.stderr
        assert f"cleaned up after dead run {run_id} (pid {cli.pid}" in said
        assert "removed 1 sandbox cgroup," in said
        assert sandbox_cgroups_of(cli.pid) == []
        assert not any(directory.exists() for directory in made)
    finally:
        stop(cli)
