"""Restricted mode's promises, each kept on every backend, through the real `workflow run`.

Each test runs once per restricted backend (``restricted_backend``: real
bubblewrap sandboxes, and real containers of the intruder plugin's image;
required in CI, skipped with the reason elsewhere). The intruder
(``fixtures/restricted/intruder``) tries what a hostile plugin would and
reports what it reached, so each assertion names the defence that held.
After every run nothing it started may be left: no process bearing the
test's marker, no container of the plugin's image, no cgroup of the
engine's sandboxes (:class:`Matrix`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ISOLATED_UID = 65534
ENGINE_PID_FILE = "engine.pid"
NOTE_PID = 'echo $$ > "$0"; exec "$@"'
"""A shell that writes its pid, then becomes the CLI: the engine's pid, which names its sandboxes' cgroups."""


@dataclass
class Matrix:
    """Runs a restricted workflow of the intruder on one backend, then checks that it left nothing behind.

    The workflow grants ``./out`` read-write at ``/out`` and ``./in`` at
    ``/data`` (both made here, ``./out`` writable by uid 65534).
    """

    backend: Any  # conftest.Backend
    folder: Path
    run_cli: Callable[..., subprocess.CompletedProcess[str]]
    left_behind: Callable[[int], list[str]]
    marker: str = field(default_factory=lambda: f"workflow-matrix-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        (self.folder / "out").mkdir()
        (self.folder / "out").chmod(0o777)
        (self.folder / "in").mkdir()

    def run(self, tasks: str, *, resources: str = "", env: dict[str, str] | None = None) -> tuple[Any, dict]:
        """Run ``tasks`` (YAML under ``tasks:``); the CLI's outcome and its run record."""
        flow = self.folder / "flow.yaml"
        flow.write_text(
            "name: matrix\nsecurity: restricted\npermissions:\n"
            "  mounts:\n"
            "    - {source: ./out, target: /out, access: read-write}\n"
            "    - {source: ./in, target: /data}\n"
            + (f"  resources: {resources}\n" if resources else "")
            + f"tasks:\n{tasks}",
            encoding="utf-8",
        )
        pid_file = self.folder / ENGINE_PID_FILE
        done = self.run_cli(
            "run", str(flow), "--json", *self.backend.args, env=env, prefix=("/bin/sh", "-c", NOTE_PID, str(pid_file))
        )
        assert done.stdout.strip(), done.stderr
        record = json.loads(done.stdout)
        assert {task["metrics"]["runtime"] for task in record["tasks"].values()} == {self.backend.name}
        assert self.left_behind(int(pid_file.read_text())) == []
        return done, record


@pytest.fixture
def matrix(
    run_cli, tmp_path, restricted_backend, image_containers, sandbox_cgroups_of, processes_marked
) -> Iterator[Matrix]:
    def left_behind(engine: int) -> list[str]:
        left = [f"process {pid}" for pid in processes_marked(made.marker)]
        left += [f"cgroup {directory}" for directory in sandbox_cgroups_of(engine)]
        if restricted_backend.name == "docker":
            left += [f"container {container}" for container in image_containers(restricted_backend.intruder.image)]
        return left

    made = Matrix(restricted_backend, tmp_path, run_cli, left_behind)
    yield made
    for pid in processes_marked(made.marker):  # only after a failed assertion: the run left them
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def outputs_of(record: dict, task: str) -> Any:
    result = record["tasks"][task]
    assert result["status"] == "succeeded", result["error"]
    return result["outputs"]


def test_there_is_no_network_but_its_own_loopback(matrix, host_listener):
    done, record = matrix.run(
        "  look: {uses: tests/intruder.look-around}\n"
        f"  reach: {{uses: tests/intruder.connect, inputs: {{port: {host_listener.port}}}}}\n"
    )

    assert done.returncode == 0, done.stderr
    assert outputs_of(record, "look")["interfaces"] == ["lo"]
    assert outputs_of(record, "reach") == {"reached": "ECONNREFUSED"}  # its own loopback: nothing listens there


def test_the_root_and_the_plugin_folder_are_read_only_and_tmp_is_its_own(matrix):
    paths = ["/new-file", "/usr/new-file", "{plugin_dir}/new-file", "/tmp/new-file"]

    done, record = matrix.run(f"  write: {{uses: tests/intruder.try-write, inputs: {{paths: {json.dumps(paths)}}}}}\n")

    assert done.returncode == 0, done.stderr
    wrote = outputs_of(record, "write")
    assert list(wrote.values()) == ["EROFS", "EROFS", "EROFS", "ok"], wrote
    assert not (matrix.backend.intruder.plugins / "intruder" / "new-file").exists()


def test_a_mount_is_read_only_unless_granted_read_write(matrix):
    (matrix.folder / "in" / "input.txt").write_text("granted data")

    done, record = matrix.run(
        '  read: {uses: tests/intruder.try-read, inputs: {paths: ["/data/input.txt"]}}\n'
        '  write: {uses: tests/intruder.try-write, inputs: {paths: ["/data/new.txt", "/out/new.txt"]}}\n'
    )

    assert done.returncode == 0, done.stderr
    assert outputs_of(record, "read") == {"/data/input.txt": "granted data"}
    assert outputs_of(record, "write") == {"/data/new.txt": "EROFS", "/out/new.txt": "ok"}
    assert not (matrix.folder / "in" / "new.txt").exists()
    written = matrix.folder / "out" / "new.txt"
    assert written.read_text() == "written by the intruder"
    if os.geteuid() == 0:  # uid 65534 on the host, as a container's user: never root
        assert written.stat().st_uid == ISOLATED_UID


