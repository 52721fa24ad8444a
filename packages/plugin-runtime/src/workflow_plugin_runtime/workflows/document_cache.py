"""A workflow file's parsed YAML kept on disk: a later command on the unchanged file imports no YAML parser.

Importing PyYAML costs ``validate`` about 17 ms (its reader and resolver
compile regular expressions at import), more than all of validate's own
work, and ``validate``, ``run`` and ``lock`` of one workflow read the same
file again and again. So once a file has loaded without a problem, its
document (the plain data and the position of every value and key) is kept,
marshalled, in ``<cache dir>/workflow-documents/``, one file per workflow
path, and a later process that finds the same file uses it instead.

An entry is trusted by the plugin index's rule (:mod:`..plugins.index`):
only while the file's signature (mtime, ctime, size, inode, device) is the
one recorded, and it is recorded only once that signature is settled (a
change within a timestamp tick could otherwise keep it). Its key also
covers the loader's code and PyYAML's installation, so editing or
upgrading either discards every entry. A file with problems (a duplicate
key, invalid YAML) is never kept: each load reports them afresh. The cache
is best-effort like the others (:mod:`.._util.cachedir`): unreadable or
foreign entries are ignored, an unwritable directory costs only speed,
``WORKFLOW_CACHE_DIR=""`` turns it off.
"""

# Entries are named by path strings and checked on every command: os.path, not pathlib.
# ruff: noqa: PTH100, PTH112, PTH116, PTH118, PTH120

from __future__ import annotations

import marshal
import os
import sys
import time
from collections.abc import Mapping

from .._util.cachedir import cache_root
from .._util.yaml_document import FieldPath, Position, YamlDocument
from ..errors import WorkflowFileError
from ..plugins.index import settled, signature

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

__all__ = ["load_workflow_document"]

_FORMAT = 1
_FOLDER = "workflow-documents"
_LOADER = ("_util/yamlfile.py", "_util/yaml_document.py", "_util/files.py", "workflows/document_cache.py")
"""The code that decides what a file's document is, relative to the runtime package."""
_key: tuple[object, ...] | None = None


def load_workflow_document(path: Path) -> YamlDocument:
    """``path``'s document, as :func:`~.._util.yamlfile.load_yaml_file` loads it (duplicate keys kept going).

    Raises :class:`WorkflowFileError` as that function does.
    """
    text = os.fspath(path)
    before_ns = time.time_ns()  # before the stat: the settled rule needs it
    try:
        info = os.stat(text)
    except OSError:
        info = None  # the loader says what is wrong with it
    entry = _entry_file(text)
    if entry is not None and info is not None:
        cached = _read(entry, text, signature(info), file=path)
        if cached is not None:
            return cached
    from .._util.yamlfile import load_yaml_file  # PyYAML: only for a file not seen unchanged before

    document = load_yaml_file(path, error=WorkflowFileError, keep_going=True)
    if entry is not None and info is not None and not document.problems and settled(info, before_ns):
        _write(entry, text, signature(info), document)
    return document


def _entry_file(path: str) -> str | None:
    root = cache_root()
    if root is None:
        return None
    from binascii import crc32

    encoded = path.encode("utf-8", "surrogateescape")
    return os.path.join(root, _FOLDER, f"{crc32(encoded):08x}{len(encoded):04x}.bin")  # the path is in the entry


def _read(entry: str, path: str, sig: tuple[int, ...], *, file: Path) -> YamlDocument | None:
    try:
        with open(entry, "rb") as stream:  # noqa: PTH123 - os-level I/O, as the index reads its file
            loaded = marshal.loads(stream.read())  # noqa: S302 - our own cache, as trusted as a __pycache__
        key, stored_path, stored_sig, data, values, keys = loaded
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if key != _current_key() or stored_path != path or stored_sig != sig:
        return None
    if not (isinstance(data, dict) and isinstance(values, dict) and isinstance(keys, dict)):
        return None
    return YamlDocument(data, file, _StoredPositions(values), _StoredPositions(keys))


class _StoredPositions(Mapping[FieldPath, Position]):
    """Positions as an entry keeps them, ``(line, column)`` by field path, each made a Position when asked.

    A check asks for a few of them (a 2,000-task file has some 8,000), and
    making them all costs more than reading the entry.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: dict[FieldPath, tuple[int, int]]) -> None:
        self._pairs = pairs

    def __getitem__(self, path: FieldPath) -> Position:
        return Position(*self._pairs[path])

    def get(self, path: FieldPath, default: Any = None) -> Any:
        pair = self._pairs.get(path)
        return default if pair is None else Position(*pair)

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


def _write(entry: str, path: str, sig: tuple[int, ...], document: YamlDocument) -> None:
    values = {where: (at.line, at.column) for where, at in document.values.items()}
    keys = {where: (at.line, at.column) for where, at in document.keys.items()}
    record: Any = (_current_key(), path, sig, document.data, values, keys)
    try:
        payload = marshal.dumps(record)
    except ValueError:  # pragma: no cover - the loader makes plain JSON-like data only
        return
    from .._util.files import write_file_atomically

    try:
        write_file_atomically(entry, payload, durable=False, directory_mode=0o700)
    except OSError:
        return


def _current_key() -> tuple[object, ...]:
    """The format, the interpreter, and the stamps of the loader's code and of PyYAML's installation."""
    global _key  # noqa: PLW0603 - computed once per process
    if _key is None:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        watched = [os.path.join(package, name) for name in _LOADER]
        pyyaml = next(
            (os.path.join(entry, "yaml") for entry in sys.path if entry and os.path.isdir(os.path.join(entry, "yaml"))),
            None,
        )
        if pyyaml is not None:
            watched.append(pyyaml)
        stamps: list[tuple[str, tuple[int, int, int] | None]] = []
        for name in watched:
            try:
                info = os.stat(name)
            except OSError:
                stamps.append((name, None))
            else:
                stamps.append((name, (info.st_mtime_ns, info.st_size, info.st_ino)))
        _key = (_FORMAT, sys.implementation.cache_tag, tuple(stamps))
    return _key
