"""What ``workflow plugin test`` found: one result per check, and the timings it measured.

Typed and frozen so the CLI only renders them (a table, or ``--json``) and
an engine embedding the kit can act on them without parsing text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..config import RuntimeKind

__all__ = ["CheckName", "CheckResult", "CheckStatus", "ConformanceReport", "ConformanceTimings", "verdict"]


class CheckStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    """The check does not apply (no examples; a plugin that does not claim the serve loop)."""


class CheckName(enum.StrEnum):
    """The checks, in the order they run; docs/protocol.md explains each ("Conformance")."""

    EXAMPLE = "example"
    ONE_RESPONSE = "one-response"
    RESPONSE_SHAPE = "response-shape"
    STDIN_TO_EOF = "stdin-to-eof"
    MALFORMED_REQUEST = "malformed-request"
    UNKNOWN_ACTION = "unknown-action"
    SERVE_LOOP = "serve-loop"
    SIGTERM = "sigterm"
    SECRET_LEAK = "secret-leak"  # noqa: S105 - a check's name


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One check's verdict. ``subject`` says what it ran on (``greet #1``); ``hint`` how to fix a failure."""

    check: CheckName
    status: CheckStatus
    reason: str
    subject: str = ""
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check.value,
            "subject": self.subject,
            "status": self.status.value,
            "reason": self.reason,
            "hint": self.hint,
        }


def verdict(check: CheckName, passed: bool, reason: str, *, hint: str | None = None, subject: str = "") -> CheckResult:
    """A passed or failed result; the hint is kept for a failure only (a pass needs no fixing)."""
    status = CheckStatus.PASSED if passed else CheckStatus.FAILED
    return CheckResult(check=check, status=status, reason=reason, subject=subject, hint=None if passed else hint)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConformanceTimings:
    """Seconds, as the runtime measured them; ``None`` where nothing was measured.

    ``cold_start_s``: a one-shot call, from the start of the process (or
    sandbox, or container) to its exit. ``warm_call_s``: the fastest call
    answered by a warm worker that was already running.
    """

    cold_start_s: float | None = None
    warm_call_s: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {
            "cold_start_s": None if self.cold_start_s is None else round(self.cold_start_s, 6),
            "warm_call_s": None if self.warm_call_s is None else round(self.warm_call_s, 6),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConformanceReport:
    """Every check run on one plugin on one runtime."""

    plugin_ref: str
    version: str
    plugin_dir: str
    runtime: RuntimeKind
    checks: tuple[CheckResult, ...]
    timings: ConformanceTimings

    @property
    def ok(self) -> bool:
        return all(result.status is not CheckStatus.FAILED for result in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.checks if result.status is CheckStatus.FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin_ref,
            "version": self.version,
            "plugin_dir": self.plugin_dir,
            "runtime": self.runtime.value,
            "ok": self.ok,
            "checks": [result.to_json() for result in self.checks],
            "timings": self.timings.to_json(),
        }
