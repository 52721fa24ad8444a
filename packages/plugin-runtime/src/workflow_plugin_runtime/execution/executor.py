"""Running one action call end to end: validate, invoke, validate, mask.

The executor is the single funnel between plugins and everything that prints
or records: every failure leaves it as a typed :class:`Failure` with one of
the documented failure kinds, and every message, log line, stderr tail and output leaves it
masked. Text (messages, log lines, stderr tails) has its control characters
neutralised first (:mod:`.control_chars`), so nothing a terminal drops later
can rejoin a secret; outputs are data and keep what the plugin sent.
Inputs are checked against the action's schema before anything starts,
outputs after the plugin answers; compiled validators are cached per action
so warm calls pay microseconds for validation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._frozen import FrozenRecord
from .._util.control_chars import neutralise_controls
from .._util.yaml_document import format_field_path
from ..errors import Failure, FailureKind, WorkflowPluginError
from ..masking.masker import Masker
from ..plugins.manifest import ActionDef, PluginManifest
from ..runtimes.base import Metrics
from ..runtimes.outcome import masked_tail
from ..schemas import Validator
from ..schemas.violations import schema_violations
from ..workflows.mount_sources import unwritable_mounts_hint
from .manager import PluginManager, PreparedCall

if TYPE_CHECKING:  # the protocol's message classes, in annotations only: a run never builds them
    from workflow_plugin_sdk.protocol import LogRecord

__all__ = ["ActionOutcome", "PluginExecutor"]

_NO_SECRETS = Masker({})
_MAX_REPORTED_VIOLATIONS = 5
_WRITE_DENIED = ("Permission denied", "EACCES", "[Errno 13]")
_STDOUT_QUOTE_CHARS = 120


class _Schema(enum.Enum):
    """Which of an action's two schemas a check uses; the value roots the field paths its messages show."""

    INPUTS = "inputs"
    OUTPUTS = "outputs"

    __hash__ = object.__hash__  # in every call's cache key: Enum's own hashes the name in Python, twice a call


class _CachedValidator(FrozenRecord):
    """A compiled validator, with the action it belongs to kept alive so the action's id (its key) stays unique."""

    __slots__ = ("action", "validator")
    action: ActionDef
    validator: Validator | None

    def __init__(self, action: ActionDef, validator: Validator | None) -> None:
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "validator", validator)


class ActionOutcome(FrozenRecord, keyword_only=True):
    """A finished call: outputs or a failure (both masked), its logs and metrics.

    ``call`` is what was prepared (plugin, action, invocation with its
    grants), ``None`` when the call could not be prepared. A FrozenRecord,
    not a dataclass, for run start-up (docs/performance.md).
    """

    __slots__ = ("call", "failure", "logs", "metrics", "outputs")
    outputs: dict[str, Any] | None
    failure: Failure | None
    metrics: Metrics | None
    logs: tuple[LogRecord, ...]
    call: PreparedCall | None

    def __init__(
        self,
        *,
        outputs: dict[str, Any] | None,
        failure: Failure | None,
        metrics: Metrics | None = None,
        logs: tuple[LogRecord, ...] = (),
        call: PreparedCall | None = None,
    ) -> None:
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "failure", failure)
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "logs", logs)
        object.__setattr__(self, "call", call)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def manifest(self) -> PluginManifest | None:
        """The plugin that ran (``None`` when it did not resolve), for provenance."""
        return None if self.call is None else self.call.manifest


