"""``plugin.yaml``: the typed, immutable manifest model, and loading it through two caches.

A manifest is checked in two passes (see :mod:`.manifest_checks`): the shipped
JSON Schema checks its shape, then what a schema cannot say (the version
parses, the entrypoint is a file inside the plugin directory, the actions'
schemas compile and their examples fit). :func:`manifest_problems` returns
every problem (for ``workflow validate``); :func:`load_manifest` raises the
first.

Loading is cached twice, because one-shot commands load manifests in many
short processes:

* per process, keyed by the file's stat signature, so the same object comes
  back until the file changes (a file changed within the last clock tick is
  also compared byte for byte, see :mod:`.index`);
* across processes, in the on-disk plugin index (:mod:`.index`): a manifest
  that passed every check is kept as plain data and rebuilt without PyYAML,
  the validators or the checks.

Both re-check, at each use, the one thing that depends on files other than
the manifest: that the entrypoint (or a relative command) is a file inside
the plugin directory. This module is on the cold resolve path, so it imports
no YAML, validators or ``packaging`` (the version is parsed when first read)
and its classes are :class:`~.frozen.FrozenRecord`\\ s, not dataclasses (the
measurements are in that module's docstring).
"""

from __future__ import annotations

import enum
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from .frozen import FrozenRecord
from .index import settled, shared_index, signature

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from packaging.version import Version

    from .errors import Problem
    from .schemas import Validator

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MANIFEST_FILENAME",
    "Access",
    "ActionDef",
    "ActionExample",
    "Capabilities",
    "FilesystemNeed",
    "PluginManifest",
    "PoolSettings",
    "RuntimeSettings",
    "clear_manifest_cache",
    "entry_file_problem",
    "entry_files",
    "load_manifest",
    "manifest_file",
    "manifest_problems",
    "thaw",
]

MANIFEST_FILENAME = "plugin.yaml"
DEFAULT_TIMEOUT_S = 30.0
_set = object.__setattr__


class Access(enum.StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


class FilesystemNeed(FrozenRecord):
    __slots__ = ("path", "access")
    path: str
    access: Access

    def __init__(self, path: str, access: Access = Access.READ) -> None:
        _set(self, "path", path)
        _set(self, "access", access)


class Capabilities(FrozenRecord):
    """What the plugin asks for; restricted workflows must grant each of these."""

    __slots__ = ("network", "filesystem", "env")
    network: bool
    filesystem: tuple[FilesystemNeed, ...]
    env: tuple[str, ...]

    def __init__(
        self, network: bool = False, filesystem: tuple[FilesystemNeed, ...] = (), env: tuple[str, ...] = ()
    ) -> None:
        _set(self, "network", network)
        _set(self, "filesystem", filesystem)
        _set(self, "env", env)


class PoolSettings(FrozenRecord):
    __slots__ = ("size", "idle_timeout", "recycle_after")
    size: int
    idle_timeout: float
    recycle_after: int

    def __init__(self, size: int = 1, idle_timeout: float = 60.0, recycle_after: int = 1000) -> None:
        _set(self, "size", size)
        _set(self, "idle_timeout", idle_timeout)
        _set(self, "recycle_after", recycle_after)


class RuntimeSettings(FrozenRecord):
    """How to start the plugin: exactly one of ``entrypoint`` (relative POSIX path) or ``command``."""

    __slots__ = ("entrypoint", "command", "image", "timeout", "pool")
    entrypoint: str | None
    command: tuple[str, ...] | None
    image: str
    timeout: float
    pool: PoolSettings | None

    def __init__(
        self,
        entrypoint: str | None,
        command: tuple[str, ...] | None,
        image: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        pool: PoolSettings | None = None,
    ) -> None:
        _set(self, "entrypoint", entrypoint)
        _set(self, "command", command)
        _set(self, "image", image)
        _set(self, "timeout", timeout)
        _set(self, "pool", pool)


class ActionExample(FrozenRecord):
    __slots__ = ("inputs", "outputs", "description")
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any] | None
    description: str | None

    def __init__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        _set(self, "inputs", inputs)
        _set(self, "outputs", outputs)
        _set(self, "description", description)


