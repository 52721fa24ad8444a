"""Shared by every test tree: the ``docker`` and ``sandbox`` markers' gatekeeping.

Outside CI a test needing Docker or bubblewrap is skipped with the reason;
with ``CI`` set the same test fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest

pytest_plugins = ["pytester"]  # the SDK tests run its pytest plugin in a scratch pytest


@functools.cache
def docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when a daemon answers."""
    if shutil.which("docker") is None:
        return "the docker client is not installed (CI installs it: see .ci/setup-docker.sh)"
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False)
    if done.returncode != 0:
        return "no Docker daemon answers (start it: see docs/docker.md)"
    return None


@functools.cache
def sandbox_problem() -> str | None:
    """Why bubblewrap cannot be used here, or None when it can start a sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    done = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--", "/bin/true"], capture_output=True, check=False
    )
    if done.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, problem in (("docker", docker_problem), ("sandbox", sandbox_problem)):
        if item.get_closest_marker(marker) is None:
            continue
        reason = problem()
        if reason is None:
            continue
        if os.environ.get("CI"):
            pytest.fail(f"CI requires {marker} tests to run, but {reason}", pytrace=False)
        pytest.skip(reason)
