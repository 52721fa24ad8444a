"""Text from plugins, manifests, workflow files and paths is hostile: shown literally, never obeyed.

The fixture plugin ``tests/hostile`` puts Rich markup (``[/nope]`` alone
makes Rich raise) and terminal controls (OSC 52 writes the clipboard, OSC 0
the window title, ``ESC[8m`` hides text, ``\\x9b`` is a one-byte CSI, OSC 8
a hyperlink) into its manifest, logs, error, outputs and the secret it is
given. Every place the CLI shows such text is driven through the real
command: the text must appear as written (controls as ``\\x1b``), nothing
may crash, and no secret may show, whole or as a fragment.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HOSTILE = Path(__file__).parent / "fixtures" / "plugins_hostile" / "hostile"
ESC, BEL = "\x1b", "\x07"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What may never reach the output raw: C0 controls but newline and tab, DEL, C1."""
SECRET = "QXZ#tok3n&VVY!fragment~JJK"
NASTY_SHOWN = (
    r"[bold]markup[/bold] [/nope] \x1b]52;c;cHduZWQ=\x07 \x1b]0;pwned-title\x07 "
    r"\x1b[8mhidden\x1b[0m \x9b31m c1 \x7f del \x1b]8;;http://127.0.0.1/\x1b\link\x1b]8;;\x1b\ "
).rstrip()
"""The plugin's ``NASTY`` text as it must be shown: markup as written, each control as ``\\xHH``."""
NASTY_SENT = (
    f"[bold]markup[/bold] [/nope] {ESC}]52;c;cHduZWQ={BEL} {ESC}]0;pwned-title{BEL} "
    f"{ESC}[8mhidden{ESC}[0m \x9b31m c1 \x7f del {ESC}]8;;http://127.0.0.1/{ESC}\\link{ESC}]8;;{ESC}\\"
)
"""The same text exactly as the plugin sends it, which the run record keeps for outputs."""
WIDE = {"COLUMNS": "400", "WORKFLOW_SECRET_TOKEN": SECRET}

RUN = """\
name: "flow [bold]name[/bold] [/nope] \\e]0;wf-title\\a"
tasks:
  speak:
    uses: tests/hostile.speak
    inputs: {token: "{{ secrets.TOKEN }}"}
outputs:
  text: "{{ tasks.speak.outputs.text }}"
  nested: "{{ tasks.speak.outputs.nested }}"
  cut0d: "{{ tasks.speak.outputs.cut0d }}"
  cut_markup: "{{ tasks.speak.outputs.cut_markup }}"
"""


def failing_run() -> str:
    """RUN plus a task whose error message is hostile (tasks first, then the workflow's outputs)."""
    head, outputs = RUN.split("outputs:\n", 1)
    fail = '  fail:\n    uses: tests/hostile.fail\n    inputs: {token: "{{ secrets.TOKEN }}"}\n'
    return f"{head}{fail}outputs:\n{outputs}"


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    """A plugins folder whose own name is hostile, holding the hostile plugin and a Dockerfile of its own."""
    folder = tmp_path / f"plugins [/nope] {ESC}]0;dir-title{BEL}"
    shutil.copytree(HOSTILE, folder / "hostile")
    (folder / "hostile" / "Dockerfile").write_text(f"FROM scratch\n# {ESC}]0;dockerfile-title{BEL} [/nope]\n")
    return folder


