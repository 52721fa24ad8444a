"""The run record: what ran, how it ended, with what code and grants — masked, written atomically.

Written under ``.workflow/runs/`` next to the workflow file as
``<run_id>.json``; a reader never sees a half-written file (temp file in
the same folder, fsync, ``os.replace``). Every string goes through the
run's masker once more on the way out, whatever produced it.

``record_json`` is the one way a record becomes text (the file and
``--json`` alike), and it cannot fail on a value: the protocol already
refuses what a plugin sends that no reader could carry, and what is left
(an operator's own bytes that are not UTF-8, a ``.nan`` made in code) is
written as JSON escapes and strings. A write that fails (a full disk, a
``runs`` path that is not a folder) raises :class:`RecordWriteError`, so the
caller can still show the record it holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._util.control_chars import escape_controls_in_json
from .._util.files import write_file_atomically
from ..errors import Problem, RecordWriteError, SourceLocation
from ..masking.masker import Masker
from .results import RunResult, TaskResult

__all__ = ["RECORD_VERSION", "RUNS_DIR", "TaskLines", "record_json", "run_record", "write_run_record"]

RUNS_DIR = Path(".workflow") / "runs"
RECORD_VERSION = 1
_MAX_DEPTH = 200  # a record's own levels plus the protocol's limit on a response's, with room to spare
_LINE = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False, separators=(", ", ": ")).encode


def _task_record(result: TaskResult, lock: Mapping[str, Any] | None) -> dict[str, Any]:
    record = _unlocked_task_record(result)
    provenance = record["provenance"]
    if provenance is not None:
        provenance["lock_matched"] = _lock_matched(result.provenance, lock)
    return record


def _unlocked_task_record(result: TaskResult) -> dict[str, Any]:
    """A task's record less ``provenance.lock_matched``, the one field that needs the run's lock block."""
    return {
        "status": result.status.value,
        "outputs": dict(result.outputs) if result.outputs is not None else None,
        "error": result.failure.to_record() if result.failure is not None else None,
        "reason": result.reason,
        "attempts": result.attempts,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "metrics": result.metrics.to_record() if result.metrics is not None else None,
        "provenance": dict(result.provenance) if result.provenance is not None else None,
    }


def _lock_matched(provenance: Mapping[str, Any] | None, lock: Mapping[str, Any] | None) -> bool | None:
    """Whether the code a task ran is the code its lock entry names (None: no lock)."""
    if lock is None or provenance is None:
        return None
    matched = lock["plugins"].get(provenance.get("ref"))
    return matched is not None and matched == provenance.get("content_hash")


class TaskLines:
    """Each finished task's record, masked and encoded as its line while the run goes on.

    Built at the end, a 2,000-task record costs about 25 us a task of wall
    time after the last task; the worker that ran a task makes its line
    instead (:meth:`add`, out of the scheduler's lock), and :func:`run_record`
    only adds each task's ``lock_matched`` and joins them. Masking a task on its own gives what
    masking the whole record gives (the masker works string by string), and
    a line is written by the same encoder as at the end, so the bytes are the
    same. A task whose line cannot be made here (a value JSON cannot spell)
    leaves the record to be built at the end, as before.
    """

    __slots__ = ("_built", "masker")

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self._built: dict[str, tuple[TaskResult, str, dict[str, Any], str] | None] = {}

    def add(self, result: TaskResult) -> None:
        """Mask and encode ``result``'s record (each task on one thread: workers add theirs side by side)."""
        try:
            masked: dict[str, Any] = self.masker.mask_data(_unlocked_task_record(result))
            line = _LINE(masked)
        except Exception:  # noqa: BLE001 - a worker must go on: the end builds this record, and fails, as before
            self._built[result.task_id] = None
            return
        self._built[result.task_id] = (result, self.masker.mask(result.task_id), masked, line)

    def add_missing(self, results: Iterable[TaskResult]) -> None:
        """Build the lines of the ``results`` not built yet (skipped and cancelled tasks, those that ended last)."""
        for result in results:
            built = self._built.get(result.task_id)
            if built is None or built[0] is not result:
                self.add(result)

    def records(
        self, tasks: Mapping[str, TaskResult], *, masker: Masker, lock: Mapping[str, Any] | None
    ) -> _TaskRecords | None:
        """The record's masked ``tasks`` with their lines; None when any is missing or stale (built at the end then)."""
        if masker is not self.masker:
            return None
        lock_matched_key = masker.mask("lock_matched")
        lock_matched_field = _LINE(lock_matched_key)
        records = _TaskRecords()
        lines = records.lines
        for task_id, result in tasks.items():
            built = self._built.get(task_id)
            if built is None or built[0] is not result:
                return None
            _, masked_id, masked, line = built
            provenance = masked["provenance"]
            if provenance is not None:
                if lock_matched_key in provenance:
                    return None
                matched = _lock_matched(result.provenance, lock)
                masked = {**masked, "provenance": {**provenance, lock_matched_key: matched}}
                # The provenance is the line's last field, and lock_matched its own last: the line ends "}}".
                line = f"{line[:-2]}{', ' if provenance else ''}{lock_matched_field}: {_LINE(matched)}}}}}"
            records[masked_id] = masked
            lines.append(f"{_LINE(masked_id)}: {line}")
        return records if len(records) == len(lines) else None


class _TaskRecords(dict[str, Any]):
    """A record's masked ``tasks``, with each one's line as :func:`record_json` lays it out."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []


def _warning_record(problem: Problem) -> dict[str, Any]:
    location = str(problem.location) if problem.location is not None and str(problem.location) else None
    return {"message": problem.message, "location": location, "hint": problem.hint}


def run_record(
    result: RunResult, *, masker: Masker, warnings: Iterable[Problem] = (), lock: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The run record for ``result``, masked; ``warnings`` are those the run was given (checks, runtimes).

    ``lock`` is the run's lock block (:meth:`.locking.LockCheck.to_record`),
    None when the workflow has no lock file.
    """
    workflow = result.workflow
    record = {
        "record_version": RECORD_VERSION,
        "run_id": result.run_id,
        "workflow": workflow.name,
        "workflow_file": str(workflow.path),
        "security": workflow.security.value,
        "status": result.status.value,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "duration_s": round(result.finished_at - result.started_at, 6),
        "outputs": dict(result.outputs),
        "error": result.failure.to_record() if result.failure is not None else None,
        "warnings": [_warning_record(problem) for problem in warnings],
        "lock": {key: value for key, value in lock.items() if key != "plugins"} if lock is not None else None,
    }
    lines = result.task_lines
    built = lines.records(result.tasks, masker=masker, lock=lock) if isinstance(lines, TaskLines) else None
    if built is None:
        record["tasks"] = {task_id: _task_record(task, lock) for task_id, task in result.tasks.items()}
    masked: dict[str, Any] = masker.mask_data(record)
    if built is not None:  # already masked, one by one
        masked[masker.mask("tasks")] = built
    return masked


def record_json(record: dict[str, Any]) -> str:
    """The record as JSON text that any UTF-8 file, pipe or terminal can carry; never fails on a value.

    A lone surrogate is written as its JSON escape (``"\\udcff"``, read back
    unchanged); a number that is not finite, which JSON cannot spell, as the
    string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``; data nested too deep
    to walk (an engine's own handler may return anything) is cut to a note.
    """
    try:
        text = _laid_out(record)
    except (ValueError, RecursionError):
        text = _laid_out(_writable(record, 0))
    if not text.isascii():
        # Such characters occur only inside JSON strings, where "\\udcff" is their own escape.
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escape_controls_in_json(text)


def _laid_out(record: dict[str, Any]) -> str:
    """The record's fields one a line, and each task one a line under ``tasks``, each line written by the C encoder.

    ``json.dumps`` with ``indent`` runs in pure Python, about 0.05 ms per
    task of a record, as much as a warm task's own work in the engine; one
    encoder call per line costs a fifth of that.
    """
    fields = []
    for key, value in record.items():
        if key == "tasks" and isinstance(value, dict) and value:
            if isinstance(value, _TaskRecords) and len(value.lines) == len(value):
                tasks = ",\n    ".join(value.lines)
            else:
                tasks = ",\n    ".join(f"{_LINE(task_id)}: {_LINE(task)}" for task_id, task in value.items())
            fields.append(f"{_LINE(key)}: {{\n    {tasks}\n  }}")
        else:
            fields.append(f"{_LINE(key)}: {_LINE(value)}")
    return "{\n  " + ",\n  ".join(fields) + "\n}"


def _writable(value: Any, depth: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # NaN, Infinity, -Infinity
    if isinstance(value, (dict, list, tuple)) and depth >= _MAX_DEPTH:
        return f"(nested more than {_MAX_DEPTH} levels deep: not recorded)"
    if isinstance(value, dict):
        return {key: _writable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_writable(item, depth + 1) for item in value]
    return value


def write_run_record(record: dict[str, Any], workflow_dir: Path) -> Path:
    """Write ``record`` to ``<workflow_dir>/.workflow/runs/<run_id>.json`` atomically; return the path.

    Raises :class:`RecordWriteError` when the file cannot be written; nothing
    half-written is left behind.
    """
    target = workflow_dir / RUNS_DIR / f"{record['run_id']}.json"
    content = (record_json(record) + "\n").encode("utf-8")
    try:
        write_file_atomically(target, content, durable=True)  # a record outlives the run: fsync'ed
    except OSError as exc:
        raise _write_error(target, exc) from exc
    return target


def _write_error(target: Path, exc: OSError) -> RecordWriteError:
    if isinstance(exc, FileExistsError | NotADirectoryError):
        reason = f"{exc.filename or target.parent} is not a folder"
    else:
        reason = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(target):
            reason += f" ({exc.filename})"
    return RecordWriteError(
        f"the run record could not be written: {reason}",
        location=SourceLocation(target),
        hint=f"make {target.parent} a writable folder with free space",
    )
