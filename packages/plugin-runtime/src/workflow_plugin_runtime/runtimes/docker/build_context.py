"""The build context of a generated plugin image: the plugin, the SDK and its dependencies.

The images must build with no package index, on a base image that may have
no pip (CI's ``python:3.11-slim`` is a debootstrapped Debian with python3
only). So everything Python needs is prepared on the host and copied in:

* the SDK is this environment's own ``workflow_plugin_sdk`` package directory
  (it is stdlib-only, so copying it is installing it);
* ``requirements.txt`` becomes wheels with ``pip wheel`` on the host (which
  may use the network there), and each wheel is unpacked into ``deps/``, as
  an installer would. Only pure-Python wheels qualify: a compiled wheel built
  for the host may not match the image, and the image has no compiler or pip
  to fix that. Console scripts are not generated.

The context layout is ``plugin/`` (the plugin directory) and ``deps/``
(importable packages); :mod:`.images` writes the Dockerfile that uses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from ...errors import ImageBuildError, SourceLocation
from ...plugins.content import ignored_in_plugin

__all__ = [
    "DEPS_DIRNAME",
    "PLUGIN_DIRNAME",
    "REQUIREMENTS_FILENAME",
    "SDK_DISTRIBUTION",
    "OutputCallback",
    "copy_plugin",
    "copy_sdk",
    "install_requirements",
    "unpack_wheel",
]

PLUGIN_DIRNAME = "plugin"
DEPS_DIRNAME = "deps"
REQUIREMENTS_FILENAME = "requirements.txt"
SDK_DISTRIBUTION = "workflow-plugin-sdk"
OutputCallback = Callable[[str], None]


def copy_plugin(plugin_dir: Path, context: Path) -> Path:
    """Copy the plugin into ``context/plugin``, readable by any user (the image runs as 65534).

    Exactly the files :func:`.content.plugin_content` covers are
    copied, so the image's content-hash label describes what is inside it.
    """
    target = context / PLUGIN_DIRNAME
    shutil.copytree(plugin_dir, target, ignore=ignored_in_plugin, symlinks=True)
    _make_world_readable(target)
    return target


def copy_sdk(context: Path) -> Path:
    """This environment's SDK into ``context/deps``, with a minimal dist-info so its version can be queried."""
    import workflow_plugin_sdk

    source = Path(workflow_plugin_sdk.__file__).parent
    deps = context / DEPS_DIRNAME
    deps.mkdir(exist_ok=True)
    shutil.copytree(source, deps / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    version = workflow_plugin_sdk.__version__
    info = deps / f"workflow_plugin_sdk-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {SDK_DISTRIBUTION}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("workflow plugin build\n")
    (info / "top_level.txt").write_text("workflow_plugin_sdk\n")
    _make_world_readable(deps)
    return deps


def install_requirements(
    requirements: Path, context: Path, *, on_output: OutputCallback | None = None, python: str | None = None
) -> list[str]:
    """Turn ``requirements.txt`` into pure-Python packages under ``context/deps``; the wheels' names.

    Lines naming the SDK are left out: the SDK comes from this environment,
    and it is not on any package index. ``pip wheel`` runs in the plugin
    directory, so relative paths in the file mean what they mean there.
    """
    kept, dropped_sdk = _without_sdk(requirements)
    if on_output is not None and dropped_sdk:
        on_output(f"{requirements.name}: {SDK_DISTRIBUTION} comes from this environment, not from an index")
    if not any(line.strip() and not line.lstrip().startswith("#") for line in kept):
        return []
    filtered = context / "requirements.txt"
    filtered.write_text("\n".join(kept) + "\n", encoding="utf-8")
    wheels = context / "wheels"
    wheels.mkdir()
    argv = [python or sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check"]
    argv += ["--no-input", "-r", str(filtered), "-w", str(wheels)]
    if on_output is not None:
        on_output(f"preparing wheels: pip wheel -r {requirements.name}")
    output = _run_streaming(argv, cwd=requirements.parent, on_output=on_output)
    if output.returncode != 0 and any("No module named pip" in line for line in output.lines):
        raise ImageBuildError(
            f"{requirements.name} needs pip to prepare wheels, and {argv[0]} has no pip",
            location=SourceLocation(requirements),
            hint="install pip into the environment that runs the build (python -m ensurepip), "
            "or give the plugin its own Dockerfile",
        )
    if output.returncode != 0:
        raise ImageBuildError(
            f"pip could not prepare the wheels of {requirements} (exit code {output.returncode})",
            step=f"pip wheel -r {requirements.name}",
            output=output.lines[-30:],
            location=SourceLocation(requirements),
            hint="check the requirement names and versions; pip needs the package index (or --find-links) here",
        )
    names = sorted(path.name for path in wheels.glob("*.whl"))
    deps = context / DEPS_DIRNAME
    for name in names:
        unpack_wheel(wheels / name, deps, requirements=requirements)
    _make_world_readable(deps)
    shutil.rmtree(wheels)
    filtered.unlink()
    return names


def unpack_wheel(wheel: Path, site_dir: Path, *, requirements: Path | None = None) -> None:
    """Install a pure-Python wheel by unpacking it into ``site_dir``, as an installer would.

    ``*.data/purelib`` and ``*.data/platlib`` land in the site directory; the
    other ``*.data`` parts (scripts, headers, data files) are not installed.
    """
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    location = SourceLocation(requirements) if requirements is not None else None
    try:
        _name, _version, _build, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise ImageBuildError(f"{wheel.name} is not a wheel file name: {exc}", location=location) from exc
    compiled = sorted(str(tag) for tag in tags if tag.abi != "none" or tag.platform != "any")
    if compiled:
        raise ImageBuildError(
            f"{wheel.name} is not pure Python (built for {', '.join(compiled)}): the generated image installs"
            " dependencies without pip or a compiler, so it takes pure-Python wheels only",
            location=location,
            hint="write a Dockerfile in the plugin directory that installs it (see docs/docker.md, custom Dockerfile)",
        )
    site_dir.mkdir(parents=True, exist_ok=True)
    root = site_dir.resolve()
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                destination = _destination(member.filename, root)
                if destination is None or member.is_dir():
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as exc:
        raise ImageBuildError(f"{wheel.name} is not a valid wheel: {exc}", location=location) from exc


def _destination(member: str, root: Path) -> Path | None:
    """Where a wheel member goes in the site directory, or None to skip it (refusing paths that escape)."""
    parts = PurePosixPath(member).parts
    if parts and parts[0].endswith(".data"):
        if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
            return None
        parts = parts[2:]
    if not parts or PurePosixPath(member).is_absolute() or ".." in parts:
        raise ImageBuildError(f"a wheel member path escapes the install directory: {member!r}")
    return root.joinpath(*parts)


def _without_sdk(requirements: Path) -> tuple[list[str], bool]:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    kept: list[str] = []
    dropped = False
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith(("-", "#")):
            try:
                if canonicalize_name(Requirement(text).name) == SDK_DISTRIBUTION:
                    dropped = True
                    continue
            except InvalidRequirement:
                pass  # a URL or path line: pip reads it and explains any problem itself
        kept.append(line)
    return kept, dropped


class _Finished:
    def __init__(self, returncode: int, lines: list[str]) -> None:
        self.returncode = returncode
        self.lines = lines


def _run_streaming(argv: list[str], *, cwd: Path, on_output: OutputCallback | None) -> _Finished:
    """Run a tool, passing each output line on as it comes and keeping them for the error report."""
    lines: list[str] = []
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    with subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, text=True
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if on_output is not None:
                on_output(line)
    return _Finished(process.returncode, lines)


def _walk(root: Path) -> Iterator[Path]:
    yield root
    yield from root.rglob("*")


def _make_world_readable(root: Path) -> None:
    """Files readable (and directories and executables enterable) by the image's non-root user."""
    for path in _walk(root):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        executable = path.is_dir() or mode & 0o111
        path.chmod(mode | 0o444 | (0o111 if executable else 0))
