"""The runtime's public surface: a sorted ``__all__`` whose every name resolves."""

from __future__ import annotations

import workflow_plugin_runtime


def test_all_is_sorted_and_complete():
    names = workflow_plugin_runtime.__all__
    assert names == sorted(names, key=lambda name: (not name[0].isupper(), name))  # ruff's RUF022 order
    for name in names:
        assert getattr(workflow_plugin_runtime, name) is not None, name


def test_each_export_is_defined_in_the_package():
    for name in workflow_plugin_runtime.__all__:
        value = getattr(workflow_plugin_runtime, name)
        module = getattr(value, "__module__", "workflow_plugin_runtime")
        assert module.startswith("workflow_plugin_runtime"), (name, module)


def test_an_unknown_name_is_an_attribute_error():
    try:
        workflow_plugin_runtime.NoSuchThing  # noqa: B018 - the access is the test
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown attribute resolved")
