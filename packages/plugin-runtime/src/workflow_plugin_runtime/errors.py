"""The runtime's exceptions, rooted in one base class.

::

    WorkflowPluginError             message, location (file, line, column, field), hint
    ├── ManifestError               a plugin.yaml is invalid; every problem in it (kind: manifest)
    ├── ConfigError                 a config.yaml is invalid
    ├── WorkflowFileError           a workflow file is invalid
    ├── ReferenceSyntaxError        "namespace/name.action" is malformed        (kind: not_found)
    ├── PluginNotFoundError         no plugin or action by that name           (kind: not_found)
    ├── TemplateError               a "{{ ... }}" template is invalid           (kind: template)
    ├── PermissionDeniedError       a capability the workflow does not grant   (kind: permission)
    ├── SecretError                 an unknown secret or var, a bad secrets file
    ├── RuntimeUnavailableError     no Docker daemon, image missing, ...       (kind: runtime_unavailable)
    ├── TaskHandlerError            an engine-native task handler failed        (kind: action)
    ├── ImageBuildError             a plugin image did not build (step, output)
    ├── RecordWriteError            a run record could not be written (disk full, not a folder)
    └── ValidationFailed            several problems found at once (``validate``)

Each error renders as ``file:line:column: field: message`` followed by a
``hint:`` line, so the CLI prints ``str(error)`` and nothing else.
"""

from __future__ import annotations

import enum

from ._frozen import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any, ClassVar

__all__ = [
    "ConfigError",
    "Failure",
    "FailureKind",
    "ImageBuildError",
    "ManifestError",
    "PermissionDeniedError",
    "PluginNotFoundError",
    "Problem",
    "RecordWriteError",
    "ReferenceSyntaxError",
    "RuntimeUnavailableError",
    "SecretError",
    "Severity",
    "SourceLocation",
    "TaskHandlerError",
    "TemplateError",
    "ValidationFailed",
    "WorkflowFileError",
    "WorkflowPluginError",
    "file_position",
    "hint_counting_the_rest",
]


class FailureKind(enum.StrEnum):
    """Why a task failed; the values are the run record's ``error.kind``."""

    NOT_FOUND = "not_found"
    MANIFEST = "manifest"
    PERMISSION = "permission"
    INPUT_VALIDATION = "input_validation"
    OUTPUT_VALIDATION = "output_validation"
    TEMPLATE = "template"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    PROTOCOL = "protocol"
    ACTION = "action"
    RUNTIME_UNAVAILABLE = "runtime_unavailable"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"


class Failure(FrozenRecord):
    """A failed invocation, already masked: safe to print and to record.

    ``retryable`` is the plugin's own word (from its error response); the
    scheduler decides whether to retry. ``stdout_head`` is the start of a
    stdout that was not a response, as a runtime read it: the executor
    quotes it in ``message`` (masked, then cut short) and empties it, so it
    is never printed or recorded as is. A FrozenRecord, not a dataclass, so
    that ``validate`` and ``run`` never import ``dataclasses`` (docs/performance.md);
    ``failure.replace(...)`` derives a changed copy.
    """

    __slots__ = ("error_type", "exit_code", "kind", "message", "retryable", "stderr_tail", "stdout_head")
    kind: FailureKind
    message: str
    exit_code: int | None
    stderr_tail: str
    retryable: bool
    error_type: str | None
    stdout_head: str

    def __init__(  # noqa: PLR0917 - positional, as the dataclass's were (and as unpickling passes them)
        self,
        kind: FailureKind,
        message: str,
        exit_code: int | None = None,
        stderr_tail: str = "",
        retryable: bool = False,
        error_type: str | None = None,
        stdout_head: str = "",
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "exit_code", exit_code)
        object.__setattr__(self, "stderr_tail", stderr_tail)
        object.__setattr__(self, "retryable", retryable)
        object.__setattr__(self, "error_type", error_type)
        object.__setattr__(self, "stdout_head", stdout_head)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.error_type is not None:
            record["type"] = self.error_type
        if self.exit_code is not None:
            record["exit_code"] = self.exit_code
        if self.stderr_tail:
            record["stderr_tail"] = self.stderr_tail
        if self.retryable:
            record["retryable"] = True
        return record


