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

from .content import plugin_content

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .manifest import PluginManifest

__all__ = ["plugin_content_hash", "provenance_of"]


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
