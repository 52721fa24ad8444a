"""The run record's writer: text any UTF-8 reader accepts, written whole or not at all, failures typed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_runtime.errors import RecordWriteError
from workflow_plugin_runtime.execution.records import RUNS_DIR, record_json, write_run_record


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def test_text_utf8_cannot_carry_is_written_as_its_json_escape_and_reads_back_unchanged() -> None:
    """An operator's own bytes that are not UTF-8 (argv, environment) reach a record as surrogate escapes."""
    record = {"run_id": "r", "outputs": {"name": "bad-\udcff-name", "plain": "café 😀", "quote\\": 'a"b'}}
    text = record_json(record)
    text.encode("utf-8")  # no UnicodeEncodeError
    assert "bad-\\udcff-name" in text
    assert "café 😀" in text  # other text stays readable, not escaped
    assert json.loads(text) == record


def test_numbers_json_cannot_spell_become_strings_and_the_text_stays_strict_json() -> None:
    record = {"run_id": "r", "outputs": {"nan": float("nan"), "inf": float("inf"), "neg": -float("inf"), "ok": 1.5}}
    assert _strict(record_json(record))["outputs"] == {"nan": "NaN", "inf": "Infinity", "neg": "-Infinity", "ok": 1.5}


def test_data_nested_too_deep_to_walk_is_cut_not_a_crash() -> None:
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    written = _strict(record_json({"run_id": "r", "outputs": {"deep": deep, "ok": 1}}))
    assert written["outputs"]["ok"] == 1
    assert "nested more than" in json.dumps(written)


def test_each_field_and_each_task_is_one_line_and_the_text_reads_back_as_the_record() -> None:
    """The layout a person scans and ``grep`` finds a task in; long values stay on their field's or task's line."""
    tasks = {
        "fetch": {"status": "succeeded", "outputs": {"pages": ["a\nb", {"deep": [1, 2.5, None]}]}, "error": None},
        "t\u00e9l\u00e9charger": {"status": "failed", "outputs": None, "error": {"kind": "action", "message": "x"}},
    }
    record = {"record_version": 1, "run_id": "r", "outputs": {"n": [1, {"m": True}]}, "warnings": [], "tasks": tasks}
    lines = record_json(record).splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert lines[1:5] == [
        '  "record_version": 1,',
        '  "run_id": "r",',
        '  "outputs": {"n": [1, {"m": true}]},',
        '  "warnings": [],',
    ]
    assert lines[5] == '  "tasks": {' and lines[-2] == "  }"
    task_lines = lines[6:-2]
    assert [line.split(":", 1)[0].strip() for line in task_lines] == ['"fetch"', '"t\u00e9l\u00e9charger"']
    for line, (task_id, task) in zip(task_lines, tasks.items(), strict=True):
        assert json.loads("{" + line.rstrip(",") + "}") == {task_id: task}
    assert json.loads("\n".join(lines)) == record


def test_a_run_without_tasks_still_has_its_tasks_field() -> None:
    record = {"run_id": "r", "tasks": {}}
    assert record_json(record) == '{\n  "run_id": "r",\n  "tasks": {}\n}'


def test_the_file_is_the_same_text(tmp_path: Path) -> None:
    record = {"run_id": "r1", "outputs": {"name": "x\udcff"}}
    path = write_run_record(record, tmp_path)
    assert path == tmp_path / RUNS_DIR / "r1.json"
    assert path.read_text(encoding="utf-8") == record_json(record) + "\n"


def test_a_record_laid_out_by_the_caller_is_written_as_it_is(tmp_path: Path) -> None:
    record = {"run_id": "r3", "tasks": {"a": {"status": "succeeded"}}}
    text = record_json(record)
    path = write_run_record(record, tmp_path, text=text)
    assert path.read_bytes() == (text + "\n").encode("utf-8")
    assert _strict(path.read_text(encoding="utf-8")) == record


@pytest.mark.parametrize("blocker", ["file", "dangling-symlink", "file-above"])
def test_a_runs_path_that_is_not_a_folder_is_a_record_write_error(tmp_path: Path, blocker: str) -> None:
    workflow_dir = tmp_path / "project"
    (workflow_dir / ".workflow").mkdir(parents=True)
    runs = workflow_dir / RUNS_DIR
    if blocker == "file":
        runs.write_text("x")
    elif blocker == "dangling-symlink":
        runs.symlink_to(tmp_path / "nowhere" / "runs")
    else:
        (workflow_dir / ".workflow").rmdir()
        (workflow_dir / ".workflow").write_text("x")
    with pytest.raises(RecordWriteError) as caught:
        write_run_record({"run_id": "r2"}, workflow_dir)
    error = caught.value
    assert error.message.startswith("the run record could not be written: ")
    assert "is not a folder" in error.message
    assert error.location is not None and error.location.file == runs / "r2.json"
    assert error.hint == f"make {runs} a writable folder with free space"


def test_a_write_failing_half_way_removes_its_temp_file(tmp_path: Path) -> None:
    """A real EFBIG (file size limit) in a child process, standing in for a disk that fills up mid-write."""
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from workflow_plugin_runtime.errors import RecordWriteError\n"
        "from workflow_plugin_runtime.execution.records import write_run_record\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_run_record({'run_id': 'big', 'outputs': {'blob': 'x' * 100_000}}, Path(sys.argv[1]))\n"
        "except RecordWriteError as exc:\n"
        "    print(exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the run record could not be written: File too large"
    assert list((tmp_path / RUNS_DIR).iterdir()) == []