class SourceLocation(FrozenRecord):
    """Where in which file a problem is; every part is optional."""

    __slots__ = ("column", "field", "file", "line")
    file: Path | None
    line: int | None
    column: int | None
    field: str | None

    def __init__(
        self, file: Path | None = None, line: int | None = None, column: int | None = None, field: str | None = None
    ) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "column", column)
        object.__setattr__(self, "field", field)

    def __str__(self) -> str:
        parts = [str(self.file)] if self.file is not None else []
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        where = ":".join(parts)
        if self.field:
            return f"{where}: {self.field}" if where else self.field
        return where


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(FrozenRecord):
    """One finding of a check: an error stops the run, a warning does not; ``problem.replace(...)`` derives a copy."""

    __slots__ = ("hint", "location", "message", "severity")
    message: str
    location: SourceLocation | None
    hint: str | None
    severity: Severity

    def __init__(
        self,
        message: str,
        location: SourceLocation | None = None,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "hint", hint)
        object.__setattr__(self, "severity", severity)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location and str(self.location) else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


def hint_counting_the_rest(
    problems: Sequence[Problem], *, file: str = "this file", listed_by: str | None = None
) -> str | None:
    """The first problem's hint, saying how many more the file holds: for an error that reports only the first.

    ``file`` names the file as the message does (``that file`` when the
    message quotes another's problem); ``listed_by`` says what shows them all.
    """
    hint = problems[0].hint
    if len(problems) < 2:
        return hint
    more = f"{len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} in {file}"
    if listed_by:
        more += f": {listed_by}"
    return f"{hint}; {more}" if hint else more


def file_position(problem: Problem) -> tuple[int, int]:
    """``(line, column)`` of a problem, ``(0, 0)`` when unknown: the key that sorts problems in file order."""
    where = problem.location or SourceLocation()
    return where.line or 0, where.column or 0


class WorkflowPluginError(Exception):
    """Base of every error the runtime raises on purpose."""

    kind: ClassVar[FailureKind | None] = None

    def __init__(self, message: str, *, location: SourceLocation | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    @property
    def problem(self) -> Problem:
        return Problem(self.message, self.location, self.hint)

    def __str__(self) -> str:
        return str(self.problem)


class ManifestError(WorkflowPluginError):
    """A plugin.yaml is invalid; ``problems`` holds every problem found in it (the first is this error's own)."""

    kind = FailureKind.MANIFEST

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        hint: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.problems = list(problems) or [self.problem]


class ConfigError(WorkflowPluginError):
    pass


class WorkflowFileError(WorkflowPluginError):
    pass


class ReferenceSyntaxError(WorkflowPluginError):
    kind = FailureKind.NOT_FOUND


class PluginNotFoundError(WorkflowPluginError):
    kind = FailureKind.NOT_FOUND


class TemplateError(WorkflowPluginError):
    kind = FailureKind.TEMPLATE


class PermissionDeniedError(WorkflowPluginError):
    kind = FailureKind.PERMISSION


class SecretError(WorkflowPluginError):
    pass


class RuntimeUnavailableError(WorkflowPluginError):
    kind = FailureKind.RUNTIME_UNAVAILABLE


class TaskHandlerError(WorkflowPluginError):
    """Raised by an engine's task handler to fail its task; ``retryable`` is honoured by ``retries``."""

    kind = FailureKind.ACTION

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class ValidationFailed(WorkflowPluginError):
    """Every problem a check found, so the user fixes them in one pass."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        errors = [p for p in problems if p.severity is Severity.ERROR]
        count = len(errors)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found")
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems if p.severity is Severity.ERROR)


class ImageBuildError(WorkflowPluginError):
    """Building a plugin's image failed: a Dockerfile step, or preparing its dependencies.

    ``step`` names the failing step (``Step 4/7 : RUN ...``) when Docker got
    that far, and ``output`` holds that step's last lines, so the reader sees
    why without scrolling back through the whole build log.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        output: Sequence[str] = (),
        location: SourceLocation | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.step = step
        self.output = tuple(output)


class RecordWriteError(WorkflowPluginError):
    """A run record could not be written; the run itself is unaffected (its result is still in hand)."""
