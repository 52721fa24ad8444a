"""Where secrets and vars come from, and the check that every one a workflow uses exists.

Secrets come from providers behind one small interface (``SecretProvider``),
so a vault-backed provider can be added without touching the engine:

- ``EnvSecretProvider``: ``WORKFLOW_SECRET_<KEY>`` environment variables;
- ``DotenvSecretProvider``: a dotenv file given with ``--secrets-file``,
  parsed by python-dotenv (quotes, comments, ``export``, multi-line values);
  values are taken literally (no ``${VAR}`` expansion: a password holding
  ``$`` must arrive intact);
- ``ChainSecretProvider``: the first provider holding a key wins.
  ``default_secret_provider`` puts the secrets file first: a file named on
  the command line is more deliberate than a variable left in a shell.

Vars merge in this order, later winning: the workflow's ``vars``, a vars file
(a YAML mapping), ``--var NAME=VALUE`` options (always strings).

Nothing here ever puts a secret's value in a message; keys are not secret.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, final, runtime_checkable

from .._util.files import read_capped_file
from ..errors import Problem, SecretError, Severity, SourceLocation
from .template_values import TemplateUse
from .templates import Scope, is_name, is_secret_name

__all__ = [
    "SECRET_ENV_PREFIX",
    "ChainSecretProvider",
    "DotenvSecretProvider",
    "EnvSecretProvider",
    "SecretProvider",
    "collect_secrets",
    "default_secret_provider",
    "every_secret",
    "load_vars_file",
    "merge_vars",
    "parse_var_options",
    "secret_problems",
    "var_problems",
]

SECRET_ENV_PREFIX = "WORKFLOW_SECRET_"  # noqa: S105 -- a variable-name prefix, not a password
_MAX_SECRETS_FILE = 1024 * 1024


@runtime_checkable
class SecretProvider(Protocol):
    """A source of secret values by key; ``description`` says where it looks, for messages."""

    @property
    def description(self) -> str: ...

    def get(self, key: str) -> str | None: ...

    def keys(self) -> Iterable[str]: ...


@final
class EnvSecretProvider:
    """``WORKFLOW_SECRET_<KEY>`` variables of the given environment (default: this process's)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    @property
    def description(self) -> str:
        return f"environment variables {SECRET_ENV_PREFIX}<KEY>"

    def get(self, key: str) -> str | None:
        return self._environ.get(SECRET_ENV_PREFIX + key)

    def keys(self) -> list[str]:
        return sorted(
            name.removeprefix(SECRET_ENV_PREFIX)
            for name in self._environ
            if name.startswith(SECRET_ENV_PREFIX) and len(name) > len(SECRET_ENV_PREFIX)
        )


@final
class DotenvSecretProvider:
    """A dotenv file, read and checked when constructed so a bad file fails before any task starts.

    ``warnings`` holds a warning when other users may read the file.
    """

    __slots__ = ("_values", "path", "warnings")

    def __init__(self, path: Path | str) -> None:
        from dotenv import dotenv_values  # lazily: only runs that pass --secrets-file pay for it
        from dotenv.parser import parse_stream

        self.path = Path(path)
        text = _read_secrets_file(self.path)
        for binding in parse_stream(io.StringIO(text)):
            where = SourceLocation(self.path, binding.original.line)
            if binding.error:
                raise SecretError(
                    f"cannot parse line {binding.original.line} of the secrets file",
                    location=where,
                    hint="write KEY=value, one per line; quote a value holding spaces, '#' or line breaks",
                )
            if binding.key is None:
                continue
            if binding.value is None:
                hint = f"write {binding.key}=..."
                raise SecretError(f"{binding.key} has no value (no '=')", location=where, hint=hint)
            if not is_secret_name(binding.key):
                raise SecretError(
                    f"{binding.key!r} is not a valid secret name",
                    location=where,
                    hint="use letters, digits and _, not starting with a digit",
                )
        values = dotenv_values(stream=io.StringIO(text), interpolate=False)
        self._values = {key: value for key, value in values.items() if value is not None}
        self.warnings: tuple[Problem, ...] = _permission_warnings(self.path)

    @property
    def description(self) -> str:
        return f"secrets file {self.path}"

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def keys(self) -> list[str]:
        return sorted(self._values)


def _read_secrets_file(path: Path) -> str:
    raw = read_capped_file(
        path,
        error=SecretError,
        limit=_MAX_SECRETS_FILE,
        what="secrets file",
        not_found_hint="check the --secrets-file path",
    )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SecretError(
            f"the secrets file is not valid UTF-8 (line {line})",
            location=SourceLocation(path, line),
            hint="save it as UTF-8",
        ) from exc


def _permission_warnings(path: Path) -> tuple[Problem, ...]:
    mode = path.stat().st_mode
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ()
    return (
        Problem(
            f"the secrets file can be read by other users (mode {stat.S_IMODE(mode):o})",
            location=SourceLocation(path),
            hint=f"chmod 600 {path}",
            severity=Severity.WARNING,
        ),
    )


@final
class ChainSecretProvider:
    """Several providers in order; the first holding a key wins."""

    __slots__ = ("providers",)

    def __init__(self, providers: Sequence[SecretProvider]) -> None:
        self.providers = tuple(providers)

    @property
    def description(self) -> str:
        return ", then ".join(provider.description for provider in self.providers) or "no secret providers"

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """What the providers found worth a warning (a secrets file other users can read)."""
        return tuple(w for p in self.providers if isinstance(p, DotenvSecretProvider) for w in p.warnings)

    def get(self, key: str) -> str | None:
        for provider in self.providers:
            value = provider.get(key)
            if value is not None:
                return value
        return None

    def keys(self) -> list[str]:
        # a provider is not a dict: keys() is its interface
        return sorted({key for provider in self.providers for key in provider.keys()})  # noqa: SIM118


def default_secret_provider(
    *, secrets_file: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> ChainSecretProvider:
    """The CLI's providers: the ``--secrets-file`` (when given), then the environment."""
    providers: list[SecretProvider] = []
    if secrets_file is not None:
        providers.append(DotenvSecretProvider(secrets_file))
    providers.append(EnvSecretProvider(environ))
    return ChainSecretProvider(providers)


def every_secret(provider: SecretProvider) -> dict[str, str]:
    """Every value ``provider`` holds, used by the workflow or not, also those a chain shadows: for the masker.

    A plugin that finds a secret it was not given (in a file, another
    process, the engine's environment) still cannot print it. A value
    shadowed in a chain (the same key in the secrets file and the
    environment) is kept under ``KEY (<where>)``.
    """
    values: dict[str, str] = {}
    for source in _flattened(provider):
        for key in source.keys():  # noqa: SIM118 - a provider is not a dict: keys() is its interface
            value = source.get(key)
            if value is None or value == values.get(key):
                continue
            values[key if key not in values else f"{key} ({source.description})"] = value
    return values


def _flattened(provider: SecretProvider) -> list[SecretProvider]:
    if isinstance(provider, ChainSecretProvider):
        return [leaf for inner in provider.providers for leaf in _flattened(inner)]
    return [provider]


def _first_uses(uses: Iterable[TemplateUse], scope: Scope) -> dict[str, list[TemplateUse]]:
    grouped: dict[str, list[TemplateUse]] = {}
    for use in uses:
        if use.placeholder.scope is scope:
            grouped.setdefault(use.placeholder.name, []).append(use)
    return grouped


def _unknown(kind: str, name: str, *, sites: list[TemplateUse], hint: str) -> Problem:
    fields = ", ".join(dict.fromkeys(site.field for site in sites))
    return Problem(f"unknown {kind} '{name}' (used in {fields})", sites[0].location, hint)


def secret_problems(uses: Iterable[TemplateUse], provider: SecretProvider) -> list[Problem]:
    """One error per secret the templates use that no provider holds, located at its first use."""
    known = list(provider.keys())
    problems = []
    for name, sites in _first_uses(uses, Scope.SECRETS).items():
        if provider.get(name) is not None:
            continue
        from .._util.suggestions import closest  # a hint for a mistake: loaded only then

        near = closest(name, known)
        hint = f"did you mean {near}? " if near else ""
        hint += f"set {SECRET_ENV_PREFIX}{name} or add {name}=... to the --secrets-file"
        hint += f"; looked in {provider.description}"
        problems.append(_unknown("secret", name, sites=sites, hint=hint))
    return problems


def collect_secrets(uses: Iterable[TemplateUse], provider: SecretProvider) -> dict[str, str]:
    """The values of every secret the templates use; SecretError for the first missing one."""
    uses = list(uses)
    problems = secret_problems(uses, provider)
    if problems:
        first = problems[0]
        raise SecretError(first.message, location=first.location, hint=first.hint)
    names = _first_uses(uses, Scope.SECRETS)
    return {name: value for name in names if (value := provider.get(name)) is not None}


def var_problems(uses: Iterable[TemplateUse], variables: Mapping[str, Any]) -> list[Problem]:
    """One error per var the templates use that is not defined, with the nearest defined name."""
    problems = []
    for name, sites in _first_uses(uses, Scope.VARS).items():
        if name in variables:
            continue
        from .._util.suggestions import closest  # a hint for a mistake: loaded only then

        near = closest(name, list(variables))
        hint = f"did you mean {near}? " if near else ""
        hint += f"define it under vars:, in a vars file or with --var {name}=VALUE"
        problems.append(_unknown("var", name, sites=sites, hint=hint))
    return problems


def parse_var_options(options: Iterable[str]) -> dict[str, str]:
    """``--var NAME=VALUE`` options (the value may hold further ``=``); a repeated name keeps the last."""
    parsed: dict[str, str] = {}
    for option in options:
        name, equals, value = option.partition("=")
        if not equals:
            raise SecretError(f"--var {option!r} has no '='", hint=f"write --var {option or 'NAME'}=VALUE")
        if not is_name(name):
            raise SecretError(
                f"--var {option!r}: {name!r} is not a valid var name",
                hint="use letters, digits, _ and -, not starting with a digit",
            )
        parsed[name] = value
    return parsed


def load_vars_file(path: Path | str) -> dict[str, Any]:
    """A YAML mapping of vars; values keep their YAML types."""
    from .._util.yamlfile import load_yaml_file  # PyYAML: only with a vars file (``plugin inspect`` needs none)

    document = load_yaml_file(Path(path), error=SecretError, allow_empty=True)
    for name in document.data:
        if not is_name(name):
            raise SecretError(
                f"{name!r} is not a valid var name",
                location=document.location((name,), key=True),
                hint="use letters, digits, _ and -, not starting with a digit",
            )
    return dict(document.data)


def merge_vars(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later layers win: ``merge_vars(workflow.vars, vars_file, cli_vars)``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged.update(layer)
    return merged
