"""The per-user directories: the Linux shortcut must give platformdirs' answer; cache and state can be turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, platformdirs
from workflow_plugin_runtime._util.cachedir import cache_root, platform_dir
from workflow_plugin_runtime.config import load_config
from workflow_plugin_runtime.runtimes.run_state import state_root
state = state_root()
config = load_config(plugins_paths=())
data = str(config.plugins_paths[-1].path.parent)  # the last default: <user data dir>/plugins
print(json.dumps({
    "cache": [cache_root(), platformdirs.user_cache_dir("workflow")],
    "state": [None if state is None else str(state), platformdirs.user_state_dir("workflow")],
    "config": [
        platform_dir(xdg="XDG_CONFIG_HOME", under_home=".config", platformdirs_name="user_config_dir"),
        platformdirs.user_config_dir("workflow"),
    ],
    "data": [data, platformdirs.user_data_dir("workflow")],
}))
"""
OVERRIDES = {"cache": "WORKFLOW_CACHE_DIR", "state": "WORKFLOW_STATE_DIR"}


def answers(env: dict[str, str]) -> dict[str, list[str | None]]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    result: dict[str, list[str | None]] = json.loads(done.stdout)
    return result


def base_env() -> dict[str, str]:
    unset = {"XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", *OVERRIDES.values()}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env["HOME"] = "/home/someone"
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="the shortcut is Linux-only; elsewhere platformdirs answers")
@pytest.mark.parametrize("kind", ["cache", "state", "config", "data"])
@pytest.mark.parametrize(
    "change",
    [
        {},
        {"XDG": "/var/tmp/xdg-dir"},
        {"XDG": "/var/tmp/xdg-dir/"},
        {"XDG": "relative/dir"},
        {"XDG": ""},
        {"HOME": "/"},
        {"HOME": "/home/someone/"},
    ],
    ids=["home", "xdg", "xdg-trailing-slash", "xdg-relative-ignored", "xdg-empty", "home-root", "home-trailing-slash"],
)
def test_linux_shortcut_agrees_with_platformdirs(kind: str, change: dict[str, str]) -> None:
    xdg = f"XDG_{kind.upper()}_HOME"
    ours, theirs = answers({**base_env(), **{xdg if key == "XDG" else key: value for key, value in change.items()}})[
        kind
    ]
    assert ours == theirs


@pytest.mark.parametrize("kind", ["cache", "state"])
def test_the_environment_variable_moves_or_disables_the_directory(kind: str, tmp_path: Path) -> None:
    ours, _ = answers({**base_env(), OVERRIDES[kind]: str(tmp_path)})[kind]
    assert ours == str(tmp_path)
    ours, _ = answers({**base_env(), OVERRIDES[kind]: ""})[kind]
    assert ours is None
