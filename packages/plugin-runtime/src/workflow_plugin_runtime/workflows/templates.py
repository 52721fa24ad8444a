r"""Templates in workflow values: ``{{ secrets.KEY }}``, ``{{ vars.KEY }}``, ``{{ tasks.ID.outputs.KEY }}``.

A dedicated parser, not Jinja and never ``eval``: each ``{{ ... }}`` is a
:class:`Placeholder` that names one value (its scope: secrets, vars or a
task's outputs, then a name and keys) and nothing else, so a workflow file
cannot run code, and every value a run will need is known before anything
runs. Values are compiled once, when the workflow loads (that is where the
static checks look at the placeholders), and rendered for each invocation by
joining the compiled parts.

Rules, as documented in docs/workflows.md:

- A value that is exactly one template keeps the JSON type of what it refers
  to; any other value containing a template renders to a string, non-string
  values inserted as compact JSON (``42``, ``true``, ``null``, ``{"a":1}``).
- ``\{{`` is a literal ``{{``. Backslashes mean something only right before
  ``{{``: a run of *n* of them renders as *n // 2* backslashes, followed by a
  literal ``{{`` when *n* is odd, by a template when *n* is even.
- In a run of three or more braces the template opens at the last two:
  ``{{{ vars.a }}}`` is ``{``, the value, ``}``.
- A ``}}`` outside a template is literal text; dictionary keys are never
  templates.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from .._frozen import FrozenRecord
from .._util.yaml_document import json_type_name
from ..errors import SourceLocation, TemplateError

__all__ = [
    "CLOSE",
    "OPEN",
    "Placeholder",
    "Scope",
    "Template",
    "TemplateContext",
    "TemplatePart",
    "compile_template",
    "escape_literal",
    "interpolate",
    "is_name",
    "is_secret_name",
    "template_source",
]

OPEN = "{{"
CLOSE = "}}"

# Names are told by sets of characters, not patterns: nothing to compile at start, and quicker per key.
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_SECRET_NAME_CHARS = _NAME_START | _DIGITS
_NAME_CHARS = _SECRET_NAME_CHARS | {"-"}
_set = object.__setattr__
_SYNTAX_HINT = (
    "write {{ secrets.KEY }}, {{ vars.KEY }} or {{ tasks.ID.outputs.KEY }}; " + r'write \{{ for a literal "{{"'
)


def is_name(text: str) -> bool:
    """A var's key, a task's id or an output's key: a letter or ``_``, then letters, digits, ``_`` and ``-``."""
    return text[:1] in _NAME_START and _NAME_CHARS.issuperset(text)


def is_secret_name(text: str) -> bool:
    """A secret's key: a letter or ``_``, then letters, digits and ``_`` (it is also an environment variable's name)."""
    return text[:1] in _NAME_START and _SECRET_NAME_CHARS.issuperset(text)


def _is_index(text: str) -> bool:
    return bool(text) and _DIGITS.issuperset(text)


class Scope(enum.StrEnum):
    """What a placeholder reads from: the first word inside the braces."""

    SECRETS = "secrets"
    VARS = "vars"
    TASKS = "tasks"


class Placeholder(FrozenRecord, uncompared=("column",)):
    """One ``{{ ... }}``: ``name`` is the secret's or var's key, or the task id.

    ``keys`` are those under ``tasks.ID.outputs`` (empty: the whole outputs
    object); ``column`` is where the ``{{`` starts in the value, 1-based, for
    messages (not compared). The workflow model's classes are
    :class:`~.._frozen.FrozenRecord` subclasses, not dataclasses: each
    dataclass costs ``validate`` 0.7 ms to make (docs/performance.md).
    """

    __slots__ = ("column", "keys", "name", "scope")
    scope: Scope
    name: str
    keys: tuple[str, ...]
    column: int

    def __init__(self, scope: Scope, name: str, keys: tuple[str, ...] = (), column: int = 1) -> None:
        _set(self, "scope", scope)
        _set(self, "name", name)
        _set(self, "keys", keys)
        _set(self, "column", column)

    def __str__(self) -> str:
        if self.scope is Scope.TASKS:
            return ".".join(("tasks", self.name, "outputs", *self.keys))
        return f"{self.scope.value}.{self.name}"

    @property
    def source(self) -> str:
        return f"{OPEN} {self} {CLOSE}"


TemplatePart: TypeAlias = str | Placeholder


