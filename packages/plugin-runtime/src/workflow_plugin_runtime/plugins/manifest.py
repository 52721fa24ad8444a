"""``plugin.yaml``: the typed, immutable manifest model.

Building it from checked data and loading it live apart
(:func:`.manifest_loading.to_model`, :mod:`.manifest_checks`). This module is on the cold resolve path, so it
imports no YAML, validators or ``packaging`` (the version is parsed when
first read), and its classes are :class:`~workflow_plugin_runtime._frozen.FrozenRecord`
subclasses, not dataclasses (the measurements are in that module's docstring).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path

from .._frozen import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from packaging.version import Version

    from ..config import PoolSettings
    from ..schemas import Validator

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MANIFEST_FILENAME",
    "Access",
    "ActionDef",
    "ActionExample",
    "Capabilities",
    "FilesystemNeed",
    "PluginManifest",
    "RuntimeSettings",
    "StartMode",
    "serves_by_default",
    "thaw_manifest_data",
]

MANIFEST_FILENAME = "plugin.yaml"
DEFAULT_TIMEOUT_S = 30.0
_set = object.__setattr__


class Access(enum.StrEnum):
    READ = "read"
    READ_WRITE = "read-write"


class FilesystemNeed(FrozenRecord):
    __slots__ = ("access", "path")
    path: str
    access: Access

    def __init__(self, path: str, access: Access = Access.READ) -> None:
        _set(self, "path", path)
        _set(self, "access", access)


class Capabilities(FrozenRecord):
    """What the plugin asks for; restricted workflows must grant each of these."""

    __slots__ = ("env", "filesystem", "network")
    network: bool
    filesystem: tuple[FilesystemNeed, ...]
    env: tuple[str, ...]

    def __init__(
        self, network: bool = False, filesystem: tuple[FilesystemNeed, ...] = (), env: tuple[str, ...] = ()
    ) -> None:
        _set(self, "network", network)
        _set(self, "filesystem", filesystem)
        _set(self, "env", env)


class StartMode(enum.StrEnum):
    """How a trusted call's process starts: a new interpreter, or forked from the plugin's template."""

    COLD = "cold"
    FORK = "fork"


class RuntimeSettings(FrozenRecord):
    """How to start the plugin: exactly one of ``entrypoint`` (relative POSIX path) or ``command``.

    ``serve``: whether it speaks the serve loop (warm workers are tried only then).
    ``start``: how each trusted cold call's process starts (``runtime.start``).
    """

    __slots__ = ("command", "entrypoint", "image", "pool", "serve", "start", "timeout")
    entrypoint: str | None
    command: tuple[str, ...] | None
    image: str
    timeout: float
    pool: PoolSettings | None
    serve: bool
    start: StartMode

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        entrypoint: str | None,
        command: tuple[str, ...] | None,
        image: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        pool: PoolSettings | None = None,
        serve: bool | None = None,
        start: StartMode = StartMode.COLD,
    ) -> None:
        _set(self, "entrypoint", entrypoint)
        _set(self, "command", command)
        _set(self, "image", image)
        _set(self, "timeout", timeout)
        _set(self, "pool", pool)
        _set(self, "serve", serves_by_default(entrypoint=entrypoint, pool=pool) if serve is None else serve)
        _set(self, "start", start)


def serves_by_default(*, entrypoint: str | None, pool: PoolSettings | None) -> bool:
    """``runtime.serve`` when omitted: a Python entrypoint (the SDK's ``run()`` serves) or a pool, yes.

    A ``command`` is one-shot unless it says ``serve: true``: most
    hand-written plugins are, and asking one for a ready line costs a
    ready timeout per run.
    """
    return entrypoint is not None or pool is not None


class ActionExample(FrozenRecord):
    __slots__ = ("description", "inputs", "outputs")
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any] | None
    description: str | None

    def __init__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        _set(self, "inputs", inputs)
        _set(self, "outputs", outputs)
        _set(self, "description", description)


class ActionDef(FrozenRecord):
    """One action. ``inputs``/``outputs`` are deep-frozen JSON Schemas (``None``: any object)."""

    __slots__ = ("description", "examples", "inputs", "name", "outputs", "secret_inputs", "timeout")
    name: str
    description: str
    timeout: float | None
    inputs: Mapping[str, Any] | bool | None
    outputs: Mapping[str, Any] | bool | None
    examples: tuple[ActionExample, ...]
    secret_inputs: tuple[str, ...]

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        name: str,
        description: str = "",
        timeout: float | None = None,
        inputs: Mapping[str, Any] | bool | None = None,
        outputs: Mapping[str, Any] | bool | None = None,
        examples: tuple[ActionExample, ...] = (),
        secret_inputs: tuple[str, ...] = (),
    ) -> None:
        _set(self, "name", name)
        _set(self, "description", description)
        _set(self, "timeout", timeout)
        _set(self, "inputs", inputs)
        _set(self, "outputs", outputs)
        _set(self, "examples", examples)
        _set(self, "secret_inputs", secret_inputs)

    def input_validator(self) -> Validator | None:
        """The compiled inputs schema (shared across identical schemas), or None to accept any object."""
        from ..schemas import compile_schema

        return None if self.inputs is None else compile_schema(thaw_manifest_data(self.inputs))

    def output_validator(self) -> Validator | None:
        from ..schemas import compile_schema

        return None if self.outputs is None else compile_schema(thaw_manifest_data(self.outputs))


class PluginManifest(FrozenRecord):
    """A checked manifest. ``version`` is parsed on first read: resolving without a requirement never needs it."""

    __slots__ = (
        "_version",
        "actions",
        "capabilities",
        "description",
        "manifest_path",
        "name",
        "namespace",
        "plugin_dir",
        "runtime",
    )
    _fields = (
        "namespace",
        "name",
        "version",
        "description",
        "runtime",
        "capabilities",
        "actions",
        "plugin_dir",
        "manifest_path",
    )
    namespace: str
    name: str
    _version: Version | str
    description: str
    runtime: RuntimeSettings
    capabilities: Capabilities
    actions: Mapping[str, ActionDef]
    plugin_dir: Path
    manifest_path: Path

    def __init__(  # noqa: PLR0917 - positional, as the constructor of a dataclass would be
        self,
        namespace: str,
        name: str,
        version: Version | str,
        description: str,
        runtime: RuntimeSettings,
        capabilities: Capabilities,
        actions: Mapping[str, ActionDef],
        plugin_dir: Path,
        manifest_path: Path,
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "_version", version)
        _set(self, "description", description)
        _set(self, "runtime", runtime)
        _set(self, "capabilities", capabilities)
        _set(self, "actions", actions)
        _set(self, "plugin_dir", plugin_dir)
        _set(self, "manifest_path", manifest_path)

    @property
    def version(self) -> Version:
        value = self._version
        if isinstance(value, str):
            from packaging.version import Version

            value = Version(value)
            _set(self, "_version", value)
        return value

    @property
    def version_text(self) -> str:
        """``str(self.version)``, the normalised version; a listing asks for hundreds, so ``packaging`` only if needed.

        A version written as dot-separated numbers without leading zeros
        (``1.10.0``) is already normalised: only others are parsed.
        """
        value = self._version
        if isinstance(value, str) and all(
            part.isdigit() and part.isascii() and (part == "0" or part[0] != "0") for part in value.split(".")
        ):
            return value
        return str(self.version)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def entrypoint_path(self) -> Path | None:
        return None if self.runtime.entrypoint is None else self.plugin_dir / self.runtime.entrypoint

    def action(self, name: str) -> ActionDef:
        """The named action, or :class:`PluginNotFoundError` suggesting the nearest one."""
        found = self.actions.get(name)
        if found is not None:
            return found
        from .._util.suggestions import closest
        from ..errors import PluginNotFoundError

        suggestion = closest(name, self.actions)
        hint = f"did you mean {self.ref}.{suggestion}?" if suggestion else None
        known = ", ".join(sorted(self.actions))
        raise PluginNotFoundError(
            f"plugin {self.ref} {self.version} has no action {name!r} (it has: {known})",
            hint=hint or f"see {self.manifest_path}",
        )


def thaw_manifest_data(value: Any) -> Any:
    """Plain dicts and lists again (for JSON output or compiling) from deep-frozen manifest data."""
    if isinstance(value, Mapping):
        return {key: thaw_manifest_data(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw_manifest_data(item) for item in value]
    return value
