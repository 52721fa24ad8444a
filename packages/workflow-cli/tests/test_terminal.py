"""The command's standard streams (``workflow_cli.terminal``): a full device, a reader that left, an ASCII terminal.

Each test runs the real ``workflow`` command on a real stream: ``/dev/full``,
a pipe whose reader has closed it, a pseudo-terminal. That a listing whose
reader left exits 1 is tested with the listing (test_plugin_list_text.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_PLUGINS = FIXTURES / "plugins"
UNICODE_PLUGIN = FIXTURES / "plugins_unicode" / "gruss"
DEV_FULL = Path("/dev/full")
FULL_DEVICE_MESSAGE = "error: could not write standard output: No space left on device"
ONE_TASK = "name: one\ntasks:\n  a: {uses: tests/e2e.number, inputs: {value: 3}}\n"
SEVERAL_TASKS = """\
name: several
tasks:
  a: {uses: tests/e2e.number, inputs: {value: 1}}
  b: {needs: [a], uses: tests/e2e.number, inputs: {value: 2}}
  c: {needs: [b], uses: tests/e2e.number, inputs: {value: 3}}
  d: {needs: [c], uses: tests/e2e.%s}
"""

PAGE = 4096

needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full on this system")


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "workflow_cli", *args]


def run_records(folder: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((folder / ".workflow" / "runs").glob("*.json"))]


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(ONE_TASK, encoding="utf-8")
    return path


# --- stdout on a full device ---------------------------------------------------------------------------


@needs_dev_full
@pytest.mark.parametrize(
    "args",
    [
        ("validate", "{flow}", "-p", "{plugins}"),
        ("validate", "{flow}", "-p", "{plugins}", "--json"),
        ("lock", "{flow}", "-p", "{plugins}"),
        ("plugin", "list", "-p", "{plugins}"),
        ("plugin", "list", "-p", "{plugins}", "--json"),
        ("plugin", "inspect", "tests/e2e", "-p", "{plugins}"),
        ("plugin", "inspect", "tests/e2e", "-p", "{plugins}", "--json"),
        ("schema", "plugin"),
        ("--version",),
        ("--help",),
        ("run", "--help"),
    ],
)
@pytest.mark.parametrize("path", ["fast", "typer"])
def test_stdout_on_a_full_device_is_one_message_and_exit_1(args, path, flow, cli_env, tmp_path):
    """Whichever path runs the command (an ASCII stream sends it through Typer), the lost output is said once."""
    env = {**cli_env, "PYTHONIOENCODING": "ascii"} if path == "typer" else cli_env
    argv = [arg.format(flow=flow, plugins=FIXTURE_PLUGINS) for arg in args]
    with DEV_FULL.open("w") as full:
        done = subprocess.run(
            cli_command(*argv), stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, check=False
        )

    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == [
        FULL_DEVICE_MESSAGE,
        "  hint: the command itself finished; only what it printed there is missing",
    ], done.stderr
    assert "Traceback" not in done.stderr


@needs_dev_full
@pytest.mark.parametrize("json_output", [False, True])
@pytest.mark.parametrize(("action", "earned"), [("echo", 0), ("fail", 1)])
def test_a_run_on_a_full_device_writes_its_record_and_never_exits_0(json_output, action, earned, cli_env, tmp_path):
    """The run's work is done and recorded; a failed run keeps its 1, a succeeded one gets 1 for the lost output."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(SEVERAL_TASKS % action, encoding="utf-8")
    with DEV_FULL.open("w") as full:
        done = subprocess.run(
            cli_command("run", str(flow), "-p", str(FIXTURE_PLUGINS), *(["--json"] if json_output else [])),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=cli_env,
            check=False,
        )

    assert done.returncode == 1
    assert FULL_DEVICE_MESSAGE in done.stderr.splitlines()
    assert "Traceback" not in done.stderr
    [record] = run_records(tmp_path)
    assert record["status"] == ("succeeded" if earned == 0 else "failed")
    assert [task["status"] for task in record["tasks"].values()][:3] == ["succeeded"] * 3


# --- a reader that leaves (| head -1) ------------------------------------------------------------------


