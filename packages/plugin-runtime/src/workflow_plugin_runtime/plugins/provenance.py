"""Where a task's code came from: plugin ref, version, source folder and a content hash.

The hash is :func:`.content.plugin_content`'s: every file of the plugin
directory (relative path, kind, executable bit, bytes, link targets), caches,
VCS folders, editor droppings and lock files left out. A run record says
exactly which code ran, and a lock file (:mod:`..execution.locking`) refuses
code that changed since it was reviewed.

The same files, and only those, go into a generated image
(:func:`..runtimes.docker.build_context.copy_plugin` copies with
:func:`.content.ignored_in_plugin`), so the hash an image is labelled with
(:mod:`..runtimes.docker.images`) describes exactly the plugin code inside it.
"""

from __future__ import annotations

import os
import sys

from .content import plugin_content

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from .manifest import PluginManifest

__all__ = ["plugin_content_hash", "plugin_distribution", "plugin_source", "provenance_of"]


def plugin_content_hash(plugin_dir: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of the plugin directory's files (unchanged files' digests come from the cache)."""
    return plugin_content(plugin_dir).digest


def provenance_of(manifest: PluginManifest, *, content_hash: str | None = None) -> dict[str, object]:
    """The run record's ``provenance`` block for a plugin task."""
    return {
        "ref": manifest.ref,
        "version": manifest.version_text,
        "source": str(manifest.plugin_dir),
        "content_hash": content_hash if content_hash is not None else plugin_content_hash(manifest.plugin_dir),
    }


def plugin_source(plugin_dir: Path, workflow_dir: Path, *, project_root: Path | None) -> str:
    """A lock's ``source``: relative to the workflow's folder when inside the project (the lock moves with it).

    Outside the project (``project_root``, else the workflow's folder) it is absolute.
    """
    plugin = plugin_dir.resolve()
    boundary = (project_root or workflow_dir).resolve()
    if plugin.is_relative_to(boundary):
        return os.path.relpath(plugin, workflow_dir.resolve()).replace(os.sep, "/")
    return str(plugin)


def plugin_distribution(plugin_dir: Path) -> tuple[str, str] | None:
    """The installed distribution that exposes ``plugin_dir`` as an entry point, if any: its name and version.

    An entry point names an importable package, so only a folder directly
    inside a ``sys.path`` entry can be one: any other is answered by a stat
    of each entry, without reading the installed distributions' metadata
    (a few milliseconds) or resolving every entry's path.
    """
    try:
        parent = plugin_dir.resolve().parent.stat()
    except OSError:
        return None
    if not any(_same_folder(entry or os.curdir, parent) for entry in sys.path):
        return None
    from importlib.metadata import entry_points
    from importlib.util import find_spec
    from pathlib import Path

    from .discovery import ENTRY_POINT_GROUP

    wanted = plugin_dir.resolve()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry, "dist", None)
        try:
            spec = find_spec(entry.value.strip())
        except (ImportError, ValueError):
            continue
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
        if dist is not None and any(Path(location).resolve() == wanted for location in locations):
            return (dist.name, dist.version)
    return None


def _same_folder(path: str, folder: os.stat_result) -> bool:
    try:
        return os.path.samestat(os.stat(path), folder)  # noqa: PTH116 - a sys.path string: no Path object per entry
    except OSError:  # a sys.path entry that does not exist (yet) or cannot be read
        return False
