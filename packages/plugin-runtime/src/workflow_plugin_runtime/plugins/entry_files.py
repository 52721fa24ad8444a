"""The files a manifest's validity depends on besides itself: its entrypoint, a relative command.

Shared by the checks (a first load) and the caches (each reuse), so both
judge "a file inside the plugin directory" the same way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["FileProblem", "entry_file_problem", "entry_files", "entry_files_state"]

FileProblem = tuple[str, str | None]  # (message, hint)


def entry_files(runtime: Mapping[str, Any]) -> tuple[str, ...]:
    """The relative paths a manifest's validity depends on: its entrypoint, a relative command."""
    found = []
    entrypoint = runtime.get("entrypoint")
    if isinstance(entrypoint, str) and entrypoint.endswith(".py") and not os.path.isabs(entrypoint):  # noqa: PTH117
        found.append(entrypoint)
    command = runtime.get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        program = command[0]
        if ("/" in program or os.sep in program) and not os.path.isabs(program):  # noqa: PTH117
            found.append(program)
    return tuple(found)


def entry_file_problem(plugin_dir: Path, relative: str) -> FileProblem | None:
    """Why ``relative`` is not a file inside ``plugin_dir``, as ``(message, hint)``; None when it is."""
    if Path(relative).is_absolute():
        return f"{relative!r} is an absolute path", "write a path relative to the plugin directory"
    root = plugin_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        return (
            f"{relative!r} points outside the plugin directory",
            "a plugin's files must live inside its directory (no '..', no symlinks out)",
        )
    if not target.is_file():
        return f"{relative!r} does not exist in {root}", None
    return None


def entry_files_state(plugin_dir: Path, files: tuple[str, ...]) -> tuple[FileProblem | None, ...]:
    """:func:`entry_file_problem` of each file: what a cached result depends on beyond its manifest."""
    return tuple(
        [
            None if _plainly_inside(plugin_dir, relative) else entry_file_problem(plugin_dir, relative)
            for relative in files
        ]
    )


def _plainly_inside(plugin_dir: Path, relative: str) -> bool:
    """True when ``relative`` is a regular file reached without symlinks or '..' (one lstat per part).

    Runs for every manifest a listing loads (500 of them in a second), so:
    strings joined with the separator it just checked, list membership
    rather than a generator.
    """
    parts = relative.split("/")
    if os.sep != "/" or "" in parts or "." in parts or ".." in parts:
        return False
    current = os.fspath(plugin_dir).rstrip("/")  # "/" itself: "/main.py", as os.path.join makes it
    last = len(parts) - 1
    for index, part in enumerate(parts):
        current = f"{current}/{part}"
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        if not (stat.S_ISREG(mode) if index == last else stat.S_ISDIR(mode)):
            return False
    return True