@pytest.mark.parametrize("json_output", [False, True])
@pytest.mark.parametrize(("action", "earned"), [("echo", 0), ("fail", 1)])
def test_a_run_whose_reader_left_finishes_records_and_exits_with_its_own_code(
    json_output, action, earned, cli_env, tmp_path
):
    """``workflow run flow.yaml | head -1`` once head has gone: every write of the run meets a closed pipe."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(SEVERAL_TASKS % action, encoding="utf-8")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the only reader, gone before the first line: no write of the run can succeed
    try:
        done = subprocess.run(
            cli_command("run", str(flow), "-p", str(FIXTURE_PLUGINS), *(["--json"] if json_output else [])),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=cli_env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)

    assert done.returncode == earned, done.stderr
    assert "Traceback" not in done.stderr
    assert "standard output" not in done.stderr  # a reader that left is not reported
    [record] = run_records(tmp_path)
    assert record["status"] == ("succeeded" if earned == 0 else "failed")
    assert set(record["tasks"]) == {"a", "b", "c", "d"}


# --- --json on a stream whose encoding lacks characters ---------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_json_document_stays_one_valid_document_where_the_encoding_lacks_characters(encoding, cli_env, tmp_path):
    """``PYTHONIOENCODING=latin-1``: what the encoding lacks (an emoji, Greek) is a JSON escape, not ``\\U...``."""
    env = {**cli_env, "PYTHONIOENCODING": encoding}
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        'name: emo\ntasks:\n  a: {uses: tests/e2e.echo, inputs: {text: "smile 😀 Δ é"}}\n', encoding="utf-8"
    )

    inspected = subprocess.run(
        cli_command("plugin", "inspect", "acme/gruss", "-p", str(UNICODE_PLUGIN.parent), "--json"),
        capture_output=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    ran = subprocess.run(
        cli_command("run", str(flow), "-p", str(FIXTURE_PLUGINS), "--json"),
        capture_output=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )

    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout.decode(encoding))["actions"]["greet"]["description"] == "Sagt grüß dich ✓ 👋"
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.decode(encoding))["tasks"]["a"]["outputs"] == {"text": "smile 😀 Δ é"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8:strict"])
def test_a_run_from_a_folder_whose_name_is_not_utf8_shows_it_escaped_on_strict_utf8(encoding, cli_env, tmp_path):
    """A lone surrogate (the name's byte 0xff, as Python reads it) is the one thing strict UTF-8 cannot write."""
    folder = tmp_path / os.fsdecode(b"not-utf8-\xff")
    folder.mkdir()
    flow = folder / "flow.yaml"
    flow.write_text(ONE_TASK, encoding="utf-8")

    done = subprocess.run(
        cli_command("run", str(flow), "-p", str(FIXTURE_PLUGINS)),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**cli_env, "PYTHONIOENCODING": encoding},
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "not-utf8-\\udcff" in done.stdout + done.stderr
    assert len(list((folder / ".workflow" / "runs").glob("*.json"))) == 1


# --- a non-blocking stdout ----------------------------------------------------------------------------------


def test_a_json_document_on_a_non_blocking_pipe_that_fills_up_is_written_whole(cli_env, tmp_path):
    """O_NONBLOCK belongs to the pipe, not the process: a reader's side may have set it; a full pipe is waited for."""
    text = "x" * 100_000
    flow = tmp_path / "flow.yaml"
    flow.write_text(f"name: big\ntasks:\n  a: {{uses: tests/e2e.echo, inputs: {{text: {text}}}}}\n", encoding="utf-8")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PAGE)  # a pipe of one page: the document fills it many times over
    os.set_blocking(write_end, False)
    try:
        process = subprocess.Popen(
            cli_command("run", str(flow), "-p", str(FIXTURE_PLUGINS), "--json"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=cli_env,
        )
    finally:
        os.close(write_end)
    with process, os.fdopen(read_end, "rb", buffering=0) as reader:
        assert process.stderr is not None
        errors = ""
        for line in process.stderr:  # the summary's last line: the document comes next, into a pipe no one reads yet
            errors += line
            if line.startswith("run record:"):
                break
        # The first page a byte at a time: its room is freed only once all of it is read, thousands of reads after
        # the run found the pipe full and had to wait (a reader that kept up would leave the wait untested).
        document = b"".join(reader.read(1) for _ in range(PAGE)) + reader.read()
        errors += process.stderr.read()
        code = process.wait(timeout=120)

    assert code == 0, errors
    assert "Traceback" not in errors
    assert json.loads(document)["tasks"]["a"]["outputs"] == {"text": text}


# --- no stderr at all (2>&-) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("run", "{missing}", "--json"),
        ("validate", "{missing}", "--json"),
        ("plugin", "inspect", "tests/no-such-plugin", "-p", "{plugins}", "--json"),
    ],
)
@pytest.mark.parametrize("path", ["fast", "typer"])
def test_without_a_stderr_errors_are_never_written_to_stdout(args, path, cli_env, tmp_path):
    """``workflow run missing.yaml --json 2>&-``: stdout still holds the one error document, and nothing else."""
    env = {**cli_env, "PYTHONIOENCODING": "ascii"} if path == "typer" else cli_env
    argv = [arg.format(missing=tmp_path / "missing.yaml", plugins=FIXTURE_PLUGINS) for arg in args]
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *cli_command(*argv)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )

    assert done.returncode == 2
    assert set(json.loads(done.stdout)) == {"error"}, done.stdout


# --- a terminal whose encoding is ASCII ----------------------------------------------------------------


def run_on_a_terminal(args: list[str], *, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """The command on a real pseudo-terminal (stdout and stderr both): its exit code and what the terminal got."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(cli_command(*args), stdout=terminal, stderr=terminal, cwd=cwd, env=env)
    finally:
        os.close(terminal)
    shown = bytearray()
    try:
        while chunk := os.read(controller, 65536):
            shown += chunk
    except OSError:  # EIO: every process holding the terminal has ended
        pass
    finally:
        os.close(controller)
    return process.wait(timeout=120), shown.decode("ascii")


@pytest.mark.parametrize(
    ("args", "escaped"),
    [
        (["plugin", "list", "-p", "{plugins}"], "plugins-caf\\xe9"),
        (["plugin", "inspect", "acme/gruss", "-p", "{plugins}"], "Gr\\xfc\\xdfe aus dem Caf\\xe9 \\u2014 \\u2713"),
        (["plugin", "inspect", "acme/gruss", "-p", "{plugins}"], "Sagt gr\\xfc\\xdf dich \\u2713"),
    ],
)
def test_an_ascii_terminal_gets_escapes_for_what_it_cannot_show(args, escaped, cli_env, tmp_path):
    """``PYTHONIOENCODING=ascii`` on a terminal: a non-ASCII path or description is escaped, ASCII boxes drawn."""
    plugins = tmp_path / "plugins-café"
    shutil.copytree(UNICODE_PLUGIN, plugins / "gruss")
    env = {**cli_env, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}

    code, shown = run_on_a_terminal([arg.format(plugins=plugins) for arg in args], env=env, cwd=tmp_path)

    assert code == 0, shown
    assert escaped in shown
    assert "Traceback" not in shown
