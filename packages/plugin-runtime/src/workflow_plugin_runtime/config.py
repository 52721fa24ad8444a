"""Configuration: the project's ``.workflow/config.yaml``, the user's ``config.yaml`` and the environment.

``plugins.paths`` is merged in this order (first match of a plugin wins):

1. explicit paths from the caller (``--plugins-path``), then ``WORKFLOW_PLUGINS_PATH``
   (``os.pathsep``-separated), both relative to the working directory;
2. the project config's ``plugins.paths``, relative to the project root;
3. the user config's ``plugins.paths``, relative to the user config's folder;
4. defaults: ``<project>/.workflow/plugins``, ``<project>/plugins``, ``<user data dir>/plugins``.

The project root is the nearest folder, from the start directory upward,
holding a ``.workflow`` directory; without one it is the start directory.
Each path remembers where it came from, so "not found" can say where we
looked. For other keys the project config overrides the user config.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._frozen import FrozenRecord
from ._util.cachedir import platform_dir

TYPE_CHECKING = False  # typing, YAML and the schemas load only when a config file is read: resolve stays cheap
if TYPE_CHECKING:
    from typing import Any

    from ._util.yaml_document import YamlDocument

__all__ = [
    "CONFIG_DIRNAME",
    "CONFIG_FILENAME",
    "PLUGINS_PATH_ENV",
    "RESTRICTED_RUNTIMES",
    "Config",
    "ExecutorKind",
    "ExecutorSettings",
    "PathSource",
    "PluginsPath",
    "PoolSettings",
    "RuntimeKind",
    "find_project_root",
    "load_config",
    "pool_settings",
    "restricted_backend",
]

CONFIG_DIRNAME = ".workflow"
CONFIG_FILENAME = "config.yaml"
PLUGINS_PATH_ENV = "WORKFLOW_PLUGINS_PATH"


class PathSource(enum.StrEnum):
    """Where a plugins path came from, in precedence order."""

    OPTION = "--plugins-path"
    ENV = PLUGINS_PATH_ENV
    PROJECT_CONFIG = "project config"
    USER_CONFIG = "user config"
    DEFAULT = "default"
    ENTRY_POINT = "entry point"


class RuntimeKind(enum.StrEnum):
    """Where a plugin runs: a local process, a bubblewrap sandbox, a container, or the engine itself (handlers).

    The one name for a place, used by every invocation, runtime, metric and
    the ``restricted.backend`` setting. It lives here, below the runtimes,
    because the configuration chooses among these places.
    """

    PROCESS = "process"
    SANDBOX = "sandbox"
    DOCKER = "docker"
    ENGINE = "engine"


RESTRICTED_RUNTIMES = (RuntimeKind.SANDBOX, RuntimeKind.DOCKER)
"""Where a restricted workflow may run, in the order ``auto`` tries them: the daemonless sandbox first."""
_AUTO = "auto"


def restricted_backend(text: str) -> RuntimeKind | None:
    """The ``restricted.backend`` setting (config file, ``--backend``): a place, or None for ``auto``.

    ``auto`` is no place of its own but a choice made at run time among
    :data:`RESTRICTED_RUNTIMES`, so it has no member in :class:`RuntimeKind`.
    Raises ValueError for anything else, naming the accepted values.
    """
    if text == _AUTO:
        return None
    for kind in RESTRICTED_RUNTIMES:
        if text == kind.value:
            return kind
    choices = ", ".join((_AUTO, *(kind.value for kind in RESTRICTED_RUNTIMES)))
    raise ValueError(f"{text!r} is not one of {choices}")


_set = object.__setattr__


class ExecutorKind(enum.StrEnum):
    """Where a run's plugin tasks execute: here (``local``, the default) or on a Dask cluster's workers."""

    LOCAL = "local"
    DASK = "dask"


class ExecutorSettings(FrozenRecord, keyword_only=True):
    """The config's ``executor`` section (docs/configuration.md); ``address`` None with Dask: a local cluster.

    The TLS paths are absolute (resolved from the config file's folder);
    ``project_dir`` is a folder on the workers, left as written: each worker
    loads its own ``.workflow/config.yaml`` and ``plugins.paths`` from it
    (None: the worker's working directory).
    """

    __slots__ = ("address", "kind", "project_dir", "tls_ca", "tls_cert", "tls_key")
    kind: ExecutorKind
    address: str | None
    project_dir: str | None
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None

    def __init__(
        self,
        kind: ExecutorKind = ExecutorKind.LOCAL,
        address: str | None = None,
        *,
        project_dir: str | None = None,
        tls_ca: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        _set(self, "kind", kind)
        _set(self, "address", address)
        _set(self, "project_dir", project_dir)
        _set(self, "tls_ca", tls_ca)
        _set(self, "tls_cert", tls_cert)
        _set(self, "tls_key", tls_key)

    @property
    def tls(self) -> bool:
        """Whether any TLS file is configured (the Dask executor checks the three are complete)."""
        return any(path is not None for path in (self.tls_ca, self.tls_cert, self.tls_key))


class PoolSettings(FrozenRecord):
    """Warm-worker sizing; ``size`` ``None`` (the default) caps nothing: one worker per call running at once."""

    __slots__ = ("idle_timeout", "recycle_after", "size")
    size: int | None
    idle_timeout: float
    recycle_after: int

    def __init__(self, size: int | None = None, idle_timeout: float = 60.0, recycle_after: int = 1000) -> None:
        _set(self, "size", size)
        _set(self, "idle_timeout", idle_timeout)
        _set(self, "recycle_after", recycle_after)


class PluginsPath(FrozenRecord):
    """One directory searched for plugins, with where it was configured (e.g. ``config.yaml:4``).

    A :class:`~._frozen.FrozenRecord`, not a dataclass: it is on the cold resolve path.
    """

    __slots__ = ("origin", "path", "source")
    path: Path
    source: PathSource
    origin: str

    def __init__(self, path: Path, source: PathSource, origin: str) -> None:
        _set(self, "path", path)
        _set(self, "source", source)
        _set(self, "origin", origin)

    def __str__(self) -> str:
        return f"{self.path} ({self.origin})"


class Config(FrozenRecord, keyword_only=True):
    """The merged configuration; ``None`` files were not found, and a ``None`` backend is ``auto``."""

    __slots__ = (
        "backend",
        "executor",
        "plugins_paths",
        "pool",
        "pool_enabled",
        "project_config",
        "project_root",
        "user_config",
    )
    project_root: Path
    plugins_paths: tuple[PluginsPath, ...]
    project_config: Path | None
    user_config: Path | None
    backend: RuntimeKind | None
    pool: PoolSettings | None
    pool_enabled: bool
    executor: ExecutorSettings

    def __init__(
        self,
        project_root: Path,
        plugins_paths: tuple[PluginsPath, ...],
        *,
        project_config: Path | None = None,
        user_config: Path | None = None,
        backend: RuntimeKind | None = None,
        pool: PoolSettings | None = None,
        pool_enabled: bool = False,
        executor: ExecutorSettings | None = None,
    ) -> None:
        _set(self, "project_root", project_root)
        _set(self, "plugins_paths", plugins_paths)
        _set(self, "project_config", project_config)
        _set(self, "user_config", user_config)
        _set(self, "backend", backend)
        _set(self, "pool", pool)
        _set(self, "pool_enabled", pool_enabled)
        _set(self, "executor", executor if executor is not None else ExecutorSettings())


def find_project_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` upward whose ``.workflow`` holds a ``config.yaml`` or ``plugins``.

    A ``.workflow`` with only ``runs/`` in it (run records written next to a
    workflow file) does not make a project: otherwise running a workflow once
    would change where its plugins are looked for the next time.
    """
    current = start.absolute()
    for folder in (current, *current.parents):
        marker = folder / CONFIG_DIRNAME
        if (marker / CONFIG_FILENAME).is_file() or (marker / "plugins").is_dir():
            return folder
    return None


def load_config(
    *,
    start: Path | None = None,
    plugins_paths: Sequence[Path | str] = (),
    env: Mapping[str, str] | None = None,
    user_config_dir: Path | None = None,
    user_data_dir: Path | None = None,
) -> Config:
    """Merge every source; ``user_config_dir``/``user_data_dir`` default to the platform's (for tests: inject).

    ``start`` (default: the working directory) is where the project root is looked for, e.g. a
    workflow file's folder; explicit and environment paths are relative to the working directory.
    """
    cwd = Path.cwd()
    origin = (start or cwd).absolute()
    environ = os.environ if env is None else env
    project_root = find_project_root(origin) or origin
    if user_config_dir is None:
        user_config_dir = Path(
            platform_dir(xdg="XDG_CONFIG_HOME", under_home=".config", platformdirs_name="user_config_dir")
        )
    if user_data_dir is None:
        user_data_dir = Path(
            platform_dir(xdg="XDG_DATA_HOME", under_home=".local/share", platformdirs_name="user_data_dir")
        )

    project_file = project_root / CONFIG_DIRNAME / CONFIG_FILENAME
    user_file = user_config_dir / CONFIG_FILENAME
    project = _read(project_file) if project_file.is_file() else None
    user = _read(user_file) if user_file.is_file() else None

    paths: list[PluginsPath] = []
    paths += [PluginsPath(_absolute(p, cwd), PathSource.OPTION, PathSource.OPTION.value) for p in plugins_paths]
    for entry in environ.get(PLUGINS_PATH_ENV, "").split(os.pathsep):
        if entry.strip():
            paths.append(PluginsPath(_absolute(entry, cwd), PathSource.ENV, PLUGINS_PATH_ENV))
    if project is not None:
        paths += _config_paths(project, base=project_root, source=PathSource.PROJECT_CONFIG)
    if user is not None:
        paths += _config_paths(user, base=user_config_dir, source=PathSource.USER_CONFIG)
    for default in (project_root / CONFIG_DIRNAME / "plugins", project_root / "plugins", user_data_dir / "plugins"):
        paths.append(PluginsPath(default, PathSource.DEFAULT, "default"))

    settings = _merged_settings(project, user, bases=(user_config_dir, project_root))
    return Config(
        project_root=project_root,
        plugins_paths=_unique(paths),
        project_config=project_file if project is not None else None,
        user_config=user_file if user is not None else None,
        backend=restricted_backend(settings.get("restricted", {}).get("backend", _AUTO)),
        pool=pool_settings(settings.get("pool")),
        pool_enabled=bool(settings.get("pool", {}).get("enabled", False)),
        executor=_executor_settings(settings.get("executor")),
    )


def _read(path: Path) -> YamlDocument:
    from ._util.yamlfile import load_yaml_file
    from .errors import ConfigError
    from .schemas import shipped_validator
    from .schemas.violations import raise_first_violation

    document = load_yaml_file(path, error=ConfigError, allow_empty=True)
    raise_first_violation(shipped_validator("config"), document.data, document=document, error=ConfigError)
    return document


def _absolute(raw: Path | str, base: Path) -> Path:
    return Path(os.path.normpath(base / Path(raw).expanduser()))


def _config_paths(document: YamlDocument, *, base: Path, source: PathSource) -> list[PluginsPath]:
    found = []
    for index, raw in enumerate(document.data.get("plugins", {}).get("paths", ())):
        where = document.position(("plugins", "paths", index))
        found.append(PluginsPath(_absolute(raw, base), source, f"{document.file}:{where.line}"))
    return found


def _unique(paths: list[PluginsPath]) -> tuple[PluginsPath, ...]:
    """A directory listed twice is searched once, at its first (highest) place."""
    seen: set[Path] = set()
    kept = []
    for entry in paths:
        key = entry.path.resolve() if entry.path.exists() else entry.path
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return tuple(kept)


def _merged_settings(
    project: YamlDocument | None, user: YamlDocument | None, *, bases: tuple[Path, Path]
) -> dict[str, Any]:
    """Each section, the project's keys over the user's.

    ``bases`` are the user config's folder and the project root, in that
    order: the ``executor.tls`` paths are made absolute from the folder of
    the file that set them.
    """
    merged: dict[str, Any] = {}
    for document, base in zip((user, project), bases, strict=True):
        if document is None:
            continue
        for section in ("restricted", "pool", "executor"):
            if section in document.data:
                merged[section] = {**merged.get(section, {}), **document.data[section]}
        tls = document.data.get("executor", {}).get("tls")
        if tls is not None:
            merged["executor"]["tls"] = {key: _absolute(raw, base) for key, raw in tls.items()}
    return merged


def _executor_settings(section: Mapping[str, Any] | None) -> ExecutorSettings:
    """The checked ``executor`` section, its TLS paths already absolute."""
    if section is None:
        return ExecutorSettings()
    tls = section.get("tls", {})
    return ExecutorSettings(
        ExecutorKind(section.get("kind", ExecutorKind.LOCAL.value)),
        section.get("address"),
        project_dir=section.get("project_dir"),
        tls_ca=tls.get("ca_file"),
        tls_cert=tls.get("cert_file"),
        tls_key=tls.get("key_file"),
    )


def pool_settings(section: Mapping[str, Any] | None) -> PoolSettings | None:
    """The sizing a checked ``pool`` section says (config.yaml's ``pool``, a manifest's ``runtime.pool``)."""
    if section is None:
        return None
    return PoolSettings(
        size=section.get("size"),
        idle_timeout=float(section.get("idle_timeout", 60.0)),
        recycle_after=section.get("recycle_after", 1000),
    )
