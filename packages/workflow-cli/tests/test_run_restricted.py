"""`workflow run` of restricted workflows under attack, end to end through the real CLI.

An intruder plugin (``fixtures/restricted/intruder``) rewrites the folders it is
granted and prints what Docker's log driver would keep; an operator's daemon
accepts connections and never answers; mount sources loop or point into
``/proc``. Attacks on the grants run on each backend (``restricted_backend``:
real sandboxes, and real containers of the plugin, built once per session
under a unique tag); Docker's own failings on Docker. The escape attempts
are in test_run_restricted_matrix.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

GRANTS = """\
security: restricted
permissions:
  mounts:
    - {{source: {out}, target: /out, access: read-write}}
    - {{source: {data}, target: /data}}
"""


@pytest.fixture
def host_secret() -> Iterator[tuple[Path, str]]:
    """A file outside any project that the container's user could read if it saw the host's /: (path, text)."""
    folder = Path(tempfile.mkdtemp(prefix="workflow-plugins-host-secret-"))
    folder.chmod(0o755)
    secret = folder / "secret.txt"
    text = f"host-only-{uuid.uuid4().hex}"
    secret.write_text(text)
    secret.chmod(0o644)
    yield secret, text
    shutil.rmtree(folder)


def write_flow(tmp_path: Path, body: str, *, out: str = "./out", data: str = "./in") -> Path:
    flow = tmp_path / "flow.yaml"
    flow.write_text(f"name: attack\n{GRANTS.format(out=out, data=data)}{body}", encoding="utf-8")
    return flow


def writable_folder(path: Path) -> Path:
    """A folder the container's user (uid 65534) may write, as read-write mounts need."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


