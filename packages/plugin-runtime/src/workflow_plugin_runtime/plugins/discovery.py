"""Finding plugin directories: on ``plugins.paths`` and through pip-installed entry points.

Resolving one reference among hundreds of plugins must not parse hundreds
of manifests, yet the plugin's identity must come from its manifest, not its
folder name. :func:`scan_identity` reads only a manifest's top-level
``namespace:`` and ``name:`` lines, and only when the file's layout makes that
reading unambiguous: the top-level mapping starts at column 0, every column-0
line is a plain ``key:``, and each of the two keys appears exactly once with
a plain value. Anything else returns ``None`` and :func:`read_identities`
parses the file. A value hidden in a multi-line quoted scalar cannot fool it:
the real key would also sit at column 0, making the key appear twice.
Identities and folder listings are kept in the on-disk index (see
:mod:`.index`), so a later process re-reads only what changed. The resolver
still verifies the identity of the copy it returns by loading it.

Entry points: a distribution exposes plugin directories in the group
``workflow.plugins``; each entry point's value names an importable package
(``acme-http = "acme_http_plugin"``) whose directory holds ``plugin.yaml``.
The package is located with ``importlib.util.find_spec``, never imported, so
listing plugins runs none of their code.

This module sits on the cold resolve path: it works on path strings, and
compiles its patterns and imports the config module and the YAML loader only
when it needs them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._frozen import FrozenRecord
from .index import settled, shared_index, signature
from .manifest import MANIFEST_FILENAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterator

    from ..config import PluginsPath

__all__ = [
    "ENTRY_POINT_GROUP",
    "Candidate",
    "EntryPointProblem",
    "entry_point_locations",
    "plugin_dirs",
    "read_identities",
    "scan_identity",
    "scan_path",
]

ENTRY_POINT_GROUP = "workflow.plugins"
_SCAN_LIMIT = 1024 * 1024
_REGULAR = 0o100000
_FILE_TYPE = 0o170000
_STAT_AT = os.stat in os.supports_dir_fd and os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_set = object.__setattr__


class Candidate(FrozenRecord):
    """A directory holding ``plugin.yaml``, found at ``location``; its identity is not known yet."""

    __slots__ = ("location", "plugin_dir")
    plugin_dir: Path
    location: PluginsPath

    def __init__(self, plugin_dir: Path, location: PluginsPath) -> None:
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "location", location)

    @property
    def manifest_path(self) -> Path:
        return self.plugin_dir / MANIFEST_FILENAME


class EntryPointProblem(FrozenRecord):
    """An entry point that does not lead to a plugin directory."""

    __slots__ = ("message", "origin")
    message: str
    origin: str

    def __init__(self, message: str, origin: str) -> None:
        _set(self, "message", message)
        _set(self, "origin", origin)


def plugin_dirs(root: str, *, before_ns: int | None = None) -> list[tuple[str, str, os.stat_result]]:
    """``(plugin_dir, its plugin.yaml, that file's stat)`` at ``root``: itself if it holds one, else its children.

    Children come in name order, hidden ones skipped. This runs over hundreds
    of entries in every cold resolve, so: the folder's entry names come from
    the index while the folder's signature is unchanged (adding, removing or
    renaming an entry changes it), and are recorded when the folder was stat'ed
    after ``before_ns`` and is settled (see :func:`.index.settled`); paths are
    joined as strings; where the platform allows, each manifest is stat'ed
    relative to an open descriptor of ``root`` (a shorter path walk: about a
    third faster). Every manifest is stat'ed each time: an edit in place
    changes no folder.
    """
    base = root if root.endswith(os.sep) else root + os.sep
    own = base + MANIFEST_FILENAME
    info = _manifest_stat(own)
    if info is not None:
        return [(root, own, info)]
    tail = os.sep + MANIFEST_FILENAME
    found = []
    stat = os.stat
    index = shared_index()
    try:
        folder = stat(root)
        names = index.listing(base, folder)
        directory = os.open(root, _DIRECTORY_FLAGS) if _STAT_AT else None
    except OSError:
        return []
    try:
        if names is None:
            with os.scandir(root if directory is None else directory) as entries:
                names = tuple(sorted(entry.name for entry in entries if entry.name[0] != "."))
            if before_ns is not None and settled(folder, before_ns):
                index.remember_listing(base, folder, names=names)
        for name in names:  # files among them fail the stat below (not a directory), like missing manifests
            try:
                info = stat(base + name + tail) if directory is None else stat(name + tail, dir_fd=directory)
            except OSError:
                continue
            if info.st_mode & _FILE_TYPE == _REGULAR:
                found.append((base + name, base + name + tail, info))
    except OSError:
        return []
    finally:
        if directory is not None:
            os.close(directory)
    return found


def scan_path(location: PluginsPath) -> list[Candidate]:
    """Plugin directories at ``location``: itself if it holds plugin.yaml, else its children that do (sorted)."""
    return [Candidate(Path(found), location) for found, _, _ in plugin_dirs(os.fspath(location.path))]


def read_identities(found: list[tuple[str, str, os.stat_result]], *, before_ns: int) -> list[tuple[str, str] | None]:
    """``(namespace, name)`` of each ``(plugin_dir, manifest, stat)`` (stat'ed after ``before_ns``), or None.

    From the index while a manifest's signature is unchanged, else from its
    text (:func:`scan_identity`), else from its parsed YAML (valid
    identifiers only); what was read is recorded unless the file is too
    recent to be told apart from a later edit (see :func:`.index.settled`).
    """
    index = shared_index()
    known = index.identities(found)
    if None not in known:  # the usual case, once the index knows the folder: () marks "no identity"
        return [pair or None for pair in known]  # type: ignore[misc]  # the index holds (namespace, name) or ()
    identities: list[tuple[str, str] | None] = []
    for (_, manifest, info), pair in zip(found, known, strict=True):
        if pair is not None:
            identities.append((pair[0], pair[1]) if len(pair) == 2 else None)
            continue
        read = scan_identity(manifest) or _parsed_identity(manifest)
        if settled(info, before_ns):
            index.remember(manifest, signature(info), identity=read)
        identities.append(read)
    return identities


def scan_identity(manifest_path: Path | str) -> tuple[str, str] | None:
    """``(namespace, name)`` read from the manifest's text when unambiguous, else None (parse it)."""
    try:
        with open(manifest_path, "rb") as stream:  # noqa: PTH123 - os-level I/O keeps this loop cheap
            if os.fstat(stream.fileno()).st_size > _SCAN_LIMIT:
                return None
            text = stream.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    column_zero, indented_content, top_key, identity_line = _patterns()
    found: dict[str, str] = {}
    for index, match in enumerate(column_zero.finditer("\n" + text)):
        line = match.group(1).rstrip()
        if index == 0 and line == "---" and not indented_content.search(text, 0, match.start()):
            continue
        if (index == 0 and indented_content.search(text, 0, match.start())) or not top_key.match(line):
            return None
        if not line.startswith(("namespace:", "name:")):
            continue
        identity = identity_line.fullmatch(line)
        if identity is None or identity.group(1) in found:
            return None
        found[identity.group(1)] = identity.group(2) or identity.group(3) or identity.group(4)
    if "namespace" in found and "name" in found:
        return found["namespace"], found["name"]
    return None


_PATTERNS: tuple[re.Pattern[str], ...] = ()


def _patterns() -> tuple[re.Pattern[str], ...]:
    """Compiled on first use: a process that finds every identity in the index never needs them."""
    global _PATTERNS  # noqa: PLW0603 - compiled once per process, lazily
    if not _PATTERNS:
        import re

        _PATTERNS = (
            re.compile(r"\n([^ \t\r\n#][^\n]*)"),  # a leading literal lets re skip ahead fast
            re.compile(r"^[ \t]+[^ \t\r\n#]", re.MULTILINE),
            re.compile(r"[A-Za-z_][A-Za-z0-9_-]*:(?:[ \t]|$)"),
            re.compile(
                r"(namespace|name):[ \t]+"
                r"(?:'([a-z][a-z0-9-]*)'|\"([a-z][a-z0-9-]*)\"|([a-z][a-z0-9-]*))[ \t]*(?:#.*)?"
            ),
        )
    return _PATTERNS


def _parsed_identity(manifest_path: str) -> tuple[str, str] | None:
    from .._util.yamlfile import load_yaml_file
    from ..errors import WorkflowPluginError
    from .references import is_identifier

    try:
        data = load_yaml_file(Path(manifest_path), error=WorkflowPluginError).data
    except WorkflowPluginError:
        return None
    namespace, name = data.get("namespace"), data.get("name")
    if not (isinstance(namespace, str) and isinstance(name, str)):
        return None
    if is_identifier(namespace) and is_identifier(name):
        return namespace, name
    return None


def _manifest_stat(path: str) -> os.stat_result | None:
    try:
        info = os.stat(path)  # noqa: PTH116 - a string path: no Path object per manifest
    except (OSError, ValueError):
        return None
    return info if info.st_mode & _FILE_TYPE == _REGULAR else None


def entry_point_locations() -> tuple[list[PluginsPath], list[EntryPointProblem]]:
    """Plugin directories exposed by installed distributions, in a stable order."""
    if not _group_may_be_declared():
        return [], []
    from importlib.metadata import entry_points
    from importlib.util import find_spec

    from ..config import PathSource, PluginsPath

    locations: list[PluginsPath] = []
    problems: list[EntryPointProblem] = []
    selected = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))
    for entry in selected:
        dist = getattr(entry, "dist", None)
        origin = f"entry point {entry.name} = {entry.value}" + (f" ({dist.name} {dist.version})" if dist else "")
        module = entry.value.strip()
        if ":" in module or not module:
            problems.append(EntryPointProblem("the value must name a package, e.g. acme_http_plugin", origin))
            continue
        try:
            spec = find_spec(module)
        except (ImportError, ValueError) as exc:
            problems.append(EntryPointProblem(f"cannot locate package {module!r}: {exc}", origin))
            continue
        folder = _package_dir(spec.submodule_search_locations, spec.origin) if spec else None
        if folder is None:
            problems.append(EntryPointProblem(f"package {module!r} is not installed", origin))
        elif not (folder / MANIFEST_FILENAME).is_file():
            problems.append(EntryPointProblem(f"package {module!r} has no {MANIFEST_FILENAME} in {folder}", origin))
        else:
            locations.append(PluginsPath(folder, PathSource.ENTRY_POINT, origin))
    return locations, problems