class TemplateContext(FrozenRecord):
    """What templates render from: secrets, merged vars, and finished tasks' outputs."""

    __slots__ = ("secrets", "task_outputs", "vars")
    secrets: Mapping[str, str]
    vars: Mapping[str, Any]
    task_outputs: Mapping[str, Mapping[str, Any]]

    def __init__(
        self,
        secrets: Mapping[str, str] | None = None,
        vars: Mapping[str, Any] | None = None,  # noqa: A002 - the field is named as the file's key
        task_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        _set(self, "secrets", {} if secrets is None else secrets)
        _set(self, "vars", {} if vars is None else vars)
        _set(self, "task_outputs", {} if task_outputs is None else task_outputs)


def interpolate(value: object) -> str:
    """How a placeholder's value reads inside a longer string: strings as-is, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class Template(FrozenRecord, uncompared=("location",)):
    """A compiled string: literal text and placeholders, in order (``location`` is not compared)."""

    __slots__ = ("location", "parts", "source")
    source: str
    parts: tuple[TemplatePart, ...]
    location: SourceLocation | None

    def __init__(self, source: str, parts: tuple[TemplatePart, ...], location: SourceLocation | None = None) -> None:
        _set(self, "source", source)
        _set(self, "parts", parts)
        _set(self, "location", location)

    @property
    def whole(self) -> Placeholder | None:
        """The placeholder when the value is exactly one template (it keeps its JSON type)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0]
        return None

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(part for part in self.parts if isinstance(part, Placeholder))

    def render(self, context: TemplateContext) -> Any:
        whole = self.whole
        if whole is not None:
            return _placeholder_value(whole, context, location=self.location)
        return "".join(
            part if isinstance(part, str) else interpolate(_placeholder_value(part, context, location=self.location))
            for part in self.parts
        )


def _error(message: str, *, location: SourceLocation | None, hint: str | None = _SYNTAX_HINT) -> TemplateError:
    return TemplateError(message, location=location, hint=hint)