def write(tmp_path: Path, text: str, *, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def the_record(tmp_path: Path) -> tuple[str, dict]:
    [path] = (tmp_path / ".workflow" / "runs").glob("*.json")
    text = path.read_text(encoding="utf-8")
    return text, json.loads(text)


def assert_no_secret(*texts: str) -> None:
    """The secret is nowhere whole: not rejoined by a character or a tag that was removed after masking."""
    for text in texts:
        assert SECRET not in text


def test_a_run_shows_plugin_and_workflow_text_literally_and_succeeds(run_cli, tmp_path, plugins):
    done = run_cli("run", str(write(tmp_path, RUN)), "-p", str(plugins), env=WIDE)
    assert done.returncode == 0, done.stderr  # a succeeded run exits 0: the summary must not crash
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert not RAW_CONTROL.search(out + done.stderr)
    assert r"flow [bold]name[/bold] [/nope] \x1b]0;wf-title\x07: succeeded" in out  # the summary's title
    assert f"  speak | plain {NASTY_SHOWN}" in out  # a plain log line
    assert f"  speak | record {NASTY_SHOWN}" in out  # a JSON log record, ESC in its level too
    # The secret cut by CR shows as two pieces; the piece after its last "&" is masked on its own, as
    # PowerShell prints it apart (a registered form, see docs/security.md).
    assert r"cut0d=QXZ#to\x0dk3n&***" in out
    assert f"  text: out {NASTY_SHOWN}" in out  # an output value
    assert r'nested: {"[/key]\u001b[8m": "[/value] \x9b"}' in out  # an output's keys and values
    assert "cut_markup: QXZ#[b]tok3n&***[/b]" in out  # tags Rich would remove stay
    record_text, record = the_record(tmp_path)
    assert_no_secret(out, done.stderr, record_text)
    assert not RAW_CONTROL.search(record_text)
    assert record["outputs"]["text"] == f"out {NASTY_SENT}"  # the record keeps what the plugin sent
    assert record["outputs"]["cut0d"] == "QXZ#to\rk3n&***"


def test_a_failed_run_with_json_shows_the_error_literally(run_cli, tmp_path, plugins):
    done = run_cli("run", str(write(tmp_path, failing_run())), "-p", str(plugins), "--json", env=WIDE)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not RAW_CONTROL.search(done.stdout + done.stderr)
    record = json.loads(done.stdout)  # exactly one document
    error = record["tasks"]["fail"]["error"]
    assert error["kind"] == "action"
    assert error["message"].startswith(f"fail {NASTY_SHOWN} ")
    assert error["type"] == r"Evil\x1b[8mType"
    assert f"action: fail {NASTY_SHOWN}" in done.stderr  # the progress line
    assert record["outputs"]["nested"] == {f"[/key]{ESC}[8m": "[/value] \x9b"}
    record_text, written = the_record(tmp_path)
    assert written == record
    assert not RAW_CONTROL.search(record_text)
    assert_no_secret(done.stdout, done.stderr, record_text)


SPLIT = """\
name: split
tasks:
  out: {uses: tests/hostile.split, inputs: {token: "{{ secrets.TOKEN }}"}}
  error: {uses: tests/hostile.split, inputs: {token: "{{ secrets.TOKEN }}", fail: true}}
outputs:
  cr: "{{ tasks.out.outputs.cut0d }}"
  backspace: "{{ tasks.out.outputs.cut08 }}"
  bell: "{{ tasks.out.outputs.cut07 }}"
  csi: "{{ tasks.out.outputs.cut9b }}"
  tags: "{{ tasks.out.outputs.cut_markup }}"
"""


@pytest.mark.parametrize("json_output", [False, True], ids=["plain-lines", "json"])
def test_a_secret_cut_by_a_control_character_or_a_tag_is_never_rejoined(run_cli, tmp_path, plugins, json_output):
    """Log lines, an error message and outputs hold the secret cut by CR, BS, VT, FF, BEL, NUL, DEL, CSI or [b]."""
    json_flag = ["--json"] if json_output else []
    done = run_cli("run", str(write(tmp_path, SPLIT)), "-p", str(plugins), *json_flag, env=WIDE)
    record_text, record = the_record(tmp_path)
    assert_no_secret(done.stdout, done.stderr, record_text)
    assert done.returncode == 1, done.stderr
    assert not RAW_CONTROL.search(done.stdout + done.stderr + record_text)
    shown = done.stdout + done.stderr
    for cut in (r"QXZ#to\x0dk3n", r"QXZ#to\x08k3n", r"QXZ#to\x0bk3n", r"QXZ#to\x07k3n", r"QXZ#to\x9bk3n"):
        assert f"{cut}&***" in shown  # in the log lines, the error and the outputs
    assert "QXZ#[b]tok3n&***[/b]" in shown
    assert record["outputs"]["cr"] == "QXZ#to\rk3n&***"  # the record keeps what the plugin sent
    assert record["outputs"]["csi"] == "QXZ#to\x9bk3n&***"


def run_in_terminal(*args: str, cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as stdin, stdout and stderr: Rich's live view, colours on."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "400", "LINES": "50", **WIDE}
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "workflow_cli", *args]
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd, env=env)
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], deadline - time.monotonic())
            if not ready:
                continue
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: every holder of the terminal's other end is gone
                break
            if not data:
                break
            chunks.append(data)
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    return returncode, b"".join(chunks).decode("utf-8", "replace")


