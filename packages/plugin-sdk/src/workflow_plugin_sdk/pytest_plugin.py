"""The ``plugin_harness`` fixture, registered through the ``pytest11`` entry point.

Installing the SDK is enough: pytest finds this module itself, and the SDK
does not depend on pytest (this module is only imported by pytest).
"""

from __future__ import annotations

import pytest

from . import testing


class PluginHarness:
    """The functions of :mod:`workflow_plugin_sdk.testing`, in one fixture."""

    load_plugin = staticmethod(testing.load_plugin)
    call_action = staticmethod(testing.call_action)
    run_plugin = staticmethod(testing.run_plugin)
    serve_plugin = staticmethod(testing.serve_plugin)


@pytest.fixture
def plugin_harness() -> PluginHarness:
    """Call plugin actions in-process or as real subprocesses."""
    return PluginHarness()
