"""Where the runtime keeps its caches: ``$WORKFLOW_CACHE_DIR``, else the user cache dir for ``workflow``.

Every cache under it (compiled validators, the plugin index) is best-effort:
safe to delete, and an unwritable directory costs only speed. Setting
``WORKFLOW_CACHE_DIR`` to an empty string turns caching off.

platformdirs decides the user cache dir, but importing it costs about 10 ms
(it imports ``tempfile``, ``shutil``, ``random``...), half of what a whole
cold ``resolve`` may cost. On Linux its rule for the common case is short:
an absolute ``$XDG_CACHE_HOME``, else an absolute ``$HOME`` + ``/.cache``, then
the app name. That case is answered here; anything else (another platform,
Android, no usable variable) asks platformdirs. A test checks that both agree.
The run-state directory (:mod:`..runtimes.run_state`) and the user config and
data directories (:mod:`..config`) follow the same rule.
"""

# Plain strings joined as platformdirs joins them (it uses os.path too), so both give the same answer.
# ruff: noqa: PTH117, PTH118

from __future__ import annotations

import os
import sys

__all__ = ["APP_NAME", "CACHE_DIR_ENV", "cache_root", "platform_dir", "user_dir"]

CACHE_DIR_ENV = "WORKFLOW_CACHE_DIR"
APP_NAME = "workflow"
"""The name platformdirs files this application's per-user folders under (cache, config, data)."""


def cache_root() -> str | None:
    """The cache directory (not created here), or None when caching is off or no directory can be named."""
    return user_dir(CACHE_DIR_ENV, xdg="XDG_CACHE_HOME", under_home=".cache", platformdirs_name="user_cache_dir")


def user_dir(override: str, *, xdg: str, under_home: str, platformdirs_name: str) -> str | None:
    """A per-user directory for ``workflow`` as platformdirs names it, answered without it in the common case.

    ``override`` is the environment variable that moves it (an empty value:
    None, the feature is off); ``xdg`` the XDG variable and ``under_home``
    its default below ``$HOME`` (Linux); ``platformdirs_name`` the
    platformdirs function asked everywhere else.
    """
    configured = os.environ.get(override)
    if configured is not None:
        return configured or None
    try:
        return platform_dir(xdg=xdg, under_home=under_home, platformdirs_name=platformdirs_name)
    except (ImportError, OSError, RuntimeError, KeyError):  # e.g. no usable home directory: run without it
        return None


def platform_dir(*, xdg: str, under_home: str, platformdirs_name: str) -> str:
    """platformdirs' per-user directory for ``workflow`` (see :func:`user_dir`); raises as platformdirs raises."""
    if sys.platform == "linux" and "ANDROID_DATA" not in os.environ:
        base = os.environ.get(xdg, "")
        if os.path.isabs(base):
            return os.path.join(base, APP_NAME)
        home = os.environ.get("HOME", "")
        if os.path.isabs(home):
            return os.path.join(home, under_home, APP_NAME)
    import platformdirs

    found: str = getattr(platformdirs, platformdirs_name)(APP_NAME)
    return found
