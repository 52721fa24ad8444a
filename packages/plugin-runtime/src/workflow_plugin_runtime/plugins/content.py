"""A plugin directory's content: one digest per file and a hash of them all, cached by stat signature.

What counts: every file below the plugin directory, by its relative path
(``/``-separated, so the hash is the same on every machine), its kind and
bytes. A regular file is ``file sha256:<hex>``, or ``exec sha256:<hex>``
when its owner may execute it (the mode bit, not ``os.access``, which
depends on who asks); a symbolic link is ``link <target>`` and is never
followed (a link to a folder is one entry, as ``copytree(symlinks=True)``
copies it). Modification times and the order a folder lists its entries in
do not count, so the hash survives a checkout, a copy or a move.

What does not count (:func:`ignored_name`): caches and VCS data
(``__pycache__``, ``.git``, ``.venv``...), bytecode, editor droppings (``*~``,
``.*.swp``, ``.*.swo``, ``.DS_Store``, ``#*#``) and lock files
(``*.lock.json``). A generated Docker build context copies with
:func:`ignored_in_plugin`, so an image's built-from label covers exactly these
files.

Hashing reads every file once; afterwards a file whose stat signature
(device, inode, size, mtime, ctime, mode) is unchanged keeps its digest from
the cache file under the cache directory (one JSON file per plugin
directory), so a 1,000-file plugin costs about as many ``lstat`` calls. A
file changed within a clock tick of the walk is not cached (see
:func:`.index.settled`): a later change could repeat its signature. A file
that changes while it is read is not cached either.

On the cold resolve path's rules (no ``typing``, ``dataclasses``): ``provenance``
and the lock check import it on every run.
"""

# os-level calls on path strings: thousands of files, no Path object per entry.
# ruff: noqa: PTH115, PTH118, PTH123

from __future__ import annotations

import json
import os
import stat
import time
from binascii import crc32

from .._frozen import FrozenRecord
from .._util.cachedir import cache_root
from .._util.files import write_file_atomically
from .index import settled

__all__ = [
    "IGNORED_DIRS",
    "IGNORED_NAMES",
    "IGNORED_SUFFIXES",
    "PluginContent",
    "content_cache_file",
    "ignored_in_plugin",
    "ignored_name",
    "plugin_content",
]

IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
"""Folders that are never part of a plugin: caches, VCS data and local virtualenvs."""
IGNORED_SUFFIXES = (".pyc", ".pyo", "~", ".lock.json")
"""Files that are never part of a plugin: bytecode, editor backups, lock files."""
IGNORED_NAMES = frozenset({".DS_Store"})
"""Files that are never part of a plugin, by whole name."""

_CACHE_FORMAT = 2
_CHUNK = 1 << 20


class PluginContent(FrozenRecord):
    """A plugin directory's content hash and the per-file entries it was computed from.

    ``files`` maps each relative path to its entry (``file sha256:...``,
    ``exec sha256:...`` or ``link <target>``), in path order.
    """

    __slots__ = ("digest", "files")
    digest: str
    files: dict[str, str]

    def __init__(self, digest: str, files: dict[str, str]) -> None:
        object.__setattr__(self, "digest", digest)
        object.__setattr__(self, "files", files)


def ignored_name(name: str, *, is_dir: bool) -> bool:
    """Whether an entry called ``name`` (a real folder when ``is_dir``) is left out of a plugin."""
    if is_dir:
        return name in IGNORED_DIRS
    if name.endswith(IGNORED_SUFFIXES) or name in IGNORED_NAMES:
        return True
    if name.startswith(".") and name.endswith((".swp", ".swo")):
        return True
    return len(name) > 1 and name.startswith("#") and name.endswith("#")


def ignored_in_plugin(folder: str | os.PathLike[str], names: list[str]) -> set[str]:
    """The entries of ``folder`` that are not part of the plugin (the ``ignore`` callable of ``shutil.copytree``)."""
    ignored = set()
    for name in names:
        info = os.lstat(os.path.join(folder, name))
        if ignored_name(name, is_dir=stat.S_ISDIR(info.st_mode)):
            ignored.add(name)
    return ignored


