"""``workflow plugin build``: the Dockerfile it would build, real builds, and a restricted run of the result."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from workflow_cli.commands.plugin_build import DEFAULT_BASE_IMAGE_TEXT
from workflow_plugin_runtime import DEFAULT_BASE_IMAGE, load_manifest
from workflow_plugin_runtime.plugins.provenance import plugin_content_hash
from workflow_plugin_runtime.runtimes.docker.images import generate_dockerfile

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


def js_plugin(folder: Path, *, runtime: str, files: dict[str, str]) -> Path:
    """A plugin that is not Python: ``runtime`` is its plugin.yaml runtime block (YAML flow style)."""
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(
        f"namespace: acme\nname: js\nversion: 1.0.0\nruntime: {runtime}\nactions: {{go: {{}}}}\n"
    )
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_a_command_the_default_base_image_lacks_is_refused_before_building(run_cli, tmp_path, image_tags):
    plugin = js_plugin(tmp_path / "js", runtime="{command: [node, index.js]}", files={"index.js": ""})
    tag = image_tags("js")

    done = run_cli("plugin", "build", str(plugin), "--tag", tag)

    assert done.returncode == 2, done.stderr
    assert f"error: {plugin / 'plugin.yaml'}:4:21: runtime.command[0]: acme/js starts with node" in done.stderr
    assert f"the default base image {DEFAULT_BASE_IMAGE} does not have" in done.stderr
    assert "exit 127" in done.stderr
    assert f"hint: write a Dockerfile in {plugin}" in done.stderr
    assert "--base-image IMAGE" in done.stderr
    assert "Step 1/" not in done.stderr and done.stdout == ""
    assert "Traceback" not in done.stderr


def test_a_scripts_interpreter_is_read_from_its_shebang(run_cli, tmp_path):
    script = js_plugin(
        tmp_path / "js", runtime="{command: [./run, --fast]}", files={"run": "#!/usr/bin/env -S node --jitless\n"}
    )
    shell = js_plugin(tmp_path / "sh", runtime="{command: [./run.sh]}", files={"run.sh": "#!/bin/sh\nexec cat\n"})

    refused = run_cli("plugin", "build", str(script), "--print-dockerfile")
    accepted = run_cli("plugin", "build", str(shell), "--print-dockerfile")

    assert refused.returncode == 2
    assert "runtime.command[0]: acme/js starts with node, which the default base image" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.endswith('CMD ["./run.sh"]\n')


def test_a_base_image_chosen_for_the_interpreter_is_trusted(run_cli, tmp_path):
    plugin = js_plugin(tmp_path / "js", runtime="{command: [node, index.js]}", files={"index.js": ""})

    done = run_cli("plugin", "build", str(plugin), "--base-image", "node:20-slim", "--print-dockerfile")

    assert done.returncode == 0, done.stderr
    assert "FROM node:20-slim\n" in done.stdout


PIPED = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TERM": "xterm-256color"}
"""What CI environments often set; output to a pipe must stay plain text anyway."""


@pytest.mark.docker
def test_a_failing_build_shows_its_own_step_line_output_and_hint_as_plain_text_and_exits_1(
    run_cli, image_tags, tmp_path
):
    plugin = tmp_path / "failing"
    shutil.copytree(RAWECHO, plugin)
    (plugin / "Dockerfile").write_text(
        "# the plugin's own build\n"
        "FROM python:3.11-slim\n"
        "\n"
        "COPY echo.py \\\n"
        "     /plugin/echo.py\n"
        "# colours from the build's own tools, and a failure\n"
        'RUN ["python3", "-c", "print(\'\\\\x1b[31mcompiling\\\\x1b[0m\'); raise SystemExit(3)"]\n'
    )

    done = run_cli(
        "plugin", "build", str(plugin), "--tag", image_tags("failing"), env=PIPED, unset=("NO_COLOR", "COLUMNS")
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr
    error = done.stderr[done.stderr.index("error: ") :].splitlines()
    assert error[0].startswith("error: building workflow-plugins-test/failing:")
    assert " failed at step 3/3 of the plugin's Dockerfile (line 7: RUN [" in error[0]
    assert error[0].endswith("returned a non-zero code: 3")
    assert error[1].startswith("output of Step 3/3 : RUN [")
    assert error[2] == "  | \\x1b[31mcompiling\\x1b[0m"  # the tool's colour codes shown, not obeyed
    assert error[-1] == f"  hint: the command at line 7 of {plugin / 'Dockerfile'} failed; its output, if any, is above"


@pytest.mark.docker
def test_a_missing_copy_source_names_its_line_and_the_build_context(run_cli, image_tags, tmp_path):
    plugin = tmp_path / "nocopy"
    shutil.copytree(RAWECHO, plugin)
    (plugin / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY missing.py /plugin/\n")

    done = run_cli("plugin", "build", str(plugin), "--tag", image_tags("nocopy"))

    assert done.returncode == 1
    assert "failed at step 2/2 of the plugin's Dockerfile (line 2: COPY missing.py /plugin/)" in done.stderr
    assert f"hint: COPY reads from the plugin directory {plugin}, minus what its .dockerignore excludes" in done.stderr
