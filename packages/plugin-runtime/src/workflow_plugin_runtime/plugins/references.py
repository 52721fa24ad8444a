"""The grammar of plugin and action references: ``namespace/name`` and ``namespace/name.action``.

The grammar is strict and every malformed form gets its own message, because a
reference is typed by hand in workflow files and on the command line::

    plugin-ref  = namespace "/" name
    action-ref  = plugin-ref "." action
    namespace   = name = [a-z][a-z0-9-]*      (at most 64 characters)
    action      = [a-z][a-z0-9_-]*

Every cold ``resolve`` parses a reference, so the grammar is checked with
character sets; :data:`IDENTIFIER_PATTERN` and :data:`ACTION_NAME_PATTERN`
(the same grammar as regular expressions, for other modules) are compiled on
first use, which a cold resolve never makes (compiling both costs ~0.2 ms).
"""

from __future__ import annotations

from .._frozen import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

    from packaging.specifiers import SpecifierSet

    from ..errors import ReferenceSyntaxError, SourceLocation

    IDENTIFIER_PATTERN: re.Pattern[str]
    ACTION_NAME_PATTERN: re.Pattern[str]

__all__ = [
    "ACTION_NAME_PATTERN",
    "IDENTIFIER_PATTERN",
    "ActionRef",
    "PluginRef",
    "is_identifier",
    "parse_action_ref",
    "parse_plugin_ref",
    "parse_specifier",
]

_PATTERNS = {"IDENTIFIER_PATTERN": r"[a-z][a-z0-9-]{0,63}", "ACTION_NAME_PATTERN": r"[a-z][a-z0-9_-]*"}
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_IDENTIFIER_CHARS = _LOWER | frozenset("0123456789-")
_ACTION_CHARS = _IDENTIFIER_CHARS | {"_"}
_FORM = "write it as namespace/name.action, e.g. acme/http.get"
_PLUGIN_FORM = "write it as namespace/name, e.g. acme/http"
_set = object.__setattr__


class PluginRef(FrozenRecord, order=True):
    """``namespace/name``: one plugin, whatever its version or location."""

    __slots__ = ("name", "namespace")
    namespace: str
    name: str

    def __init__(self, namespace: str, name: str) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class ActionRef(FrozenRecord):
    """``namespace/name.action``: what a task's ``uses`` names."""

    __slots__ = ("action", "name", "namespace")
    namespace: str
    name: str
    action: str

    def __init__(self, namespace: str, name: str, action: str) -> None:
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "action", action)

    @property
    def plugin(self) -> PluginRef:
        return PluginRef(self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}.{self.action}"


def parse_plugin_ref(text: object, *, location: SourceLocation | None = None) -> PluginRef:
    """Parse ``namespace/name``; raise :class:`ReferenceSyntaxError` saying what is wrong."""
    body = _common_checks(text, location=location, form=_PLUGIN_FORM, action=False)
    if "." in body:
        raise _error(f"{body!r} is a plugin reference and may not contain '.'", location=location, hint=_PLUGIN_FORM)
    if "/" not in body:
        raise _error(
            f"{body!r} is missing the '/' between namespace and name",
            location=location,
            hint=f"write it as namespace/name, e.g. {_nearest(body, _IDENTIFIER_CHARS) or 'acme'}/hello",
        )
    namespace, name = _split_plugin(body, body, location=location, form=_PLUGIN_FORM)
    return PluginRef(namespace, name)


def parse_action_ref(text: object, *, location: SourceLocation | None = None) -> ActionRef:
    """Parse ``namespace/name.action``; raise :class:`ReferenceSyntaxError` saying what is wrong."""
    body = _common_checks(text, location=location, form=_FORM, action=True)
    plugin_part, dot, action = body.partition(".")
    if not dot:
        if "/" not in body:
            raise _error(f"{body!r} is missing its namespace and action", location=location, hint=_FORM)
        raise _error(f"{body!r} is missing the action: expected namespace/name.action", location=location, hint=_FORM)
    if "/" not in plugin_part:
        if "/" in action:
            raise _error(f"{body!r} has '.' inside the namespace", location=location, hint=_FORM)
        raise _error(
            f"{body!r} is missing the namespace: expected namespace/name.action",
            location=location,
            hint=f"add the plugin's namespace, e.g. acme/{body}",
        )
    if "." in action:
        raise _error(
            f"{body!r} has more than one '.': only one separates the plugin from the action",
            location=location,
            hint=_FORM,
        )
    if "/" in action:
        raise _error(f"{body!r} has '/' after the action's '.'", location=location, hint=_FORM)
    namespace, name = _split_plugin(plugin_part, body, location=location, form=_FORM)
    if not action:
        raise _error(f"{body!r} has an empty action name after '.'", location=location, hint=_FORM)
    if not (action[0] in _LOWER and _ACTION_CHARS.issuperset(action)):
        raise _error(
            f"action {action!r} in {body!r} is not a valid action name",
            location=location,
            hint="an action name has lowercase letters, digits, '_' and '-', starting with a letter",
        )
    return ActionRef(namespace, name, action)