def test_the_live_view_on_a_terminal_obeys_no_plugin_control(tmp_path, plugins):
    returncode, screen = run_in_terminal("run", str(write(tmp_path, failing_run())), "-p", str(plugins), cwd=tmp_path)
    for sequence in (f"{ESC}]", BEL, "\b", "\x0b", "\x0c", "\x7f", "\x9b", "\x00", f"{ESC}[8m", f"{ESC}[2J"):
        assert sequence not in screen, f"{sequence!r} reached the terminal"  # Rich itself writes no OSC, no BEL
    assert returncode == 1, screen
    assert "Traceback" not in screen
    assert r"\x1b]52;c;cHduZWQ=\x07" in screen
    assert "[/nope]" in screen
    assert r"cut0d=QXZ#to\x0dk3n&***" in screen
    assert_no_secret(screen)


def test_plugin_list_inspect_and_build_show_manifest_text_and_paths_literally(run_cli, plugins):
    listed = run_cli("plugin", "list", "-p", str(plugins), env=WIDE)
    assert listed.returncode == 0, listed.stderr
    assert r"plugins [/nope] \x1b]0;dir-title\x07/hostile" in listed.stdout
    assert "speak, shapes, split, fail, crash" in listed.stdout
    inspected = run_cli("plugin", "inspect", "tests/hostile", "-p", str(plugins), env=WIDE)
    assert inspected.returncode == 0, inspected.stderr
    shown = inspected.stdout
    for text in (
        r"desc [bold]markup[/bold] [/nope] \x1b]0;desc-title\x07 \x1b[8mdesc-hidden\x1b[0m \x9b31m",  # plugin
        r"speak [/nope] \x1b]52;c;cHduZWQ=\x07",  # action description
        r"[/field]\x1b[8m",  # a field's name
        r"field [/nope] \x1b]0;field-title\x07",  # a field's description
        r'"[/default]\u001b[2J"',  # its default, as JSON
        r"one of " + '"[/enum]\\u009b"',  # its enum
        r"see #/definitions/[bold]ref\x1b]0;ref\x07",  # a $ref
        r"plugins [/nope] \x1b]0;dir-title\x07",  # the path
    ):
        assert text in shown, text
    built = run_cli("plugin", "build", str(plugins / "hostile"), "--print-dockerfile", env=WIDE)
    assert built.returncode == 0, built.stderr
    assert r"using the plugin's own Dockerfile: " in built.stderr
    assert r"plugins [/nope] \x1b]0;dir-title\x07/hostile/Dockerfile" in built.stderr
    assert r"# \x1b]0;dockerfile-title\x07 [/nope]" in built.stdout
    for done in (listed, inspected, built):
        assert "Traceback" not in done.stderr
        assert not RAW_CONTROL.search(done.stdout + done.stderr)


def test_plugin_json_documents_keep_manifest_text_exactly_but_escaped(run_cli, plugins):
    listed = run_cli("plugin", "list", "-p", str(plugins), "--json")
    inspected = run_cli("plugin", "inspect", "tests/hostile", "-p", str(plugins), "--json")
    for done in (listed, inspected):
        assert done.returncode == 0, done.stderr
        assert not RAW_CONTROL.search(done.stdout + done.stderr)
    description = f"desc [bold]markup[/bold] [/nope] {ESC}]0;desc-title{BEL} {ESC}[8mdesc-hidden{ESC}[0m \x9b31m"
    assert json.loads(listed.stdout)[0]["description"] == description
    assert json.loads(inspected.stdout)["description"] == description


