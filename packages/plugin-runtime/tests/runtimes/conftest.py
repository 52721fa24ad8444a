"""Fixtures for the runtime tests: the sample plugins and their invocations.

The Docker test image (``test_image``), ``docker_client`` and ``containers_of`` live in
the parent conftest, shared with the warm pool's container tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_sdk.protocol import make_request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_plugins"
PROBE_DIR = FIXTURES / "probe"
RAW_DIR = FIXTURES / "raw"
FORKABLE_DIR = FIXTURES / "forkable"

MakeInvocation = Callable[..., Invocation]


def _unique_ref(name: str) -> str:
    return f"test/{name}-{uuid.uuid4().hex[:12]}"


def _make(plugin_dir: Path, entrypoint: str, action: str, inputs: dict[str, Any] | None, **fields: Any) -> Invocation:
    secret_inputs = fields.pop("secret_inputs", ())
    fields.setdefault("kind", RuntimeKind.PROCESS)
    fields.setdefault("plugin_ref", _unique_ref(plugin_dir.name))
    fields.setdefault("argv", plugin_argv(plugin_dir, entrypoint=entrypoint))
    return Invocation(
        request=make_request(action, inputs or {}, secret_inputs=list(secret_inputs)),
        plugin_dir=plugin_dir,
        **fields,
    )


@pytest.fixture
def probe() -> MakeInvocation:
    """A process invocation of the SDK probe plugin; keyword fields override Invocation's (``kind`` too)."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return _make(PROBE_DIR, "main.py", action, inputs, **fields)

    return make


@pytest.fixture
def raw() -> MakeInvocation:
    """An invocation of the hand-written protocol plugin."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return _make(RAW_DIR, "raw.py", action, inputs, **fields)

    return make


@pytest.fixture
def forkable() -> MakeInvocation:
    """A process invocation of the fork server's fixture plugin (``runtime.start: fork``)."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        return _make(FORKABLE_DIR, "main.py", action, inputs, **fields)

    return make
