"""Bad input through the real CLI: one clear message with its place, exit 2, never a traceback, nothing run."""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
HUGE = "9" * 5000  # over CPython's 4,300-digit limit for int <-> str


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_clear_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, exactly one error line holding every word, no traceback; the error line."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    for word in words:
        assert word in errors[0], done.stderr
    return errors[0]


FLOW = "name: x\ntasks:\n  a:\n    uses: tests/e2e.number\n    inputs: {value: VALUE}\n    timeout: TIMEOUT\n"


def flow(tmp_path: Path, *, value: str = "1", timeout: str = "5") -> Path:
    return write(tmp_path / "flow.yaml", FLOW.replace("VALUE", value).replace("TIMEOUT", timeout))


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_integer_too_long_in_a_workflow_is_located(run_cli, tmp_path, command):
    path = flow(tmp_path, value=HUGE)
    done = run_cli(command, str(path), "-p", str(PLUGINS))
    one_clear_error(done, f"{path}:5:21: tasks.a.inputs.value: the integer is longer than 4300 digits")
    assert "hint: quote it to make it a string" in done.stderr
    assert not (tmp_path / ".workflow").exists()


def test_an_integer_too_long_in_a_vars_file_is_located(run_cli, tmp_path):
    variables = write(tmp_path / "vars.yaml", f"n: {HUGE}\n")
    done = run_cli("run", str(flow(tmp_path)), "-p", str(PLUGINS), "--vars-file", str(variables))
    one_clear_error(done, f"{variables}:1:4: n: the integer is longer than 4300 digits")
    assert not (tmp_path / ".workflow").exists()


def test_an_integer_too_long_in_the_project_config_is_located(run_cli, tmp_path):
    config = write(tmp_path / ".workflow" / "config.yaml", f"pool: {{size: {HUGE}}}\n")
    done = run_cli("validate", str(flow(tmp_path)), "-p", str(PLUGINS))
    one_clear_error(done, f"{config}:1:14: pool.size: the integer is longer than 4300 digits")


def test_an_option_number_too_long_for_python_is_refused_in_words(run_cli, tmp_path):
    """More digits than ``int()`` converts, on the command line: Typer's words, not a ValueError's traceback."""
    done = run_cli("run", str(flow(tmp_path)), "-p", str(PLUGINS), "--concurrency", HUGE)
    one_clear_error(done, "--concurrency", "exceeded maximum size")
    assert not (tmp_path / ".workflow").exists()


@pytest.mark.parametrize(
    ("timeout", "words"),
    [
        (".nan", ".nan is not a finite number"),
        (".inf", ".inf is not a finite number"),
        ("-.inf", "-.inf is not a finite number"),
        (HUGE, "the integer is longer than 4300 digits"),
    ],
    ids=["nan", "inf", "-inf", "huge"],
)
def test_a_manifest_number_no_json_can_hold_is_located(run_cli, tmp_path, timeout, words):
    plugin = tmp_path / "plugins" / "e2e"
    shutil.copytree(PLUGINS / "e2e", plugin)
    manifest = plugin / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("  timeout: 20\n", f"  timeout: {timeout}\n"))
    done = run_cli("validate", str(flow(tmp_path)), "-p", str(plugin.parent))
    one_clear_error(done, f"{manifest}:7:12: runtime.timeout: {words}")
    assert f"used by task 'a' at {tmp_path / 'flow.yaml'}:4:11" in done.stderr


@pytest.mark.parametrize("timeout", [".nan", ".NaN", ".inf", ".Inf", "-.inf", "1.0e+999"])
def test_a_timeout_that_is_not_a_finite_number_is_refused_with_its_place(run_cli, tmp_path, timeout):
    path = flow(tmp_path, timeout=timeout)
    done = run_cli("validate", str(path), "-p", str(PLUGINS))
    one_clear_error(done, f"{path}:6:14: tasks.a.timeout: {timeout} is not a finite number")
    assert "hint: write a finite number" in done.stderr


def test_every_invalid_task_id_is_reported_with_its_line_and_an_id_hint(run_cli, tmp_path):
    path = write(
        tmp_path / "flow.yaml",
        "name: x\ntasks:\n"
        "  9lives: {uses: tests/e2e.number, inputs: {value: 1}}\n"
        "  fine: {uses: tests/e2e.number, inputs: {value: 1}}\n"
        "  two words: {uses: tests/e2e.number, inputs: {value: 1}}\n"
        "  -dash: {uses: tests/e2e.number, inputs: {value: 1}}\n",
    )
    done = run_cli("validate", str(path), "-p", str(PLUGINS))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {path}:3:3: tasks.9lives: the name '9lives' does not match the pattern ^[A-Za-z_][A-Za-z0-9_-]*$",
        f"error: {path}:5:3: tasks[\"two words\"]: the name 'two words' does not match the pattern "
        "^[A-Za-z_][A-Za-z0-9_-]*$",
        f"error: {path}:6:3: tasks.-dash: the name '-dash' does not match the pattern ^[A-Za-z_][A-Za-z0-9_-]*$",
    ]
    hints = [line.strip() for line in done.stderr.splitlines() if line.strip().startswith("hint:")]
    assert (
        hints
        == ["hint: a task id is letters, digits, '_' and '-', not starting with a digit or '-' (e.g. build_docs)"] * 3
    )
    assert "declare at least one task" not in done.stderr
    assert "3 errors: nothing was run" in done.stderr


def _memory_cap() -> None:
    """If the secrets file were read whole, fail with MemoryError instead of exhausting the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_secrets_file_that_is_not_a_regular_file_is_refused_before_it_is_read(run_cli, tmp_path, device):
    path = flow(tmp_path)
    done = run_cli("run", str(path), "-p", str(PLUGINS), "--secrets-file", device, preexec_fn=_memory_cap)
    one_clear_error(done, f"{device}: is not a regular file")
    assert "hint: give the path of a secrets file; a device, FIFO or socket cannot be read as one" in done.stderr
    assert not (tmp_path / ".workflow").exists()


def test_a_secrets_file_over_the_size_cap_is_refused(run_cli, tmp_path):
    secrets = write(tmp_path / "big.env", "A=" + "x" * (2 << 20) + "\n")
    secrets.chmod(0o600)
    done = run_cli("run", str(flow(tmp_path)), "-p", str(PLUGINS), "--secrets-file", str(secrets))
    one_clear_error(done, f"{secrets}: the secrets file is too large")


STDOUT_CLOSED = ("/bin/sh", "-c", 'exec "$@" >&-', "sh")
STDERR_CLOSED = ("/bin/sh", "-c", 'exec "$@" 2>&-', "sh")


@pytest.mark.parametrize(
    ("closed", "args", "code"),
    [
        (STDOUT_CLOSED, ("plugin", "list", "-p", str(PLUGINS)), 0),
        (STDOUT_CLOSED, ("plugin", "inspect", "tests/e2e", "-p", str(PLUGINS)), 0),
        (STDERR_CLOSED, ("validate", "missing.yaml"), 2),
        (STDERR_CLOSED, ("plugin", "inspect", "tests/absent", "-p", str(PLUGINS)), 2),
    ],
    ids=["list, no stdout", "inspect, no stdout", "validate, no stderr", "inspect, no stderr"],
)
def test_a_closed_stream_gets_nothing_and_the_exit_code_stays_the_command_s(run_cli, closed, args, code):
    # `workflow plugin list >&-`: as Click's echo (and Rich) there, nothing is written and nothing fails.
    done = run_cli(*args, prefix=closed)

    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
