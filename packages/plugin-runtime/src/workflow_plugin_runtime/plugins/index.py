"""The plugin index: what a cold ``resolve`` would otherwise read, parse and check again, kept on disk.

Resolving ``acme/http`` in a new process means learning the identity
(``namespace``/``name``) of every manifest before the match on
``plugins.paths``, then loading the match: importing PyYAML, parsing,
validating. The index keeps, per manifest file, its stat signature, its
identity and, once it was checked and found valid, its plain data; per
plugins folder, its sorted entry names. A later process that finds the same
signature reuses them and imports none of that; it still stats every
manifest it passes, since an edit in place changes no folder.

Why an entry can be trusted:

* It is used only while the file's (or folder's) signature is unchanged:
  mtime, ctime, size, inode and device. Every write changes ctime (even one
  that sets mtime back); a replaced file has a new inode; adding, removing or
  renaming an entry changes its folder's mtime.
* Timestamps are coarse (a clock tick; whole seconds on some filesystems), so
  a file written twice within one tick may keep its signature. An entry whose
  change was that recent when it was stat'ed ("racily clean", as git says) is
  never written (:func:`settled`); a later process, once the tick is long
  past, records it.
* Whatever depends on other files than the manifest (the entrypoint exists,
  inside the plugin directory) is checked again at each use (see
  :mod:`.manifest_loading`).
* The key covers this package's manifest-checking code and the directories
  PyYAML, fastjsonschema and packaging are installed in (installing into one
  changes its mtime): editing or upgrading what validates manifests discards
  the index.

Like make or git, this trusts the filesystem's timestamps: on a network
filesystem that caches attributes, a change made on another machine shows
once that cache expires.

Writes go to a temporary file moved into place with ``os.replace``, so a
reader sees the old or the new index, never a torn one; concurrent writers may
drop each other's additions, which costs only speed. A corrupt or foreign file
(format, key, checksum) is ignored and rewritten; an unwritable cache directory
only costs speed. One file per Python environment and runtime installation:
``<cache dir>/plugin-index/<cache tag>-<hash of both>.bin``, safe to delete.
"""

# The index is keyed by path strings and checked in loops over hundreds of files: os.path, not pathlib.
# ruff: noqa: PTH100, PTH112, PTH116, PTH118, PTH120

from __future__ import annotations

import marshal
import os
import sys
from _thread import allocate_lock
from binascii import crc32

from .._util.cachedir import cache_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ManifestIndex", "Signature", "index_file", "settled", "shared_index", "signature"]

Signature = tuple[int, int, int, int, int]
# A manifest's checked data: marshalled bytes, or where they sit in its group's packed bytes (offset, length).
_Blob = bytes | tuple[int, int] | None
_Entry = tuple[Signature, tuple[str, ...], _Blob]
_Group = tuple[dict[str, _Entry], bytes]

_FORMAT = 2
_MAGIC = "workflow-plugin-index"
_WATCHED = (  # relative to the runtime package: the code that decides what a valid manifest is
    # Every module the manifest checks load (tests/plugins/test_index.py checks the list), and the schemas.
    "__init__.py",
    "__about__.py",
    "config.py",
    "errors.py",
    "_util/cachedir.py",
    "_util/files.py",
    "_frozen.py",
    "_util/suggestions.py",
    "_util/yaml_document.py",
    "_util/yamlfile.py",
    "schemas/__init__.py",
    "schemas/_codecache.py",
    "schemas/explanations.py",
    "schemas/local_refs.py",
    "schemas/violations.py",
    "schemas/plugin.schema.json",
    "schemas/draft-07.schema.json",
    "plugins/discovery.py",
    "plugins/entry_files.py",
    "plugins/index.py",
    "plugins/manifest.py",
    "plugins/manifest_checks.py",
    "plugins/manifest_loading.py",
    "plugins/references.py",
)
_CHECKERS = ("yaml", "fastjsonschema", "packaging")  # third-party code that decides what a valid manifest is
_COARSE_TICK_NS = 2_000_000_000  # FAT's 2 s; covers filesystems with whole-second timestamps
_FINE_TICK_NS = 100_000_000  # many clock ticks of the kernel's coarse clock (1-10 ms)


def signature(info: os.stat_result) -> Signature:
    return info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_dev


def settled(info: os.stat_result, before_ns: int) -> bool:
    """Whether any later change of the file must change its signature, so what was read may be recorded.

    ``before_ns`` is the clock read before the stat. A change after the stat
    is stamped at least one timestamp tick after ``before_ns`` minus a tick,
    so it cannot repeat a stamp older than that. mtime counts too, for
    filesystems that do not keep ctime.
    """
    changed = max(info.st_ctime_ns, info.st_mtime_ns)
    tick = _COARSE_TICK_NS if changed % 1_000_000 == 0 else _FINE_TICK_NS
    return changed + tick <= before_ns


