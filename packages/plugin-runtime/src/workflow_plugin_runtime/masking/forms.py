"""The forms a secret is registered under: every spelling a real writer gives it in output.

A secret leaks in more shapes than its plain text: escaped inside JSON by
whichever serializer wrote it, URL-encoded in a query string, escaped in an
XML report or an HTML error page, quoted for a shell, SQL or YAML,
hex-dumped, base64-encoded on its own, in the middle of a longer base64
blob, encoded twice or wrapped in lines, or printed one line at a time.
Each function below yields one family of those shapes and names the writer
that produces it (or the CI runner that masks it too); ``secret_forms`` is
their union.

Cost: every distinct form is one more literal for the matcher. Most styles
differ only where the secret holds the characters they escape (``<`` for
HTML, ``/`` for PHP's JSON), so for a typical token most of them are the
plain value again and cost nothing.

Not registered on purpose: lines of a multi-line secret that hold only
whitespace (masking every run of spaces would ruin a log and protect
nothing); values shorter than ``MIN_SECRET_LENGTH`` (replacing every ``on``
or ``42`` would ruin a log and, by the holes it leaves, reveal the value
anyway), which the masker warns about by key instead.
"""

from __future__ import annotations

import json
import re
from binascii import b2a_base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

from .._util.control_chars import neutralise_controls

__all__ = ["MIN_SECRET_LENGTH", "secret_forms"]

MIN_SECRET_LENGTH = 4
_MIN_SECTION_LENGTH = 6
_WRAP_WIDTHS = (64, 76)
_UPPER_HEX_ESCAPE = "%[0-9A-F]{2}"  # patterns as text: re compiles (and keeps) them at the first secret, not at import
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64encode(data: bytes) -> bytes:
    """``base64.b64encode``, which is this call: :mod:`base64` (with :mod:`struct`) costs a run 0.5 ms to import."""
    return b2a_base64(data, newline=False)


def _urlsafe_b64encode(data: bytes) -> bytes:
    """``base64.urlsafe_b64encode``: the standard alphabet with ``-`` and ``_`` for ``+`` and ``/``."""
    return _b64encode(data).translate(_URL_SAFE)


def secret_forms(value: str) -> frozenset[str]:
    """Every string ``value`` may show up as in output; empty for values too short or only whitespace."""
    if len(value) < MIN_SECRET_LENGTH or not value.strip():
        return frozenset()
    data = _secret_bytes(value)
    forms = {value, *_python_forms(value, data), *_json_forms(value), *_quoted_forms(value)}
    forms.update(_markup_forms(value))
    forms.update(_url_forms(data))
    forms.update((data.hex(), data.hex().upper()))
    forms.update(_base64_forms(data, tails=True))
    forms.update(_chopped_base64(data))
    for encode in (_b64encode, _urlsafe_b64encode):
        forms.update(_base64_forms(encode(data), tails=False))
    forms.update(_wrapped_base64_lines(data))
    forms.update(_powershell_sections(value))
    forms.update(_line_forms(value))
    forms |= {neutralise_controls(form) for form in forms}  # what plugin text holds after neutralising
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH)


def _secret_bytes(value: str) -> bytes:
    """The bytes a secret stands for, even when it holds lone surrogates.

    A value read from the environment or a file with undecodable bytes holds
    them as surrogate escapes: those map back to the original bytes, which
    is what an encoded form of it would show; any other lone surrogate is
    kept as its own code point rather than making the masker fail.
    """
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _python_forms(value: str, data: bytes) -> Iterator[str]:
    """Python's own spellings: ``repr()``/``%r`` and ``ascii()``/``%a`` of the string, ``repr()`` of its bytes."""
    yield repr(value)[1:-1]
    yield ascii(value)[1:-1]
    yield repr(data)[2:-1]


def _json_forms(value: str) -> Iterator[str]:
    """The inside of a JSON string holding ``value``, as each common serializer writes it.

    Each writer's style is one form (not every combination of escapes):
    Python's ``json`` and JavaScript's ``JSON.stringify`` (and the Actions
    runner's ``JsonStringEscape``), raw and ASCII-only; Go's ``encoding/json``
    (and Rails), which writes ``<``, ``>``, ``&``, U+2028 and U+2029 as
    lowercase ``\\u`` escapes; Gson, which adds ``'`` and ``=``; .NET's
    ``System.Text.Json``, which escapes every non-ASCII character, ``"``,
    ``'``, ``+`` and the HTML characters with uppercase hex (``\\u00E4``);
    PHP's ``json_encode``, ASCII-only (lowercase hex) with ``/`` as ``\\/``,
    and the same with ``JSON_UNESCAPED_UNICODE``.
    """
    raw = json.dumps(value, ensure_ascii=False)[1:-1]
    ascii_only = json.dumps(value, ensure_ascii=True)[1:-1]
    yield from (raw, ascii_only)
    yield raw.translate(_GO_JSON)
    yield raw.translate(_GSON)
    yield re.sub(_JSON_ESCAPE, _dotnet_escape, ascii_only).translate(_DOTNET_JSON)
    yield from (ascii_only.replace("/", "\\/"), raw.replace("/", "\\/"))


