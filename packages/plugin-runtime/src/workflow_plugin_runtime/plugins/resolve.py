"""Resolution: which copy of ``namespace/name`` a reference means, and listing every plugin.

The search order is the configured ``plugins.paths`` (see :mod:`..config`),
then plugin directories exposed by pip-installed distributions (see
:mod:`.discovery`). The first copy of a ref wins; later copies are kept as
*shadowed* for ``plugin list`` and for version requirements, where the first
copy whose version matches wins.

A broken manifest never stops other plugins from resolving: it is listed as
a problem, and its error is raised only when it is the copy a reference
selects (or when nothing else matches and its folder name does).

A cold resolve (a new process) should cost little more than starting the
interpreter, so the success path reads identities and the chosen manifest
from the on-disk plugin index (:mod:`.index`), works on path strings, and
imports the config module, the error classes and ``packaging`` only when it
needs them: to build a :class:`~..config.PluginsPath`, to fail, or to match a
version requirement.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._frozen import FrozenRecord
from .discovery import EntryPointProblem, entry_point_locations, plugin_dirs, read_identities
from .index import shared_index
from .manifest import ActionDef, PluginManifest
from .manifest_loading import load_cached
from .references import ActionRef, PluginRef, parse_action_ref, parse_plugin_ref, parse_specifier

TYPE_CHECKING = False
if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from ..config import Config, PluginsPath
    from ..errors import ManifestError, PluginNotFoundError, Problem

__all__ = ["ListedPlugin", "PluginCopy", "PluginListing", "ResolvedAction", "Resolver"]

_set = object.__setattr__
_Loaded = PluginManifest | list["Problem"]


class PluginCopy(FrozenRecord):
    """One copy of a plugin on the search path: loaded (``manifest``) or broken (``problems``)."""

    __slots__ = ("location", "manifest", "plugin_dir", "problems", "ref")
    plugin_dir: Path
    location: PluginsPath
    manifest: PluginManifest | None
    problems: tuple[Problem, ...]
    ref: PluginRef | None

    def __init__(
        self,
        plugin_dir: Path,
        location: PluginsPath,
        manifest: PluginManifest | None = None,
        problems: tuple[Problem, ...] = (),
        ref: PluginRef | None = None,
    ) -> None:
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "location", location)
        _set(self, "manifest", manifest)
        _set(self, "problems", problems)
        _set(self, "ref", ref)

    @property
    def version(self) -> Version | None:
        return None if self.manifest is None else self.manifest.version

    def error(self) -> ManifestError:
        from ..errors import ManifestError, Problem

        first = self.problems[0] if self.problems else Problem("the manifest could not be loaded")
        return ManifestError(first.message, location=first.location, hint=first.hint, problems=self.problems)


class ListedPlugin(FrozenRecord):
    """A resolved plugin and the copies it shadows, for ``workflow plugin list``."""

    __slots__ = ("location", "manifest", "shadowed")
    manifest: PluginManifest
    location: PluginsPath
    shadowed: tuple[PluginCopy, ...]

    def __init__(self, manifest: PluginManifest, location: PluginsPath, shadowed: tuple[PluginCopy, ...] = ()) -> None:
        _set(self, "manifest", manifest)
        _set(self, "location", location)
        _set(self, "shadowed", shadowed)


class PluginListing(FrozenRecord):
    __slots__ = ("broken", "entry_point_problems", "plugins")
    plugins: tuple[ListedPlugin, ...]
    broken: tuple[PluginCopy, ...]
    entry_point_problems: tuple[EntryPointProblem, ...]

    def __init__(
        self,
        plugins: tuple[ListedPlugin, ...],
        broken: tuple[PluginCopy, ...],
        entry_point_problems: tuple[EntryPointProblem, ...] = (),
    ) -> None:
        _set(self, "plugins", plugins)
        _set(self, "broken", broken)
        _set(self, "entry_point_problems", entry_point_problems)


class ResolvedAction(FrozenRecord):
    __slots__ = ("action", "manifest")
    manifest: PluginManifest
    action: ActionDef

    def __init__(self, manifest: PluginManifest, action: ActionDef) -> None:
        _set(self, "manifest", manifest)
        _set(self, "action", action)

    @property
    def ref(self) -> ActionRef:
        return ActionRef(self.manifest.namespace, self.manifest.name, self.action.name)


class _Found(FrozenRecord):
    """A plugin directory found on the search path: where in the search order, and its ``plugin.yaml``.

    ``position`` is its location's in the search order, ``place`` its own in
    that location's listing.
    """

    __slots__ = ("manifest", "place", "plugin_dir", "position")
    position: int
    place: int
    plugin_dir: str
    manifest: str

    def __init__(self, position: int, place: int, plugin_dir: str, manifest: str) -> None:
        _set(self, "position", position)
        _set(self, "place", place)
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "manifest", manifest)


class _Listing:
    """One location's plugin directories in search order, and their identities once asked for."""

    __slots__ = ("_before_ns", "_identities", "found")

    def __init__(self, root: str) -> None:
        self._before_ns = time.time_ns()  # before the stats: the index's racy-entry rule needs it
        self.found = plugin_dirs(root, before_ns=self._before_ns)
        self._identities: list[tuple[str, str] | None] | None = None

    def identities(self) -> list[tuple[str, str] | None]:
        if self._identities is None:
            self._identities = read_identities(self.found, before_ns=self._before_ns)
        return self._identities


