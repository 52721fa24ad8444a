"""Lock files: the plugin code a workflow's author reviewed, and refusing any other before a run starts.

``release.yaml``'s lock is ``release.lock.json`` next to it. It holds, for
each plugin the workflow uses, its ref, version, source, content hash and
per-file entries (:mod:`..plugins.content`); for a plugin installed from a
distribution (an entry point) the distribution's name and version too; and
when the workflow runs its plugins on Docker here, the image id and the hash
the image was built from. The text is stable (sorted keys, two-space indent,
a trailing newline), so a lock diffs well in review.

Drift (:func:`check_lock`) is a plugin whose version, distribution, files or
image differ from its entry, a plugin the workflow uses that has no entry,
and an entry for a plugin the workflow no longer uses (a lock that names code
no longer run no longer describes the workflow). The source path alone is
not drift: the same files at another path are the same code.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._frozen import FrozenRecord
from ..config import RuntimeKind
from ..errors import ManifestError, Problem, SourceLocation, WorkflowFileError
from ..plugins.content import PluginContent, plugin_content
from ..plugins.manifest import PluginManifest
from ..workflows.checks import WorkflowCheck

if TYPE_CHECKING:  # the runtimes are imported where images are locked: checking a trusted workflow needs none
    from ..runtimes.docker.image import ImageIdentity

__all__ = [
    "LOCK_FORMAT",
    "DriftKind",
    "LockCheck",
    "LockedPlugin",
    "PluginDrift",
    "check_lock",
    "lock_path_for",
    "lock_text",
    "locked_plugins",
    "read_lock",
    "write_lock",
]

LOCK_FORMAT = 1
_SUFFIX = ".lock.json"
_MAX_LOCK_BYTES = 64 * 1024 * 1024
_set = object.__setattr__


def lock_path_for(workflow_file: Path) -> Path:
    """``release.yaml`` -> ``release.lock.json``, in the same folder."""
    return workflow_file.with_name(workflow_file.stem + _SUFFIX)


class LockedPlugin(FrozenRecord):
    """One plugin's lock entry; ``distribution`` is ``(name, version)`` for an installed plugin.

    This module's classes are :class:`~.._frozen.FrozenRecord`
    subclasses, not dataclasses: each dataclass costs ``validate`` 0.7 ms to make.
    """

    __slots__ = ("content_hash", "distribution", "files", "image", "ref", "source", "version")
    ref: str
    version: str
    source: str
    content_hash: str
    files: Mapping[str, str]
    distribution: tuple[str, str] | None
    image: ImageIdentity | None

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        ref: str,
        version: str,
        source: str,
        content_hash: str,
        files: Mapping[str, str],
        distribution: tuple[str, str] | None = None,
        image: ImageIdentity | None = None,
    ) -> None:
        _set(self, "ref", ref)
        _set(self, "version", version)
        _set(self, "source", source)
        _set(self, "content_hash", content_hash)
        _set(self, "files", files)
        _set(self, "distribution", distribution)
        _set(self, "image", image)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "version": self.version,
            "source": self.source,
            "content_hash": self.content_hash,
            "files": dict(self.files),
        }
        if self.distribution is not None:
            record["distribution"] = {"name": self.distribution[0], "version": self.distribution[1]}
        if self.image is not None:
            record["image"] = self.image.to_record()
        return record


class DriftKind(enum.StrEnum):
    CHANGED = "changed"  # version, distribution, files or image differ from the entry
    MISSING = "missing"  # the workflow uses the plugin; the lock has no entry
    UNUSED = "unused"  # the lock has an entry; the workflow no longer uses the plugin


class PluginDrift(FrozenRecord):
    """How one plugin differs from its lock entry; each pair is ``(locked, now)``."""

    __slots__ = ("added", "changed", "distribution", "image", "kind", "ref", "removed", "version")
    ref: str
    kind: DriftKind
    version: tuple[str, str] | None
    distribution: tuple[str, str] | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    image: tuple[str | None, str | None] | None

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        ref: str,
        kind: DriftKind,
        version: tuple[str, str] | None = None,
        distribution: tuple[str, str] | None = None,
        added: tuple[str, ...] = (),
        removed: tuple[str, ...] = (),
        changed: tuple[str, ...] = (),
        image: tuple[str | None, str | None] | None = None,
    ) -> None:
        _set(self, "ref", ref)
        _set(self, "kind", kind)
        _set(self, "version", version)
        _set(self, "distribution", distribution)
        _set(self, "added", added)
        _set(self, "removed", removed)
        _set(self, "changed", changed)
        _set(self, "image", image)

    def lines(self) -> list[str]:
        """The report, one change a line."""
        if self.kind is DriftKind.MISSING:
            return ["used by the workflow but not in the lock"]
        if self.kind is DriftKind.UNUSED:
            return ["in the lock but no longer used by the workflow"]
        lines = []
        if self.version is not None:
            lines.append(f"version {self.version[0]} -> {self.version[1]}")
        if self.distribution is not None:
            lines.append(f"distribution {self.distribution[0]} -> {self.distribution[1]}")
        for label, paths in (("added", self.added), ("removed", self.removed), ("changed", self.changed)):
            lines += [f"{label}: {path}" for path in paths]
        if self.image is not None:
            lines.append(f"image {self.image[0] or '(none)'} -> {self.image[1] or '(none)'}")
        return lines or ["content hash differs"]

    def to_record(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "kind": self.kind.value,
            "version": list(self.version) if self.version is not None else None,
            "distribution": list(self.distribution) if self.distribution is not None else None,
            "files": {"added": list(self.added), "removed": list(self.removed), "changed": list(self.changed)},
            "image": list(self.image) if self.image is not None else None,
        }


class LockCheck(FrozenRecord):
    """A workflow's plugins against its lock: what drifted, and each used plugin's content hash if it matched.

    ``plugins`` maps each used plugin's ref to the content hash it matched
    its entry with, or None when it drifted.
    """

    __slots__ = ("drift", "path", "plugins")
    path: Path
    drift: tuple[PluginDrift, ...]
    plugins: Mapping[str, str | None]

    def __init__(
        self, path: Path, drift: tuple[PluginDrift, ...] = (), plugins: Mapping[str, str | None] | None = None
    ) -> None:
        _set(self, "path", path)
        _set(self, "drift", drift)
        _set(self, "plugins", {} if plugins is None else plugins)

    @property
    def matched(self) -> bool:
        return not self.drift

    def problems(self) -> list[Problem]:
        """One error per drifted plugin, located at the lock, with the report and what to do."""
        return [
            Problem(
                "\n  ".join([f"plugin {drift.ref} does not match the lock:", *drift.lines()]),
                SourceLocation(self.path),
                f"review the change, then accept it with `workflow lock {_workflow_hint(self.path)}`;"
                " `workflow run --no-lock` runs anyway",
            )
            for drift in self.drift
        ]

    def to_record(self, *, skipped: bool) -> dict[str, Any]:
        """The run record's ``lock`` block; ``skipped`` when ``--no-lock`` let the run go ahead unchecked.

        ``plugins`` is for each task's provenance (``lock_matched``: the task
        ran the very content that matched), not shown in the block.
        """
        return {"path": str(self.path), "matched": self.matched, "skipped": skipped, "plugins": dict(self.plugins)}


def locked_plugins(
    check: WorkflowCheck, *, runtime: RuntimeKind | None, project_root: Path | None, refuse_images: bool = True
) -> dict[str, LockedPlugin]:
    """What the lock records for each plugin the checked workflow uses, as it is here now, by ref.

    ``runtime`` is where the workflow's plugins run here: on Docker, each
    image's id and built-from hash are included; with ``refuse_images`` an
    image the run would refuse (missing, unlabelled, stale) raises
    :class:`RuntimeUnavailableError` saying how to build it, as a lock must
    not name code that cannot run.
    ``project_root`` bounds the sources written relative to the workflow's folder.
    """
    workflow = check.workflow
    assert workflow is not None, "a workflow that loaded"
    manifests = {str(resolved.manifest.ref): resolved.manifest for resolved in check.actions.values()}
    from ..plugins.provenance import plugin_distribution, plugin_source  # not for a workflow without a lock

    if runtime is RuntimeKind.DOCKER:  # the runtimes are imported where images are locked, not for a trusted lock
        from ..runtimes.docker.image_checks import locked_images, refuse_unusable_image

        images = locked_images(manifests.values())
    else:
        images = {}
    entries = {}
    for ref, manifest in sorted(manifests.items()):
        content = _content(manifest)
        entries[ref] = LockedPlugin(
            ref=ref,
            version=manifest.version_text,
            source=plugin_source(manifest.plugin_dir, workflow.directory, project_root=project_root),
            content_hash=content.digest,
            files=content.files,
            distribution=plugin_distribution(manifest.plugin_dir),
            image=images.get(manifest.runtime.image),
        )
    if runtime is RuntimeKind.DOCKER and refuse_images:
        for entry in entries.values():
            refuse_unusable_image(entry.image, manifest=manifests[entry.ref], content_hash=entry.content_hash)
    return entries


def lock_text(plugins: Mapping[str, LockedPlugin]) -> str:
    """The lock file's text: sorted keys, two-space indent, a trailing newline."""
    document = {"format": LOCK_FORMAT, "plugins": {ref: entry.to_record() for ref, entry in plugins.items()}}
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_lock(path: Path, plugins: Mapping[str, LockedPlugin]) -> None:
    from .._util.files import write_file_atomically

    write_file_atomically(path, lock_text(plugins).encode("utf-8", "surrogateescape"), durable=True)


