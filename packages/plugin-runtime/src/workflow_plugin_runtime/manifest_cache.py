"""Loading manifests through two caches, because one-shot commands load them in many short processes.

* Per process, keyed by the file's stat signature: the same object comes back
  until the file changes. A file changed within the last clock tick (see
  :func:`.index.settled`) is also compared byte for byte at each use.
* Across processes, in the on-disk plugin index (:mod:`.index`): a manifest
  that passed every check is kept as plain data and rebuilt without PyYAML,
  the validators or the checks (:mod:`.manifest_checks`, imported on a miss).

Both re-check, at each use, the one thing that depends on files other than
the manifest: that the entrypoint (or a relative command) is still a file
inside the plugin directory. That costs one ``lstat`` per path part when no
symlink or ``..`` is involved, and a full ``realpath`` otherwise.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from .index import settled, shared_index, signature
from .manifest import PluginManifest, to_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .errors import Problem

__all__ = ["FileProblem", "clear", "entry_file_problem", "entry_files", "entry_files_state", "load_cached"]

FileProblem = tuple[str, str | None]  # (message, hint)


def load_cached(path: Path) -> PluginManifest | list[Problem]:
    """The manifest at ``path`` (an absolute ``plugin.yaml`` path) or its problems, from the caches when valid."""
    before = time.time_ns()
    try:
        info = os.stat(path)  # noqa: PTH116 - a stat_result, for the signature
    except (OSError, ValueError):
        info = None
    if info is not None:
        sig = signature(info)
        cached = _CACHE.get(path)
        if cached is not None and cached.sig == sig and cached.still_valid(path):
            return cached.result
        if stat.S_ISREG(info.st_mode):
            indexed = _from_index(path, sig)
            if indexed is not None:
                _CACHE[path] = indexed
                return indexed.result
    from .manifest_checks import check_manifest

    checked = check_manifest(path)
    if checked.info is None:
        return checked.result
    sig = signature(checked.info)
    calm = settled(checked.info, before)
    _CACHE[path] = _Cached(sig, checked.result, None if calm else checked.raw, checked.files, checked.files_state)
    if calm and isinstance(checked.result, PluginManifest):
        identity = (checked.result.namespace, checked.result.name)
        shared_index().remember(os.fspath(path), sig, identity=identity, data=checked.data)
    return checked.result


def _from_index(path: Path, sig: tuple[int, int, int, int, int]) -> _Cached | None:
    data = shared_index().checked_data(os.fspath(path), sig)
    if data is None:
        return None
    try:
        files = entry_files(data["runtime"])
        manifest = to_model(data, plugin_dir=path.parent, manifest_path=path)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    files_state = entry_files_state(path.parent, files)
    if any(files_state):
        return None
    return _Cached(sig, manifest, None, files, files_state)


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
        None if _plainly_inside(plugin_dir, relative) else entry_file_problem(plugin_dir, relative)
        for relative in files
    )


def _plainly_inside(plugin_dir: Path, relative: str) -> bool:
    """True when ``relative`` is a regular file reached without symlinks or '..' (one lstat per part)."""
    parts = relative.split("/")
    if os.sep != "/" or any(part in ("", ".", "..") for part in parts):
        return False
    current = os.fspath(plugin_dir)
    for index, part in enumerate(parts):
        current = os.path.join(current, part)  # noqa: PTH118 - strings, one lstat per part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        wanted = stat.S_ISREG(mode) if index == len(parts) - 1 else stat.S_ISDIR(mode)
        if not wanted:
            return False
    return True


class _Cached:
    """A per-process cache entry: the result for ``sig``, and what must still hold to reuse it."""

    __slots__ = ("files", "files_state", "raw", "result", "sig")

    def __init__(
        self,
        sig: tuple[int, ...],
        result: PluginManifest | list[Problem],
        raw: bytes | None,
        files: tuple[str, ...],
        files_state: tuple[FileProblem | None, ...],
    ) -> None:
        self.sig = sig
        self.result = result
        self.raw = raw  # kept only for a racily clean file, to compare byte for byte
        self.files = files
        self.files_state = files_state

    def still_valid(self, path: Path) -> bool:
        if self.raw is not None:
            try:
                with open(path, "rb") as stream:  # noqa: PTH123 - plain I/O on the hot path
                    if stream.read() != self.raw:
                        return False
            except OSError:
                return False
        return not self.files or entry_files_state(path.parent, self.files) == self.files_state


_CACHE: dict[Path, _Cached] = {}


def clear() -> None:
    _CACHE.clear()
