"""Validators compiled once per machine, not once per process.

Generating a validator with fastjsonschema costs 1-25 ms per schema, plus
12 ms to import fastjsonschema, and a one-shot command (``workflow run``,
``validate``) pays it for the manifest schema, the metaschema and each
action schema it touches. So the generated code is compiled to a code object
and kept, marshalled, in the user's cache directory, keyed by the schema's
canonical JSON, the fastjsonschema installation and the Python version; a
later process loads it in well under a millisecond without importing
fastjsonschema at all.

The generated code raises :class:`SchemaValueError` / :class:`SchemaValuesError`
(duck-typed like fastjsonschema's own, which it would otherwise import).
The cache is best-effort: an unreadable, corrupt or unwritable cache falls
back to generating. It lives under the runtime's cache directory (see
:mod:`.._util.cachedir`): ``WORKFLOW_CACHE_DIR`` moves it; set it empty to disable.
"""

from __future__ import annotations

import functools
import json
import marshal
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from .._util.cachedir import CACHE_DIR_ENV, cache_root
from .._util.files import write_file_atomically

__all__ = ["CACHE_DIR_ENV", "SchemaValueError", "SchemaValuesError", "generate_validator"]

_FORMAT = "5"
_FJS_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
_DECIMAL_IMPORT = "from decimal import Decimal"  # in every generated module; _instantiate binds a lazy one
_RE_IMPORT = "\nimport re\n"  # in a module with patterns; _instantiate binds one that compiles them on first use
_ROOT_FUNCTION = r"^def (validate\w*)\("
_NAME_BY_LOCALS = r'(?<=\(name_prefix or "data"\) \+ )"([^"\\\n]*)"\.format\(\*\*locals\(\)\)'
"""A place in the data named with ``"...{data__x}...".format(**locals())``, as fastjsonschema writes it."""
_REMOTE_SCHEMES = ("http", "https", "ftp", "file", "data")