class ActionDef(FrozenRecord):
    """One action. ``inputs``/``outputs`` are deep-frozen JSON Schemas (``None``: any object)."""

    __slots__ = ("name", "description", "timeout", "inputs", "outputs", "examples", "secret_inputs")
    name: str
    description: str
    timeout: float | None
    inputs: Mapping[str, Any] | bool | None
    outputs: Mapping[str, Any] | bool | None
    examples: tuple[ActionExample, ...]
    secret_inputs: tuple[str, ...]

    def __init__(
        self,
        name: str,
        description: str = "",
        timeout: float | None = None,
        inputs: Mapping[str, Any] | bool | None = None,
        outputs: Mapping[str, Any] | bool | None = None,
        examples: tuple[ActionExample, ...] = (),
        secret_inputs: tuple[str, ...] = (),
    ) -> None:
        _set(self, "name", name)
        _set(self, "description", description)
        _set(self, "timeout", timeout)
        _set(self, "inputs", inputs)
        _set(self, "outputs", outputs)
        _set(self, "examples", examples)
        _set(self, "secret_inputs", secret_inputs)

    def input_validator(self) -> Validator | None:
        """The compiled inputs schema (shared across identical schemas), or None to accept any object."""
        from .schemas import compile_schema

        return None if self.inputs is None else compile_schema(thaw(self.inputs))

    def output_validator(self) -> Validator | None:
        from .schemas import compile_schema

        return None if self.outputs is None else compile_schema(thaw(self.outputs))


class PluginManifest(FrozenRecord):
    """A checked manifest. ``version`` is parsed on first read: resolving without a requirement never needs it."""

    __slots__ = (
        "namespace",
        "name",
        "_version",
        "description",
        "runtime",
        "capabilities",
        "actions",
        "plugin_dir",
        "manifest_path",
    )
    _fields = tuple(field.lstrip("_") for field in __slots__)
    namespace: str
    name: str
    _version: Version | str
    description: str
    runtime: RuntimeSettings
    capabilities: Capabilities
    actions: Mapping[str, ActionDef]
    plugin_dir: Path
    manifest_path: Path

    def __init__(
        self,
        namespace: str,
        name: str,
        version: Version | str,
        description: str,
        runtime: RuntimeSettings,
        capabilities: Capabilities,
        actions: Mapping[str, ActionDef],
        plugin_dir: Path,
        manifest_path: Path,
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "_version", version)
        _set(self, "description", description)
        _set(self, "runtime", runtime)
        _set(self, "capabilities", capabilities)
        _set(self, "actions", actions)
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "manifest_path", manifest_path)

    @property
    def version(self) -> Version:
        value = self._version
        if isinstance(value, str):
            from packaging.version import Version

            value = Version(value)
            _set(self, "_version", value)
        return value

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def entrypoint_path(self) -> Path | None:
        return None if self.runtime.entrypoint is None else self.plugin_dir / self.runtime.entrypoint

    def action(self, name: str) -> ActionDef:
        """The named action, or :class:`PluginNotFoundError` suggesting the nearest one."""
        found = self.actions.get(name)
        if found is not None:
            return found
        from .errors import PluginNotFoundError
        from .jsonschema_errors import closest

        suggestion = closest(name, self.actions)
        hint = f"did you mean {self.ref}.{suggestion}?" if suggestion else None
        known = ", ".join(sorted(self.actions))
        raise PluginNotFoundError(
            f"plugin {self.ref} {self.version} has no action {name!r} (it has: {known})",
            hint=hint or f"see {self.manifest_path}",
        )


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for JSON output or compiling) from deep-frozen manifest data."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def entry_files(runtime: Mapping[str, Any]) -> tuple[str, ...]:
    """The relative paths a manifest's validity depends on: its entrypoint, a relative command."""
    found = []
    entrypoint = runtime.get("entrypoint")
    if isinstance(entrypoint, str) and entrypoint.endswith(".py") and not os.path.isabs(entrypoint):
        found.append(entrypoint)
    command = runtime.get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        program = command[0]
        if ("/" in program or os.sep in program) and not os.path.isabs(program):
            found.append(program)
    return tuple(found)


