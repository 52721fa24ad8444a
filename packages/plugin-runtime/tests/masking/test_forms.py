"""Each form a secret is registered under, printed by the writer that produces it, is masked.

Where the writer runs here (Python's escapers, PyYAML, ElementTree, GNU
``base64``, ``openssl base64``, Node's ``encodeURI``) it produces the text;
the other writers' output (Go, .NET, PHP, Ruby, Gson) is spelled out as they
write it. Every case is checked with ``mask()`` and with the streaming
masker at several chunk sizes, with both matchers.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import re
import shutil
import subprocess
from urllib.parse import quote, quote_plus
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

import pytest
import yaml

from workflow_plugin_runtime._util.control_chars import neutralise_controls
from workflow_plugin_runtime.errors import Severity
from workflow_plugin_runtime.masking.forms import secret_forms
from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

SECRET = "tok <wörd> & 'q' \"x\" /+=!*()~;:@#`"
"""Holds every character some writer escapes: space, markup, both quotes, URL-reserved, non-ASCII."""

BACKENDS = [
    pytest.param(MatchBackend.REGEX, id="regex"),
    pytest.param(
        MatchBackend.HYPERSCAN,
        id="hyperscan",
        marks=pytest.mark.skipif(importlib.util.find_spec("hyperscan") is None, reason="hyperscan has no wheel here"),
    ),
]
CHUNK_SIZES = (1, 3, 8, 64)


def make_masker(secrets: dict[str, str], backend: MatchBackend) -> Masker:
    masker = Masker(secrets, backend=backend)
    assert masker.backend is backend
    return masker


def masked_both_ways(masker: Masker, text: str) -> str:
    """``mask(text)``, after checking that streaming it at every chunk size gives exactly the same."""
    masked = masker.mask(text)
    for size in CHUNK_SIZES:
        stream = masker.stream()
        pieces = [stream.feed(text[start : start + size]) for start in range(0, len(text), size)]
        assert "".join(pieces) + stream.flush() == masked, f"chunks of {size}"
    return masked


def _lower_hex(encoded: str) -> str:
    return re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), encoded)


def _markup(value: str, double: str, single: str) -> str:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace('"', double).replace("'", single)


ESCAPED: dict[str, str] = {
    "xml-text-saxutils": xml_escape(SECRET),
    "xml-dotnet-SecurityElement.Escape": _markup(SECRET, "&quot;", "&apos;"),
    "html-python-html.escape": html.escape(SECRET),
    "html-go-html.EscapeString": _markup(SECRET, "&#34;", "&#39;"),
    "html-ruby-CGI.escapeHTML": _markup(SECRET, "&quot;", "&#39;"),
    "html-php-htmlspecialchars": _markup(SECRET, "&quot;", "&#039;"),
    "single-quotes-doubled-sql": SECRET.replace("'", "''"),
    "double-quotes-backslashed-docker-env": SECRET.replace('"', '\\"'),
    "url-lowercase-hex": _lower_hex(quote(SECRET, safe="")),
    "url-lowercase-hex-plus-for-space": _lower_hex(quote_plus(SECRET)),
    "json-go": r"tok \u003cwörd\u003e \u0026 'q' \"x\" /+=!*()~;:@#`",
    "json-gson": r"tok \u003cwörd\u003e \u0026 \u0027q\u0027 \"x\" /+\u003d!*()~;:@#`",
    "json-dotnet-System.Text.Json": (
        r"tok \u003Cw\u00F6rd\u003E \u0026 \u0027q\u0027 \u0022x\u0022 /\u002B=!*()~;:@#\u0060"
    ),
    "json-php-json_encode": json.dumps(SECRET)[1:-1].replace("/", "\\/"),
    "json-php-json_encode-unescaped-unicode": json.dumps(SECRET, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    "python-ascii": ascii(SECRET)[1:-1],
    "python-bytes-repr": repr(SECRET.encode())[2:-1],
}
"""Each writer's spelling of SECRET, the whole of which must become one ``***``."""