def read_lock(path: Path) -> dict[str, LockedPlugin]:
    """The entries of the lock at ``path``; :class:`WorkflowFileError` (one message, with a fix) when malformed."""
    from .._util.files import read_capped_file

    raw = read_capped_file(path, error=WorkflowFileError, limit=_MAX_LOCK_BYTES, what="lock file")
    try:
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("format") != LOCK_FORMAT:
            raise _Malformed(f'an object with "format": {LOCK_FORMAT} and "plugins"')
        plugins = document.get("plugins")
        if not isinstance(plugins, dict):
            raise _Malformed('"plugins": an object of plugin entries by ref')
        return {str(ref): _entry(str(ref), data) for ref, data in plugins.items()}
    except (ValueError, _Malformed) as exc:
        expected = exc.args[0] if isinstance(exc, _Malformed) else f"JSON ({exc})"
        raise WorkflowFileError(
            f"the lock file is malformed: expected {expected}",
            location=SourceLocation(path),
            hint=f"write it again with `workflow lock {_workflow_hint(path)}`",
        ) from None


def check_lock(
    check: WorkflowCheck, *, runtime: RuntimeKind | None, project_root: Path | None, path: Path | None = None
) -> LockCheck | None:
    """The checked workflow's plugins against its lock (``path``, else next to the workflow); None with no lock."""
    workflow = check.workflow
    assert workflow is not None, "a workflow that loaded"
    path = path if path is not None else lock_path_for(workflow.path)
    if not path.exists():
        return None
    locked = read_lock(path)
    docker = runtime is RuntimeKind.DOCKER and any(entry.image is not None for entry in locked.values())
    now = locked_plugins(
        check, runtime=RuntimeKind.DOCKER if docker else None, project_root=project_root, refuse_images=False
    )
    drift = [_drift(locked.get(ref), entry) for ref, entry in now.items()]
    drift += [PluginDrift(ref, DriftKind.UNUSED) for ref in sorted(locked.keys() - now.keys())]
    found = tuple(item for item in drift if item is not None)
    drifted = {item.ref for item in found}
    return LockCheck(path, found, {ref: None if ref in drifted else entry.content_hash for ref, entry in now.items()})


