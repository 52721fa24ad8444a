"""Two process-wide switches of Linux's ``prctl(2)``: dumpable, and child subreaper.

Python's ``os`` module does not expose ``prctl``; ctypes reaches it in the C
library the interpreter already has loaded (``CDLL(None)``: no library
search, and no subprocess as ``ctypes.util.find_library`` would start).
Elsewhere than Linux, or when the call fails, each function says so by
its result and changes nothing: callers treat both as "not available".
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = [
    "PR_GET_DUMPABLE",
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_DUMPABLE",
    "dumpable",
    "set_child_subreaper",
    "set_dumpable",
]

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


@functools.cache
def _libc() -> Any:
    import ctypes  # here, not at import: only a run that contains its plugins pays for ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _prctl(option: int, value: int = 0) -> int | None:
    """``prctl(option, value, 0, 0, 0)``'s result, or None where it is not available or fails."""
    if sys.platform != "linux":
        return None
    libc = _libc()
    if libc is None or not hasattr(libc, "prctl"):
        return None
    import ctypes

    zero = ctypes.c_ulong(0)
    result = int(libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), zero, zero, zero))
    return None if result < 0 else result


def dumpable() -> bool | None:
    """Whether this process is dumpable (None where that cannot be asked)."""
    result = _prctl(PR_GET_DUMPABLE)
    return None if result is None else result == 1


def set_dumpable(flag: bool) -> bool:
    """Make this process dumpable or not; True when it was done.

    A non-dumpable process's ``/proc/<pid>/environ``, ``mem``, ``maps`` and
    ``fd`` are closed to other processes of the same user that lack
    ``CAP_SYS_PTRACE`` (and ``CAP_SYS_ADMIN``), it cannot be ptrace-attached
    by them, and it leaves no core dump. A child gets its own dumpable
    flag back when it executes a program.
    """
    return _prctl(PR_SET_DUMPABLE, int(flag)) is not None


def set_child_subreaper(flag: bool) -> bool:
    """Make this process the one that adopts its orphaned descendants (instead of init); True when done."""
    return _prctl(PR_SET_CHILD_SUBREAPER, int(flag)) is not None
