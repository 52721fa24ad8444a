"""Control characters in plugin and workflow text, made visible: ESC is shown as the four characters ``\\x1b``.

A plugin's log line, error message or output value, and a workflow's or a
manifest's text, is hostile when it reaches a terminal: ESC and OSC
sequences recolour or hide text, set the window title or write the
clipboard (OSC 52), and C1 controls (``\\x9b`` is a one-byte CSI) do the same
on terminals that obey them. Rich also deletes CR, BS, VT, FF and BEL while
printing: a masker that ran before that deletion never saw the secret that
``hun\\rter2`` becomes on the screen.

Bidirectional controls (U+202A to U+202E, U+2066 to U+2069, and the
marks U+200E, U+200F, U+061C) are invisible too, and reorder what a
terminal shows after them ("Trojan Source"): a right-to-left override in
an error message makes the rest of the line read backwards, so a status,
a path or a value can be made to read as another.

So every C0 control but newline and tab, DEL and every C1 control becomes
``\\x`` and two lowercase hex digits, and every bidirectional control
``\\u`` and four, before masking and before printing:
nothing that removes characters later can join the halves of a secret
again, and what the plugin sent stays readable. The escape is one way (a
plugin can write the four characters ``\\x1b`` itself); it is for reading,
not for decoding.

Values that are data (outputs in the run record, ``--json`` documents) keep
exactly what the plugin sent: JSON escapes C0 itself, and
:func:`escape_controls_in_json` escapes DEL, C1 and the bidirectional
controls, which JSON allows raw.
"""

from __future__ import annotations

import re

__all__ = ["escape_controls_in_json", "neutralise_controls"]

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]"
_RAW_IN_JSON = f"[\x7f-\x9f{_BIDI}]"
_compiled: dict[str, re.Pattern[str]] = {}
"""Each pattern compiled on first use: its class of characters beyond Latin-1 costs 0.3-0.5 ms to compile, and
most texts (a name, a path, a one-line message) are settled without it."""


def _pattern(source: str) -> re.Pattern[str]:
    pattern = _compiled.get(source)
    if pattern is None:
        pattern = _compiled[source] = re.compile(source)
    return pattern


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def neutralise_controls(text: str) -> str:
    """``text`` with C0 controls (newline, tab excepted), DEL and C1 as ``\\xHH``, bidi controls as ``\\uHHHH``."""
    if text.isprintable():  # every character it changes is a control (Cc) or a format character (Cf): unprintable
        return text
    return _pattern(_CONTROLS).sub(_visible, text)


def escape_controls_in_json(document: str) -> str:
    """A JSON document (from ``json.dumps(..., ensure_ascii=False)``) with DEL, C1 and bidi controls as ``\\uHHHH``.

    The same value, read back; but nothing in the text a terminal would
    obey. Outside strings a JSON document holds only ASCII punctuation,
    digits and words, so every such character is inside a string, where the
    escape is valid.
    """
    if document.isascii() and "\x7f" not in document:  # of those characters, only DEL is ASCII
        return document
    return _pattern(_RAW_IN_JSON).sub(_json_escape, document)