class SchemaValueError(ValueError):
    """One violation; the attributes match fastjsonschema's JsonSchemaValueException."""

    def __init__(
        self,
        message: str,
        *,
        value: Any = None,
        name: str | None = None,
        definition: Any = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.definition = definition
        self.rule = rule

    @property
    def rule_definition(self) -> Any:
        if not self.rule or not isinstance(self.definition, dict):
            return None
        return self.definition.get(self.rule)


class _LazyDecimal(type):
    """``decimal.Decimal`` to the generated code, importing :mod:`decimal` (2 ms) only when a value needs it.

    Number checks read ``isinstance(value, (int, float, Decimal))``: an int
    or a float matches before Decimal is asked, and a Decimal value exists
    only once :mod:`decimal` is imported, so the test below is exact.
    ``multipleOf`` builds Decimals: the call imports it.
    """

    def __instancecheck__(cls, value: object) -> bool:
        module = sys.modules.get("decimal")
        return module is not None and isinstance(value, module.Decimal)

    def __call__(cls, *args: Any) -> Any:
        from decimal import Decimal

        return Decimal(*args)


class _Decimal(metaclass=_LazyDecimal):
    """What the generated code calls ``Decimal`` (see :class:`_LazyDecimal`)."""


class SchemaValuesError(ValueError):
    """Every violation found in one run (validators never stop at the first)."""

    def __init__(self, errors: list[SchemaValueError]) -> None:
        self.message = "; ".join(error.message for error in errors)
        super().__init__(self.message)
        self.errors = errors


def generate_validator(canonical: str, *, refuse_remote: Callable[[str], Any]) -> Callable[[Any], Any]:
    """The validator of the schema whose canonical JSON is ``canonical``, from the cache when possible."""
    directory = _cache_dir()
    material = _material(canonical)
    path = directory / _entry_name(material) if directory is not None else None
    if path is not None:
        cached = _read(path, material)
        if cached is not None:
            return cached
    name, code = _compile(canonical, refuse_remote)
    if path is not None:
        _write(path, marshal.dumps((_FORMAT, material, name, code)))
    return _instantiate(name, code)


def _cache_dir() -> Path | None:
    root = cache_root()
    return None if root is None else Path(root) / "validators"


def _material(canonical: str) -> str:
    """What an entry is valid for: the format, the Python version, fastjsonschema's installation, the schema."""
    return "\0".join((_FORMAT, sys.implementation.cache_tag or "", _installation(), canonical))


def _entry_name(material: str) -> str:
    """The entry's file name; the entry holds ``material`` too, so two schemas that share a name never mix.

    A CRC, not a cryptographic hash: importing hashlib (OpenSSL) costs a
    ``validate`` about 4 ms, which nothing else it does needs when the lock
    check's hashes come from its own cache.
    """
    from binascii import crc32

    encoded = material.encode("utf-8")
    return f"{crc32(encoded):08x}{len(encoded):08x}.bin"


@functools.cache
def _installation() -> str:
    """Which fastjsonschema generated the code: reinstalling or upgrading it changes this.

    Found as the import statement would find it, through ``sys.meta_path``,
    without importing it or :mod:`importlib.util` (0.6 ms of a ``validate``).
    """
    finders = (getattr(finder, "find_spec", None) for finder in sys.meta_path)  # a legacy finder has none
    spec = next(filter(None, (find("fastjsonschema", None) for find in finders if find is not None)), None)
    if spec is None or not spec.origin:
        return ""
    info = Path(spec.origin).stat()
    return f"{spec.origin}:{info.st_mtime_ns}:{info.st_size}"


def _read(path: Path, material: str) -> Callable[[Any], Any] | None:
    try:
        loaded = marshal.loads(path.read_bytes())  # noqa: S302 - our own cache, as trusted as a __pycache__
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not (isinstance(loaded, tuple) and len(loaded) == 4 and loaded[0] == _FORMAT and loaded[1] == material):
        return None
    _, _, name, code = loaded
    if not (isinstance(name, str) and isinstance(code, CodeType)):
        return None
    return _instantiate(name, code)


def _write(path: Path, payload: bytes) -> None:
    try:
        write_file_atomically(path, payload, durable=False)  # a cache: regenerated when lost
    except OSError:
        return


def _compile(canonical: str, refuse_remote: Callable[[str], Any]) -> tuple[str, CodeType]:
    import fastjsonschema

    source = fastjsonschema.compile_to_code(
        json.loads(canonical),
        handlers=dict.fromkeys(_REMOTE_SCHEMES, refuse_remote),
        use_default=False,
        fast_fail=False,
    )
    match = re.search(_ROOT_FUNCTION, source, re.MULTILINE)
    if match is None:  # pragma: no cover - guards against a change in fastjsonschema's output
        raise fastjsonschema.JsonSchemaDefinitionException("generated code has no validate function")
    source = source.replace(_FJS_IMPORT, "").replace(_DECIMAL_IMPORT, "", 1).replace(_RE_IMPORT, "\n", 1)
    fast = re.sub(_NAME_BY_LOCALS, _named_by_fstring, source)
    try:
        return match.group(1), compile(fast, "<generated schema validator>", "exec")
    except SyntaxError:  # pragma: no cover - guards against a change in fastjsonschema's output
        return match.group(1), compile(source, "<generated schema validator>", "exec")


def _named_by_fstring(match: re.Match[str]) -> str:
    """The same text as an f-string, when each field names one of the code's own variables; else unchanged.

    ``locals()`` copies every variable of the validator into a dict, and a
    ``validate`` calls it for each task it checks (the task's name is formed
    before its check): about a third of checking a 2,000-task file. An
    f-string reads the same variables without the copies. A field that is
    not a plain name of the code (``data``...) comes from a property name of
    the schema: that text keeps its ``format``.
    """
    import string  # only when generating, which imports fastjsonschema anyway

    text = match.group(1)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError:  # a lone brace: format raises it, and so should the code
        return match.group(0)
    if all(field.startswith("data") and field.isidentifier() for field in fields):
        return f'f"{text}"'
    return match.group(0)


def _instantiate(name: str, code: CodeType) -> Callable[[Any], Any]:
    namespace: dict[str, Any] = {
        "__name__": "workflow_plugin_runtime.schemas.generated",
        "Decimal": _Decimal,
        "re": _PATTERNS_ON_FIRST_USE,
        "JsonSchemaValueException": SchemaValueError,
        "JsonSchemaValuesException": SchemaValuesError,
    }
    exec(code, namespace)  # noqa: S102 - our own code object, generated by fastjsonschema from a schema
    namespace["re"] = re  # what the validators call (a "regex" format check compiles the value): the real module
    validator: Callable[[Any], Any] = namespace[name]
    return validator


class _DeferredPattern:
    """A schema's ``pattern``, compiled on its first ``search`` or ``match``; then those are the compiled pattern's.

    The generated module compiles every pattern of its schema as it loads
    (``REGEX_PATTERNS``), 0.1-0.3 ms each, and a check uses few of them: a
    workflow without mounts, memory limits or environment grants never
    tests theirs. Deferred, a pattern is compiled once it is used, with
    the same result.
    """

    __slots__ = ("_flags", "_pattern", "match", "search")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self.match: Callable[..., Any] = self._first_match
        self.search: Callable[..., Any] = self._first_search

    def _compiled(self) -> re.Pattern[str]:
        compiled = re.compile(self._pattern, self._flags)
        self.match, self.search = compiled.match, compiled.search
        return compiled

    def _first_match(self, *args: Any) -> Any:
        return self._compiled().match(*args)

    def _first_search(self, *args: Any) -> Any:
        return self._compiled().search(*args)


class _PatternsOnFirstUse:
    """The generated module's ``re`` while it loads: ``compile`` defers (see :class:`_DeferredPattern`)."""

    compile = _DeferredPattern

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)  # the flags, should a pattern carry one


_PATTERNS_ON_FIRST_USE = _PatternsOnFirstUse()
