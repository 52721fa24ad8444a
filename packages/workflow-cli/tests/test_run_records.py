"""`workflow run` keeps its record whatever a plugin sends and wherever the record cannot go.

A plugin may answer anything; the record of the whole run must survive it
(strict JSON, UTF-8, in the file and on stdout with --json). And a record that
cannot be written (a full disk, a runs path that is not a folder) is one clear
error: the summary and --json still show it, and the exit code is the run's.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

import pytest

RAW = Path(__file__).parent / "fixtures" / "plugins_raw"
E2E = Path(__file__).parent / "fixtures" / "plugins"


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """Parse as a strict reader would: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=_no_constants)


def raw_flow(tmp_path: Path, *replies: tuple[str, str]) -> Path:
    """A workflow of tests/rawreply tasks, one per (stdout, stderr) pair; JSON is YAML, so any text fits."""
    tasks = {
        f"t{index}": {"uses": "tests/rawreply.reply", "inputs": {"stdout": stdout, "stderr": stderr}}
        for index, (stdout, stderr) in enumerate(replies)
    }
    path = tmp_path / "flow.yaml"
    path.write_text(json.dumps({"name": "raw", "tasks": tasks}), encoding="utf-8")
    return path


def run_json(run_cli, flow: Path, *args: str):
    done = run_cli("run", str(flow), "--json", "-p", str(RAW), *args)
    assert "Traceback" not in done.stderr, done.stderr
    record = strict_json(done.stdout)
    runs = flow.parent / ".workflow" / "runs"
    written = runs / f"{record['run_id']}.json"
    assert written.read_text(encoding="utf-8") == done.stdout  # the same text, byte for byte
    assert strict_json(written.read_text(encoding="utf-8")) == record
    assert [p.name for p in runs.iterdir()] == [written.name]  # no temp file left behind
    return done, record


OK_TEXT = '{"ok": true, "id": @ID@, "outputs": {"text": "caf\\u00e9 \\ud83d\\ude00"}}'


@pytest.mark.parametrize("mode", [(), ("--pool",)], ids=["one-shot", "warm"])
@pytest.mark.parametrize(
    ("reply", "words"),
    [
        ('{"ok": true, "id": @ID@, "outputs": {"a": "x\\ud800y"}}', "field 'outputs.a': holds a lone surrogate"),
        ('{"ok": true, "id": @ID@, "outputs": {"\\udcff": 1}}', "the key holds a lone surrogate (\\udcff)"),
        (
            '{"ok": false, "id": @ID@, "error": {"type": "E", "message": "bad \\ud800"}}',
            "field 'error.message': holds a lone surrogate",
        ),
        ('{"ok": true, "id": @ID@, "outputs": {"n": 1e400}}', "1e400 is out of range for a JSON number"),
        ('{"ok": true, "id": @ID@, "outputs": {"a": ' + "[" * 150 + "]" * 150 + "}}", "nests more than 100 levels"),
    ],
    ids=["surrogate", "surrogate-key", "surrogate-error", "infinity", "deep"],
)
def test_a_response_no_record_could_hold_fails_as_protocol_and_the_record_survives(
    run_cli, tmp_path, reply, words, mode
):
    done, record = run_json(run_cli, raw_flow(tmp_path, (reply, ""), (OK_TEXT, "")), *mode)
    assert done.returncode == 1
    bad, good = record["tasks"]["t0"], record["tasks"]["t1"]
    assert bad["status"] == "failed"
    assert bad["error"]["kind"] == "protocol"
    assert words in bad["error"]["message"]
    assert "tests/rawreply did not answer in protocol" in bad["error"]["message"]
    assert good["status"] == "succeeded"
    assert good["outputs"] == {"text": "café 😀"}


@pytest.mark.parametrize("mode", [(), ("--pool",)], ids=["one-shot", "warm"])
def test_an_integer_too_long_to_read_is_a_protocol_failure_not_a_crash(run_cli, tmp_path, mode):
    reply = '{"ok": true, "id": @ID@, "outputs": {"n": ' + "9" * 5000 + "}}"
    done, record = run_json(run_cli, raw_flow(tmp_path, (reply, "")), *mode)
    assert done.returncode == 1
    error = record["tasks"]["t0"]["error"]
    assert error["kind"] == "protocol"
    assert "holds an integer longer than 4300 digits" in error["message"]
    assert "internal error" not in error["message"]


def test_a_structured_log_line_with_a_lone_surrogate_is_shown_as_its_text(run_cli, tmp_path):
    """On the terminal (stdout) too, where such a line used to crash the task: the raw line, escape and all."""
    log = '{"level": "error", "message": "x\\ud800y"}\n'
    flow = raw_flow(tmp_path, ('{"ok": true, "outputs": {}}', log))
    done = run_cli("run", str(flow), "-p", str(RAW))
    assert done.returncode == 0, done.stdout + done.stderr
    assert '{"level": "error", "message": "x\\ud800y"}' in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    (written,) = (tmp_path / ".workflow" / "runs").iterdir()
    assert strict_json(written.read_text(encoding="utf-8"))["tasks"]["t0"]["status"] == "succeeded"


NUMBER = (
    "name: n\ntasks:\n  one: {uses: tests/e2e.number, inputs: {value: 1}}\n  {extra}\n"
    "outputs:\n  v: '{{ tasks.one.outputs.value }}'\n"
)


def flow_file(tmp_path: Path, *, failing: bool = False) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(NUMBER.replace("{extra}", "broken: {uses: tests/e2e.fail}" if failing else ""), encoding="utf-8")
    return path


def block_runs_folder(tmp_path: Path, how: str) -> None:
    """Make .workflow/runs impossible to write, in ways that stop root too (chmod does not)."""
    folder = tmp_path / ".workflow"
    folder.mkdir()
    if how == "a regular file":
        (folder / "runs").write_text("not a folder\n")
    else:
        (folder / "runs").symlink_to(tmp_path / "gone" / "runs")


@pytest.mark.parametrize("how", ["a regular file", "a dangling symlink"])
@pytest.mark.parametrize(("failing", "code", "status"), [(False, 0, "succeeded"), (True, 1, "failed")])
def test_an_unwritable_runs_folder_is_one_error_and_the_run_keeps_its_summary_json_and_exit_code(
    run_cli, tmp_path, how, failing, code, status
):
    block_runs_folder(tmp_path, how)
    done = run_cli("run", str(flow_file(tmp_path, failing=failing)), "--json", "-p", str(E2E))
    assert done.returncode == code, done.stderr
    record = strict_json(done.stdout)
    assert record["status"] == status
    assert record["outputs"] == {"v": 1}
    assert "Traceback" not in done.stderr
    assert f"n: {status}" in done.stderr  # the summary table's title
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "the run record could not be written" in errors[0]
    assert f"{record['run_id']}.json" in errors[0]
    assert "is not a folder" in errors[0]
    assert "run record:" not in done.stderr  # no path claimed for a file that does not exist


def _small_file_limit() -> None:
    """A real EFBIG from the kernel: files over 1 KiB cannot be written (Python ignores SIGXFSZ)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_a_write_failing_half_way_leaves_no_partial_file_and_the_run_still_reports(run_cli, tmp_path):
    """The disk filling up mid-write, for real: the record outgrows the file size limit while being written."""
    done = run_cli("run", str(flow_file(tmp_path)), "--json", "-p", str(E2E), preexec_fn=_small_file_limit)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["status"] == "succeeded"
    assert "Traceback" not in done.stderr
    assert "the run record could not be written: File too large" in done.stderr
    assert list((tmp_path / ".workflow" / "runs").iterdir()) == []  # the temp file was removed
