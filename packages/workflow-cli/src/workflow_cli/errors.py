"""How the CLI turns failures into exit codes.

0 success; 1 the workflow ran and failed (or a check found a problem);
2 the command or its input was invalid. Users see one clear message on
stderr, never a traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    INVALID = 2