def entry_file_problem(plugin_dir: Path, relative: str) -> tuple[str, str | None] | None:
    """Why ``relative`` is not a file inside ``plugin_dir``, as ``(message, hint)``; None when it is."""
    if Path(relative).is_absolute():
        return f"{relative!r} is an absolute path", "write a path relative to the plugin directory"
    root = plugin_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        return (
            f"{relative!r} points outside the plugin directory",
            "a plugin's files must live inside its directory (no '..', no symlinks out)",
        )
    if not target.is_file():
        return f"{relative!r} does not exist in {root}", None
    return None


def _entry_files_ok(plugin_dir: Path, files: tuple[str, ...]) -> tuple[bool, ...]:
    return tuple(_plainly_inside(plugin_dir, relative) or entry_file_problem(plugin_dir, relative) is None
                 for relative in files)


def _plainly_inside(plugin_dir: Path, relative: str) -> bool:
    """True when ``relative`` is a regular file reached without symlinks or '..' (one lstat per part)."""
    parts = relative.split("/")
    if os.sep != "/" or any(part in ("", ".", "..") for part in parts):
        return False
    current = os.fspath(plugin_dir)
    for index, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        wanted = stat.S_ISREG(mode) if index == len(parts) - 1 else stat.S_ISDIR(mode)
        if not wanted:
            return False
    return True


class _Cached:
    """A per-process cache entry: the result for ``sig``, and what must still hold to reuse it."""

    __slots__ = ("files", "files_ok", "raw", "result", "sig")

    def __init__(
        self,
        sig: tuple[int, ...],
        result: PluginManifest | list[Problem],
        raw: bytes | None,
        files: tuple[str, ...],
        files_ok: tuple[bool, ...],
    ) -> None:
        self.sig = sig
        self.result = result
        self.raw = raw  # kept only for a racily clean file, to compare byte for byte
        self.files = files
        self.files_ok = files_ok

    def still_valid(self, path: Path) -> bool:
        if self.raw is not None:
            try:
                with open(path, "rb") as stream:  # noqa: PTH123 - plain I/O on the hot path
                    if stream.read() != self.raw:
                        return False
            except OSError:
                return False
        return not self.files or _entry_files_ok(path.parent, self.files) == self.files_ok


_CACHE: dict[Path, _Cached] = {}


def clear_manifest_cache() -> None:
    """Forget this process's manifests (the on-disk index is checked against each file anyway)."""
    _CACHE.clear()


def manifest_file(plugin_dir_or_file: Path | str) -> Path:
    path = Path(plugin_dir_or_file).absolute()
    return path / MANIFEST_FILENAME if path.is_dir() else path


def load_manifest(plugin_dir_or_file: Path | str) -> PluginManifest:
    """Load and check a plugin directory's ``plugin.yaml`` (or the file itself).

    Raises :class:`ManifestError` for the first problem; its hint counts the others.
    """
    loaded = load_cached(manifest_file(plugin_dir_or_file))
    if isinstance(loaded, PluginManifest):
        return loaded
    from .errors import ManifestError

    first = loaded[0]
    hint = first.hint
    if len(loaded) > 1:
        more = f"{len(loaded) - 1} more problem{'s' if len(loaded) > 2 else ''} in this file"
        hint = f"{hint}; {more}" if hint else more
    raise ManifestError(first.message, location=first.location, hint=hint)


def manifest_problems(plugin_dir_or_file: Path | str) -> list[Problem]:
    """Every problem of a manifest, in file order (empty when it loads)."""
    loaded = load_cached(manifest_file(plugin_dir_or_file))
    return [] if isinstance(loaded, PluginManifest) else list(loaded)