def _unicode_escapes(chars: str) -> dict[int, str]:
    """A ``str.translate`` table writing each of ``chars`` as a lowercase ``\\u`` escape.

    Applied to ``json.dumps`` output, which never escapes these characters,
    so no escape it wrote is touched.
    """
    return {ord(char): f"\\u{ord(char):04x}" for char in chars}


_GO_JSON = _unicode_escapes("<>&\u2028\u2029")
_GSON = _unicode_escapes("<>&'=\u2028\u2029")
_DOTNET_JSON = {code: escape.upper().replace("\\U", "\\u") for code, escape in _unicode_escapes("'+<>&`\x7f").items()}
_JSON_ESCAPE = r"\\(?:u([0-9a-f]{4})|(.))"


def _dotnet_escape(match: re.Match[str]) -> str:
    """One escape of ASCII-only ``json.dumps`` output as .NET writes it: uppercase hex, ``"`` as ``\\u0022``."""
    code, short = match.groups()
    if code is not None:
        return f"\\u{code.upper()}"
    return "\\u0022" if short == '"' else match.group()


def _quoted_forms(value: str) -> Iterator[str]:
    """The value as quoting for a shell, SQL or YAML leaves it, or registered with quotes it is printed without.

    Single quotes doubled: YAML single-quoted strings, SQL literals,
    PowerShell (the Actions runner's ``ExpressionStringEscape``). Double
    quotes backslash-escaped alone (the Actions runner's
    ``CommandLineArgumentEscape``, how it passes values to ``docker -e``).
    A value registered with surrounding double quotes is printed without
    them wherever a shell or parser consumed the quotes (the Actions
    runner's ``TrimDoubleQuotes``).
    """
    yield value.replace("'", "''")
    yield value.replace('"', '\\"')
    if len(value) > 2 and value.startswith('"') and value.endswith('"'):
        yield value[1:-1]


_MARKUP_QUOTES = (
    (None, None),  # XML text content: ElementTree, xml.sax.saxutils.escape
    ("&quot;", None),  # XML attribute values: ElementTree, minidom
    ("&quot;", "&apos;"),  # .NET SecurityElement.Escape (the Actions runner's XmlDataEscape), Java's escapeXml
    ("&quot;", "&#x27;"),  # Python's html.escape, Django
    ("&#34;", "&#39;"),  # Go's html.EscapeString and html/template, Jinja2 (MarkupSafe)
    ("&quot;", "&#39;"),  # Ruby's CGI.escapeHTML and ERB::Util, Rails
    ("&quot;", "&#039;"),  # PHP's htmlspecialchars
)


def _markup_forms(value: str) -> Iterator[str]:
    """XML- and HTML-escaped: a secret in a JUnit report or an HTML error page.

    Every writer escapes ``&``, ``<`` and ``>`` alike; they differ in the
    quotes (which entity, or none), one form per writer in ``_MARKUP_QUOTES``.
    """
    base = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for double, single in _MARKUP_QUOTES:
        escaped = base if double is None else base.replace('"', double)
        yield escaped if single is None else escaped.replace("'", single)


def _url_forms(data: bytes) -> Iterator[str]:
    """URL-encoded as the common encoders write it.

    Every reserved character encoded, space as ``%20`` or ``+``, in
    uppercase hex (Python's ``quote``/``quote_plus``, Go's
    ``url.QueryEscape``, the Actions runner's ``UriDataEscape``) and
    lowercase hex (hand-written and C encoders); a path with ``/`` kept (``quote``'s
    default); JavaScript's ``encodeURIComponent`` (keeps ``!*'()``) and
    ``encodeURI`` (keeps the reserved characters, ``;,/?:@&=+$#``, too).
    """
    component = quote(data, safe="")
    plus = quote_plus(data)
    yield from (component, plus, quote(data))
    yield from (re.sub(_UPPER_HEX_ESCAPE, lambda escape: escape.group().lower(), form) for form in (component, plus))
    yield quote(data, safe="!*'()")
    yield quote(data, safe=";,/?:@&=+$!*'()#")


