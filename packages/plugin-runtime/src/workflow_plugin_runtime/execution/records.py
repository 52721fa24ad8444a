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

import gc
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

__all__ = ["RECORD_VERSION", "RUNS_DIR", "record_json", "run_record", "write_run_record"]

RUNS_DIR = Path(".workflow") / "runs"
RECORD_VERSION = 1
_MAX_DEPTH = 200  # a record's own levels plus the protocol's limit on a response's, with room to spare
_LINE = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False, separators=(", ", ": ")).encode
_C_LINE = getattr(json.encoder, "c_make_encoder", None)
if _C_LINE is not None:  # CPython's: the C encoder ``_LINE`` makes for every line, made once for the task lines
    # It keeps no marks of the containers it is in: a circular value fails it with RecursionError, which
    # record_json answers as it answers _LINE's ValueError for one.
    _C_LINE = _C_LINE(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, False)


_STRING = json.encoder.encode_basestring
"""What ``_LINE`` writes for a ``str`` (it calls this), without its checks of the type: for each task's id."""


def _task_line(task: object) -> str:
    return _LINE(task) if _C_LINE is None else "".join(_C_LINE(task, 0))


def _task_record(result: TaskResult, lock: Mapping[str, Any] | None) -> dict[str, Any]:
    provenance = dict(result.provenance) if result.provenance is not None else None
    if provenance is not None:  # whether the code this task ran is the code its lock entry names (None: no lock)
        matched = lock["plugins"].get(provenance.get("ref")) if lock is not None else None
        provenance["lock_matched"] = (
            None if lock is None else matched is not None and matched == provenance.get("content_hash")
        )
    return {
        "status": result.status.value,
        "outputs": dict(result.outputs) if result.outputs is not None else None,
        "error": result.failure.to_record() if result.failure is not None else None,
        "reason": result.reason,
        "attempts": result.attempts,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "metrics": result.metrics.to_record() if result.metrics is not None else None,
        "provenance": provenance,
    }


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
    # A record makes several containers a task, none of them in a cycle, and after a large run they tip the
    # collector into collections that walk the results or the whole heap (the loaded workflow, every module: 7-20
    # ms at 2,000 tasks) for nothing. So the collector pauses while it is built. Not gc.freeze(): asking whether
    # the process froze objects itself (gc.get_freeze_count) walks every frozen object, 1.5 ms after a start-up.
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return _masked_record(result, masker=masker, warnings=warnings, lock=lock)
    finally:
        if collecting:
            gc.enable()


def _masked_record(
    result: RunResult, *, masker: Masker, warnings: Iterable[Problem], lock: Mapping[str, Any] | None
) -> dict[str, Any]:
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
        "tasks": {task_id: _task_record(task, lock) for task_id, task in result.tasks.items()},
    }
    masked: dict[str, Any] = masker.mask_data(record)
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
    encoder call per line costs a fifth of that. The pieces are joined once:
    a 2,000-task record is 1.4 MB, and each join of a part of it copies it.
    """
    parts = ["{\n  "]
    separator = ""
    for key, value in record.items():
        parts += (separator, _LINE(key), ": ")
        separator = ",\n  "
        if key == "tasks" and isinstance(value, dict) and value:
            task_separator = "{\n    "
            for task_id, task in value.items():
                task_key = _STRING(task_id) if task_id.__class__ is str else _LINE(task_id)
                parts += (task_separator, task_key, ": ", _task_line(task))
                task_separator = ",\n    "
            parts.append("\n  }")
        else:
            parts.append(_LINE(value))
    parts.append("\n}")
    return "".join(parts)


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


def write_run_record(record: dict[str, Any], workflow_dir: Path, *, text: str | None = None) -> Path:
    """Write ``record`` to ``<workflow_dir>/.workflow/runs/<run_id>.json`` atomically; return the path.

    ``text`` is :func:`record_json` of ``record`` when the caller needs it
    too (``workflow run --json`` prints it): made once, not twice.
    Raises :class:`RecordWriteError` when the file cannot be written; nothing
    half-written is left behind.
    """
    target = workflow_dir / RUNS_DIR / f"{record['run_id']}.json"
    content = (record_json(record) if text is None else text).encode("utf-8")
    try:
        write_file_atomically(target, content, durable=True, ending=b"\n")  # a record outlives the run: fsync'ed
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