def load_cached(path: Path) -> PluginManifest | list[Problem]:
    """The manifest at ``path`` (an absolute ``plugin.yaml`` path) or its problems, from the caches when valid."""
    before = time.time_ns()
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        info = None
    if info is not None:
        sig = signature(info)
        cached = _CACHE.get(path)
        if cached is not None and cached.sig == sig and cached.still_valid(path):
            return cached.result
        if stat.S_ISREG(info.st_mode):
            indexed = _from_index(path, sig)
            if indexed is not None:
                _CACHE[path] = indexed
                return indexed.result
    from .manifest_checks import check_manifest

    checked = check_manifest(path)
    if checked.info is None:
        return checked.result
    sig = signature(checked.info)
    calm = settled(checked.info, before)
    _CACHE[path] = _Cached(sig, checked.result, None if calm else checked.raw, checked.files, checked.files_ok)
    if calm and isinstance(checked.result, PluginManifest):
        identity = (checked.result.namespace, checked.result.name)
        shared_index().remember(os.fspath(path), sig, identity=identity, data=checked.data)
    return checked.result


def _from_index(path: Path, sig: tuple[int, int, int, int, int]) -> _Cached | None:
    data = shared_index().checked_data(os.fspath(path), sig)
    if data is None:
        return None
    try:
        files = entry_files(data["runtime"])
        manifest = to_model(data, plugin_dir=path.parent, manifest_path=path)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    files_ok = _entry_files_ok(path.parent, files)
    if not all(files_ok):
        return None
    return _Cached(sig, manifest, None, files, files_ok)


def to_model(data: dict[str, Any], *, plugin_dir: Path, manifest_path: Path) -> PluginManifest:
    """The model of manifest data that passed every check."""
    runtime = data["runtime"]
    pool = runtime.get("pool")
    capabilities = data.get("capabilities", {})
    actions = {name: _action_model(name, action) for name, action in data["actions"].items()}
    return PluginManifest(
        namespace=data["namespace"],
        name=data["name"],
        version=data["version"],
        description=data.get("description", ""),
        runtime=RuntimeSettings(
            entrypoint=Path(runtime["entrypoint"]).as_posix() if "entrypoint" in runtime else None,
            command=tuple(runtime["command"]) if "command" in runtime else None,
            image=runtime.get("image") or f"{data['namespace']}/{data['name']}:{data['version']}",
            timeout=float(runtime.get("timeout", DEFAULT_TIMEOUT_S)),
            pool=None
            if pool is None
            else PoolSettings(
                size=pool.get("size", 1),
                idle_timeout=float(pool.get("idle_timeout", 60.0)),
                recycle_after=pool.get("recycle_after", 1000),
            ),
        ),
        capabilities=Capabilities(
            network=bool(capabilities.get("network", False)),
            filesystem=tuple(
                FilesystemNeed(need["path"], Access(need.get("access", "read")))
                for need in capabilities.get("filesystem", ())
            ),
            env=tuple(capabilities.get("env", ())),
        ),
        actions=MappingProxyType(actions),
        plugin_dir=plugin_dir,
        manifest_path=manifest_path,
    )


def _action_model(name: str, action: dict[str, Any]) -> ActionDef:
    inputs = action.get("inputs")
    secret: tuple[str, ...] = ()
    if isinstance(inputs, dict):
        properties = inputs.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        secret = tuple(p for p, sub in properties.items() if isinstance(sub, dict) and sub.get("secret"))
    timeout = action.get("timeout")
    return ActionDef(
        name=name,
        description=action.get("description", ""),
        timeout=None if timeout is None else float(timeout),
        inputs=_freeze(inputs),
        outputs=_freeze(action.get("outputs")),
        examples=tuple(
            ActionExample(_freeze(ex["inputs"]), _freeze(ex.get("outputs")), ex.get("description"))
            for ex in action.get("examples", ())
        ),
        secret_inputs=secret,
    )