def record_of(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


# --- A mount source swapped for a symbolic link -------------------------------------------------


def test_a_source_inside_a_read_write_grant_is_refused_before_a_plugin_can_swap_it(
    run_cli, tmp_path, restricted_backend, host_secret
):
    """The plain attack: task 1 replaces ./out/sub (granted at /data) with a link to /; task 2 reads the host."""
    secret, text = host_secret
    writable_folder(writable_folder(tmp_path / "out") / "sub")
    flow = write_flow(
        tmp_path,
        f"""tasks:
  swap: {{uses: tests/intruder.swap, inputs: {{path: /out/sub, target: /}}}}
  steal: {{needs: [swap], uses: tests/intruder.read, inputs: {{path: "/data{secret}"}}}}
outputs:
  stolen: "{{{{ tasks.steal.outputs.text }}}}"
""",
        data="./out/sub",
    )
    expected = "permissions.mounts[1].source: mount ./out/sub lies inside the read-write mount ./out (mounts[0])"

    checked = run_cli("validate", str(flow), "-p", str(restricted_backend.intruder.plugins))
    done = run_cli("run", str(flow), "--json", *restricted_backend.args)

    for outcome in (checked, done):
        assert outcome.returncode == 2, outcome.stdout + outcome.stderr
        assert expected in outcome.stderr
        assert "restricted mode refuses it" in outcome.stderr
        assert text not in outcome.stdout + outcome.stderr
        assert "Traceback" not in outcome.stderr
    assert (tmp_path / "out" / "sub").is_dir() and not (tmp_path / "out" / "sub").is_symlink()  # nothing ran
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_a_source_that_leads_elsewhere_when_its_sandbox_is_made_fails_that_task_as_permission(
    run_cli, tmp_path, restricted_backend, host_secret, image_containers
):
    """The same attack through a link the operator placed in ./out: only a check as each sandbox is made sees it."""
    secret, text = host_secret
    (tmp_path / "shared").mkdir()
    writable_folder(tmp_path / "out")
    (tmp_path / "out" / "link").symlink_to(tmp_path / "shared")
    (tmp_path / "data").symlink_to(Path("out") / "link")  # ./data -> ./out/link -> ./shared: nested in nothing
    flow = write_flow(
        tmp_path,
        f"""tasks:
  swap: {{uses: tests/intruder.swap, inputs: {{path: /out/link, target: /}}}}
  steal: {{needs: [swap], uses: tests/intruder.read, inputs: {{path: "/data{secret}"}}}}
""",
        data="./data",
    )

    done = run_cli("run", str(flow), "--json", *restricted_backend.args)

    record = record_of(done)
    assert done.returncode == 1, done.stderr
    assert record["tasks"]["swap"]["status"] == "succeeded"  # the plugin did replace the link...
    assert (tmp_path / "out" / "link").readlink() == Path("/")
    steal = record["tasks"]["steal"]  # ...and the next container (or sandbox) was refused
    assert steal["status"] == "failed"
    assert steal["error"]["kind"] == "permission"
    message = steal["error"]["message"]
    assert (
        f"mount source {tmp_path / 'data'} (mounted at /data) now leads to /, not to {tmp_path / 'shared'}" in message
    )
    written = (tmp_path / ".workflow" / "runs" / f"{record['run_id']}.json").read_text()
    assert text not in done.stdout + done.stderr + written
    if restricted_backend.name == "docker":
        assert image_containers(restricted_backend.intruder.image) == []


@pytest.mark.parametrize("kind", ["loop", "proc-root"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_source_that_cannot_be_resolved_is_one_clear_error(run_cli, tmp_path, intruder_plugins, kind, command):
    if kind == "loop":
        (tmp_path / "loop").symlink_to("loop")
        source, words = "./loop", "mount source ./loop is a symbolic link loop"
    else:
        source, words = "/proc/1/root", "/proc/1/root"  # unreadable link, or the host's / (and its Docker socket)
    writable_folder(tmp_path / "out")
    flow = write_flow(tmp_path, "tasks:\n  t: {uses: tests/intruder.read, inputs: {path: /data/x}}\n", data=source)

    backend = ("--backend", "docker") if command == "run" else ()
    done = run_cli(command, str(flow), "-p", str(intruder_plugins.plugins), *backend)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"{flow}:6:" in done.stderr and "permissions.mounts[1].source:" in done.stderr
    assert words in done.stderr
    assert not (tmp_path / ".workflow" / "runs").exists()


# --- A mount source that does not exist, and the daemon's own refusals ----------------------------


def test_a_missing_mount_source_is_one_clear_error_before_anything_runs(run_cli, tmp_path, restricted_backend, request):
    (tmp_path / "in").mkdir()  # ./out, granted read-write at /out, was never made
    flow = write_flow(tmp_path, "tasks:\n  t: {uses: tests/intruder.write, inputs: {path: /out/x, text: hi}}\n")
    started = time.time()

    checked = run_cli("validate", str(flow), "-p", str(restricted_backend.intruder.plugins))
    done = run_cli("run", str(flow), "--json", *restricted_backend.args)

    for outcome in (checked, done):
        assert outcome.returncode == 2, outcome.stdout + outcome.stderr
        assert f"error: {flow}:5:" in outcome.stderr and "permissions.mounts[0].source:" in outcome.stderr
        assert f"mount ./out -> /out: the source {tmp_path / 'out'} is missing (it does not exist)" in outcome.stderr
        assert f"hint: create it (`mkdir -p {tmp_path / 'out'}`), or correct the grant's source" in outcome.stderr
        assert "Traceback" not in outcome.stderr
    assert "nothing was run" in done.stderr
    [problem] = json.loads(done.stdout)["error"]["problems"]  # --json: the error document, no run record
    assert "the source" in problem["message"] and problem["location"].startswith(f"{flow}:5:")
    if restricted_backend.name == "docker":
        assert request.getfixturevalue("created_since")(started, "tests/intruder") == []
    assert not (tmp_path / ".workflow" / "runs").exists()


@pytest.mark.docker
def test_a_container_the_daemon_refuses_is_explained_in_our_words_with_the_daemons_quoted(run_cli, tmp_path, intruder):
    writable_folder(tmp_path / "out")
    (tmp_path / "in").mkdir()
    flow = write_flow(tmp_path, "tasks:\n  t: {uses: tests/intruder.read, inputs: {path: /data/x}}\n")
    flow.write_text(flow.read_text().replace("permissions:\n", "permissions:\n  resources: {cpus: 4096}\n"))

    done = run_cli("run", str(flow), "--json", "-p", str(intruder.plugins), "--backend", "docker")

    assert done.returncode == 1, done.stderr
    error = record_of(done)["tasks"]["t"]["error"]
    assert error["kind"] == "runtime_unavailable"
    assert error["message"].startswith(f"tests/intruder: Docker could not create the container of {intruder.image}")
    assert '(the daemon answered 400: "' in error["message"] and "CPU" in error["message"]
    assert "Client Error" not in done.stdout + done.stderr and "http+docker" not in done.stdout + done.stderr


# --- Docker's log driver ------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.parametrize("warm", [False, True], ids=["one-shot", "warm"])
def test_the_engine_keeps_no_log_of_a_plugins_output(tmp_path, intruder, warm, image_containers):
    marker = f"unmasked-{uuid.uuid4().hex}"
    writable_folder(tmp_path / "out")
    (tmp_path / "in").mkdir()
    flow = write_flow(
        tmp_path,
        f"tasks:\n  talk: {{uses: tests/intruder.linger,"
        f" inputs: {{marker: {marker}, ready: /out/ready, release: /data/release}}}}\n",
    )
    env = {**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path / "data-home")}
    argv = [sys.executable, "-m", "workflow_cli", "run", str(flow), "-p", str(intruder.plugins), "--backend", "docker"]
    cli = subprocess.Popen(
        [*argv, *(["--pool"] if warm else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out" / "ready").exists() and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "out" / "ready").exists(), "the plugin never said it had printed its marker"
        (container,) = image_containers(intruder.image)
        inspected = json.loads(
            subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True).stdout
        )[0]
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=False)
    finally:
        (tmp_path / "in" / "release").touch()
        stdout, stderr = cli.communicate(timeout=120)

    assert inspected["HostConfig"]["LogConfig"]["Type"] == "none"
    assert inspected["LogPath"] == ""  # no json log file on the host
    assert marker not in logs.stdout + logs.stderr
    assert cli.returncode == 0, stderr
    assert f"stdout {marker}" in stdout + stderr and f"stderr {marker}" in stdout + stderr  # we still read it
    assert image_containers(intruder.image) == []


# --- A daemon that accepts and never answers ------------------------------------------------------


def test_a_daemon_that_never_answers_is_refused_before_the_run_within_seconds(
    run_cli, tmp_path, intruder_plugins, silent_docker_daemon
):
    writable_folder(tmp_path / "out")
    (tmp_path / "in").mkdir()
    flow = write_flow(tmp_path, "tasks:\n  t: {uses: tests/intruder.read, inputs: {path: /data/x}}\n")
    started = time.monotonic()

    done = run_cli(
        "run", str(flow), "--json", "-p", str(intruder_plugins.plugins), "--backend", "docker",
        env={"DOCKER_HOST": silent_docker_daemon},
    )  # fmt: skip

    assert time.monotonic() - started < 45  # not the client library's 60 s: the probe waits MIN_DAEMON_WAIT_S
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "runtime_unavailable"
    assert f"the Docker daemon at {silent_docker_daemon} did not answer" in error["message"]
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_a_daemon_that_stops_answering_fails_the_task_within_its_timeout(
    run_cli, tmp_path, intruder_plugins, hanging_docker_daemon
):
    silent_docker_daemon = hanging_docker_daemon
    timeout = 2
    writable_folder(tmp_path / "out")
    (tmp_path / "in").mkdir()
    flow = write_flow(
        tmp_path, f"tasks:\n  t: {{uses: tests/intruder.read, inputs: {{path: /data/x}}, timeout: {timeout}}}\n"
    )
    started = time.monotonic()

    done = run_cli(
        "run", str(flow), "--json", "-p", str(intruder_plugins.plugins), "--backend", "docker",
        env={"DOCKER_HOST": silent_docker_daemon},
    )  # fmt: skip

    elapsed = time.monotonic() - started
    task = record_of(done)["tasks"]["t"]
    # Not the client library's 60 s: what is left of the timeout, and at least 5 s (MIN_DAEMON_WAIT_S), per request.
    assert task["metrics"]["duration_s"] < max(timeout, 5) + 5
    assert elapsed < 45, elapsed
    assert done.returncode == 1, done.stderr
    assert task["error"]["kind"] == "runtime_unavailable"
    assert f"the Docker daemon at {silent_docker_daemon} did not answer" in task["error"]["message"]


# --- Read-write mounts the container's user cannot write --------------------------------------------


def test_a_write_denied_in_a_read_write_mount_says_how_to_fix_it(run_cli, tmp_path, restricted_backend):
    (tmp_path / "out").mkdir(mode=0o755)  # the operator's folder: uid 65534 may not write it
    (tmp_path / "in").mkdir()
    flow = write_flow(tmp_path, "tasks:\n  t: {uses: tests/intruder.write, inputs: {path: /out/x, text: hi}}\n")
    fix = f"chown 65534:65534 {tmp_path / 'out'}"

    checked = run_cli("validate", str(flow), "-p", str(restricted_backend.intruder.plugins))
    done = run_cli("run", str(flow), "--json", *restricted_backend.args)

    assert checked.returncode == 0, checked.stderr
    assert "mount ./out is read-write, but plugins run as uid 65534 and cannot write" in checked.stderr
    assert fix in checked.stderr
    error = record_of(done)["tasks"]["t"]["error"]
    assert error["kind"] == "action"
    assert "Permission denied" in error["message"]
    assert f"/out is mounted read-write from {tmp_path / 'out'}, but plugins run as uid 65534" in error["message"]
    assert fix in error["message"]
    assert not (tmp_path / "out" / "x").exists()
