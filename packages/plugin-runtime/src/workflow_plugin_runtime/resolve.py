"""Resolution: which copy of ``namespace/name`` a reference means, and listing every plugin.

The search order is the configured ``plugins.paths`` (see :mod:`.config`),
then plugin directories exposed by pip-installed distributions (see
:mod:`.discovery`). The first copy of a ref wins; later copies are kept as
*shadowed* for ``plugin list`` and for version requirements, where the first
copy whose version matches wins.

A broken manifest never stops other plugins from resolving: it is listed as
a problem, and its error is raised only when it is the copy a reference
selects (or when nothing else matches and its folder name does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from .config import Config, PathSource, PluginsPath
from .discovery import Candidate, EntryPointProblem, entry_point_locations, scan_identity, scan_path
from .errors import ManifestError, PluginNotFoundError, Problem, ReferenceSyntaxError
from .jsonschema_errors import closest
from .manifest import ActionDef, PluginManifest, load_manifest, manifest_problems
from .references import ActionRef, PluginRef, parse_action_ref, parse_plugin_ref

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = ["ListedPlugin", "PluginCopy", "PluginListing", "ResolvedAction", "Resolver"]


@dataclass(frozen=True, slots=True)
class PluginCopy:
    """One copy of a plugin on the search path: loaded (``manifest``) or broken (``problems``)."""

    plugin_dir: Path
    location: PluginsPath
    manifest: PluginManifest | None = None
    problems: tuple[Problem, ...] = ()
    ref: PluginRef | None = None

    @property
    def version(self) -> Version | None:
        return None if self.manifest is None else self.manifest.version

    def error(self) -> ManifestError:
        first = self.problems[0] if self.problems else Problem("the manifest could not be loaded")
        return ManifestError(first.message, location=first.location, hint=first.hint)


@dataclass(frozen=True, slots=True)
class ListedPlugin:
    """A resolved plugin and the copies it shadows, for ``workflow plugin list``."""

    manifest: PluginManifest
    location: PluginsPath
    shadowed: tuple[PluginCopy, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginListing:
    plugins: tuple[ListedPlugin, ...]
    broken: tuple[PluginCopy, ...]
    entry_point_problems: tuple[EntryPointProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolvedAction:
    manifest: PluginManifest
    action: ActionDef

    @property
    def ref(self) -> ActionRef:
        return ActionRef(self.manifest.namespace, self.manifest.name, self.action.name)


class Resolver:
    """Resolves refs over ordered search locations; reuse one instance to reuse its directory scans."""

    def __init__(self, paths: Iterable[PluginsPath | Path | str], *, entry_points: bool = True) -> None:
        self._paths = tuple(
            p if isinstance(p, PluginsPath) else PluginsPath(Path(p).absolute(), PathSource.OPTION, "given")
            for p in paths
        )
        self._use_entry_points = entry_points
        self._scanned: dict[PluginsPath, list[Candidate]] = {}
        self._identities: dict[Path, PluginRef | None] = {}
        self._entry_points: tuple[list[PluginsPath], list[EntryPointProblem]] | None = None

    @classmethod
    def from_config(cls, config: Config, *, entry_points: bool = True) -> Resolver:
        return cls(config.plugins_paths, entry_points=entry_points)

    @property
    def paths(self) -> tuple[PluginsPath, ...]:
        """The configured search locations, in order (entry points come after them)."""
        return self._paths

    def resolve(self, ref: str | PluginRef, *, specifier: SpecifierSet | str | None = None) -> PluginManifest:
        """The first loaded copy of ``ref`` (matching ``specifier`` when given)."""
        wanted = ref if isinstance(ref, PluginRef) else parse_plugin_ref(ref)
        wanted_versions = _specifier(specifier)
        rejected: list[PluginCopy] = []
        for copy in self._copies(wanted):
            if copy.manifest is None:
                raise _shadowing_error(copy)
            if wanted_versions is None or wanted_versions.contains(copy.manifest.version, prereleases=True):
                return copy.manifest
            rejected.append(copy)
        if rejected and wanted_versions is not None:
            found = "; ".join(f"{c.version} at {c.plugin_dir} ({c.location.origin})" for c in rejected)
            raise PluginNotFoundError(
                f"no copy of {wanted} matches {wanted_versions}: found {found}",
                hint="install a matching version on plugins.paths or relax the requirement",
            )
        raise self._not_found(wanted)

    def resolve_action(self, ref: str | ActionRef, *, specifier: SpecifierSet | str | None = None) -> ResolvedAction:
        """``namespace/name.action`` to its manifest and action, suggesting near misses."""
        wanted = ref if isinstance(ref, ActionRef) else parse_action_ref(ref)
        manifest = self.resolve(wanted.plugin, specifier=specifier)
        return ResolvedAction(manifest, manifest.action(wanted.action))

    def copies(self, ref: str | PluginRef) -> list[PluginCopy]:
        """Every copy of ``ref`` in search order, shadowed ones included (broken ones too)."""
        wanted = ref if isinstance(ref, PluginRef) else parse_plugin_ref(ref)
        return list(self._copies(wanted))

    def list_plugins(self) -> PluginListing:
        """Every plugin (loading every manifest once per process), its shadowed copies, and broken ones."""
        winners: dict[PluginRef, tuple[PluginCopy, list[PluginCopy]]] = {}
        broken: list[PluginCopy] = []
        for candidate in self._all_candidates():
            copy = self._load(candidate)
            if copy.manifest is None or copy.ref is None:
                broken.append(copy)
            elif copy.ref in winners:
                winners[copy.ref][1].append(copy)
            else:
                winners[copy.ref] = (copy, [])
        listed = [
            ListedPlugin(first.manifest, first.location, tuple(rest))
            for first, rest in winners.values()
            if first.manifest is not None
        ]
        listed.sort(key=lambda item: item.manifest.ref)
        problems = self._entry_point_data()[1] if self._use_entry_points else []
        return PluginListing(tuple(listed), tuple(broken), tuple(problems))

    def where_looked(self) -> list[str]:
        """Lines for "not found" messages: each location, its origin, and whether it exists."""
        lines = [f"{p.path} ({p.origin}{'' if p.path.exists() else ', missing'})" for p in self._paths]
        if self._use_entry_points:
            lines += [f"{p.path} ({p.origin})" for p in self._entry_point_data()[0]]
        return lines

    def _entry_point_data(self) -> tuple[list[PluginsPath], list[EntryPointProblem]]:
        if self._entry_points is None:
            self._entry_points = entry_point_locations()
        return self._entry_points

    def _locations(self) -> Iterator[PluginsPath]:
        yield from self._paths
        if self._use_entry_points:
            yield from self._entry_point_data()[0]

    def _all_candidates(self) -> Iterator[Candidate]:
        for location in self._locations():
            if location not in self._scanned:
                self._scanned[location] = scan_path(location)
            yield from self._scanned[location]

    def _identity(self, candidate: Candidate) -> PluginRef | None:
        if candidate.plugin_dir not in self._identities:
            scanned = scan_identity(candidate.manifest_path)
            if scanned is not None:
                self._identities[candidate.plugin_dir] = PluginRef(*scanned)
            else:
                self._identities[candidate.plugin_dir] = self._load(candidate).ref
        return self._identities[candidate.plugin_dir]

    def _load(self, candidate: Candidate) -> PluginCopy:
        try:
            manifest = load_manifest(candidate.plugin_dir)
        except ManifestError:
            problems = tuple(manifest_problems(candidate.plugin_dir))
            ref = self._identities.get(candidate.plugin_dir)
            if ref is None:
                scanned = scan_identity(candidate.manifest_path)
                ref = PluginRef(*scanned) if scanned else None
            return PluginCopy(candidate.plugin_dir, candidate.location, None, problems, ref)
        ref = PluginRef(manifest.namespace, manifest.name)
        self._identities[candidate.plugin_dir] = ref
        return PluginCopy(candidate.plugin_dir, candidate.location, manifest, (), ref)

    def _copies(self, wanted: PluginRef) -> Iterator[PluginCopy]:
        for candidate in self._all_candidates():
            if self._identity(candidate) != wanted:
                continue
            copy = self._load(candidate)
            if copy.ref == wanted:
                yield copy

    def _not_found(self, wanted: PluginRef) -> PluginNotFoundError:
        known: dict[str, PluginRef] = {}
        for candidate in self._all_candidates():
            identity = self._identity(candidate)
            if identity is not None:
                known.setdefault(str(identity), identity)
                continue
            if candidate.plugin_dir.name in (wanted.name, f"{wanted.namespace}-{wanted.name}"):
                copy = self._load(candidate)
                error = copy.error()
                return PluginNotFoundError(
                    f"plugin {wanted} not found; {candidate.manifest_path} may be it but is broken: {error.message}",
                    location=error.location,
                    hint=error.hint,
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


def _specifier(specifier: SpecifierSet | str | None) -> SpecifierSet | None:
    if specifier is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if isinstance(specifier, SpecifierSet):
        return specifier
    try:
        return SpecifierSet(specifier)
    except InvalidSpecifier as exc:
        raise ReferenceSyntaxError(
            f"{specifier!r} is not a valid version requirement",
            hint="use PEP 440 specifiers such as '>=1.2,<2'",
        ) from exc


def _shadowing_error(copy: PluginCopy) -> ManifestError:
    error = copy.error()
    hint = f"this is the first copy of {copy.ref} on plugins.paths ({copy.location.origin}); fix it or remove it"
    if error.hint:
        hint = f"{error.hint}; {hint}"
    return ManifestError(error.message, location=error.location, hint=hint)
