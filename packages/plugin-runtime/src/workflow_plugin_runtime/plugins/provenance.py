"""Where a task's code came from: plugin ref, version, source folder and a content hash.

The hash covers every file of the plugin directory (relative path, mode bit
for executables, and bytes), so a run record says exactly which code ran and
a lock file can later refuse code that changed. Caches, VCS folders and local
virtualenvs are left out: they change without the plugin changing.

The same files, and only those, go into a generated image
(:func:`..runtimes.docker.build_context.copy_plugin` copies with
:func:`ignored_in_plugin`), so the hash an image is labelled with
(:mod:`..runtimes.docker.images`) describes exactly the plugin code inside it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .manifest import PluginManifest

__all__ = ["IGNORED_DIRS", "IGNORED_SUFFIXES", "ignored_in_plugin", "plugin_content_hash", "provenance_of"]

IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
"""Folders that are never part of a plugin: caches, VCS data and local virtualenvs."""
IGNORED_SUFFIXES = (".pyc", ".pyo")
"""Files that are never part of a plugin: bytecode."""


def ignored_in_plugin(folder: str | os.PathLike[str], names: list[str]) -> set[str]:
    """The entries of ``folder`` that are not part of the plugin (the ``ignore`` callable of ``shutil.copytree``)."""
    ignored = set()
    for name in names:
        path = Path(folder) / name
        if path.is_dir() and not path.is_symlink():
            if name in IGNORED_DIRS:
                ignored.add(name)
        elif name.endswith(IGNORED_SUFFIXES):
            ignored.add(name)
    return ignored


def _files(root: Path) -> list[Path]:
    """Every file of the plugin; a symbolic link (to a file or a folder) counts as a file, as it is copied."""
    found = []
    for folder, dirs, names in os.walk(root):
        skipped = ignored_in_plugin(folder, [*dirs, *names])
        links = [d for d in dirs if (Path(folder) / d).is_symlink()]  # os.walk lists them as folders, never enters
        dirs[:] = sorted(d for d in dirs if d not in skipped and d not in links)
        found += [Path(folder) / name for name in (*names, *links) if name not in skipped]
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
