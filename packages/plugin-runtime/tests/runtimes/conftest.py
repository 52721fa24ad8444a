"""Fixtures for the runtime tests: the sample plugins, invocations, a test image."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import workflow_plugin_sdk
from workflow_plugin_runtime.runtimes.base import Invocation, plugin_argv
from workflow_plugin_runtime.runtimes.docker import PLUGIN_LABEL
from workflow_plugin_sdk.protocol import make_request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_plugins"
PROBE_DIR = FIXTURES / "probe"
RAW_DIR = FIXTURES / "raw"
TEST_IMAGE = "workflow-plugins-test/runtime-probe:latest"

TEST_DOCKERFILE = """\
FROM python:3.11-slim
COPY workflow_plugin_sdk /usr/lib/python3/dist-packages/workflow_plugin_sdk
COPY raw /raw
COPY probe /plugin
WORKDIR /plugin
CMD ["python3", "-E", "-s", "main.py"]
"""

MakeInvocation = Callable[..., Invocation]


def _unique_ref(name: str) -> str:
    return f"test/{name}-{uuid.uuid4().hex[:12]}"


def _make(plugin_dir: Path, entrypoint: str, action: str, inputs: dict[str, Any] | None, **fields: Any) -> Invocation:
    secret_inputs = fields.pop("secret_inputs", ())
    fields.setdefault("plugin_ref", _unique_ref(plugin_dir.name))
    fields.setdefault("argv", plugin_argv(plugin_dir, entrypoint=entrypoint))
    return Invocation(
        request=make_request(action, inputs or {}, secret_inputs=list(secret_inputs)),
        plugin_dir=plugin_dir,
        **fields,
    )


@pytest.fixture
def probe() -> MakeInvocation:
    """An invocation of the SDK probe plugin; keyword fields override Invocation's."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return _make(PROBE_DIR, "main.py", action, inputs, **fields)

    return make


@pytest.fixture
def raw() -> MakeInvocation:
    """An invocation of the hand-written protocol plugin."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return _make(RAW_DIR, "raw.py", action, inputs, **fields)

    return make


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def test_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The probe and raw plugins with the SDK, on the base image CI imports (python:3.11-slim)."""
    context = tmp_path_factory.mktemp("image")
    shutil.copytree(Path(workflow_plugin_sdk.__file__).parent, context / "workflow_plugin_sdk")
    for plugin in (PROBE_DIR, RAW_DIR):
        shutil.copytree(plugin, context / plugin.name, ignore=shutil.ignore_patterns("__pycache__"))
    (context / "Dockerfile").write_text(TEST_DOCKERFILE)
    docker_client.images.build(path=os.fspath(context), tag=TEST_IMAGE, rm=True, forcerm=True)
    return TEST_IMAGE


@pytest.fixture
def containers_of(docker_client: Any) -> Callable[[str], list[Any]]:
    """Every container (running or not) that a plugin ref's invocations left behind."""

    def containers(plugin_ref: str) -> list[Any]:
        found: list[Any] = docker_client.containers.list(all=True, filters={"label": f"{PLUGIN_LABEL}={plugin_ref}"})
        return found

    return containers