class Resolver:
    """Resolves refs over ordered search locations; reuse one instance to reuse its directory scans."""

    def __init__(self, paths: Iterable[PluginsPath | Path | str], *, entry_points: bool = True) -> None:
        given = tuple(paths)
        self._given = given
        self._roots = tuple(
            os.fspath(Path(p if isinstance(p, str | os.PathLike) else p.path).absolute()) for p in given
        )
        self._paths: tuple[PluginsPath, ...] | None = None
        if not any(isinstance(p, str | os.PathLike) for p in given):
            self._paths = given  # type: ignore[assignment]  # only PluginsPath left
        self._use_entry_points = entry_points
        self._listings: dict[int, _Listing] = {}
        self._entry_points: tuple[list[PluginsPath], list[EntryPointProblem]] | None = None

    @classmethod
    def from_config(cls, config: Config, *, entry_points: bool = True) -> Resolver:
        return cls(config.plugins_paths, entry_points=entry_points)

    @property
    def paths(self) -> tuple[PluginsPath, ...]:
        """The configured search locations, in order (entry points come after them)."""
        if self._paths is None:
            from ..config import PathSource, PluginsPath

            self._paths = tuple(
                PluginsPath(Path(root), PathSource.OPTION, "given") if isinstance(p, str | os.PathLike) else p
                for p, root in zip(self._given, self._roots, strict=True)
            )
        return self._paths

    def resolve(self, ref: str | PluginRef, *, specifier: SpecifierSet | str | None = None) -> PluginManifest:
        """The first loaded copy of ``ref`` (matching ``specifier`` when given)."""
        wanted = ref if isinstance(ref, PluginRef) else parse_plugin_ref(ref)
        wanted_versions = parse_specifier(specifier)
        rejected: list[tuple[_Found, PluginManifest]] = []
        try:
            for found, loaded in self._matches(wanted):
                if not isinstance(loaded, PluginManifest):
                    raise _shadowing_error(self._copy(found, loaded, ref=wanted))
                if wanted_versions is None or wanted_versions.contains(loaded.version, prereleases=True):
                    return loaded
                rejected.append((found, loaded))
            if rejected and wanted_versions is not None:
                from ..errors import PluginNotFoundError

                listed = "; ".join(
                    f"{m.version} at {f.plugin_dir} ({self._location(f.position).origin})" for f, m in rejected
                )
                raise PluginNotFoundError(
                    f"no copy of {wanted} matches {wanted_versions}: found {listed}",
                    hint="install a matching version on plugins.paths or relax the requirement",
                )
            raise self._not_found(wanted)
        finally:
            shared_index().flush()

    def resolve_action(self, ref: str | ActionRef, *, specifier: SpecifierSet | str | None = None) -> ResolvedAction:
        """``namespace/name.action`` to its manifest and action, suggesting near misses."""
        wanted = ref if isinstance(ref, ActionRef) else parse_action_ref(ref)
        manifest = self.resolve(wanted.plugin, specifier=specifier)
        return ResolvedAction(manifest, manifest.action(wanted.action))

    def copies(self, ref: str | PluginRef) -> list[PluginCopy]:
        """Every copy of ``ref`` in search order, shadowed ones included (broken ones too)."""
        wanted = ref if isinstance(ref, PluginRef) else parse_plugin_ref(ref)
        try:
            return [self._copy(found, loaded, ref=wanted) for found, loaded in self._matches(wanted)]
        finally:
            shared_index().flush()

    def list_plugins(self) -> PluginListing:
        """Every plugin, its shadowed copies, and broken ones (manifests come from the caches when unchanged)."""
        copies: dict[PluginRef, list[PluginCopy]] = {}  # per ref in search order: the first wins, the rest are shadowed
        broken: list[PluginCopy] = []
        listed_before = set(self._listings)  # a folder first listed by this call: its stats are this call's too
        try:
            for found in self._candidates():
                loaded = self._load(found, just_listed=found.position not in listed_before)
                ref = PluginRef(loaded.namespace, loaded.name) if isinstance(loaded, PluginManifest) else None
                copy = self._copy(found, loaded, ref=ref or self._identity(found))
                if copy.manifest is None or copy.ref is None:
                    broken.append(copy)
                else:
                    copies.setdefault(copy.ref, []).append(copy)
        finally:
            shared_index().flush()
        listed = [
            ListedPlugin(first.manifest, first.location, tuple(rest))
            for first, *rest in copies.values()
            if first.manifest is not None
        ]
        listed.sort(key=lambda item: item.manifest.ref)
        problems = self._entry_point_problems() if self._use_entry_points else []
        return PluginListing(tuple(listed), tuple(broken), tuple(problems))

    def where_looked(self) -> list[str]:
        """Lines for "not found" messages: each location, its origin, and whether it exists."""
        lines = [f"{p.path} ({p.origin}{'' if p.path.exists() else ', missing'})" for p in self.paths]
        if self._use_entry_points:
            lines += [f"{p.path} ({p.origin})" for p in self._entry_point_locations()]
        return lines

    def _entry_point_locations(self) -> list[PluginsPath]:
        locations, _ = self._entry_point_scan()
        return locations

    def _entry_point_problems(self) -> list[EntryPointProblem]:
        _, problems = self._entry_point_scan()
        return problems

    def _entry_point_scan(self) -> tuple[list[PluginsPath], list[EntryPointProblem]]:
        if self._entry_points is None:
            self._entry_points = entry_point_locations()
        return self._entry_points

    def _location(self, position: int) -> PluginsPath:
        configured = self.paths
        if position < len(configured):
            return configured[position]
        return self._entry_point_locations()[position - len(configured)]

    def _roots_in_order(self) -> Iterator[str]:
        yield from self._roots
        if self._use_entry_points:
            for location in self._entry_point_locations():
                yield os.fspath(location.path)

    def _listings_in_order(self) -> Iterator[tuple[int, _Listing]]:
        for position, root in enumerate(self._roots_in_order()):
            listing = self._listings.get(position)
            if listing is None:
                listing = self._listings[position] = _Listing(root)
            yield position, listing

    def _candidates(self) -> Iterator[_Found]:
        for position, listing in self._listings_in_order():
            for place, (plugin_dir, manifest, _) in enumerate(listing.found):
                yield _Found(position, place, plugin_dir, manifest)

    def _identity(self, found: _Found) -> PluginRef | None:
        pair = self._listings[found.position].identities()[found.place]
        return None if pair is None else PluginRef(*pair)

    def _load(self, found: _Found, *, just_listed: bool = False) -> _Loaded:
        """The copy loaded; ``just_listed``: its listing (and stat of its manifest) was made by this very call.

        A listing stats every manifest, and loading one stats it again: a
        listing of 500 reuses the first stat. A listing this resolver made in
        an earlier call is older, so its copies are stat'ed again.
        """
        info = self._listings[found.position].found[found.place][2] if just_listed else None
        return load_cached(Path(found.manifest), info=info)

    def _copy(self, found: _Found, loaded: _Loaded, *, ref: PluginRef | None) -> PluginCopy:
        location = self._location(found.position)
        if isinstance(loaded, PluginManifest):
            return PluginCopy(loaded.plugin_dir, location, loaded, (), ref)
        return PluginCopy(Path(found.plugin_dir), location, None, tuple(loaded), ref)

    def _matches(self, wanted: PluginRef) -> Iterator[tuple[_Found, _Loaded]]:
        """Each copy whose identity is ``wanted``, loaded, in search order (its loaded identity checked too)."""
        pair = (wanted.namespace, wanted.name)
        for position, listing in self._listings_in_order():
            identities = listing.identities()
            place = -1
            while pair in identities[place + 1 :]:  # list.index finds it at C speed; no loop over 500 in Python
                place = identities.index(pair, place + 1)
                plugin_dir, manifest, _ = listing.found[place]
                found = _Found(position, place, plugin_dir, manifest)
                loaded = self._load(found)
                if not isinstance(loaded, PluginManifest) or (loaded.namespace, loaded.name) == pair:
                    yield found, loaded

    def _not_found(self, wanted: PluginRef) -> PluginNotFoundError:
        from .._util.suggestions import closest
        from ..errors import PluginNotFoundError, hint_counting_the_rest

        known: dict[str, PluginRef] = {}
        for found in self._candidates():
            identity = self._identity(found)
            if identity is not None:
                known.setdefault(str(identity), identity)
                continue
            if Path(found.plugin_dir).name in (wanted.name, f"{wanted.namespace}-{wanted.name}"):
                loaded = self._load(found)
                if isinstance(loaded, PluginManifest):
                    continue
                error = self._copy(found, loaded, ref=None).error()
                return PluginNotFoundError(
                    f"plugin {wanted} not found; {found.manifest} may be it but is broken: {error.message}",
                    location=error.location,
                    hint=hint_counting_the_rest(  # the first is quoted here; say where to see them all
                        error.problems,
                        file="that file",
                        listed_by=f"`workflow plugin inspect {found.plugin_dir}` lists every one",
                    ),
                )
        suggestion = closest(str(wanted), known)
        same_name = [r for r in known.values() if r.name == wanted.name]
        looked = "; ".join(self.where_looked()) or "no plugins paths are configured"
        if suggestion:
            hint = f"did you mean {suggestion}? looked in: {looked}"
        elif same_name:
            hint = f"did you mean {same_name[0]}? looked in: {looked}"
        else:
            hint = f"looked in: {looked}"
        return PluginNotFoundError(f"plugin {wanted} not found", hint=hint)


def _shadowing_error(copy: PluginCopy) -> ManifestError:
    from ..errors import ManifestError, Problem

    error = copy.error()
    hint = f"this is the first copy of {copy.ref} on plugins.paths ({copy.location.origin}); fix it or remove it"
    if error.hint:
        hint = f"{error.hint}; {hint}"
    first = Problem(error.message, error.location, hint)
    return ManifestError(error.message, location=error.location, hint=hint, problems=[first, *error.problems[1:]])
