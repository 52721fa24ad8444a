"""The cache directory: the Linux shortcut must give platformdirs' answer, and caching can be turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, platformdirs
from workflow_plugin_runtime.cachedir import cache_root
print(json.dumps([cache_root(), platformdirs.user_cache_dir("workflow")]))
"""


def answers(env: dict[str, str]) -> list[str | None]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    result: list[str | None] = json.loads(done.stdout)
    return result


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_CACHE_HOME", "WORKFLOW_CACHE_DIR")}
    env["HOME"] = "/home/someone"
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="the shortcut is Linux-only; elsewhere platformdirs answers")
@pytest.mark.parametrize(
    "change",
    [
        {},
        {"XDG_CACHE_HOME": "/var/tmp/xdg-cache"},
        {"XDG_CACHE_HOME": "/var/tmp/xdg-cache/"},
        {"XDG_CACHE_HOME": "relative/cache"},
        {"XDG_CACHE_HOME": ""},
        {"HOME": "/"},
        {"HOME": "/home/someone/"},
    ],
    ids=["home", "xdg", "xdg-trailing-slash", "xdg-relative-ignored", "xdg-empty", "home-root", "home-trailing-slash"],
)
def test_linux_shortcut_agrees_with_platformdirs(change: dict[str, str]) -> None:
    ours, theirs = answers({**base_env(), **change})
    assert ours == theirs


def test_the_environment_variable_moves_or_disables_the_cache(tmp_path: Path) -> None:
    ours, _ = answers({**base_env(), "WORKFLOW_CACHE_DIR": str(tmp_path)})
    assert ours == str(tmp_path)
    ours, _ = answers({**base_env(), "WORKFLOW_CACHE_DIR": ""})
    assert ours is None
