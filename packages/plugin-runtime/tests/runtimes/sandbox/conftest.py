"""Fixtures for the sandbox runtime's tests: the runtime, the intruder plugin, leftovers.

Every test here runs real bubblewrap sandboxes (the ``sandbox`` marker:
skipped with the reason where bubblewrap cannot run, required in CI).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.runtimes.base import Invocation, RuntimeKind
from workflow_plugin_runtime.runtimes.host_argv import plugin_argv
from workflow_plugin_runtime.runtimes.sandbox.limits import CGROUP_PREFIX, cgroup_parents
from workflow_plugin_runtime.runtimes.sandbox.runtime import SandboxRuntime
from workflow_plugin_sdk.protocol import make_request

INTRUDER_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "runtime_plugins" / "intruder"
FAST_GRACE_S = 0.5

MakeInvocation = Callable[..., Invocation]


@pytest.fixture
def sandbox() -> Iterator[SandboxRuntime]:
    runtime = SandboxRuntime(kill_grace_s=FAST_GRACE_S)
    yield runtime
    runtime.close()


@pytest.fixture
def intruder() -> MakeInvocation:
    """A sandbox invocation of the intruder plugin; keyword fields override Invocation's."""

    def make(action: str, inputs: dict[str, Any] | None = None, **fields: Any) -> Invocation:
        fields.setdefault("plugin_ref", f"test/intruder-{uuid.uuid4().hex[:12]}")
        fields.setdefault("argv", plugin_argv(INTRUDER_DIR, entrypoint="main.py"))
        return Invocation(
            kind=RuntimeKind.SANDBOX, request=make_request(action, inputs or {}), plugin_dir=INTRUDER_DIR, **fields
        )

    return make


@pytest.fixture
def cgroups_required() -> None:
    """The limit messages come from the cgroups' counters: a root engine with cgroup v1 has them."""
    if cgroup_parents() is None:
        pytest.skip("no cgroup v1 controllers this process may use (the engine is not root, or cgroup v2 only)")


@pytest.fixture
def cgroups_left() -> Callable[[], list[Path]]:
    """``cgroups_left()``: the cgroups this process's sandboxes left behind (none may be)."""

    def left() -> list[Path]:
        parents = cgroup_parents()
        if parents is None:
            return []
        return [
            directory
            for parent in set(parents.values())
            for directory in parent.iterdir()
            if directory.name.startswith(f"{CGROUP_PREFIX}{os.getpid()}-")
        ]

    return left


@pytest.fixture
def processes_with() -> Callable[[str], list[int]]:
    """``processes_with(marker)``: pids of live processes whose command line holds ``marker``."""

    def find(marker: str) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if marker.encode() in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
        return found

    return find
