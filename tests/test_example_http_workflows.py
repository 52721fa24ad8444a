"""The HTTP example end to end: its workflows through the real ``workflow run --json``, against a real local server.

The server is examples/serve_http.py's, served from a thread on 127.0.0.1
(``http_server``); its request log is what the plugins really sent. Trusted
runs are local processes; restricted runs go through each backend (a real
bubblewrap sandbox, real containers of images built with the example's
build.sh), cold and with warm workers: required in CI, skipped with the
reason elsewhere (conftest.py's markers).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
NETWORK_GRANT = "  network: [acme/http]"  # the example's grant line starts so


@dataclass(frozen=True)
class ExamplePlugins:
    """acme/http and acme/files in a plugins folder of their own, each with an image tag unique to this session."""

    folder: Path
    images: tuple[str, ...]


@pytest.fixture(scope="session")
def example_plugins(tmp_path_factory: pytest.TempPathFactory) -> ExamplePlugins:
    folder = tmp_path_factory.mktemp("example-plugins")
    session = uuid.uuid4().hex[:12]
    images = []
    for name in ("http", "files"):
        shutil.copytree(EXAMPLES / "plugins" / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        image = f"workflow-plugins-test/example-{name}:{session}"
        manifest = folder / name / "plugin.yaml"
        manifest.write_text(manifest.read_text().replace("runtime:\n", f"runtime:\n  image: {image}\n", 1))
        images.append(image)
    return ExamplePlugins(folder, tuple(images))


@pytest.fixture(scope="session")
def example_images(
    example_plugins: ExamplePlugins, tmp_path_factory: pytest.TempPathFactory, workflow_cli_env: Callable[..., Any]
) -> Iterator[ExamplePlugins]:
    """Their images, built as a reader would: acme/http with its build.sh, acme/files with `workflow plugin build`."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # build.sh runs `workflow`
    env = workflow_cli_env(tmp_path_factory.mktemp("build-home"), PATH=path)
    builds = (
        ["sh", str(example_plugins.folder / "http" / "build.sh")],
        [sys.executable, "-m", "workflow_cli", "plugin", "build", str(example_plugins.folder / "files")],
    )
    try:
        for argv in builds:
            built = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
            assert built.returncode == 0, built.stderr
        yield example_plugins
    finally:
        subprocess.run(["docker", "image", "rm", "--force", *example_plugins.images], capture_output=True, check=False)