def content_cache_file(plugin_dir: str | os.PathLike[str]) -> str | None:
    """Where the per-file digests of ``plugin_dir`` are cached; None when caching is off."""
    root = cache_root()
    if root is None:
        return None
    encoded = os.fsencode(os.path.realpath(plugin_dir))  # the file names its folder: a shared name never mixes two
    return os.path.join(root, "plugin-content", f"{crc32(encoded):08x}{len(encoded):04x}.json")


def plugin_content(plugin_dir: str | os.PathLike[str]) -> PluginContent:
    """The content of ``plugin_dir`` (see the module docstring), reusing cached digests of unchanged files."""
    root = os.path.realpath(plugin_dir)
    cache_file = content_cache_file(root)
    cached, cached_digest = _read_cache(cache_file, root)
    before_ns = time.time_ns()  # before any stat: the settled rule needs it
    files: dict[str, str] = {}
    kept: dict[str, list[object]] = {}
    for relative, path, info in sorted(_walk(root)):  # code point order: the same on every machine and locale
        sig = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode]
        old = cached.get(relative)
        if old is not None and old[:-1] == sig:
            files[relative] = str(old[-1])
            kept[relative] = old
            continue
        entry, stable = _entry(path, info)
        files[relative] = entry
        if stable and settled(info, before_ns):
            kept[relative] = [*sig, entry]
    if kept == cached and len(kept) == len(files) and cached_digest is not None:
        return PluginContent(cached_digest, files)  # every entry as cached: so is the hash of them all
    digest = _content_digest(files)
    complete = len(kept) == len(files)  # the hash is kept only with every entry it was computed from
    if cache_file is not None and (kept != cached or (complete and digest != cached_digest)):
        _write_cache(cache_file, root, kept, digest=digest if complete else None)
    return PluginContent(digest, files)


def _content_digest(files: dict[str, str]) -> str:
    import hashlib  # OpenSSL: 4 ms of a command whose plugins are unchanged and cached, which never needs it

    digest = hashlib.sha256()
    for relative, entry in files.items():
        for part in (os.fsencode(relative), entry.encode()):
            digest.update(len(part).to_bytes(4, "big") + part)
    return f"sha256:{digest.hexdigest()}"


def _walk(root: str, prefix: str = "") -> list[tuple[str, str, os.stat_result]]:
    found = []
    with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            if ignored_name(entry.name, is_dir=stat.S_ISDIR(info.st_mode)):
                continue
            relative = f"{prefix}/{entry.name}" if prefix else entry.name
            if stat.S_ISDIR(info.st_mode):
                found += _walk(root, relative)
            else:
                found.append((relative, entry.path, info))
    return found


def _entry(path: str, info: os.stat_result) -> tuple[str, bool]:
    """The entry for the file at ``path`` and whether it was read unchanged (so it may be cached)."""
    if stat.S_ISLNK(info.st_mode):
        return f"link {os.readlink(path)}", True
    if not stat.S_ISREG(info.st_mode):
        return "special", True  # a FIFO or socket: its kind is all there is to say, and reading it may block
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
        after = os.fstat(stream.fileno())
    kind = "exec" if info.st_mode & stat.S_IXUSR else "file"
    unchanged = (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )
    return f"{kind} sha256:{digest.hexdigest()}", unchanged


def _read_cache(cache_file: str | None, root: str) -> tuple[dict[str, list[object]], str | None]:
    """The cached entries of ``root``'s files, and the content hash when it was computed from exactly those."""
    if cache_file is None:
        return {}, None
    try:
        with open(cache_file, "rb") as stream:
            data = json.loads(stream.read())
    except (OSError, ValueError):
        return {}, None
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or data.get("root") != root:
        return {}, None
    files = data.get("files")
    if not isinstance(files, dict):
        return {}, None
    entries = {name: entry for name, entry in files.items() if isinstance(entry, list) and len(entry) == 7}
    digest = data.get("digest")
    return entries, digest if isinstance(digest, str) and len(entries) == len(files) else None


def _write_cache(cache_file: str, root: str, files: dict[str, list[object]], *, digest: str | None) -> None:
    record = {"format": _CACHE_FORMAT, "root": root, "files": files, "digest": digest}
    text = json.dumps(record, separators=(",", ":"))
    try:
        write_file_atomically(cache_file, text.encode(), durable=False)
    except OSError:  # best-effort, like every cache: an unwritable cache directory costs only speed
        return
