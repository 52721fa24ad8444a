"""Where a task's code came from: plugin ref, version, source folder and a content hash.

The hash covers every file of the plugin directory (relative path, mode bit
for executables, and bytes), so a run record says exactly which code ran and
a lock file can later refuse code that changed. Caches and VCS folders are
left out: they change without the plugin changing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .manifest import PluginManifest

__all__ = ["plugin_content_hash", "provenance_of"]

_IGNORED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_IGNORED_SUFFIXES = (".pyc", ".pyo")


def _files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        found += [Path(folder) / name for name in names if not name.endswith(_IGNORED_SUFFIXES)]
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def plugin_content_hash(plugin_dir: Path) -> str:
    """``sha256:<hex>`` of the plugin directory's files (callers cache it for as long as a run lasts)."""
    root = plugin_dir.resolve()
    digest = hashlib.sha256()
    for path in _files(root):
        relative = path.relative_to(root).as_posix().encode()
        executable = os.access(path, os.X_OK)
        digest.update(len(relative).to_bytes(4, "big") + relative + (b"x" if executable else b"-"))
        if path.is_symlink():
            digest.update(b"link:" + str(path.readlink()).encode())
            continue
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return f"sha256:{digest.hexdigest()}"


def provenance_of(manifest: PluginManifest, *, content_hash: str | None = None) -> dict[str, Any]:
    """The run record's ``provenance`` block for a plugin task."""
    return {
        "ref": manifest.ref,
        "version": str(manifest.version),
        "source": str(manifest.plugin_dir),
        "content_hash": content_hash if content_hash is not None else plugin_content_hash(manifest.plugin_dir),
    }