WRITTEN: dict[str, tuple[str, str]] = {
    "xml-attribute-elementtree": (
        ElementTree.tostring(ElementTree.Element("failure", message=SECRET), encoding="unicode"),
        f'<failure message="{MASK}" />',
    ),
    "single-quotes-doubled-yaml": (
        yaml.safe_dump({"token": SECRET}, default_style="'", allow_unicode=True),
        f"'token': '{MASK}'\n",
    ),
    "python-ascii-formatted": (f"token={SECRET!a}", f"token='{MASK}'"),
    "python-bytes-repr-formatted": (f"token={SECRET.encode()!r}", f"token=b'{MASK}'"),
}
"""Documents written by real writers holding SECRET, and each one masked."""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("writer", sorted(ESCAPED))
def test_each_writers_spelling_is_masked(backend: MatchBackend, writer: str) -> None:
    escaped = ESCAPED[writer]
    assert escaped != SECRET
    masker = make_masker({"TOKEN": SECRET}, backend)
    assert masked_both_ways(masker, f"log: [{escaped}] (end)\n") == f"log: [{MASK}] (end)\n"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("writer", sorted(WRITTEN))
def test_each_written_document_is_masked(backend: MatchBackend, writer: str) -> None:
    document, expected = WRITTEN[writer]
    masker = make_masker({"TOKEN": SECRET}, backend)
    assert masked_both_ways(masker, document) == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function", ["encodeURI", "encodeURIComponent", "JSON.stringify"])
def test_javascripts_encoders(backend: MatchBackend, function: str) -> None:
    script = f"process.stdout.write({function}(process.argv[1]))"
    printed = subprocess.run(["node", "-e", script, SECRET], capture_output=True, text=True, check=True).stdout
    assert printed != SECRET
    masker = make_masker({"TOKEN": SECRET}, backend)
    expected = f'"{MASK}"' if function == "JSON.stringify" else MASK
    assert masked_both_ways(masker, f"GET /?t={printed} 200\n") == f"GET /?t={expected} 200\n"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("command", "width"),
    [(["base64"], 76), (["openssl", "base64"], 64)],
    ids=["gnu-base64-76-columns", "openssl-base64-64-columns"],
)
def test_each_line_of_wrapped_base64(backend: MatchBackend, command: list[str], width: int) -> None:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    key = json.dumps({"type": "service_account", "private_key": "k" * 200, "client_email": "ci@example.com"})
    wrapped = subprocess.run(command, input=key.encode(), capture_output=True, check=True).stdout.decode()
    lines = wrapped.splitlines()
    assert len(lines) > 3 and {len(line) for line in lines[:-1]} == {width}
    masker = make_masker({"SA_KEY": key}, backend)
    masked = masked_both_ways(masker, f"echo $KEY | base64:\n{wrapped}done\n")
    assert masked == "echo $KEY | base64:\n" + f"{MASK}\n" * len(lines) + "done\n"
    crlf = wrapped.replace("\n", "\r\n")
    assert masked_both_ways(masker, crlf) == f"{MASK}\r\n" * len(lines)


def test_a_wrapped_base64_line_too_short_to_identify_the_secret_is_not_registered() -> None:
    """A last line of fewer than six characters carries under four bytes of the secret, like a too-short secret."""
    secret = "x" * 58  # 80 base64 characters: a last line of 4 at 76 columns ("eHg=")
    encoded = base64.b64encode(secret.encode()).decode()
    last_at_76, last_at_64 = encoded[76:], encoded[64:]
    assert (len(last_at_76), len(last_at_64)) == (4, 16)
    forms = secret_forms(secret)
    assert last_at_76 not in forms
    assert last_at_64 in forms and encoded[:76] in forms and encoded[:64] in forms


@pytest.mark.parametrize("backend", BACKENDS)
def test_runner_default_secret_maskers(backend: MatchBackend) -> None:
    """Translated from actions/runner, src/Test/L0/HostContextL0.cs, DefaultSecretMaskers.

    One deliberate difference: the runner leaves ``short`` (from ``"short"``)
    unmasked, as it trims quotes only from values over 8 characters; here the
    unquoted value is a form like any other and is masked from 4 characters.
    In base64, where the runner shows ``OlBh***``, the characters that hold
    bits of the secret are masked too: what stays visible is a head of what
    the runner shows.
    """
    values = ["Password123!", 'Pass"word"123!', "Pass word 123!", "Pass<word>123!", "Pass'word'123!"]
    values += ['"Password123!!"', '"short"']
    masker = make_masker({f"V{index}": value for index, value in enumerate(values)}, backend)
    for printed in [
        "123Password123!123",
        '123Pass\\"word\\"123!123',
        "123Pass%20word%20123%21123",
        "123Pass&lt;word&gt;123!123",
        "123Pass''word''123!123",
        "123Password123!!123",
        '123"short"123',
        "123short123",
    ]:
        assert masked_both_ways(masker, printed) == f"123{MASK}123", printed
    assert masked_both_ways(masker, "password123") == "password123"
    runner_shows = {
        ":": "OlBh",
        "a:": "YTpQ",
        "ab:": "YWI6",
        "abc:": "YWJjOlBh",
        "abcd:": "YWJjZDpQ",
        "abcde:": "YWJjZGU6",
    }
    for prefix, shown in runner_shows.items():
        masked = masked_both_ways(masker, base64.b64encode(f"{prefix}Password123!".encode()).decode())
        assert masked.endswith(MASK) and shown.startswith(masked[: -len(MASK)]), prefix


