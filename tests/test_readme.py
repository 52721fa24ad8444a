"""The README's commands, read from README.md and run as its reader runs them after the Quickstart.

The Quickstart makes ``.venv`` and installs the three packages into it. The
test's own environment has the same three installed (nox installs them as
the Quickstart does), so it stands for that virtualenv: ``.venv/bin/X`` in a
README command runs this environment's ``X``. Everything else is as the
reader has it: a fresh copy of the repository, committed as a clone is, a
shell where the virtualenv is not activated, and the README's words.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
VENV_BIN = ".venv/bin/"
PACKAGES = ("plugin-sdk", "plugin-runtime", "workflow-cli")


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_steps() -> list[str]:
    """The Quickstart's one-line set-up, split into its ``&&`` steps."""
    section = readme().split("## Quickstart", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [step.strip() for step in block.strip().split("&&")]


def example_commands() -> list[str]:
    """Every command the README gives inline that runs one of the example scripts."""
    return re.findall(r"`([^`\n]*\bexamples/\w+\.py)`", readme())


def git(checkout: Path, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    done = subprocess.run(
        ["git", "-c", "user.name=readme-test", "-c", "user.email=readme-test@example.invalid", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def fresh_checkout(tmp_path: Path) -> Path:
    """The repository's files as a clone has them (ignored files left out), committed, plus the Quickstart's .venv."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    checkout = tmp_path / "checkout"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # --cached lists files deleted from the work tree too
            target = checkout / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(checkout, "init", "-q")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "--no-gpg-sign", "-m", "a fresh clone")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / ".venv")], check=True)
    return checkout


@pytest.fixture
def reader_env(env_not_activated: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The reader's shell: the virtualenv not activated, no plugins path of ours, their own (empty) user dirs."""
    env = {key: value for key, value in env_not_activated.items() if key != "WORKFLOW_PLUGINS_PATH"}
    return {
        **env,
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }


def run_as_written(command: str, checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` from the checkout's root, ``.venv/bin/`` standing for this test's environment."""
    argv = shlex.split(command)
    if argv[0].startswith(VENV_BIN):
        argv[0] = str(Path(sys.executable).parent / argv[0].removeprefix(VENV_BIN))
    return subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_quickstart_leaves_git_status_clean(fresh_checkout, reader_env):
    steps = quickstart_steps()
    assert steps[0] == "python3 -m venv .venv"
    assert steps[1].startswith(f"{VENV_BIN}pip install")
    assert all(f"-e packages/{package}" in steps[1] for package in PACKAGES)
    main_command = steps[-1]
    assert main_command.startswith(f"{VENV_BIN}workflow run ")

    runs = fresh_checkout / "examples" / "workflows" / ".workflow" / "runs"
    before = set(runs.glob("*.json"))

    done = run_as_written(main_command, fresh_checkout, reader_env)

    assert done.returncode == 0, done.stdout + done.stderr
    written = set(runs.glob("*.json")) - before
    assert len(written) == 1
    assert written.pop().name in done.stdout
    assert git(fresh_checkout, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_readme_example_commands_work_as_written_after_the_quickstart(fresh_checkout, reader_env):
    commands = example_commands()
    assert sorted(Path(shlex.split(command)[-1]).name for command in commands) == ["demo.py", "embed.py"]

    for command in commands:
        done = run_as_written(command, fresh_checkout, reader_env)
        assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"

    assert git(fresh_checkout, "status", "--porcelain", "--untracked-files=all") == ""