def test_validate_shows_workflow_text_and_its_file_name_literally(run_cli, tmp_path, plugins):
    valid = write(tmp_path, RUN, name=f"flow {ESC}]0;file-title{BEL}.yaml")
    done = run_cli("validate", str(valid), "-p", str(plugins), env=WIDE)
    assert done.returncode == 0, done.stderr
    assert r"flow \x1b]0;file-title\x07.yaml: valid (1 task, trusted mode)" in done.stdout
    invalid = write(
        tmp_path,
        'name: x\ntasks:\n  c: {uses: tests/hostile.speak, inputs: {"[/field]\\e[8m": "zzz [/x] \\e]0;t\\a"}}\n',
    )
    refused = run_cli("validate", str(invalid), "-p", str(plugins), env=WIDE)
    assert refused.returncode == 2, refused.stderr
    assert r"expected one of [/enum]\x9b, [/default]\x1b[2J" in refused.stderr
    for result in (done, refused):
        assert "Traceback" not in result.stderr
        assert not RAW_CONTROL.search(result.stdout + result.stderr)


@pytest.mark.parametrize(
    "before_cut",
    [4096, 8192],
    ids=["cut-at-the-old-4-KiB-tail", "cut-at-the-8-KiB-window"],
)
def test_a_secret_cut_by_the_stderr_tail_leaves_no_fragment(run_cli, tmp_path, plugins, before_cut):
    """The plugin writes the secret, then dots, on one stderr line, and crashes: the cut falls inside the secret."""
    dots = before_cut - 1 - len(SECRET) // 2  # the line's end ("\n") is the last byte
    inputs = f'{{token: "{{{{ secrets.TOKEN }}}}", dots: {dots}}}'
    flow = write(tmp_path, f"name: tail\ntasks:\n  crash:\n    uses: tests/hostile.crash\n    inputs: {inputs}\n")
    done = run_cli("run", str(flow), "-p", str(plugins), "--json", env=WIDE)
    assert done.returncode == 1, done.stderr
    record_text, record = the_record(tmp_path)
    error = record["tasks"]["crash"]["error"]
    fragments = {SECRET[:size] for size in range(4, len(SECRET))} | {SECRET[-size:] for size in range(4, len(SECRET))}
    for where, text in (("record", record_text), ("--json", done.stdout), ("stderr", done.stderr)):
        found = sorted(fragment for fragment in fragments if fragment in text)
        assert not found, f"{where} holds pieces of the secret: {found}"
    assert error["kind"] == "crashed"
    assert error["stderr_tail"].endswith("....\n")
    # Masked before it is cut: the secret whole in the window is masked, one cut by the window is dropped.
    assert error["stderr_tail"].startswith("***." if before_cut == 4096 else "….")


BIDI = "\u202e\u2066\u200f"
"""A right-to-left override, an isolate and a mark: invisible, and they reorder what the terminal shows after them."""


@pytest.mark.parametrize("json_output", [False, True], ids=["terminal", "json"])
def test_bidirectional_controls_are_shown_as_escapes_never_obeyed(run_cli, tmp_path, json_output):
    """'Trojan Source' in a workflow's name, a plugin's log and its output: escaped, never raw."""
    flow = write(
        tmp_path,
        'name: "flow \\u202e deliaf"\ntasks:\n  t:\n    uses: tests/e2e.echo\n'
        '    inputs: {token: "abc \\u202e\\u2066\\u200f cba"}\noutputs:\n  said: "{{ tasks.t.outputs.token }}"\n',
    )
    plugins = Path(__file__).parent / "fixtures" / "plugins"
    done = run_cli("run", str(flow), "-p", str(plugins), *(("--json",) if json_output else ()))
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    assert not any(char in shown for char in BIDI), ascii(shown)
    if json_output:
        assert json.loads(done.stdout)["outputs"]["said"] == f"abc {BIDI} cba"  # the value itself is kept
    else:
        assert "flow \\u202e deliaf" in shown
        assert "abc \\u202e\\u2066\\u200f cba" in shown
