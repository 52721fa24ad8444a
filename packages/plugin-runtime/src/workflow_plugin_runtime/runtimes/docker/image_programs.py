"""Whether a generated image can start its plugin: the program it starts with, against the default base.

A generated Dockerfile copies the plugin onto a base image and sets its
``CMD``; nothing in the build runs that command. A plugin whose ``command``
is ``[node, index.js]`` on the default Python base therefore builds fine and
then fails every call with exit 127. So before building on the default base
image, the program the plugin starts with is compared with what that image
is known to hold, and a plugin that needs anything else is refused with the
two ways out: its own Dockerfile, or ``--base-image``.

Known, not probed: the default base is a Debian image with Python (the real
``python:3.11-slim``, or the one ``.ci/setup-isolation.sh`` imports under that
name), and :data:`DEFAULT_BASE_PROGRAMS` lists what both have on ``PATH``.
Asking the image instead (``command -v`` in a container) would cost a
container per build and needs a shell in the image. A base chosen with
``--base-image`` is the author's statement of what the plugin needs, so it
is trusted; if it lacks the program anyway, the Docker runtime reports the
first call as ``runtime_unavailable`` (exit 127 in the container).

The program is found the way the kernel and ``env`` would: a bare name is
looked up on ``PATH``; ``env NAME`` starts ``NAME``; a file of the plugin
(``./run.sh``) starts the interpreter named on its ``#!`` line. A file with no ``#!`` line is a binary: it brings
itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ...errors import ImageBuildError, SourceLocation
from ...plugins.manifest import PluginManifest

__all__ = ["DEFAULT_BASE_PROGRAMS", "check_default_base_starts", "starting_program"]

DEFAULT_BASE_PROGRAMS = frozenset({"python", "python3", "python3.11", "sh", "bash", "dash", "perl"})
"""Interpreters on ``PATH`` in the default base image (both its forms), by name."""
_SYSTEM_DIRS = ("/bin", "/usr/bin")
"""Where the default base has them as absolute paths (``/bin`` is a link to ``/usr/bin``): ``/bin/sh`` works."""
_ENV_PROGRAMS = frozenset({"env", "/usr/bin/env", "/bin/env"})
_PLUGIN_DIR_IN_IMAGE = PurePosixPath("/plugin")


def starting_program(manifest: PluginManifest) -> str | None:
    """The interpreter or program the image must provide to start the plugin; None when the plugin brings it.

    An ``entrypoint`` (always a ``.py`` file) starts ``python3``; a program
    inside the plugin directory starts what its ``#!`` line names (None for
    a binary).
    """
    if manifest.runtime.command is None:
        return "python3"
    return _program_of(list(manifest.runtime.command), manifest.plugin_dir)


def check_default_base_starts(manifest: PluginManifest, base_image: str) -> None:
    """Raise :class:`ImageBuildError` when ``base_image`` (the default base) lacks the plugin's program."""
    program = starting_program(manifest)
    if program is None or _in_default_base(program):
        return
    name = PurePosixPath(program).name
    raise ImageBuildError(
        f"{manifest.ref} starts with {program}, which the default base image {base_image} does not have: "
        "its generated image would fail every call (exit 127, command not found)",
        location=_locate(manifest, ("runtime", "command", 0)),
        hint=f'write a Dockerfile in {manifest.plugin_dir} (docs/docker.md, "A plugin\'s own Dockerfile"), '
        f"or build on an image that has {name}: --base-image IMAGE; "
        f"the default base has {', '.join(sorted(DEFAULT_BASE_PROGRAMS))}",
    )


def _in_default_base(program: str) -> bool:
    path = PurePosixPath(program)
    if not path.is_absolute():
        return program in DEFAULT_BASE_PROGRAMS
    # Python's own path differs between the two forms of the base (/usr/local/bin, /usr/bin): not known.
    return str(path.parent) in _SYSTEM_DIRS and path.name in DEFAULT_BASE_PROGRAMS and "python" not in path.name


def _program_of(argv: Sequence[str], plugin_dir: Path) -> str | None:
    """What ``argv`` starts: ``env`` is looked through, a file of the plugin is read for its ``#!`` line."""
    program = _through_env(argv)
    if program is None:
        return None
    path = PurePosixPath(program)
    if path.is_absolute() and path.is_relative_to(_PLUGIN_DIR_IN_IMAGE):
        return _interpreter_of(plugin_dir.joinpath(*path.relative_to(_PLUGIN_DIR_IN_IMAGE).parts))
    if not path.is_absolute() and "/" in program:
        return _interpreter_of(plugin_dir / program)
    return program


def _through_env(argv: Sequence[str]) -> str | None:
    """``argv[0]``, or for ``env [-S] [NAME=value] PROGRAM ...`` the program env starts."""
    if not argv:
        return None
    if argv[0] not in _ENV_PROGRAMS:
        return argv[0]
    return next((arg for arg in argv[1:] if not arg.startswith("-") and "=" not in arg), None)


def _interpreter_of(script: Path) -> str | None:
    """The program a ``#!`` line names (through ``env``); None for a file without one (a binary) or no file."""
    try:
        with script.open("rb") as handle:
            first_line = handle.readline(256)
    except OSError:
        return None  # a missing file fails the call with its own message; nothing to compare here
    if not first_line.startswith(b"#!"):
        return None
    program = _through_env(first_line[2:].decode("utf-8", "replace").split())
    if program is not None and PurePosixPath(program).is_relative_to(_PLUGIN_DIR_IN_IMAGE):
        return None  # an interpreter the plugin brings itself
    return program


def _locate(manifest: PluginManifest, field: tuple[str | int, ...]) -> SourceLocation:
    """The line of ``field`` in plugin.yaml (the file alone when it cannot be read again)."""
    from ..._util.yaml_document import format_field_path
    from ..._util.yamlfile import load_yaml_file

    try:
        return load_yaml_file(manifest.manifest_path, error=ImageBuildError).location(field)
    except ImageBuildError:
        return SourceLocation(manifest.manifest_path, field=format_field_path(field))
