"""A Dockerfile's instructions as the builder counts them: which line each step comes from.

The legacy builder numbers steps over the Dockerfile *and* what the build
adds (one ``LABEL`` step per ``--label``), so its "Step 3/5" of a
three-instruction file points past the end of what the author wrote. To
name the author's step and line, the file is read the way the builder's
parser reads it: parser directives (``# escape=`` ...) at the top, comment
and blank lines skipped (inside a continued instruction too), and a line
ending in the escape character continued on the next one. Heredocs are a
BuildKit feature the legacy builder does not parse either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DockerfileStep", "dockerfile_steps"]

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_DEFAULT_ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class DockerfileStep:
    """One instruction: its step number (from 1), the line it starts on, its text on one line."""

    number: int
    line: int
    instruction: str


def dockerfile_steps(text: str) -> list[DockerfileStep]:
    """Every instruction of ``text`` in order, numbered as the builder numbers its steps."""
    escape = _DEFAULT_ESCAPE
    steps: list[DockerfileStep] = []
    parts: list[str] = []
    start = 0
    in_directives = True
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if in_directives:
            directive = _DIRECTIVE.fullmatch(stripped)
            if directive is not None:
                if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
                    escape = directive.group(2)
                continue
            in_directives = False
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        continued = stripped.endswith(escape)
        parts.append(stripped[: -len(escape)].strip() if continued else stripped)
        if not continued:
            steps.append(DockerfileStep(len(steps) + 1, start, " ".join(part for part in parts if part)))
            parts = []
    if parts:
        steps.append(DockerfileStep(len(steps) + 1, start, " ".join(part for part in parts if part)))
    return steps