def test_a_symlink_planted_in_a_read_write_mount_is_not_followed_out(matrix):
    secret = matrix.folder / "host-secret.txt"
    text = f"host-only-{uuid.uuid4().hex}"
    secret.write_text(text)
    out = matrix.folder / "out"
    (out / "absolute").symlink_to(secret)
    (out / "relative").symlink_to(Path("..") / secret.name)
    (out / "root").symlink_to("/")
    paths = ["/out/absolute", "/out/relative", f"/out/root{secret}"]

    done, record = matrix.run(f"  read: {{uses: tests/intruder.try-read, inputs: {{paths: {json.dumps(paths)}}}}}\n")

    assert done.returncode == 0, done.stderr
    assert outputs_of(record, "read") == dict.fromkeys(paths, "ENOENT")  # each resolves inside, where none leads
    assert text not in done.stdout + done.stderr


def test_no_secret_and_nothing_of_the_operators_environment_is_in_any_process_it_sees(matrix):
    secret = f"secret-{uuid.uuid4().hex}"
    operator = f"operator-{uuid.uuid4().hex}"
    env = {"WORKFLOW_SECRET_TOKEN": secret, f"WORKFLOW_MATRIX_{uuid.uuid4().hex[:8].upper()}": operator}
    inputs = f"{{secret: '{{{{ secrets.TOKEN }}}}', operator: {operator}}}"  # where is each? (it gets both)

    done, record = matrix.run(f"  look: {{uses: tests/intruder.look-around, inputs: {inputs}}}\n", env=env)

    assert done.returncode == 0, done.stderr
    seen = outputs_of(record, "look")
    assert seen["found"] == {"secret": [], "operator": []}  # in no environ, no argv: the secret came on stdin
    assert seen["uid"] == ISOLATED_UID
    assert secret not in done.stdout + done.stderr


def test_escape_attempts_fail(matrix):
    """Other processes' environments, the Docker socket, its own limits, a daemon outliving its call."""
    done, record = matrix.run(
        "  look: {uses: tests/intruder.look-around}\n"
        "  socket: {uses: tests/intruder.docker-socket}\n"
        "  limits: {uses: tests/intruder.raise-limits}\n"
        f"  daemon: {{uses: tests/intruder.daemon, inputs: {{marker: {matrix.marker}}}}}\n"
    )

    assert done.returncode == 0, done.stderr
    # Nothing of the host's processes: only its sandbox's or container's init (pid 1), if anything.
    assert set(outputs_of(record, "look")["other_environs"]) <= {"1"}
    assert outputs_of(record, "socket") == {"/var/run/docker.sock": "ENOENT", "/run/docker.sock": "ENOENT"}
    assert True not in outputs_of(record, "limits").values(), outputs_of(record, "limits")
    assert outputs_of(record, "daemon") == {"started": True}  # and Matrix.run found it gone


def test_a_timeout_kills_the_whole_tree(matrix):
    done, record = matrix.run(
        f"  hang: {{uses: tests/intruder.hang, inputs: {{marker: {matrix.marker}}}, timeout: 5}}\n"
    )  # Matrix.run then finds neither the daemon nor the child alive

    assert done.returncode == 1, done.stderr
    error = record["tasks"]["hang"]["error"]
    assert error["kind"] == "timeout", error
    assert "did not finish within its timeout of 5 s" in error["message"]


def test_allocating_past_the_memory_limit_fails_naming_the_limit(matrix):
    done, record = matrix.run("  hog: {uses: tests/intruder.allocate, inputs: {mib: 512}}\n", resources="{memory: 96m}")

    assert done.returncode == 1, done.stderr
    error = record["tasks"]["hog"]["error"]
    assert error["kind"] == "crashed", error
    assert error["message"] == (
        "tests/intruder ran out of memory: it was killed at its memory limit of 96 MiB"
        " (grant more with permissions.resources.memory)"
    )


def test_a_fork_bomb_is_bounded_by_the_pids_limit(matrix):
    done, record = matrix.run("  bomb: {uses: tests/intruder.fork-bomb}\n", resources="{pids: 32}")

    assert done.returncode == 1, done.stderr
    error = record["tasks"]["bomb"]["error"]
    said = re.search(r"forked (\d+) children before", error["message"] + error.get("stderr_tail", ""))
    assert said is not None, error  # the plugin's own words, as it failed
    forked = int(said.group(1))
    assert 0 < forked < 32
    if matrix.backend.name == "sandbox":  # its cgroup says which limit was hit; Docker's engine does not
        assert error["kind"] == "crashed"
        assert "reached its process limit: it may run 32 processes" in error["message"]
        assert "permissions.resources.pids" in error["message"]
