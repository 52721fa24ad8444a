"""What a plugin may send: values every reader after the runtime can carry.

A response ends up in files, pipes and terminals (the run record, ``--json``,
the progress view), so besides its shape it must hold text that is valid
Unicode, finite numbers and bounded nesting (``docs/protocol.md``, "Values a
plugin may send"). The checks are cheap for the usual small message: the
JSON text decides whether the data needs a walk at all.
"""

from __future__ import annotations

import json

from ._errors import ProtocolError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from typing import Any

MAX_NESTING = 100
"""How deep a response, ready line or log record may nest; every reader after us walks it recursively."""

_PLAIN_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_INFINITY = float("inf")
_SHOWN_KEY_CHARS = 40
_SHOWN_PATH_CHARS = 120


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\\ud800``), so UTF-8 can carry it.

    Python hands out such strings for bytes that are not UTF-8 (file names,
    environment variables: ``surrogateescape``); the escape keeps the text
    readable and says which byte it was.
    """
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def unreadable_value(value: object) -> str | None:
    """What in ``value`` no later reader can carry, and where; None when every part is fine.

    A lone surrogate (the JSON escape ``\\ud800`` alone) is not text: no
    UTF-8 file, pipe or terminal can hold it. A float out of range (``1e400``
    reads as infinity) is not a JSON number. Data nested deeper than
    :data:`MAX_NESTING` breaks every recursive walker after us. The answer
    names the place (``field 'outputs.files[2]': ...``). The walk is
    iterative and in document order, so hostile data cannot overflow it.
    """
    pending: list[tuple[object, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        problem = None
        if isinstance(item, str):
            problem = _text_problem(item)
        elif isinstance(item, float) and not _finite(item):
            problem = f"holds {item!r}, which is not a finite number; JSON has no NaN or infinity (send it as a string)"
        elif isinstance(item, (dict, list)) and len(path) >= MAX_NESTING:
            problem = f"nests more than {MAX_NESTING} levels deep"
        elif isinstance(item, dict):
            bad_key = next((key for key in item if isinstance(key, str) and _text_problem(key)), None)
            if bad_key is not None:
                path, problem = (*path, bad_key), f"the key {_text_problem(bad_key)}"
            else:
                pending.extend((child, (*path, key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((child, (*path, index)) for index, child in reversed(list(enumerate(item))))
        if problem is not None:
            return f"field '{_field_path(path)}': {problem}" if path else problem
    return None


def _finite(number: float) -> bool:
    """``math.isfinite`` without importing ``math`` (every plugin start imports this module): NaN compares false."""
    return -_INFINITY < number < _INFINITY


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")  # fails at the first lone surrogate, the only thing UTF-8 cannot carry
    except UnicodeEncodeError as exc:
        return (
            f"holds a lone surrogate ({escape_surrogates(text[exc.start])}), which is not valid Unicode text "
            "(send text as UTF-8, and bytes as base64)"
        )
    return None


def _field_path(path: tuple[str | int, ...]) -> str:
    """``("outputs", "files", 2)`` -> ``outputs.files[2]``; odd keys quoted, long keys and paths cut."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _plain_key(part) and len(part) <= _SHOWN_KEY_CHARS:
            text += f".{part}" if text else part
        else:
            cut = len(part) > _SHOWN_KEY_CHARS
            text += "[" + json.dumps(part[:_SHOWN_KEY_CHARS] + ("..." if cut else "")) + "]"
        if len(text) > _SHOWN_PATH_CHARS:
            return text[:_SHOWN_PATH_CHARS] + "..."
    return text


def _plain_key(key: str) -> bool:
    """Whether ``key`` reads as a name in a path, ``[A-Za-z_][A-Za-z0-9_-]*``, with no pattern compiled at import."""
    return key[:1] not in ("", "-") and not key[0].isdigit() and _PLAIN_KEY_CHARS.issuperset(key)


def unreadable_message(message: object, text: str) -> str | None:
    """:func:`unreadable_value` of ``message``, walked only when its JSON ``text`` says it may be needed.

    A lone surrogate in parsed JSON needs a ``\\ud..`` escape in ``text`` (its
    raw form was escaped before parsing, or UTF-8 could not hold it), and
    deep nesting needs many brackets; numbers out of range were refused while
    parsing. So most messages cost two substring scans, not a walk.
    """
    if "\\ud" in text or "\\uD" in text:
        return unreadable_value(message)
    if text.count("[") + text.count("{") >= MAX_NESTING and _nests_too_deep(message):
        return unreadable_value(message)
    return None


def _nests_too_deep(message: object) -> bool:
    """Whether any container sits :data:`MAX_NESTING` levels down, level by level (no recursion)."""
    level: list[Any] = [message]
    for _ in range(MAX_NESTING):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def finite_float(literal: str) -> float:
    """``parse_float`` for every reader: ``1e400`` would read as infinity, which no JSON writer can spell."""
    number = float(literal)
    if not _finite(number):
        shown = literal if len(literal) <= _SHOWN_KEY_CHARS else literal[:_SHOWN_KEY_CHARS] + "..."
        raise ProtocolError(f"{shown} is out of range for a JSON number (it reads as infinity); send it as a string")
    return number
