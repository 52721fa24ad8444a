"""The image a container call runs is the one built from the plugin's current content, with a real engine."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import FailureKind, RuntimeUnavailableError
from workflow_plugin_runtime.plugins.provenance import plugin_content_hash
from workflow_plugin_runtime.runtimes.base import Invocation, ResourceLimits, RuntimeKind
from workflow_plugin_runtime.runtimes.docker.client import connect_bounded
from workflow_plugin_runtime.runtimes.docker.image import BUILT_FROM_LABEL, local_images
from workflow_plugin_runtime.runtimes.docker.runtime import DockerRuntime

MakeInvocation = Callable[..., Invocation]
ContainersOf = Callable[[str], list[Any]]

PROBE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "runtime_plugins" / "probe"
OTHER_CONTENT = "sha256:" + "0" * 64


@pytest.fixture
def runtime() -> Iterator[DockerRuntime]:
    """A runtime of its own per test: it remembers the images it checked."""
    with contextlib.closing(DockerRuntime()) as docker_runtime:
        yield docker_runtime


@pytest.fixture
def checked(probe: MakeInvocation, test_image: str) -> MakeInvocation:
    """A probe call as a manager makes it: with the probe's content hash, so its image is checked."""

    def make(action: str, **fields: Any) -> Invocation:
        fields.setdefault("image", test_image)
        fields.setdefault("content_hash", plugin_content_hash(PROBE_DIR))
        return probe(action, kind=RuntimeKind.DOCKER, argv=(), **fields)

    return make


@pytest.fixture
def unlabelled_image(docker_client: Any, image_tags: Callable[[str], str]) -> str:
    """An image built by hand (no content-hash label), tagged uniquely."""
    tag = image_tags("unlabelled")
    docker_client.images.build(fileobj=io.BytesIO(b"FROM python:3.11-slim\n"), tag=tag, rm=True)
    return tag


def image_id(tag: str) -> str:
    inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", tag]
    return subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.docker
def test_an_image_built_from_the_plugins_content_runs_and_is_remembered(
    runtime: DockerRuntime, checked: MakeInvocation, test_image: str
) -> None:
    result = runtime.invoke(checked("hello"))

    assert result.failure is None, result.failure
    identity = runtime.checked_image(test_image)
    assert identity is not None
    assert (identity.id, identity.built_from) == (image_id(test_image), plugin_content_hash(PROBE_DIR))


@pytest.mark.docker
def test_an_image_built_from_other_content_is_refused_naming_both_hashes_and_the_rebuild(
    runtime: DockerRuntime, checked: MakeInvocation, containers_of: ContainersOf
) -> None:
    invocation = checked("hello", content_hash=OTHER_CONTENT)

    result = runtime.invoke(invocation)

    assert result.failure is not None
    assert result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    message = result.failure.message
    assert f"built from plugin content {plugin_content_hash(PROBE_DIR)}" in message
    assert f"now hashes to {OTHER_CONTENT}" in message
    assert f"rebuild it with `workflow plugin build {PROBE_DIR}`" in message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
@pytest.mark.parametrize("warm", [False, True], ids=["one-shot", "serving"])
def test_an_image_built_by_hand_is_refused_because_its_content_is_unknown(
    runtime: DockerRuntime, checked: MakeInvocation, unlabelled_image: str, containers_of: ContainersOf, warm: bool
) -> None:
    invocation = checked("hello", image=unlabelled_image)

    if warm:
        with pytest.raises(RuntimeUnavailableError) as raised:
            runtime.create_serving_container(invocation)
        message = raised.value.message
    else:
        result = runtime.invoke(invocation)
        assert result.failure is not None and result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
        message = result.failure.message

    assert f"image {unlabelled_image} has no {BUILT_FROM_LABEL} label" in message
    assert f"build it with `workflow plugin build {PROBE_DIR}`" in message
    assert containers_of(invocation.plugin_ref) == []


@pytest.mark.docker
def test_a_call_without_a_content_hash_runs_the_image_unchecked(
    runtime: DockerRuntime, probe: MakeInvocation, unlabelled_image: str
) -> None:
    result = runtime.invoke(
        probe("hello", kind=RuntimeKind.DOCKER, image=unlabelled_image, argv=(), container_command=("true",))
    )

    assert result.failure is not None and result.failure.kind is FailureKind.PROTOCOL  # it ran: `true` says nothing
    assert runtime.checked_image(unlabelled_image) is None


@pytest.mark.docker
def test_the_image_is_inspected_once_and_its_containers_are_made_from_that_id(
    runtime: DockerRuntime, checked: MakeInvocation, test_image: str, unlabelled_image: str, image_tags: Any
) -> None:
    """A tag moved to other content after the first call changes nothing for this runtime: it runs what it checked."""
    tag = image_tags("moving")
    subprocess.run(["docker", "tag", test_image, tag], check=True)
    first = runtime.invoke(checked("environment", image=tag))
    subprocess.run(["docker", "tag", unlabelled_image, tag], check=True)

    second = runtime.invoke(checked("environment", image=tag))

    assert first.failure is None and second.failure is None, (first.failure, second.failure)
    identity = runtime.checked_image(tag)
    assert identity is not None and identity.id == image_id(test_image) != image_id(tag)
    with contextlib.closing(DockerRuntime()) as fresh:  # a new run inspects again, and refuses what the tag names now
        refused = fresh.invoke(checked("environment", image=tag))
    assert refused.failure is not None and "has no" in refused.failure.message


@pytest.mark.docker
def test_validate_sees_each_image_or_its_absence(test_image: str) -> None:
    images = local_images([test_image, "workflow-plugins-test/never-built:0.0.0", test_image], wait_s=5)

    assert images is not None
    assert images["workflow-plugins-test/never-built:0.0.0"] is None
    found = images[test_image]
    assert found is not None and found.built_from == plugin_content_hash(PROBE_DIR)


def test_without_a_daemon_validate_checks_no_image(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert local_images(["acme/http:1.2.0"], wait_s=5) is None


# --- The daemon's words, never the client library's ------------------------------------------------


@pytest.mark.docker
def test_a_request_the_daemon_refuses_is_worded_by_us_with_its_explanation_quoted(
    runtime: DockerRuntime, checked: MakeInvocation
) -> None:
    """More CPUs than the machine has: the engine answers 400 when the container is made."""
    result = runtime.invoke(checked("hello", limits=ResourceLimits(cpus=4096)))

    assert result.failure is not None and result.failure.kind is FailureKind.RUNTIME_UNAVAILABLE
    message = result.failure.message
    assert "Docker could not create the container of " in message
    assert '(the daemon answered 400: "' in message and "CPU" in message
    assert "Client Error" not in message and "http+docker" not in message


def test_a_refused_connection_is_worded_by_us(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]  # closed again below: nothing listens there
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")

    with pytest.raises(RuntimeUnavailableError) as raised:
        connect_bounded()

    message = raised.value.message
    assert (
        message
        == f"cannot reach the Docker daemon at tcp://127.0.0.1:{port} (no answer from the daemon: Connection refused)"
    )
