"""What ``workflow lock`` prints: the lock written, or how each plugin differs from it.

Plain text only: refs, paths and file names come from plugin folders and
are shown as written (no markup, control characters made visible).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .console import print_text

if TYPE_CHECKING:
    from rich.console import Console

    from workflow_plugin_runtime import LockedPlugin, PluginDrift


def print_lock_written(console: Console, path: str, plugins: Mapping[str, LockedPlugin]) -> None:
    count = len(plugins)
    print_text(console, f"wrote {path} ({count} plugin{'s' if count != 1 else ''})")
    for ref, entry in plugins.items():
        image = f", image {entry.image.id}" if entry.image is not None else ""
        print_text(console, f"  {ref} {entry.version} {entry.content_hash} ({len(entry.files)} files{image})")


def print_lock_check(console: Console, path: str, drift: Sequence[PluginDrift], *, plugins: int) -> None:
    if not drift:
        print_text(console, f"{path}: every plugin matches ({plugins} plugin{'s' if plugins != 1 else ''})")
        return
    count = len(drift)
    print_text(console, f"{path}: {count} plugin{'s differ' if count != 1 else ' differs'} from the lock")
    for item in drift:
        print_text(console, f"  {item.ref}:")
        for line in item.lines():
            print_text(console, f"    {line}")
