"""Files read without trusting them, and files written so that no reader sees half of one.

Reading: only a regular file is read, and at most ``limit`` bytes of it: a
device such as ``/dev/zero`` or a FIFO may never end, and a huge file would be
read into memory whole. Every failure is the caller's error class, located at
the path.

Writing: the bytes go to a temporary file in the target's folder (so the
rename stays on one filesystem), which ``os.replace`` moves over the target:
a reader sees the old file or the new one, never a torn one, and a failed
write leaves nothing behind.

The plugin index writes through this module when a cold ``resolve`` ends, so
it imports only ``os`` and ``stat`` (no ``typing``, ``pathlib`` or
``tempfile``; see docs/performance.md).
"""

# os-level calls on path strings: this module stays cheap to import for the plugin index (see above).
# ruff: noqa: PTH103, PTH105, PTH108, PTH118

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import TypeVar

    from ..errors import WorkflowPluginError

    _E = TypeVar("_E", bound=WorkflowPluginError)

__all__ = [
    "read_capped_file",
    "read_capped_file_with_stat",
    "write_file_atomically",
]


def read_capped_file(
    path: Path, *, error: type[_E], limit: int, what: str = "file", not_found_hint: str | None = None
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; ``error`` for anything else.

    A device (``/dev/zero``), FIFO or socket is refused before it is opened:
    reading one may never end. ``what`` names the file in messages
    (``secrets file not found``).
    """
    _, raw = read_capped_file_with_stat(path, error=error, limit=limit, what=what, not_found_hint=not_found_hint)
    return raw


def read_capped_file_with_stat(
    path: Path, *, error: type[_E], limit: int, what: str = "file", not_found_hint: str | None = None
) -> tuple[os.stat_result, bytes]:
    """:func:`read_capped_file`, with the stat of the descriptor the bytes came from.

    For a cache keyed by the file's stat signature: the signature is that of
    the very bytes read, even when the file is replaced meanwhile.
    """
    from ..errors import SourceLocation

    try:
        _refuse_to_read(path.stat(), path, error=error, limit=limit, what=what)  # never open a FIFO or a device
        with path.open("rb") as stream:
            info = os.fstat(stream.fileno())
            _refuse_to_read(info, path, error=error, limit=limit, what=what)  # replaced since the stat
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
    return info, raw


def _refuse_to_read(info: os.stat_result, path: Path, *, error: type[_E], limit: int, what: str) -> None:
    from ..errors import SourceLocation

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


def write_file_atomically(
    path: str | os.PathLike[str], content: bytes, *, durable: bool, directory_mode: int = 0o777, ending: bytes = b""
) -> None:
    """Replace the file at ``path`` with ``content`` and ``ending`` in one step; OSError when it cannot be written.

    ``ending`` is written after ``content`` (a run record's last newline), so
    a content of megabytes is not copied to have it appended. The folder is
    created when missing (``directory_mode``, under the umask; a private
    cache asks for 0o700), the file is readable by its owner only (0o600, as
    ``tempfile`` makes it), and on any failure the temporary file is
    removed. ``durable``: fsync before the rename, so a crash cannot leave
    an empty file behind the new name. A run record is worth the wait; a
    cache, which is rebuilt when lost, is not.
    """
    folder, name = os.path.split(os.fspath(path))
    os.makedirs(folder or ".", mode=directory_mode, exist_ok=True)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.write(ending)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        from contextlib import suppress

        with suppress(OSError):
            os.unlink(temporary)
        raise
