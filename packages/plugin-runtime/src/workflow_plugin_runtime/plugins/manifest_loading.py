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

Both re-check, at each use, the one thing that depends on files other than
the manifest: that the entrypoint (or a relative command) is still a file
inside the plugin directory. That costs one ``lstat`` per path part when no
symlink or ``..`` is involved, and a full ``realpath`` otherwise.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from .entry_files import FileProblem, entry_files, entry_files_state
from .index import settled, shared_index, signature
from .manifest import MANIFEST_FILENAME, PluginManifest, to_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..errors import Problem

__all__ = ["clear", "load_cached", "load_manifest", "manifest_file", "manifest_problems"]


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
    if checked.info is None:
        return checked.result
    sig = signature(checked.info)
    calm = settled(checked.info, before)
    _CACHE[path] = _Cached(sig, checked.result, None if calm else checked.raw, checked.files, checked.files_state)
    if calm and isinstance(checked.result, PluginManifest):
        identity = (checked.result.namespace, checked.result.name)
        shared_index().remember(os.fspath(path), sig, identity=identity, data=checked.data)
    return checked.result


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
