"""Reading a file people name (a manifest, a workflow, a secrets file) without trusting it.

Only a regular file is read, and at most ``limit`` bytes of it: a device such
as ``/dev/zero`` or a FIFO may never end, and a huge file would be read into
memory whole. Every failure is the caller's error class, located at the path.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TypeVar

from ..errors import SourceLocation, WorkflowPluginError

__all__ = [
    "read_capped_file",
]

_E = TypeVar("_E", bound=WorkflowPluginError)


def read_capped_file(
    path: Path, *, error: type[_E], limit: int, what: str = "file", not_found_hint: str | None = None
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; ``error`` for anything else.

    A device (``/dev/zero``), FIFO or socket is refused before it is opened:
    reading one may never end. ``what`` names the file in messages
    (``secrets file not found``).
    """
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise error(f"is a directory, not a {what}", location=SourceLocation(path))
        if not stat.S_ISREG(info.st_mode):
            raise error(
                "is not a regular file",
                location=SourceLocation(path),
                hint=f"give the path of a {what}; a device, FIFO or socket cannot be read as one",
            )
        if info.st_size > limit:
            raise error(
                f"the {what} is too large ({info.st_size} bytes; the limit is {limit})",
                location=SourceLocation(path),
            )
        with path.open("rb") as stream:
            # Sized by stat, not by the limit: read(n) allocates n bytes up front.
            raw = stream.read(info.st_size + 1)
            if len(raw) > info.st_size:
                raw += stream.read(limit + 1 - len(raw))
    except FileNotFoundError as exc:
        raise error(f"{what} not found", location=SourceLocation(path), hint=not_found_hint) from exc
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", location=SourceLocation(path)) from exc
    if len(raw) > limit:
        raise error(f"the {what} is too large (over {limit} bytes)", location=SourceLocation(path))
    return raw
