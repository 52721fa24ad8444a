"""The argv that starts a plugin as a host process, bare or sandboxed.

Apart from :mod:`.base`'s invocation, which carries the argv this makes:
the manager and the conformance kit make one, the runtimes only run it.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["PYTHON_FLAGS", "plugin_argv"]

PYTHON_FLAGS = ("-E", "-s")
"""How ``.py`` entrypoints start: ignore ``PYTHON*`` variables and the user's
site-packages. Not ``-I``: it implies ``-P``, which drops the plugin's own
directory from ``sys.path`` and breaks plugins split into several modules.
Not ``-S``: the SDK and a trusted plugin's dependencies live in
site-packages (docs/runtimes.md has the measurements)."""


def plugin_argv(
    plugin_dir: Path,
    *,
    entrypoint: str | None = None,
    command: tuple[str, ...] | list[str] | None = None,
    python: str | None = None,
) -> tuple[str, ...]:
    """The argv that starts a plugin as a host process.

    A ``.py`` entrypoint runs under ``python`` (default: this interpreter,
    started directly rather than through a shim) with :data:`PYTHON_FLAGS`;
    any other entrypoint is executed as a file; a ``command`` is used as given
    (the process runs in ``plugin_dir``, so relative paths in it work).
    """
    if (entrypoint is None) == (command is None):
        raise ValueError("give exactly one of entrypoint and command")
    if command is not None:
        if not command:
            raise ValueError("command must not be empty")
        return tuple(command)
    assert entrypoint is not None
    path = Path(plugin_dir) / entrypoint
    if path.suffix == ".py":
        return (python or sys.executable, *PYTHON_FLAGS, str(path))
    return (str(path),)