def _group_may_be_declared() -> bool:
    """False only when no distribution on ``sys.path`` declares :data:`ENTRY_POINT_GROUP`, told without importing it.

    Importing ``importlib.metadata`` costs about 20 ms (email, zipfile, csv),
    more than listing 500 plugins from the index, and most environments
    declare no plugin. This reads what its path finder would read, the
    ``entry_points.txt`` of every ``*.dist-info`` and ``*.egg-info`` folder
    in each ``sys.path`` folder, and looks for the group's name in the
    bytes: a superset of the declarations it would parse. Whatever it could
    read differently (a zip file or an egg on ``sys.path``, another finder
    that finds distributions) answers True, and importlib.metadata decides.
    """
    import sys
    from importlib.machinery import PathFinder

    if any(
        getattr(finder, "find_distributions", None) is not None and finder is not PathFinder for finder in sys.meta_path
    ):
        return True
    group = ENTRY_POINT_GROUP.encode()
    for entry in sys.path:
        if not isinstance(entry, str) or entry.lower().endswith(".egg"):
            return True
        folder = entry or "."
        try:
            names = os.listdir(folder)  # noqa: PTH208 - names, as importlib.metadata lists them
        except FileNotFoundError:
            continue  # importlib.metadata finds nothing there either
        except OSError:
            return True  # a file (a zip?) or unreadable: let importlib.metadata look
        for name in names:
            if name.lower().endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder, name, "entry_points.txt"), "rb") as stream:  # noqa: PTH118, PTH123
                        if group in stream.read():
                            return True
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
                    continue  # what importlib.metadata skips too
                except OSError:
                    return True
    return False


def _package_dir(search_locations: Iterator[str] | list[str] | None, origin: str | None) -> Path | None:
    if search_locations:
        for location in search_locations:
            return Path(location)
    if origin and origin not in ("built-in", "frozen"):
        return Path(origin).parent
    return None
