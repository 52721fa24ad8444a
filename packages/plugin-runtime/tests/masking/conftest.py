"""Fixtures shared by the masking tests."""

from __future__ import annotations

import importlib.util

import pytest

from workflow_plugin_runtime.masking.masker import MatchBackend


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(MatchBackend.REGEX, id="regex"),
        pytest.param(
            MatchBackend.HYPERSCAN,
            id="hyperscan",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("hyperscan") is None,
                reason="hyperscan has no wheel for this platform; the regex matcher serves",
            ),
        ),
    ],
)
def backend(request: pytest.FixtureRequest) -> MatchBackend:
    """Every behaviour of the masker holds for both matchers, byte for byte."""
    chosen: MatchBackend = request.param
    return chosen
