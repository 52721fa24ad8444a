"""Fixtures shared by the runtime's tests (append new fixtures; do not rewrite others')."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_validator_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep compiled schema validators out of the real user's cache dir (subprocesses inherit it too)."""
    previous = os.environ.get("WORKFLOW_CACHE_DIR")
    os.environ["WORKFLOW_CACHE_DIR"] = str(tmp_path_factory.mktemp("workflow-cache"))
    yield
    if previous is None:
        os.environ.pop("WORKFLOW_CACHE_DIR", None)
    else:
        os.environ["WORKFLOW_CACHE_DIR"] = previous


# --- Docker: the test image and container bookkeeping (moved up from tests/runtimes/conftest.py,
# so the warm pool's container tests share them) ---

RUNTIME_PLUGINS = Path(__file__).resolve().parent / "fixtures" / "runtime_plugins"
TEST_IMAGE = "workflow-plugins-test/runtime-probe:latest"
TEST_DOCKERFILE = """\
FROM python:3.11-slim
COPY workflow_plugin_sdk /usr/lib/python3/dist-packages/workflow_plugin_sdk
COPY raw /raw
COPY probe /plugin
WORKDIR /plugin
CMD ["python3", "-E", "-s", "main.py"]
"""


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
    import workflow_plugin_sdk
    from workflow_plugin_runtime.plugins.provenance import plugin_content_hash
    from workflow_plugin_runtime.runtimes.docker.image import BUILT_FROM_LABEL

    context = tmp_path_factory.mktemp("image")
    shutil.copytree(Path(workflow_plugin_sdk.__file__).parent, context / "workflow_plugin_sdk")
    for name in ("probe", "raw"):
        shutil.copytree(RUNTIME_PLUGINS / name, context / name, ignore=shutil.ignore_patterns("__pycache__"))
    (context / "Dockerfile").write_text(TEST_DOCKERFILE)
    # Labelled as built from the probe, which it runs from /plugin: a manager's calls of test/probe check that label.
    labels = {BUILT_FROM_LABEL: plugin_content_hash(RUNTIME_PLUGINS / "probe")}
    docker_client.images.build(path=os.fspath(context), tag=TEST_IMAGE, rm=True, forcerm=True, labels=labels)
    return TEST_IMAGE


@pytest.fixture
def containers_of(docker_client: Any) -> Callable[[str], list[Any]]:
    """Every container (running or not) that a plugin ref's invocations left behind."""
    from workflow_plugin_runtime.runtimes.docker.runtime import PLUGIN_LABEL

    def containers(plugin_ref: str) -> list[Any]:
        import docker

        while True:
            try:
                found: list[Any] = docker_client.containers.list(
                    all=True, filters={"label": f"{PLUGIN_LABEL}={plugin_ref}"}
                )
            except docker.errors.NotFound:  # one was removed between the listing and its inspection: list again
                continue
            return found

    return containers


# --- The runtime registry: a process runtime registered for one test, the built-in put back after ---


@pytest.fixture
def registered_process_runtimes() -> Iterator[list[Any]]:
    """Registers a factory of real process runtimes for PROCESS; the list holds each runtime it made."""
    from workflow_plugin_runtime.config import RuntimeKind
    from workflow_plugin_runtime.runtimes.process import ProcessRuntime
    from workflow_plugin_runtime.runtimes.registry import register_runtime

    made: list[ProcessRuntime] = []

    def factory() -> ProcessRuntime:
        made.append(ProcessRuntime())
        return made[-1]

    built_in = register_runtime(RuntimeKind.PROCESS, factory)
    assert built_in is not None
    try:
        yield made
    finally:
        register_runtime(RuntimeKind.PROCESS, built_in)


# --- An installed distribution exposing a plugin through the workflow.plugins entry point ---

DIST_FILES = {
    "pyproject.toml": """\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "acme-echo-plugin"
        version = "0.3.0"

        [project.entry-points."workflow.plugins"]
        acme-echo = "acme_echo_plugin"
        ghost = "acme_ghost_not_installed"
        callable = "acme_echo_plugin:path"

        [tool.hatch.build.targets.wheel]
        packages = ["acme_echo_plugin"]
        """,
    "acme_echo_plugin/__init__.py": "",
    "acme_echo_plugin/main.py": "",
    "acme_echo_plugin/plugin.yaml": """\
        namespace: acme
        name: echo
        version: 0.3.0
        runtime:
          entrypoint: main.py
        actions:
          echo: {}
        """,
}


@pytest.fixture(scope="session")
def installed_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real distribution built with hatchling and pip-installed into a target folder."""
    root = tmp_path_factory.mktemp("dist")
    source = root / "src"
    for relative, text in DIST_FILES.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text(textwrap.dedent(text), encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", root / "wheels", source], check=True
    )
    (wheel,) = (root / "wheels").glob("*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", root / "site", wheel], check=True)
    return root / "site"
