"""Fixtures shared by the runtime's tests (append new fixtures; do not rewrite others')."""

from __future__ import annotations

import os
from collections.abc import Iterator

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