class _Malformed(Exception):
    pass


def _locked_image(image: Any) -> ImageIdentity:
    from ..runtimes.docker.image import ImageIdentity

    return ImageIdentity(str(image["tag"]), str(image["id"]), image.get("built_from"))


def _workflow_hint(lock: Path) -> str:
    stem = lock.name.removesuffix(_SUFFIX)
    candidates = [lock.with_name(stem + suffix) for suffix in (".yaml", ".yml")]
    return str(next((candidate for candidate in candidates if candidate.exists()), candidates[0]))


def _entry(ref: str, data: object) -> LockedPlugin:
    if not isinstance(data, dict):
        raise _Malformed(f"plugins.{ref}: an object")
    strings = {name: data.get(name) for name in ("version", "source", "content_hash")}
    files = data.get("files")
    if not all(isinstance(value, str) for value in strings.values()):
        raise _Malformed(f"plugins.{ref}: version, source and content_hash as strings")
    if not isinstance(files, dict) or not all(isinstance(value, str) for value in files.values()):
        raise _Malformed(f"plugins.{ref}.files: an object of file entries")
    distribution = data.get("distribution")
    image = data.get("image")
    try:
        return LockedPlugin(
            ref=ref,
            files=files,
            distribution=(str(distribution["name"]), str(distribution["version"])) if distribution else None,
            image=_locked_image(image) if image else None,
            **strings,  # type: ignore[arg-type]  # checked to be strings above
        )
    except (KeyError, TypeError, AttributeError):
        raise _Malformed(f"plugins.{ref}: distribution {{name, version}} and image {{tag, id, built_from}}") from None


def _drift(locked: LockedPlugin | None, now: LockedPlugin) -> PluginDrift | None:
    if locked is None:
        return PluginDrift(now.ref, DriftKind.MISSING)
    old, new = locked.files, now.files
    changes = PluginDrift(
        now.ref,
        DriftKind.CHANGED,
        version=(locked.version, now.version) if locked.version != now.version else None,
        distribution=_pair(locked.distribution, now.distribution),
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(sorted(name for name in old.keys() & new.keys() if old[name] != new[name])),
        image=_image_pair(locked.image, now.image),
    )
    unchanged = changes == PluginDrift(now.ref, DriftKind.CHANGED)
    return None if unchanged and locked.content_hash == now.content_hash else changes


def _pair(locked: tuple[str, str] | None, now: tuple[str, str] | None) -> tuple[str, str] | None:
    if locked == now:
        return None
    return (" ".join(locked) if locked else "(none)", " ".join(now) if now else "(none)")


def _image_pair(locked: ImageIdentity | None, now: ImageIdentity | None) -> tuple[str | None, str | None] | None:
    if locked is None:
        return None  # the lock was written where the plugins do not run on Docker: nothing to compare
    if now is not None and (now.id, now.built_from) == (locked.id, locked.built_from):
        return None
    return (locked.id, now.id if now is not None else None)


def _content(manifest: PluginManifest) -> PluginContent:
    try:
        return plugin_content(manifest.plugin_dir)
    except OSError as exc:  # an unreadable file: the plugin's content cannot be known, so it cannot be locked
        where = Path(exc.filename) if exc.filename else manifest.plugin_dir
        raise ManifestError(
            f"plugin {manifest.ref}: {where} cannot be read ({exc.strerror or exc}), so its content cannot be hashed",
            location=SourceLocation(where),
            hint="make every file of the plugin folder readable, or move what is not the plugin's out of it",
        ) from None