def _base64_forms(data: bytes, *, tails: bool) -> set[str]:
    """Standalone encodings, padded and not, and the stable middle at each byte alignment.

    Inside a longer base64 string the secret starts 0, 1 or 2 bytes into a
    3-byte group; the characters whose 6 bits all come from the secret are
    the same whatever surrounds it, so they are what can be found (the
    Actions runner registers the same three alignments, as whole encodings). Where
    the secret ends the blob, its last character and the padding depend on
    the secret alone too: that tail is a form as well (``tails``), so neither
    the last bits nor the secret's length modulo 3 show. Base64 applied
    twice goes without tails: they would add a third of all forms for the
    last bits of a rare encoding.
    """
    forms: set[str] = set()
    for encode in (_b64encode, _urlsafe_b64encode):
        full = encode(data).decode("ascii")
        forms.update((full, full.rstrip("=")))
        for offset in range(3):
            shifted = encode(bytes(offset) + data).decode("ascii")
            first = -(-8 * offset // 6)
            last = 8 * (offset + len(data)) // 6
            forms.add(shifted[first:last])
            if tails:
                forms.update((shifted[first:], shifted[first:].rstrip("=")))
    return forms


def _chopped_base64(data: bytes) -> Iterator[str]:
    """The base64 of the secret less its first one or two bytes, standing alone.

    The Actions runner registers the same (``Base64StringEscapeShift1`` and
    ``2``, standard base64 only). It decodes to all of the secret but those
    bytes. Inside a blob the alignment forms above already cover it, from
    one or two characters earlier; standing alone, without those
    characters, only this form finds it. Registered only while at least ``MIN_SECRET_LENGTH`` bytes
    remain, like a wrapped line: a shorter piece is as common in unrelated
    base64 as a too-short secret is in text.
    """
    for encode in (_b64encode, _urlsafe_b64encode):
        for chopped in (1, 2):
            if len(data) - chopped >= MIN_SECRET_LENGTH:
                rest = encode(data[chopped:]).decode("ascii")
                yield from (rest, rest.rstrip("="))


def _wrapped_base64_lines(data: bytes) -> Iterator[str]:
    """Each line of the secret's base64 wrapped at 76 columns (GNU ``base64``, MIME) or 64 (PEM, ``openssl base64``).

    Wrapping puts a line break every 76 (or 64) characters, so the whole
    encoding never appears; each line is a piece of it, derived from the
    secret's bytes alone, and is registered. The last line is registered
    only if it carries at least ``MIN_SECRET_LENGTH`` bytes of the secret
    (six base64 characters, padding not counted): a shorter piece is as
    common in unrelated base64 as a too-short secret is in text, so
    masking it would ruin logs and, by its holes, say where the secret is.
    A secret inside a longer wrapped blob has line breaks at an unknown
    column, so its pieces are any substrings of its encoding: not masked.
    """
    encoded = _b64encode(data).decode("ascii")
    least = -(-4 * MIN_SECRET_LENGTH // 3)
    for width in _WRAP_WIDTHS:
        for start in range(0, len(encoded), width):
            line = encoded[start : start + width]
            if len(line.rstrip("=")) >= least:
                yield line


def _powershell_sections(value: str) -> Iterator[str]:
    """The two pieces PowerShell may print apart (with colour codes between them) when it runs a value holding ``&``.

    The Actions runner's ``PowerShellPreAmpersandEscape`` and
    ``PowerShellPostAmpersandEscape`` rule, kept exactly: without ``&+`` the
    value splits after its last ``&``; with ``&+`` it splits after the
    first ``&+``, and the character right after it (the one PowerShell
    colours) belongs to neither piece. A piece shorter than six characters
    is not registered, as in the Actions runner: a piece is only part of
    the secret and, short, matches unrelated text far more often than the whole does.
    """
    if "&" not in value:
        return
    if "&+" in value:
        split = value.index("&+") + 2
        head, tail = value[:split], value[split + 1 :]
    else:
        split = value.rindex("&") + 1
        head, tail = value[:split], value[split:]
    yield from (section for section in (head, tail) if len(section) >= _MIN_SECTION_LENGTH)


def _line_forms(value: str) -> Iterator[str]:
    """Each line of a multi-line secret, as printed one line at a time, with and without its surrounding spaces.

    A child process's output is read and logged line by line, and
    indentation is often added or stripped on the way (the Actions runner
    registers each line trimmed). Lines holding only whitespace are skipped: every run
    of spaces in the log would be masked, protecting nothing.
    """
    for line in value.splitlines():
        if line.strip():
            yield from (line, line.strip(), json.dumps(line, ensure_ascii=False)[1:-1])