def is_identifier(text: str) -> bool:
    """Whether ``text`` is a valid namespace or plugin name (``IDENTIFIER_PATTERN``, without ``re``)."""
    return 0 < len(text) <= 64 and text[0] in _LOWER and _IDENTIFIER_CHARS.issuperset(text)


def __getattr__(name: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(name)
    if pattern is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import re

    compiled = globals()[name] = re.compile(pattern)
    return compiled


def _common_checks(text: object, *, location: SourceLocation | None, form: str, action: bool) -> str:
    if not isinstance(text, str):
        raise _error(f"a reference must be a string, not {type(text).__name__}", location=location, hint=form)
    if not text:
        raise _error("the reference is empty", location=location, hint=form)
    if text.split() != [text]:  # whitespace anywhere (split() cuts at exactly what str.isspace() calls whitespace)
        suggestion = _suggestion("".join(text.split()), action=action)
        hint = f"remove the spaces: {suggestion!r}" if suggestion else form
        raise _error(f"{text!r} contains whitespace", location=location, hint=hint)
    if text != text.lower():
        suggestion = _suggestion(text, action=action)
        hint = f"write {suggestion!r}" if suggestion else form
        raise _error(f"{text!r} has uppercase letters; references are lowercase", location=location, hint=hint)
    return text


def _split_plugin(text: str, whole: str, *, location: SourceLocation | None, form: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    if "/" in name:
        raise _error(f"{whole!r} has more than one '/'", location=location, hint=form)
    if not namespace:
        raise _error(f"{whole!r} has an empty namespace before '/'", location=location, hint=form)
    if not name:
        raise _error(f"{whole!r} has an empty plugin name after '/'", location=location, hint=form)
    for what, part in (("namespace", namespace), ("plugin name", name)):
        if not is_identifier(part):
            suggestion = _suggestion(whole, action="." in whole)
            raise _error(
                f"{what} {part!r} is not valid",
                location=location,
                hint="use lowercase letters, digits and '-', starting with a letter (at most 64 characters)"
                + (f", e.g. {suggestion!r}" if suggestion else ""),
            )
    return namespace, name


def _suggestion(text: str, *, action: bool) -> str | None:
    """The valid reference nearest ``text`` for a hint (lower case, '-' for other characters), or None.

    ``Acme/Bad_Name`` becomes ``acme/bad-name``; an action part keeps its
    underscores, which action names allow.
    """
    plugin_part, dot, action_part = text.partition(".")
    parts = [_nearest(part, _IDENTIFIER_CHARS)[:64] for part in plugin_part.split("/")]
    if len(parts) != 2 or not all(parts) or bool(dot) != action:  # namespace and name, and the action if wanted
        return None
    suggestion = "/".join(parts)
    if dot:
        action_name = _nearest(action_part, _ACTION_CHARS)
        if not action_name:
            return None
        suggestion += f".{action_name}"
    return suggestion


def _nearest(part: str, allowed: frozenset[str]) -> str:
    """``part`` in lower case, each run of other characters one '-', starting with a letter, no '-' at the ends."""
    characters = [ch if ch in allowed else "-" for ch in part.lower()]
    words = "".join(characters).split("-")
    joined = "-".join(word for word in words if word)
    return joined.lstrip("-0123456789_").rstrip("-")


def _error(message: str, *, location: SourceLocation | None, hint: str) -> ReferenceSyntaxError:
    from ..errors import ReferenceSyntaxError

    return ReferenceSyntaxError(message, location=location, hint=hint)


def parse_specifier(specifier: SpecifierSet | str | None) -> SpecifierSet | None:
    """A version requirement (``>=1.2,<2``), parsed by ``packaging`` only when there is one."""
    if specifier is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if isinstance(specifier, SpecifierSet):
        return specifier
    try:
        return SpecifierSet(specifier)
    except InvalidSpecifier as exc:
        from ..errors import ReferenceSyntaxError

        raise ReferenceSyntaxError(
            f"{specifier!r} is not a valid version requirement",
            hint="use PEP 440 specifiers such as '>=1.2,<2'",
        ) from exc
