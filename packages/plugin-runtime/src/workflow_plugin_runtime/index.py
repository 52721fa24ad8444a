"""The plugin index: what a cold ``resolve`` would otherwise read, parse and check again, kept on disk.

Resolving ``acme/http`` in a new process means learning the identity
(``namespace``/``name``) of every manifest before the match on
``plugins.paths``, then loading the match: importing PyYAML, parsing,
validating. The index keeps, per manifest file, its stat signature, its
identity and, once it was checked and found valid, its plain data; a later
process that finds the same signature reuses them and imports none of that.

Why an entry can be trusted:

* It is used only while the file's signature is unchanged: mtime, ctime,
  size, inode and device. Every write changes ctime (even one that sets mtime
  back); a replaced file has a new inode.
* Timestamps are coarse (a clock tick; whole seconds on some filesystems), so
  a file written twice within one tick may keep its signature. An entry whose
  ctime was that recent when it was stat'ed ("racily clean", as git says) is
  never written; a later process, once the tick is long past, records it.
* Whatever depends on other files than the manifest (the entrypoint exists,
  inside the plugin directory) is checked again at each use (see
  :mod:`.manifest_cache`).
* The key covers this package's manifest-checking code and the directories
  PyYAML, fastjsonschema and packaging are installed in (installing into one
  changes its mtime): editing or upgrading what validates manifests discards
  the index.
* The directory listings are not cached: a ``scandir`` of 500 entries costs
  about 0.25 ms and can never be stale.

Writes go to a temporary file moved into place with ``os.replace``, so a
reader sees the old or the new index, never a torn one; concurrent writers may
drop each other's additions, which costs only speed. A corrupt or foreign file
(format, key, checksum) is ignored and rewritten; an unwritable cache directory
only costs speed. One file per Python environment and runtime installation:
``<cache dir>/plugin-index/<cache tag>-<hash of both>.bin``, safe to delete.
"""

# The index is keyed by path strings and checked in loops over hundreds of files: os.path, not pathlib.
# ruff: noqa: PTH100, PTH103, PTH105, PTH108, PTH112, PTH116, PTH118, PTH120

from __future__ import annotations

import marshal
import os
import sys
import zlib
from _thread import allocate_lock

from .cachedir import cache_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ManifestIndex", "Signature", "index_file", "settled", "shared_index", "signature"]

Signature = tuple[int, int, int, int, int]
_Entry = tuple[Signature, tuple[str, ...], bytes | None]

_FORMAT = 1
_MAGIC = "workflow-plugin-index"
_WATCHED = (
    "manifest.py",
    "manifest_checks.py",
    "index.py",
    "discovery.py",
    "yamlfile.py",
    "jsonschema_errors.py",
    "schemas/__init__.py",
    "schemas/_codecache.py",
    "schemas/plugin.schema.json",
    "schemas/draft-07.schema.json",
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
    environment = zlib.crc32(installation.encode("utf-8", "surrogateescape"))
    return os.path.join(root, "plugin-index", f"{sys.implementation.cache_tag}-{environment:08x}.bin")


class ManifestIndex:
    """One index file, read once per process; updates are written by :meth:`flush` (and at exit)."""

    def __init__(self, file: str | None) -> None:
        self._file = file
        self._entries: dict[str, _Entry] | None = None
        self._pending: dict[str, _Entry] = {}
        self._lock = allocate_lock()
        self._key: tuple[object, ...] | None = None
        self._flush_at_exit = False

    @property
    def file(self) -> str | None:
        return self._file

    def identity(self, manifest: str, sig: Signature) -> tuple[str, ...] | None:
        """``(namespace, name)``; ``()`` when the file has none; None when unknown for this signature."""
        return self.identities([(manifest, sig)])[0]

    def identities(self, files: list[tuple[str, Signature]]) -> list[tuple[str, ...] | None]:
        """:meth:`identity` of many files at once: resolving reads hundreds."""
        entries = self._loaded()
        found: list[tuple[str, ...] | None] = []
        for manifest, sig in files:
            entry = entries.get(manifest)
            if type(entry) is tuple and len(entry) == 3 and entry[0] == sig and type(entry[1]) is tuple:
                found.append(entry[1])
            else:
                found.append(None)
        return found

    def checked_data(self, manifest: str, sig: Signature) -> dict[str, Any] | None:
        """The plain data of a manifest that passed every check at this signature, else None."""
        entry = self._entry(manifest, sig)
        if entry is None or entry[2] is None:
            return None
        try:
            data = marshal.loads(entry[2])  # noqa: S302 - our own cache, as trusted as a __pycache__
        except (ValueError, EOFError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    def remember(
        self, manifest: str, sig: Signature, *, identity: tuple[str, str] | None, data: dict[str, Any] | None = None
    ) -> None:
        """Record what was learnt from the file at ``sig``; call it only when :func:`settled` says so."""
        if self._file is None:
            return
        known = self._entry(manifest, sig)
        blob = known[2] if known is not None else None
        if data is not None:
            try:
                blob = marshal.dumps(data)
            except ValueError:
                blob = None
        entry: _Entry = (sig, identity or (), blob)
        if entry == known:
            return
        with self._lock:
            self._loaded()[manifest] = entry
            self._pending[manifest] = entry
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
        merged = self._read() or {}
        merged.update(pending)
        merged = {path: entry for path, entry in merged.items() if _still_current(path, entry)}
        self._write(merged)
        with self._lock:
            merged.update(self._pending)
            self._entries = merged

    def _entry(self, manifest: str, sig: Signature) -> _Entry | None:
        entry = self._loaded().get(manifest)
        if type(entry) is not tuple or len(entry) != 3 or entry[0] != sig:
            return None
        return entry

    def _loaded(self) -> dict[str, _Entry]:
        if self._entries is None:
            self._entries = self._read() or {}
        return self._entries

    def _read(self) -> dict[str, _Entry] | None:
        if self._file is None:
            return None
        try:
            with open(self._file, "rb") as stream:  # noqa: PTH123 - os-level I/O keeps pathlib off this path
                magic, key, checksum, payload = marshal.loads(stream.read())  # noqa: S302 - see checked_data
            if magic != _MAGIC or key != self._current_key() or zlib.crc32(payload) != checksum:
                return None
            entries = marshal.loads(payload)  # noqa: S302 - see checked_data
        except (OSError, ValueError, EOFError, TypeError):
            return None
        return entries if isinstance(entries, dict) else None

    def _write(self, entries: dict[str, _Entry]) -> None:
        assert self._file is not None
        payload = marshal.dumps(entries)
        header: Any = (_MAGIC, self._current_key(), zlib.crc32(payload), payload)
        content = marshal.dumps(header)
        temporary = f"{self._file}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
        try:
            os.makedirs(os.path.dirname(self._file), mode=0o700, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as stream:
                    stream.write(content)
                os.replace(temporary, self._file)
            except OSError:
                os.unlink(temporary)
                raise
        except OSError:
            return

    def _current_key(self) -> tuple[object, ...]:
        if self._key is None:
            package = os.path.dirname(os.path.abspath(__file__))
            watched = [os.path.join(package, name) for name in _WATCHED]
            for checker in _CHECKERS:
                home = next(
                    (entry for entry in sys.path if entry and os.path.isdir(os.path.join(entry, checker))), None
                )
                if home is not None and home not in watched:
                    watched.append(home)
            self._key = (_FORMAT, tuple((path, _file_stamp(path)) for path in watched))
        return self._key


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
