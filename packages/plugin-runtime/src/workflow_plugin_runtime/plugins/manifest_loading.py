"""Loading manifests: :func:`load_manifest` raises the first problem, :func:`manifest_problems` returns them all.

A manifest is checked in two passes (see :mod:`.manifest_checks`): the shipped
JSON Schema checks its shape, then what a schema cannot say (the version
parses, the entrypoint is a file inside the plugin directory, the actions'
schemas compile and their examples fit).

Loading goes through two caches, because one-shot commands load manifests in many short processes:

* Per process, keyed by the file's stat signature: the same object comes back
  until the file changes. A file changed within the last clock tick (see
  :func:`.index.settled`) is also compared byte for byte at each use.
* Across processes, in the on-disk plugin index (:mod:`.index`): a manifest
  that passed every check is kept as plain data and rebuilt without PyYAML,
  the validators or the checks (:mod:`.manifest_checks`, imported on a miss).

Either way the checked data becomes the model through :func:`to_model`.

Both re-check, at each use, the one thing that depends on files other than
the manifest: that the entrypoint (or a relative command) is still a file
inside the plugin directory. That costs one ``lstat`` per path part when no
symlink or ``..`` is involved, and a full ``realpath`` otherwise.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from .entry_files import FileProblem, entry_files, entry_files_state
from .index import settled, shared_index, signature
from .manifest import (
    DEFAULT_TIMEOUT_S,
    MANIFEST_FILENAME,
    Access,
    ActionDef,
    ActionExample,
    Capabilities,
    FilesystemNeed,
    PluginManifest,
    RuntimeSettings,
    StartMode,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from ..config import PoolSettings
    from ..errors import Problem

__all__ = ["clear", "load_cached", "load_manifest", "manifest_file", "manifest_problems", "to_model"]


def load_cached(path: Path, *, info: os.stat_result | None = None) -> PluginManifest | list[Problem]:
    """The manifest at ``path`` (an absolute ``plugin.yaml`` path) or its problems, from the caches when valid.

    ``info``: the file's stat, when the caller has just made one (a listing).
    """
    before = time.time_ns()
    if info is None:
        try:
            info = os.stat(path)  # noqa: PTH116 - a stat_result, for the signature
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
    result: PluginManifest | list[Problem] = checked.problems
    if checked.data is not None:
        result = to_model(checked.data, plugin_dir=path.parent, manifest_path=path)
    if checked.info is None:
        return result
    sig = signature(checked.info)
    calm = settled(checked.info, before)
    _CACHE[path] = _Cached(sig, result, None if calm else checked.raw, checked.files, checked.files_state)
    if calm and isinstance(result, PluginManifest):
        shared_index().remember(os.fspath(path), sig, identity=(result.namespace, result.name), data=checked.data)
    return result


def manifest_file(plugin_dir_or_file: Path | str) -> Path:
    path = Path(plugin_dir_or_file).absolute()
    return path / MANIFEST_FILENAME if path.is_dir() else path


def load_manifest(plugin_dir_or_file: Path | str) -> PluginManifest:
    """Load and check a plugin directory's ``plugin.yaml`` (or the file itself).

    Raises :class:`ManifestError` for the first problem (its hint counts the
    others) carrying every problem, so a command can list them all at once.
    """
    loaded = load_cached(manifest_file(plugin_dir_or_file))
    if isinstance(loaded, PluginManifest):
        return loaded
    from ..errors import ManifestError, hint_counting_the_rest

    first = loaded[0]
    raise ManifestError(first.message, location=first.location, hint=hint_counting_the_rest(loaded), problems=loaded)


def manifest_problems(plugin_dir_or_file: Path | str) -> list[Problem]:
    """Every problem of a manifest, in file order (empty when it loads)."""
    loaded = load_cached(manifest_file(plugin_dir_or_file))
    return [] if isinstance(loaded, PluginManifest) else list(loaded)


def _from_index(path: Path, sig: tuple[int, int, int, int, int]) -> _Cached | None:
    data = shared_index().checked_data(os.fspath(path), sig)
    if data is None:
        return None
    plugin_dir = path.parent
    try:
        files = entry_files(data["runtime"])
        manifest = to_model(data, plugin_dir=plugin_dir, manifest_path=path)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    files_state = entry_files_state(plugin_dir, files)
    if any(files_state):
        return None
    return _Cached(sig, manifest, None, files, files_state)


class _Cached:
    """A per-process cache entry: the result for ``sig``, and what must still hold to reuse it."""

    __slots__ = ("files", "files_state", "raw", "result", "sig")

    def __init__(
        self,
        sig: tuple[int, ...],
        result: PluginManifest | list[Problem],
        raw: bytes | None,
        files: tuple[str, ...],
        files_state: tuple[FileProblem | None, ...],
    ) -> None:
        self.sig = sig
        self.result = result
        self.raw = raw  # kept only for a racily clean file, to compare byte for byte
        self.files = files
        self.files_state = files_state

    def still_valid(self, path: Path) -> bool:
        if self.raw is not None:
            try:
                with open(path, "rb") as stream:  # noqa: PTH123 - plain I/O on the hot path
                    if stream.read() != self.raw:
                        return False
            except OSError:
                return False
        return not self.files or entry_files_state(path.parent, self.files) == self.files_state


_CACHE: dict[Path, _Cached] = {}


def clear() -> None:
    """Forget this process's manifests (the on-disk index is checked against each file anyway)."""
    _CACHE.clear()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def to_model(data: dict[str, Any], *, plugin_dir: Path, manifest_path: Path) -> PluginManifest:
    """The model of manifest data that passed every check."""
    runtime = data["runtime"]
    pool = runtime.get("pool")
    capabilities = data.get("capabilities", {})
    actions = data["actions"]
    if not isinstance(actions, dict):
        raise TypeError(actions)
    return PluginManifest(
        namespace=data["namespace"],
        name=data["name"],
        version=data["version"],
        description=data.get("description", ""),
        runtime=RuntimeSettings(
            entrypoint=_posix(runtime["entrypoint"]) if "entrypoint" in runtime else None,
            command=tuple(runtime["command"]) if "command" in runtime else None,
            image=runtime.get("image") or f"{data['namespace']}/{data['name']}:{data['version']}",
            timeout=float(runtime.get("timeout", DEFAULT_TIMEOUT_S)),
            pool=None if pool is None else _pool_settings(pool),
            serve=runtime.get("serve"),
            start=StartMode(runtime.get("start", StartMode.COLD)),
        ),
        capabilities=Capabilities(
            network=bool(capabilities.get("network", False)),
            filesystem=tuple(
                FilesystemNeed(need["path"], Access(need.get("access", "read")))
                for need in capabilities.get("filesystem", ())
            ),
            env=tuple(capabilities.get("env", ())),
        ),
        actions=_Actions(actions),
        plugin_dir=plugin_dir,
        manifest_path=manifest_path,
    )


class _Actions(Mapping[str, ActionDef]):
    """A manifest's actions, each modelled (its schemas deep-frozen) when first read.

    ``plugin list`` loads hundreds of manifests and reads only their action
    names: modelling every action up front was half of each manifest's load
    from the index. The data is the manifest's own checked data, owned by
    this model (parsed or unmarshalled for it); read-only like the
    ``MappingProxyType`` it replaces.
    """

    __slots__ = ("_data", "_models")

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self._models: dict[str, ActionDef] = {}

    def __getitem__(self, name: str) -> ActionDef:
        model = self._models.get(name)
        if model is None:  # setdefault: threads reading at once all get the first model stored
            model = self._models.setdefault(name, _action_model(name, self._data[name]))
        return model

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


def _posix(relative: str) -> str:
    """``Path(relative).as_posix()``, without building a Path when there is nothing to normalise."""
    if all(part and part != "." for part in relative.split("/")):
        return relative
    return Path(relative).as_posix()


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


def _pool_settings(section: Mapping[str, Any]) -> PoolSettings | None:
    # Imported here: only a manifest with ``runtime.pool`` needs the config module, which a cold resolve skips.
    from ..config import pool_settings

    return pool_settings(section)
