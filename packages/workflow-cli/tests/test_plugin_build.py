"""``workflow plugin build``: the Dockerfile it would build, real builds, and a restricted run of the result."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from workflow_cli.commands.plugin_build import DEFAULT_BASE_IMAGE_TEXT
from workflow_plugin_runtime.images import DEFAULT_BASE_IMAGE, generate_dockerfile
from workflow_plugin_runtime.manifest import load_manifest
from workflow_plugin_runtime.provenance import plugin_content_hash

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIRST = FIXTURES / "plugins_a"
SECOND = FIXTURES / "plugins_b"
GREETER = FIRST / "greeter"
RAWECHO = SECOND / "rawecho"


def test_print_dockerfile_shows_the_generated_dockerfile_and_builds_nothing(run_cli):
    done = run_cli("plugin", "build", "acme/greeter", "-p", str(FIRST), "--print-dockerfile")

    assert done.returncode == 0, done.stderr
    assert done.stdout == generate_dockerfile(load_manifest(GREETER))
    assert 'CMD ["python3", "-E", "-s", "/plugin/main.py"]' in done.stdout
    assert "USER 65534:65534" in done.stdout


def test_the_base_image_option_changes_only_the_from_line(run_cli):
    done = run_cli("plugin", "build", str(GREETER), "--base-image", "registry.local/py:3.12", "--print-dockerfile")

    assert done.returncode == 0
    assert done.stdout == generate_dockerfile(load_manifest(GREETER), base_image="registry.local/py:3.12")


def test_a_plugins_own_dockerfile_is_printed_unchanged(run_cli):
    done = run_cli("plugin", "build", str(RAWECHO), "--print-dockerfile")

    assert done.returncode == 0
    assert done.stdout == (RAWECHO / "Dockerfile").read_text()
    assert f"using the plugin's own Dockerfile: {RAWECHO / 'Dockerfile'}" in done.stderr


def test_base_image_with_the_plugins_own_dockerfile_is_refused(run_cli):
    done = run_cli("plugin", "build", str(RAWECHO), "--base-image", "python:3.12", "--print-dockerfile")

    assert done.returncode == 2
    assert "--base-image applies to generated Dockerfiles only" in done.stderr


def test_an_invalid_tag_is_exit_2_before_anything_is_built(run_cli):
    done = run_cli("plugin", "build", str(GREETER), "--tag", "Not A Tag")

    assert done.returncode == 2
    assert "'Not A Tag' is not a valid image tag" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_plugin_is_exit_2(run_cli):
    done = run_cli("plugin", "build", "acme/nope", "-p", str(FIRST))

    assert done.returncode == 2
    assert "plugin acme/nope not found" in done.stderr


def test_no_docker_daemon_is_exit_1_with_how_to_start_it(run_cli, tmp_path):
    done = run_cli("plugin", "build", str(GREETER), env={"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"})

    assert done.returncode == 1
    assert f"no Docker daemon: nothing listens at {tmp_path}/docker.sock" in done.stderr
    assert "hint: start the Docker daemon" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_daemon_that_refuses_the_connection_is_explained_in_our_words(run_cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there

    done = run_cli("plugin", "build", str(GREETER), env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})

    assert done.returncode == 1
    assert (
        f"cannot reach the Docker daemon at tcp://127.0.0.1:{port} (no answer from the daemon: Connection refused)"
        in done.stderr
    )
    assert "hint: start the Docker daemon" in done.stderr
    assert "HTTPConnectionPool" not in done.stderr and "Max retries" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
@pytest.mark.parametrize("plugin", [GREETER, RAWECHO], ids=["generated", "own-dockerfile"])
def test_an_image_is_labelled_with_the_content_hash_of_the_plugin_it_was_built_from(run_cli, image_tags, plugin):
    tag = image_tags(plugin.name)

    done = run_cli("plugin", "build", str(plugin), "--tag", tag)

    assert done.returncode == 0, done.stderr
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(inspected.stdout)["workflow-plugins.content-hash"] == plugin_content_hash(plugin)


def test_the_help_default_base_image_is_the_one_used():
    assert DEFAULT_BASE_IMAGE_TEXT == DEFAULT_BASE_IMAGE


def test_help_has_examples(run_cli):
    done = run_cli("plugin", "build", "--help")

    assert done.returncode == 0
    assert "Examples:" in done.stdout
    assert "--print-dockerfile" in done.stdout
    assert "python:3.11-slim" in done.stdout


@pytest.mark.docker
def test_a_generated_image_builds_and_runs_restricted_in_the_docker_runtime(run_cli, image_tags, run_in_container):
    tag = image_tags("greeter")

    done = run_cli("plugin", "build", "acme/greeter", "-p", str(FIRST), "--tag", tag)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"built {tag} (")
    assert "Step 1/" in done.stderr and f"Successfully tagged {tag}" in done.stderr
    assert "note: the Docker runtime runs acme/greeter:2.0.0" in done.stderr
    result = run_in_container(tag, "greet", {"name": "CI"})
    assert result.ok, (result.failure, result.stderr_tail)
    assert result.outputs == {"greeting": "Hello, CI", "uid": 65534, "cwd": "/plugin"}
    assert [record["message"] for record in result.logs] == ["greeting CI"]


@pytest.mark.docker
def test_a_plugins_own_dockerfile_is_built_and_its_image_runs(run_cli, image_tags, run_in_container):
    tag = image_tags("rawecho")

    done = run_cli("plugin", "build", str(RAWECHO), "--tag", tag)

    assert done.returncode == 0, done.stderr
    result = run_in_container(tag, "echo", {"x": 1})
    assert result.ok, (result.failure, result.stderr_tail)
    assert result.outputs == {"inputs": {"x": 1}, "marker": "built-from-the-plugins-own-dockerfile"}


@pytest.mark.docker
def test_a_failing_build_shows_the_step_and_its_output_and_exits_1(run_cli, image_tags, tmp_path):
    plugin = tmp_path / "failing"
    shutil.copytree(RAWECHO, plugin)
    (plugin / "Dockerfile").write_text(
        "FROM python:3.11-slim\nCOPY echo.py /plugin/echo.py\n"
        'RUN ["python3", "-c", "print(\'compiling the thing\'); raise SystemExit(3)"]\n'
    )

    done = run_cli("plugin", "build", str(plugin), "--tag", image_tags("failing"))

    assert done.returncode == 1
    error = done.stderr[done.stderr.index("error: ") :]
    assert "failed at step 3/" in error and "returned a non-zero code: 3" in error
    assert "output of Step 3/" in error
    assert "  | compiling the thing" in error
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