@pytest.fixture(
    params=[pytest.param("sandbox", marks=pytest.mark.sandbox), pytest.param("docker", marks=pytest.mark.docker)]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Each restricted backend in turn; Docker's runs need the images."""
    if request.param == "docker":
        request.getfixturevalue("example_images")
    return request.param


@dataclass(frozen=True)
class Run:
    done: subprocess.CompletedProcess[str]
    record: dict[str, Any]
    folder: Path

    def task(self, name: str) -> dict[str, Any]:
        return self.record["tasks"][name]

    def everything_written(self) -> str:
        """What the run printed and every run record it wrote."""
        records = sorted((self.folder / ".workflow" / "runs").glob("*.json"))
        return self.done.stdout + self.done.stderr + "".join(path.read_text() for path in records)


@pytest.fixture
def run_example(run_cli, tmp_path, http_server, example_plugins) -> Callable[..., Run]:
    """``run_example(text, *args)``: run a workflow (an example's text, or one of a test's) on the local server."""

    def run(text: str, *args: str, env: dict[str, str] | None = None) -> Run:
        flow = tmp_path / "flow.yaml"
        flow.write_text(text, encoding="utf-8")
        done = run_cli(
            "run", str(flow), "--json", "-p", str(example_plugins.folder), "--var", f"base_url={http_server.url}",
            *args, env=env,
        )  # fmt: skip
        assert done.stdout.strip(), done.stderr
        return Run(done, json.loads(done.stdout), tmp_path)

    return run


@pytest.fixture
def lock_example(run_cli, tmp_path, example_plugins) -> Callable[[str], Path]:
    """``lock_example(text)``: write the lock of the workflow ``run_example`` runs, as its author would."""

    def lock(text: str) -> Path:
        (tmp_path / "flow.yaml").write_text(text, encoding="utf-8")
        (tmp_path / ".workflow").mkdir(exist_ok=True)  # `lock` finds the plugins through the project's config
        (tmp_path / ".workflow" / "config.yaml").write_text(
            f"plugins: {{paths: [{json.dumps(str(example_plugins.folder))}]}}\n"
        )
        done = run_cli("lock", "flow.yaml")
        assert done.returncode == 0, done.stderr
        return tmp_path / "flow.lock.json"

    return lock


def example(name: str) -> str:
    return (EXAMPLES / "workflows" / name).read_text(encoding="utf-8")


def requests_to(server: Any, path: str) -> list[Any]:
    return [request for request in server.requests if request.path == path]


# --- Trusted: local processes -------------------------------------------------------------------


def test_the_trusted_example_reaches_the_server_and_masks_its_token_everywhere(run_example, http_server):
    token = f"tok-{uuid.uuid4().hex}"

    run = run_example(example("http-trusted.yaml"), env={"WORKFLOW_SECRET_API_TOKEN": token})

    assert run.done.returncode == 0, run.done.stderr
    assert run.record["outputs"] == {
        "message": "hello from serve_http",
        "greeting": "hello from serve_http",
        "landed_on": f"{http_server.url}/json",
        "echoed_items": [1, 2, 3],
        "sent_authorization": "Bearer ***",
    }
    assert {task["metrics"]["runtime"] for task in run.record["tasks"].values()} == {"process"}
    [echoed] = requests_to(http_server, "/echo")
    assert echoed.headers["Authorization"] == f"Bearer {token}"
    assert "'Authorization': 'Bearer ***'" in run.done.stderr  # the plugin's log line of the headers it sent
    assert token not in run.everything_written()


def test_an_error_answer_holding_the_token_is_masked_in_the_error_and_the_record(run_example, http_server):
    token = f"tok-{uuid.uuid4().hex}"
    flow = """name: refused
tasks:
  login:
    uses: acme/http.get
    inputs: {url: "{{ vars.base_url }}/echo?status=401", token: "{{ secrets.API_TOKEN }}"}
"""

    run = run_example(flow, env={"WORKFLOW_SECRET_API_TOKEN": token})

    assert run.done.returncode == 1
    error = run.task("login")["error"]
    assert (error["kind"], error["type"], error.get("retryable", False)) == ("action", "ClientError", False)
    assert '"Authorization": "Bearer ***"' in error["message"]
    assert requests_to(http_server, "/echo")[0].headers["Authorization"] == f"Bearer {token}"
    assert token not in run.everything_written()


def test_404_fails_at_once_and_500_is_retried_as_the_task_says(run_example, http_server):
    flow = """name: failures
tasks:
  missing:
    uses: acme/http.get
    inputs: {url: "{{ vars.base_url }}/status/404"}
    retries: {count: 2, backoff: 0.01}
  broken:
    uses: acme/http.get
    inputs: {url: "{{ vars.base_url }}/status/500"}
    retries: {count: 2, backoff: 0.01}
"""

    run = run_example(flow)

    assert run.done.returncode == 1
    missing, broken = run.task("missing"), run.task("broken")
    assert (missing["status"], missing["attempts"]) == ("failed", 1)
    assert (missing["error"]["type"], missing["error"].get("retryable", False)) == ("ClientError", False)
    assert missing["error"]["message"].startswith(f"GET {http_server.url}/status/404 answered 404 Not Found")
    assert (broken["status"], broken["attempts"]) == ("failed", 3)
    assert (broken["error"]["type"], broken["error"]["retryable"]) == ("ServerError", True)
    assert len(requests_to(http_server, "/status/404")) == 1
    assert len(requests_to(http_server, "/status/500")) == 3


def test_no_answer_within_the_request_timeout_is_a_retryable_failure(run_example, http_server):
    flow = """name: slow
tasks:
  wait:
    uses: acme/http.get
    inputs: {url: "{{ vars.base_url }}/slow?seconds=120", timeout: 0.5}
    retries: {count: 1, backoff: 0.01}
"""

    run = run_example(flow)

    assert run.done.returncode == 1
    wait = run.task("wait")
    assert wait["attempts"] == 2
    assert (wait["error"]["kind"], wait["error"]["type"], wait["error"]["retryable"]) == ("action", "Timeout", True)
    assert wait["error"]["message"] == (
        f"GET {http_server.url}/slow?seconds=120: no answer within 0.5 s (the `timeout` input)"
    )
    assert len(requests_to(http_server, "/slow")) == 2


# --- Restricted: each backend, cold and warm ----------------------------------------------------


def saved_into(folder: Path) -> Path:
    """The example's read-write mount source, writable by uid 65534 as docs/permissions.md says it must be."""
    out = folder / "out"
    out.mkdir()
    out.chmod(0o777)
    return out / "items.json"


def leftover_containers(images: tuple[str, ...]) -> list[str]:
    found = []
    for image in images:
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True, check=True
        )
        found += listed.stdout.split()
    return found


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_the_restricted_example_reaches_the_loopback_server_with_the_grant(
    run_example, lock_example, http_server, backend, example_plugins, tmp_path, warm
):
    saved = saved_into(tmp_path)
    text = example("http-restricted.yaml")
    args = ("--backend", backend)
    if warm:  # a second call of acme/http, which a warm worker answers
        again = '  again:\n    needs: [fetch]\n    uses: acme/http.get\n    inputs: {url: "{{ vars.base_url }}/text"}\n'
        text = text.replace("outputs:\n", f"{again}outputs:\n", 1)
        args += ("--pool", "--concurrency", "1")

    locked = lock_example(text)

    run = run_example(text, *args)

    assert run.done.returncode == 0, run.done.stderr
    assert run.record["lock"]["path"] == str(locked), "the run was checked against the workflow's lock"
    assert {task["provenance"]["lock_matched"] for task in run.record["tasks"].values()} == {True}
    assert run.record["outputs"] == {"status": 200, "saved": "/out/items.json", "bytes": saved.stat().st_size}
    assert json.loads(saved.read_text()) == {"message": "hello from serve_http", "items": [1, 2, 3]}
    assert {task["metrics"]["runtime"] for task in run.record["tasks"].values()} == {backend}
    assert run.task("fetch")["provenance"]["grants"]["network"] is True
    assert [request.path for request in http_server.requests] == ["/json", "/text"] if warm else ["/json"]
    if warm:
        assert run.task("again")["outputs"]["body"] == "hello from serve_http"
        assert (run.task("fetch")["metrics"]["warm"], run.task("again")["metrics"]["warm"]) == (False, True)
    else:
        assert not any(task["metrics"]["warm"] for task in run.record["tasks"].values())
    if backend == "docker":
        assert leftover_containers(example_plugins.images) == []