def index_file() -> str | None:
    """This environment's index file, or None when caching is off."""
    root = cache_root()
    if root is None:
        return None
    installation = f"{sys.prefix}\0{os.path.dirname(os.path.abspath(__file__))}"
    environment = crc32(installation.encode("utf-8", "surrogateescape"))
    return os.path.join(root, "plugin-index", f"{sys.implementation.cache_tag}-{environment:08x}.bin")


class ManifestIndex:
    """One index file, read once per process; updates are written by :meth:`flush` (and at exit).

    Entries are grouped by the folder that holds the plugin folders (a
    ``plugins.paths`` entry, usually), each group marshalled on its own and
    decoded when first asked for: a resolve pays only for the folders it
    searches, however many projects the index has seen. Within a group, each
    manifest path maps to ``(signature, identity, checked data)`` and the
    folder's own path to ``(its signature, its sorted entry names, None)``.
    """

    def __init__(self, file: str | None) -> None:
        self._file = file
        self._groups: dict[str, bytes] | None = None
        self._decoded: dict[str, _Group] = {}
        self._pending: dict[str, dict[str, _Entry]] = {}
        self._lock = allocate_lock()
        self._key: tuple[object, ...] | None = None
        self._flush_at_exit = False

    @property
    def file(self) -> str | None:
        return self._file

    def identity(self, manifest: str, sig: Signature) -> tuple[str, ...] | None:
        """``(namespace, name)``; ``()`` when the file has none; None when unknown for this signature."""
        entry = self._entry(manifest, sig, _group_of(manifest))
        return None if entry is None else entry[1]

    def identities(self, found: list[tuple[str, str, os.stat_result]]) -> list[tuple[str, ...] | None]:
        """:meth:`identity` of each ``(plugin_dir, manifest, stat)`` of one folder's listing.

        A resolve asks this for hundreds of files, so it compares the stat
        fields in place instead of building signatures.
        """
        if not found:
            return []
        _, first_manifest, _ = found[0]
        get = self._entries_of(_group_of(first_manifest)).get
        known: list[tuple[str, ...] | None] = []
        try:
            for _, manifest, info in found:
                entry = get(manifest)
                if entry is not None:
                    sig = entry[0]
                    if (
                        sig[1] == info.st_ctime_ns
                        and sig[0] == info.st_mtime_ns
                        and sig[2] == info.st_size
                        and sig[3] == info.st_ino
                        and sig[4] == info.st_dev
                    ):
                        known.append(entry[1])
                        continue
                known.append(None)
        except (TypeError, IndexError):  # a malformed entry: know nothing about this folder
            return [None] * len(found)
        return known

    def checked_data(self, manifest: str, sig: Signature) -> dict[str, Any] | None:
        """The plain data of a manifest that passed every check at this signature, else None."""
        group = _group_of(manifest)
        entry = self._entry(manifest, sig, group)
        blob = None if entry is None else self._blob(group, entry[2])
        if not blob:
            return None
        try:
            data = marshal.loads(blob)  # noqa: S302 - our own cache, as trusted as a __pycache__
        except (ValueError, EOFError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    def remember(
        self, manifest: str, sig: Signature, *, identity: tuple[str, str] | None, data: dict[str, Any] | None = None
    ) -> None:
        """Record what was learnt from the file at ``sig``; call it only when :func:`settled` says so."""
        if self._file is None:
            return
        group = _group_of(manifest)
        known = self._entry(manifest, sig, group)
        blob = None if known is None else self._blob(group, known[2])
        if data is not None:
            try:
                blob = marshal.dumps(data)
            except ValueError:
                blob = None
        entry: _Entry = (sig, identity or (), blob)
        if entry != known:
            self._store(group, key=manifest, entry=entry)

    def listing(self, folder: str, info: os.stat_result) -> tuple[str, ...] | None:
        """The sorted entry names recorded for ``folder`` (ending with a separator) at its stat ``info``, or None."""
        entry = self._entries_of(folder).get(folder)
        if entry is None or entry[0] != signature(info) or type(entry[1]) is not tuple:
            return None
        return entry[1]

    def remember_listing(self, folder: str, info: os.stat_result, *, names: tuple[str, ...]) -> None:
        """Record ``folder``'s entry names, read after its stat ``info``; only when :func:`settled` says so."""
        if self._file is not None:
            self._store(folder, key=folder, entry=(signature(info), names, None))

    def _store(self, group: str, *, key: str, entry: _Entry) -> None:
        with self._lock:
            self._entries_of(group)[key] = entry
            self._pending.setdefault(group, {})[key] = entry
            register = not self._flush_at_exit
            self._flush_at_exit = True
        if register:
            import atexit

            atexit.register(self.flush)

    def flush(self) -> None:
        """Merge what this process learnt into the file on disk, dropping entries of changed or deleted files."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending or self._file is None:
            return
        groups = {group: raw for group, raw in (self.read_groups() or {}).items() if os.path.isdir(group)}
        merged: dict[str, _Group] = {}
        for group, updates in pending.items():
            entries, packed = _decode(groups.get(group))
            kept = {path: entry for path, entry in {**entries, **updates}.items() if _still_current(path, entry)}
            merged[group] = _pack(kept, packed)
            if kept:
                groups[group] = marshal.dumps(merged[group])
            else:
                groups.pop(group, None)
        self._write(groups)
        with self._lock:
            self._groups = groups
            for group, (entries, packed) in merged.items():
                self._decoded[group] = ({**entries, **self._pending.get(group, {})}, packed)

    def _entry(self, manifest: str, sig: Signature, group: str) -> _Entry | None:
        entry = self._entries_of(group).get(manifest)
        if type(entry) is not tuple or len(entry) != 3 or entry[0] != sig:
            return None
        return entry

    def _entries_of(self, group: str) -> dict[str, _Entry]:
        return self._group(group)[0]

    def _group(self, group: str) -> _Group:
        decoded = self._decoded.get(group)
        if decoded is None:
            if self._groups is None:
                self._groups = self.read_groups() or {}
            decoded = self._decoded[group] = _decode(self._groups.get(group))
        return decoded

    def _blob(self, group: str, blob: _Blob) -> bytes | None:
        if type(blob) is tuple:
            offset, length = blob
            return self._group(group)[1][offset : offset + length]
        return blob if type(blob) is bytes else None

    def read_groups(self) -> dict[str, bytes] | None:
        """The groups stored in the file now, or None when it is missing, corrupt, truncated or foreign."""
        if self._file is None:
            return None
        try:
            with open(self._file, "rb") as stream:  # noqa: PTH123 - os-level I/O keeps pathlib off this path
                magic, key, checksum, payload = marshal.loads(stream.read())  # noqa: S302 - see checked_data
            if magic != _MAGIC or key != self._current_key() or crc32(payload) != checksum:
                return None
            groups = marshal.loads(payload)  # noqa: S302 - see checked_data
        except (OSError, ValueError, EOFError, TypeError):
            return None
        return groups if isinstance(groups, dict) else None

    def _write(self, groups: dict[str, bytes]) -> None:
        assert self._file is not None
        payload = marshal.dumps(groups)
        header: Any = (_MAGIC, self._current_key(), crc32(payload), payload)
        from .._util.files import write_file_atomically  # only when something was learnt: not on a warm resolve

        try:
            write_file_atomically(self._file, marshal.dumps(header), durable=False, directory_mode=0o700)
        except OSError:
            return

    def _current_key(self) -> tuple[object, ...]:
        if self._key is None:
            package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            watched = [os.path.join(package, name) for name in _WATCHED]
            for checker in _CHECKERS:
                home = next(
                    (entry for entry in sys.path if entry and os.path.isdir(os.path.join(entry, checker))), None
                )
                if home is not None and home not in watched:
                    watched.append(home)
            self._key = (_FORMAT, tuple((path, _file_stamp(path)) for path in watched))
        return self._key


def _group_of(manifest: str) -> str:
    """The folder holding the manifest's plugin folder, with its trailing separator (a prefix of its entries)."""
    return manifest.rsplit(os.sep, 2)[0] + os.sep


def _decode(raw: bytes | None) -> _Group:
    """A group's entries, and the packed checked data they point into (sliced only when one is needed)."""
    if raw is None:
        return {}, b""
    try:
        entries, packed = marshal.loads(raw)  # noqa: S302 - see ManifestIndex.checked_data
    except (ValueError, EOFError, TypeError):
        return {}, b""
    if not (isinstance(entries, dict) and isinstance(packed, bytes)):
        return {}, b""
    return entries, packed


def _pack(entries: dict[str, _Entry], packed: bytes) -> _Group:
    """The entries again, their checked data laid end to end: a reader decodes one blob, not hundreds."""
    table: dict[str, _Entry] = {}
    parts: list[bytes] = []
    offset = 0
    for path, (sig, identity, where) in entries.items():
        blob = packed[where[0] : where[0] + where[1]] if isinstance(where, tuple) else where
        if blob:
            parts.append(blob)
            table[path] = (sig, identity, (offset, len(blob)))
            offset += len(blob)
        else:
            table[path] = (sig, identity, None)
    return table, b"".join(parts)


def _file_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _still_current(path: object, entry: object) -> bool:
    if not (isinstance(path, str) and type(entry) is tuple and len(entry) == 3):
        return False
    try:
        return bool(signature(os.stat(path)) == entry[0])
    except (OSError, ValueError):
        return False


_SHARED: ManifestIndex | None = None


def shared_index() -> ManifestIndex:
    """The process-wide index of this environment (its file is chosen at first use)."""
    global _SHARED  # noqa: PLW0603 - one index per process, created on first use
    if _SHARED is None:
        _SHARED = ManifestIndex(index_file())
    return _SHARED
