"""Shared by the ``workflow plugin`` commands: finding a plugin by ref or path, the project's configuration.

Typer is not imported here (the entry point runs ``plugin list`` and
``plugin inspect`` without it); the runtime is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workflow_plugin_runtime import Config, PluginManifest, Resolver

GIVEN_PATH = "given path"


class FoundPlugin(NamedTuple):
    """A plugin named on the command line, and where it was found (a plugins path's origin, or the path given).

    A named tuple, not a dataclass: ``plugin list`` and ``plugin inspect``
    import this module, and their runtime code needs no ``dataclasses``.
    """

    manifest: PluginManifest
    source: str


def project_config(plugins_paths: Sequence[Path] | None, *, workflow: Path | None = None) -> Config:
    """The configuration with ``--plugins-path`` first: the project's, the user's, ``WORKFLOW_PLUGINS_PATH``.

    The project is looked up from ``workflow``'s folder when one is given, as
    ``run`` and ``validate`` of that file look it up, else from the working directory.
    """
    from workflow_plugin_runtime import load_config

    start = None if workflow is None else workflow.absolute().parent
    return load_config(start=start, plugins_paths=tuple(plugins_paths or ()))


def make_resolver(plugins_paths: Sequence[Path] | None, *, workflow: Path | None = None) -> Resolver:
    """The resolver over ``--plugins-path``, ``WORKFLOW_PLUGINS_PATH``, the configs and the defaults (see above)."""
    from workflow_plugin_runtime import Resolver

    return Resolver.from_config(project_config(plugins_paths, workflow=workflow))


def names_a_directory(target: str) -> bool:
    """Whether a REF_OR_PATH argument means a folder: it looks like a path, or such a folder exists.

    ``acme/http`` is both a valid ref and a relative path; an existing folder
    wins, and ``./acme/http`` always means the folder.
    """
    if target.startswith((".", "/", "~")) or target.endswith("plugin.yaml"):
        return True
    return Path(target).is_dir()


def find_plugin(target: str, plugins_paths: Sequence[Path] | None, *, workflow: Path | None = None) -> FoundPlugin:
    """Load the plugin a command names: a plugin directory path, or ``namespace/name`` resolved on the paths.

    With ``workflow``, the project is looked up from that file's folder (see :func:`make_resolver`).
    """
    from workflow_plugin_runtime import ReferenceSyntaxError, load_manifest, parse_plugin_ref

    if names_a_directory(target):
        return FoundPlugin(load_manifest(Path(target).expanduser()), GIVEN_PATH)
    try:
        ref = parse_plugin_ref(target)
    except ReferenceSyntaxError as exc:
        hint = f"{exc.hint}; or give the plugin's directory, e.g. ./{target}" if exc.hint else None
        raise ReferenceSyntaxError(exc.message, location=exc.location, hint=hint) from exc
    resolver = make_resolver(plugins_paths, workflow=workflow)
    manifest = resolver.resolve(ref)
    source = next(
        (copy.location.origin for copy in resolver.copies(ref) if copy.manifest is manifest),
        str(manifest.plugin_dir.parent),
    )
    return FoundPlugin(manifest, source)


def emit_json(text: str) -> None:
    """Write the one JSON document of a ``--json`` run to stdout."""
    from ..terminal import echo_json

    echo_json(text)
