"""The run record: what ran, how it ended, with what code and grants — masked, written atomically.

Written under ``.workflow/runs/`` next to the workflow file as
``<run_id>.json``; a reader never sees a half-written file (temp file in
the same folder, fsync, ``os.replace``). Every string goes through the
run's masker once more on the way out, whatever produced it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .control_chars import escape_controls_in_json
from .errors import Problem
from .masking import Masker
from .results import RunResult, TaskResult

__all__ = ["RECORD_VERSION", "RUNS_DIR", "run_record", "write_run_record"]

RUNS_DIR = Path(".workflow") / "runs"
RECORD_VERSION = 1


def _task_record(result: TaskResult) -> dict[str, Any]:
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


def _warning_record(problem: Problem) -> dict[str, Any]:
    location = str(problem.location) if problem.location is not None and str(problem.location) else None
    return {"message": problem.message, "location": location, "hint": problem.hint}


def run_record(result: RunResult, *, masker: Masker, warnings: Iterable[Problem] = ()) -> dict[str, Any]:
    """The run record for ``result``, masked; ``warnings`` are those the run was given (checks, runtimes)."""
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
        "tasks": {task_id: _task_record(task) for task_id, task in result.tasks.items()},
    }
    masked: dict[str, Any] = masker.mask_data(record)
    return masked


def write_run_record(record: dict[str, Any], workflow_dir: Path) -> Path:
    """Write ``record`` to ``<workflow_dir>/.workflow/runs/<run_id>.json`` atomically; return the path."""
    folder = workflow_dir / RUNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{record['run_id']}.json"
    fd, temporary = tempfile.mkstemp(prefix=f".{record['run_id']}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(escape_controls_in_json(json.dumps(record, ensure_ascii=False, indent=2, default=str)))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
