"""Control characters in plugin and workflow text, made visible: ESC is shown as the four characters ``\\x1b``.

A plugin's log line, error message or output value, and a workflow's or a
manifest's text, is hostile when it reaches a terminal: ESC and OSC
sequences recolour or hide text, set the window title or write the
clipboard (OSC 52), and C1 controls (``\\x9b`` is a one-byte CSI) do the same
on terminals that obey them. Rich also deletes CR, BS, VT, FF and BEL while
printing: a masker that ran before that deletion never saw the secret that
``hun\\rter2`` becomes on the screen.

So every C0 control but newline and tab, DEL and every C1 control becomes
``\\x`` and two lowercase hex digits, before masking and before printing:
nothing that removes characters later can join the halves of a secret
again, and what the plugin sent stays readable. The escape is one way (a
plugin can write the four characters ``\\x1b`` itself); it is for reading,
not for decoding.

Values that are data (outputs in the run record, ``--json`` documents) keep
exactly what the plugin sent: JSON escapes C0 itself, and
:func:`escape_controls_in_json` escapes DEL and C1, which JSON allows raw.
"""

from __future__ import annotations

import re

__all__ = ["escape_controls_in_json", "neutralise_controls"]

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def neutralise_controls(text: str) -> str:
    """``text`` with each C0 control (newline and tab excepted), DEL and C1 control written as ``\\xHH``."""
    return _CONTROLS.sub(_visible, text)


def escape_controls_in_json(document: str) -> str:
    """A JSON document (from ``json.dumps(..., ensure_ascii=False)``) with DEL and C1 written as ``\\u00HH``.

    The same value, read back; but nothing in the text a terminal would
    obey. Outside strings a JSON document holds only ASCII punctuation,
    digits and words, so every such character is inside a string, where the
    escape is valid.
    """
    return _RAW_IN_JSON.sub(_json_escape, document)