class PluginExecutor:
    """Validates, runs and checks action calls prepared by a :class:`PluginManager`."""

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self._validators: dict[tuple[int, _Schema], _CachedValidator] = {}

    def run(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        masker: Masker | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
        **prepare_options: Any,
    ) -> ActionOutcome:
        """Resolve, authorise, prepare and execute ``ref``; never raises for a failed call.

        ``prepare_options`` go to :meth:`PluginManager.prepare` (``task``,
        ``context``, ``env``, ``secret_inputs``, ``timeout``, ``cancel``, ...).
        """
        mask = masker if masker is not None else _NO_SECRETS
        try:
            call = self.manager.prepare(ref, inputs, **prepare_options)
        except WorkflowPluginError as exc:
            kind = exc.kind if exc.kind is not None else FailureKind.MANIFEST
            where = str(exc.location) if exc.location is not None else ""
            text = f"{where}: {exc.message}" if where else exc.message
            if exc.hint:
                text += f" (hint: {exc.hint})"
            return ActionOutcome(outputs=None, failure=Failure(kind=kind, message=_shown(text, mask)))
        return self.execute(call, masker=mask, on_log=on_log)

    def execute(
        self,
        call: PreparedCall,
        *,
        masker: Masker | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
    ) -> ActionOutcome:
        mask = masker if masker is not None else _NO_SECRETS
        inputs = call.invocation.request["inputs"]
        problem = self._schema_problem(call.action, inputs, schema=_Schema.INPUTS)
        if problem is not None:
            failure = Failure(
                kind=FailureKind.INPUT_VALIDATION,
                message=_shown(f"{call.manifest.ref}.{call.action.name}: invalid inputs: {problem}", mask),
            )
            return ActionOutcome(outputs=None, failure=failure, call=call)
        result = call.runtime.invoke(call.invocation, on_log=_shown_logs(on_log, mask))
        logs = tuple(_shown_record(record, mask) for record in result.logs) if result.logs else ()
        metrics = result.metrics
        if result.failure is not None:
            return ActionOutcome(
                outputs=None,
                failure=_quote_stdout(
                    _shown_failure(_explain_denied_writes(result.failure, call), mask),
                    head=result.failure.stdout_head,
                    mask=mask,
                ),
                metrics=metrics,
                logs=logs,
                call=call,
            )
        outputs = result.outputs or {}
        problem = self._schema_problem(call.action, outputs, schema=_Schema.OUTPUTS)
        if problem is not None:
            failure = Failure(
                kind=FailureKind.OUTPUT_VALIDATION,
                message=_shown(f"{call.manifest.ref}.{call.action.name} returned invalid outputs: {problem}", mask),
                exit_code=metrics.exit_code,
                stderr_tail=masked_tail(result.stderr_tail, mask),
            )
            return ActionOutcome(outputs=None, failure=failure, metrics=metrics, logs=logs, call=call)
        return ActionOutcome(outputs=mask.mask_data(outputs), failure=None, metrics=metrics, logs=logs, call=call)

    def _schema_problem(self, action: ActionDef, data: Any, *, schema: _Schema) -> str | None:
        """What is wrong with ``data`` by one of ``action``'s schemas (the first few violations), or None."""
        key = (id(action), schema)
        cached = self._validators.get(key)
        if cached is None:
            validator = action.input_validator() if schema is _Schema.INPUTS else action.output_validator()
            cached = self._validators[key] = _CachedValidator(action, validator)
        if cached.validator is None:
            return None
        violations = schema_violations(cached.validator, data)
        if not violations:
            return None
        shown = [
            f"{format_field_path((schema.value, *v.path))}: {v.message}" for v in violations[:_MAX_REPORTED_VIOLATIONS]
        ]
        more = len(violations) - len(shown)
        return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _shown(text: str, mask: Masker) -> str:
    """Plugin text as it may be printed and recorded: controls neutralised, then masked."""
    return mask.mask(neutralise_controls(text))


def _shown_record(record: LogRecord, mask: Masker) -> LogRecord:
    shown: LogRecord = {**record, "message": _shown(record.get("message", ""), mask)}
    if "data" in record:
        shown["data"] = mask.mask_data(record["data"])
    return shown


def _shown_logs(on_log: Callable[[LogRecord], None] | None, mask: Masker) -> Callable[[LogRecord], None] | None:
    if on_log is None:
        return None
    sink = on_log

    def forward(record: LogRecord) -> None:
        sink(_shown_record(record, mask))

    return forward


def _explain_denied_writes(failure: Failure, call: PreparedCall) -> Failure:
    """A failure saying "Permission denied" gets the fix when a read-write mount's host folder is not writable."""
    if not any(word in failure.message or word in failure.stderr_tail for word in _WRITE_DENIED):
        return failure
    hint = unwritable_mounts_hint(call.invocation.mounts)
    return failure if hint is None else failure.replace(message=f"{failure.message} (hint: {hint})")


def _shown_failure(failure: Failure, mask: Masker) -> Failure:
    error_type = None if failure.error_type is None else _shown(failure.error_type, mask)
    return failure.replace(
        message=_shown(failure.message, mask),
        stderr_tail=masked_tail(failure.stderr_tail, mask),
        error_type=error_type,
    )


def _quote_stdout(failure: Failure, *, head: str, mask: Masker) -> Failure:
    """Quote the start of a stdout that was not a response: masked first, then cut, so no secret shows in part.

    The stream masker holds back a tail that could begin a secret, so even
    a secret cut by the runtime's limit on ``head`` is never half shown.
    """
    if not head:
        return failure
    stream = mask.stream()
    safe = stream.feed(head)
    whole = safe + stream.flush()
    shown = safe[:_STDOUT_QUOTE_CHARS]
    cut = "..." if len(shown) < len(whole) else ""
    return failure.replace(message=f"{failure.message}; it wrote: {shown!r}{cut}", stdout_head="")