def _parse_placeholder(inner: str, *, column: int, start: int, location: SourceLocation | None) -> Placeholder:
    """Parse the text between ``{{`` and ``}}``; ``start`` is its 0-based offset in the value."""
    stripped = inner.strip()
    if not stripped:
        raise _error(f"empty template at column {column}", location=location)
    lead = start + len(inner) - len(inner.lstrip())
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stripped):
        bad = next(i for i, ch in enumerate(stripped) if not (ch.isalnum() or ch in "_.-") or not ch.isascii())
        raise _error(
            f"invalid template {OPEN}{inner}{CLOSE} at column {column}: unexpected {stripped[bad]!r} at column"
            f" {lead + bad + 1}; a template holds one dotted reference, no expressions, filters or spaces inside",
            location=location,
        )
    segments = stripped.split(".")
    offsets: list[int] = []
    pos = lead
    for segment in segments:
        offsets.append(pos + 1)
        pos += len(segment) + 1
    for segment, at in zip(segments, offsets, strict=True):
        if not segment:
            raise _error(f"empty name in template {OPEN}{inner}{CLOSE} at column {at}", location=location)
    scope_text = segments[0]
    try:
        scope = Scope(scope_text)
    except ValueError:
        import difflib  # lazily: only a broken template needs suggestions

        scopes = [member.value for member in Scope]
        close = difflib.get_close_matches(scope_text, scopes, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise _error(
            f"unknown template root '{scope_text}' at column {offsets[0]}",
            location=location,
            hint=f"{suggestion}a template starts with secrets., vars. or tasks.",
        ) from None
    if scope is Scope.TASKS:
        return _parse_task_placeholder(segments, offsets, column=column, location=location)
    if len(segments) != 2:
        raise _error(
            f"'{scope.value}' takes exactly one key, as in {OPEN} {scope.value}.KEY {CLOSE};"
            f" got '{stripped}' at column {column}",
            location=location,
            hint=f"{scope.value} are flat: nested keys exist only under tasks.ID.outputs",
        )
    name, at = segments[1], offsets[1]
    if not (is_secret_name(name) if scope is Scope.SECRETS else is_name(name)):
        allowed = "letters, digits and _" if scope is Scope.SECRETS else "letters, digits, _ and -"
        raise _error(
            f"invalid {scope.value} key '{name}' at column {at}: use {allowed}, not starting with a digit",
            location=location,
        )
    return Placeholder(scope, name, column=column)


def _parse_task_placeholder(
    segments: list[str], offsets: list[int], *, column: int, location: SourceLocation | None
) -> Placeholder:
    text = ".".join(segments)
    if len(segments) < 3 or segments[2] != "outputs":
        guess = ".".join((*segments[:2], "outputs", *segments[2:])) if len(segments) >= 2 else "tasks.ID.outputs.KEY"
        raise _error(
            f"a task template reads tasks.ID.outputs[.KEY...]; got '{text}' at column {column}",
            location=location,
            hint=f"did you mean {OPEN} {guess} {CLOSE}?",
        )
    for segment, at in zip(segments[1:], offsets[1:], strict=True):
        if not (is_name(segment) or (_is_index(segment) and at > offsets[2])):
            raise _error(
                f"invalid name '{segment}' in template at column {at}: use letters, digits, _ and -"
                " (digits alone only as a list index after outputs)",
                location=location,
            )
    return Placeholder(Scope.TASKS, segments[1], tuple(segments[3:]), column=column)


def compile_template(text: str, *, location: SourceLocation | None = None) -> Template:
    """Parse one string value; raises TemplateError naming the column inside the value."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    i = 0
    while True:
        j = text.find(OPEN, i)
        if j < 0:
            literal.append(text[i:])
            break
        k = j
        while k > i and text[k - 1] == "\\":
            k -= 1
        slashes = j - k
        literal.append(text[i:k])
        literal.append("\\" * (slashes // 2))
        if slashes % 2:
            literal.append(OPEN)
            i = j + len(OPEN)
            continue
        run = len(text) - j - len(text[j:].lstrip("{"))
        literal.append("{" * (run - 2))
        j += run - 2
        end = text.find(CLOSE, j + len(OPEN))
        if end < 0:
            raise _error(
                f'unterminated template at column {j + 1}: "{OPEN}" has no closing "{CLOSE}"',
                location=location,
                hint=r'close it with "}}", or write \{{ for a literal "{{"',
            )
        placeholder = _parse_placeholder(text[j + 2 : end], column=j + 1, start=j + 2, location=location)
        if any(literal):
            parts.append("".join(literal))
        literal.clear()
        parts.append(placeholder)
        i = end + len(CLOSE)
    if any(literal):
        parts.append("".join(literal))
    return Template(text, tuple(parts), location)


def escape_literal(text: str) -> str:
    r"""Template source that renders to exactly ``text`` (``{{`` becomes ``\{{``)."""
    return _escape(text, before_placeholder=False)


def _escape(text: str, *, before_placeholder: bool) -> str:
    out: list[str] = []
    i = 0
    while True:
        j = text.find(OPEN, i)
        if j < 0:
            break
        k = j
        while k > i and text[k - 1] == "\\":
            k -= 1
        out.append(text[i:k] + "\\" * (2 * (j - k) + 1) + OPEN)
        i = j + len(OPEN)
    tail = text[i:]
    if before_placeholder:
        braces = tail[len(tail.rstrip("{")) :]
        head = tail[: len(tail) - len(braces)]
        stripped = head.rstrip("\\")
        tail = stripped + "\\" * (2 * (len(head) - len(stripped))) + braces
    out.append(tail)
    return "".join(out)


def template_source(parts: Sequence[TemplatePart]) -> str:
    """The source text of a sequence of parts: ``compile_template`` of it gives the parts back."""
    merged: list[TemplatePart] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    out: list[str] = []
    for index, part in enumerate(merged):
        if isinstance(part, Placeholder):
            out.append(part.source)
        else:
            follows = index + 1 < len(merged) and isinstance(merged[index + 1], Placeholder)
            out.append(_escape(part, before_placeholder=follows))
    return "".join(out)


def _placeholder_value(
    placeholder: Placeholder, context: TemplateContext, *, location: SourceLocation | None = None
) -> Any:
    """The value a placeholder stands for; TemplateError (naming keys, never values) when it is missing."""
    if placeholder.scope is Scope.SECRETS:
        if placeholder.name not in context.secrets:
            raise _error(f"unknown secret '{placeholder.name}'", location=location, hint=_secret_hint(placeholder.name))
        return context.secrets[placeholder.name]
    if placeholder.scope is Scope.VARS:
        if placeholder.name not in context.vars:
            raise _error(
                f"unknown var '{placeholder.name}'",
                location=location,
                hint=f"define it under vars:, in a vars file or with --var {placeholder.name}=VALUE",
            )
        return context.vars[placeholder.name]
    if placeholder.name not in context.task_outputs:
        raise _error(
            f"task '{placeholder.name}' has no outputs yet",
            location=location,
            hint=f"add '{placeholder.name}' to this task's needs",
        )
    current: Any = context.task_outputs[placeholder.name]
    walked = ["tasks", placeholder.name, "outputs"]
    for key in placeholder.keys:
        if isinstance(current, Mapping) and key in current:
            current = current[key]
        elif isinstance(current, list) and _is_index(key) and int(key) < len(current):
            current = current[int(key)]
        else:
            here = ".".join(walked)
            if isinstance(current, Mapping):
                keys = ", ".join(sorted(map(str, current))) or "none"
                message = f"{here} has no key '{key}' (its keys: {keys})"
            elif isinstance(current, list):
                message = f"{here} is an array of {len(current)} items, it has no item '{key}'"
            else:
                kind = json_type_name(current)
                message = f"{here} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, it has no key '{key}'"
            raise _error(message, location=location, hint=None)
        walked.append(key)
    return current


def _secret_hint(name: str) -> str:
    return f"set the environment variable WORKFLOW_SECRET_{name} or add {name}=... to the --secrets-file"
