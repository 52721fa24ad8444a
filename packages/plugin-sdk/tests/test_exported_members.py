"""Each public module's ``__all__`` is sorted and names exactly its public members (as httpx checks its own)."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types

import pytest

import workflow_plugin_sdk
import workflow_plugin_sdk.protocol
import workflow_plugin_sdk.testing

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def _sort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else, each alphabetical."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def _public_members(module: types.ModuleType) -> list[str]:
    """Its public globals, and the names it loads on first use (the package root's ``_EXPORTS``, PEP 562)."""
    defined = [
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
        and not isinstance(value, (types.ModuleType, __future__._Feature))  # submodules; `from __future__` names
        and name != "TYPE_CHECKING"
    ]
    return sorted({*defined, *getattr(module, "_EXPORTS", {})})


MODULES = [workflow_plugin_sdk, workflow_plugin_sdk.protocol, workflow_plugin_sdk.testing]
"""The package and the protocol re-export only; ``testing`` also imports what it uses, so only its order is checked."""


@pytest.mark.parametrize("module", MODULES, ids=[module.__name__ for module in MODULES])
def test_all_is_sorted(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=_sort_key)


@pytest.mark.parametrize("module", MODULES[:2], ids=[module.__name__ for module in MODULES[:2]])
def test_all_names_the_public_members(module: types.ModuleType) -> None:
    assert sorted(module.__all__, key=_sort_key) == sorted(_public_members(module), key=_sort_key)


def test_every_exported_name_exists() -> None:
    for module in MODULES:
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ names {name}, which does not exist"


def test_importing_the_sdk_loads_no_heavy_stdlib_modules() -> None:
    """Plugins pay the import on every start (benchmarks/bench_sdk_import.py measures it): keep these out."""
    heavy = ["typing", "traceback", "dataclasses", "inspect", "subprocess", "workflow_plugin_sdk._messages"]
    code = f"import sys; from workflow_plugin_sdk import *; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_protocol_loads_none_of_the_plugin_author_api() -> None:
    """The engine imports only the protocol; the decorators, context and serve loop load when a plugin names them.

    Not ``-I``: the child must import the SDK this test imports (``PYTHONPATH`` may point at a source tree).
    """
    author_api = ["workflow_plugin_sdk._action", "workflow_plugin_sdk._context", "workflow_plugin_sdk._serve"]
    code = f"import sys, workflow_plugin_sdk.protocol; print([m for m in {author_api!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = "from workflow_plugin_sdk import define_action, run; print(define_action.__module__, run.__module__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["workflow_plugin_sdk._action", "workflow_plugin_sdk._serve"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'define_actions'"):
        workflow_plugin_sdk.define_actions  # noqa: B018 - the lookup is the test


@pytest.mark.parametrize("module", ["workflow_plugin_sdk", "workflow_plugin_sdk.protocol"])
def test_dir_lists_the_names_that_load_on_first_use_before_they_do(module: str) -> None:
    """``dir()`` (completion, ``help()``, ``inspect``) sees what ``__all__`` promises, loaded or not (PEP 562)."""
    code = f"import {module} as m; print(sorted(set(m.__all__) - set(dir(m))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