def test_the_restricted_example_without_the_network_grant_is_refused_before_anything_runs(
    run_cli, http_server, backend, example_plugins, tmp_path
):
    saved = saved_into(tmp_path)
    lines = example("http-restricted.yaml").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(NETWORK_GRANT)]
    assert len(kept) == len(lines) - 1
    flow = tmp_path / "flow.yaml"
    flow.write_text("".join(kept), encoding="utf-8")

    done = run_cli(
        "run", str(flow), "--json", "-p", str(example_plugins.folder), "--backend", backend,
        "--var", f"base_url={http_server.url}",
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    [problem] = json.loads(done.stdout)["error"]["problems"]
    assert problem["message"] == (
        "task 'fetch' uses acme/http, which needs network access; restricted mode grants it only to listed plugins"
    )
    fetch_line = kept.index("    uses: acme/http.get\n") + 1  # the first, fetch's
    assert problem["location"] == f"{flow}:{fetch_line}:11: tasks.fetch.uses"
    assert "network: [acme/http]" in problem["hint"]  # the YAML to add
    assert f"{problem['location']}: {problem['message']}" in done.stderr
    assert "Traceback" not in done.stderr
    assert http_server.requests == []
    assert not saved.exists()
    assert not (tmp_path / ".workflow" / "runs").exists()


def test_the_restricted_examples_committed_lock_matches_the_plugins_as_committed(run_cli, tmp_path):
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__", "runs", "out"))
    (copy / "workflows" / "out").mkdir()  # the mount's source, which a reader creates before the run

    done = run_cli("lock", str(copy / "workflows" / "http-restricted.yaml"), "--check", "--json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {
        "lock": str(copy / "workflows" / "http-restricted.lock.json"),
        "matched": True,
        "drift": [],
    }
    locked = json.loads((copy / "workflows" / "http-restricted.lock.json").read_text())
    assert sorted(locked["plugins"]) == ["acme/files", "acme/http"]


def test_the_restricted_example_refuses_a_plugin_changed_after_its_lock(run_cli, tmp_path):
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__", "runs", "out"))
    (copy / "workflows" / "out").mkdir()
    with (copy / "plugins" / "http" / "main.py").open("a", encoding="utf-8") as main:
        main.write("# changed after the lock\n")

    done = run_cli("validate", str(copy / "workflows" / "http-restricted.yaml"))

    assert done.returncode == 2, done.stdout + done.stderr
    assert "plugin acme/http does not match the lock:\n  changed: main.py\n" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# --- The service, as the examples' comments start it ----------------------------------------------


def test_serve_http_prints_the_port_it_chose_serves_and_stops_on_ctrl_c():
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "serve_http.py")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        first_line = server.stdout.readline()
        assert first_line.startswith("serving on http://127.0.0.1:"), first_line
        url = first_line.split()[2]
        with urllib.request.urlopen(f"{url}/json", timeout=10) as answer:  # noqa: S310 - http://127.0.0.1:PORT
            assert json.loads(answer.read()) == {"message": "hello from serve_http", "items": [1, 2, 3]}
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
        server.stderr.close()


@pytest.mark.parametrize("argv", [["eighty"], ["80", "81"]])
def test_serve_http_refuses_arguments_that_are_not_one_port(argv):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "serve_http.py"), *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == "usage: python examples/serve_http.py [PORT]   (default: a free port)\n"