# Translated from actions/runner, src/Test/L0/HostContextL0.cs, SecretSectionMasking: a value holding ``&``
# run by PowerShell comes back in pieces with colour codes between them. The runner's text carries a raw ESC;
# ours reaches the masker neutralised (the four characters ``\x1b``), so both are checked.
SECTION_CASES = [
    ("secret&secret&secret", "secret&secret&\x1b[96msecret\x1b[0m", "***\x1b[96m***\x1b[0m"),
    ("secret&secret+secret", "secret&\x1b[96msecret+secret\x1b[0m", "***\x1b[96m***\x1b[0m"),
    ("secret+secret&secret", "secret+secret&\x1b[96msecret\x1b[0m", "***\x1b[96m***\x1b[0m"),
    ("secret&secret&+secretsecret", "secret&secret&+\x1b[96ms\x1b[0mecretsecret", "***\x1b[96ms\x1b[0m***"),
    ("secret&+secret&secret", "secret&+\x1b[96ms\x1b[0mecret&secret", "***\x1b[96ms\x1b[0m***"),
    ("secret&+secret&+secret", "secret&+\x1b[96ms\x1b[0mecret&+secret", "***\x1b[96ms\x1b[0m***"),
    ("secret&+secret&secret&+secret", "secret&+\x1b[96ms\x1b[0mecret&secret&+secret", "***\x1b[96ms\x1b[0m***"),
    ("secret&secret&+", "secret&secret&+\x1b[96m\x1b[0m", "***\x1b[96m\x1b[0m"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("secret", "printed", "expected"),
    SECTION_CASES,
    ids=[f"runner-HostContextL0.SecretSectionMasking-{secret}" for secret, _, _ in SECTION_CASES],
)
def test_powershell_sections_of_a_value_with_an_ampersand(
    backend: MatchBackend, secret: str, printed: str, expected: str
) -> None:
    masker = make_masker({"PS": secret}, backend)
    assert masked_both_ways(masker, printed) == expected
    assert masked_both_ways(masker, neutralise_controls(printed)) == neutralise_controls(expected)


def test_powershell_sections_shorter_than_six_are_not_registered() -> None:
    assert "ab&" not in secret_forms("ab&cdefgh") and "cdefgh" in secret_forms("ab&cdefgh")
    assert "abcdef&+" in secret_forms("abcdef&+xyz") and "yz" not in secret_forms("abcdef&+xyz")


class TestWhitespace:
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_whitespace_only_lines_of_a_multiline_secret_are_not_masked(self, backend: MatchBackend) -> None:
        key = "-----BEGIN KEY-----\n        \n\t\t\t\t\n    MIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----\n"
        masker = make_masker({"KEY": key}, backend)
        log = "def f():\n        return 1\n\t\t\t\tindented\n"
        assert masked_both_ways(masker, log) == log
        assert masked_both_ways(masker, key) == MASK
        assert masked_both_ways(masker, "x MIIEvQIBADANBgkqhkiG9w0B x\n") == f"x {MASK} x\n"

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_a_secret_of_whitespace_only_is_warned_about_by_key_and_not_masked(self, backend: MatchBackend) -> None:
        blank = " \t  \n  "
        masker = Masker({"BLANK": blank, "GOOD": "long-enough"}, backend=backend)
        assert [(problem.severity, problem.message, problem.hint) for problem in masker.warnings] == [
            (
                Severity.WARNING,
                "secret BLANK is only whitespace, so it is not masked: anything that prints it will show it",
                "use a value that is not only whitespace for BLANK",
            )
        ]
        assert secret_forms(blank) == frozenset()
        assert masked_both_ways(masker, f"a{blank}b long-enough") == f"a{blank}b {MASK}"
