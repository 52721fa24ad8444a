from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflow_plugin_runtime.errors import Severity
from workflow_plugin_runtime.masking import MASK, MIN_SECRET_LENGTH, Masker, secret_forms

SECRET = 'p@ss "w/rd"+é=ok'
MASKER = Masker({"DB_PASSWORD": SECRET})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "json": lambda s: json.dumps(s)[1:-1],
    "json-unicode": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "repr": lambda s: repr(s)[1:-1],
    "quote": lambda s: quote(s, safe=""),
    "quote-default": quote,
    "quote_plus": quote_plus,
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "base64": lambda s: b64(s.encode()),
    "base64-unpadded": lambda s: b64(s.encode()).rstrip("="),
    "base64url": lambda s: b64url(s.encode()),
    "base64url-unpadded": lambda s: b64url(s.encode()).rstrip("="),
    "base64-twice": lambda s: b64(b64(s.encode()).encode()),
    "base64url-twice": lambda s: b64url(b64url(s.encode()).encode()),
}


def decodable_fragments(text: str) -> list[bytes]:
    """Everything any base64 or hex run in ``text`` decodes to, at every alignment."""
    out: list[bytes] = []
    for run in re.findall(r"[A-Za-z0-9+/_=-]{4,}", text):
        normal = run.replace("-", "+").replace("_", "/").rstrip("=")
        for shift in range(4):
            chunk = normal[shift:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            out.append(base64.b64decode(chunk + "=" * (-len(chunk) % 4)) if chunk else b"")
    for run in re.findall(r"[0-9A-Fa-f]{2,}", text):
        for shift in range(2):
            chunk = run[shift:]
            chunk = chunk[: len(chunk) - len(chunk) % 2]
            try:
                out.append(binascii.unhexlify(chunk))
            except binascii.Error:  # pragma: no cover - the run is hex by construction
                continue
    return out


class TestForms:
    @pytest.mark.parametrize("encoding", sorted(ENCODINGS))
    def test_each_standalone_encoding_is_masked(self, encoding: str) -> None:
        encoded = ENCODINGS[encoding](SECRET)
        masked = MASKER.mask(f"before {encoded} after")
        assert encoded not in masked
        assert masked.startswith("before ") and masked.endswith(" after")
        assert MASK in masked

    @pytest.mark.parametrize("encoder", [b64, b64url], ids=["standard", "urlsafe"])
    @pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz", b"Basic user:"])
    def test_secret_inside_a_longer_base64_string_at_each_alignment(
        self, encoder: Callable[[bytes], str], before: bytes
    ) -> None:
        blob = encoder(before + SECRET.encode() + b" and more")
        masked = MASKER.mask(f"Authorization: {blob}")
        assert MASK in masked
        assert not any(SECRET.encode() in fragment for fragment in decodable_fragments(masked))

    def test_base64_twice_inside_a_longer_blob(self) -> None:
        blob = b64(b"{" + b64(SECRET.encode()).encode() + b"}")
        masked = MASKER.mask(blob)
        assert not any(b64(SECRET.encode()).encode() in fragment for fragment in decodable_fragments(masked))

    def test_each_line_of_a_multiline_secret(self) -> None:
        key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nab\n-----END KEY-----"
        masker = Masker({"KEY": key})
        masked = masker.mask("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\nend: -----END KEY----- ab")
        assert masked == f"line: {MASK}\r\nend: {MASK} ab"
        assert masker.mask(key) == MASK

    def test_longest_form_wins(self) -> None:
        masker = Masker({"A": "abcd", "B": "abcdefgh"})
        assert masker.mask("xabcdefghx abcdx") == f"x{MASK}x {MASK}x"

    def test_secret_forms_skips_short_values(self) -> None:
        assert secret_forms("abc") == frozenset()
        assert all(len(form) >= MIN_SECRET_LENGTH for form in secret_forms("abcd\nxy\nlonger line"))
        assert "xy" not in secret_forms("abcd\nxy\nlonger line")

    def test_regex_characters_in_secrets_are_literal(self) -> None:
        masker = Masker({"RX": "a.*(b)|[c]"})
        assert masker.mask("xa.*(b)|[c]x aXXbc") == f"x{MASK}x aXXbc"

    def test_a_very_long_secret(self) -> None:
        key = "\n".join(b64(bytes([i % 251]) * 48) for i in range(60))
        masker = Masker({"PEM": key})
        assert masker.mask(f"key={json.dumps(key)}") == f'key="{MASK}"'
        stream = masker.stream()
        pieces = [stream.feed(key[i : i + 100]) for i in range(0, len(key), 100)]
        assert "".join(pieces) + stream.flush() == MASK


class TestShortAndEmpty:
    def test_short_values_warn_by_key_and_are_not_masked(self) -> None:
        masker = Masker({"PIN": "123", "EMPTY": "", "GOOD": "long-enough"})
        assert [(p.severity, p.message) for p in masker.warnings] == [
            (Severity.WARNING, "secret EMPTY is empty, so it is not masked: anything that prints it will show it"),
            (
                Severity.WARNING,
                "secret PIN is shorter than 4 characters, so it is not masked: anything that prints it will show it",
            ),
        ]
        assert all("123" not in str(p) for p in masker.warnings)
        assert masker.mask("123 long-enough") == f"123 {MASK}"

    def test_no_secrets_is_a_no_op(self) -> None:
        masker = Masker({})
        assert not masker.active
        assert masker.warnings == ()
        data = {"a": [1]}
        assert masker.mask_data(data) is data
        stream = masker.stream()
        assert stream.feed("abc") == "abc"
        assert stream.flush() == ""

    def test_repr_reveals_nothing(self) -> None:
        assert SECRET not in repr(MASKER)
        assert repr(MASKER) == "<Masker active=True>"


class TestMaskData:
    def test_nested_structures(self) -> None:
        data = {"out": [SECRET, {"msg": f"x {SECRET} y", SECRET: 1}], "n": 5, "t": True, "z": None}
        assert MASKER.mask_data(data) == {"out": [MASK, {"msg": f"x {MASK} y", MASK: 1}], "n": 5, "t": True, "z": None}

    def test_numbers_that_spell_a_secret(self) -> None:
        masker = Masker({"PIN": "123456"})
        assert masker.mask_data({"a": 123456, "b": 1234567, "c": 12, "d": 0.5, "e": (1, "x123456")}) == {
            "a": MASK,
            "b": f"{MASK}7",
            "c": 12,
            "d": 0.5,
            "e": [1, f"x{MASK}"],
        }

    def test_call_is_mask(self) -> None:
        assert MASKER(SECRET) == MASK


class TestStream:
    def test_secret_split_across_chunks_is_held_back(self) -> None:
        stream = MASKER.stream()
        first = stream.feed("log: p@ss ")
        assert first == "log: "
        assert stream.feed('"w/rd"+é=ok done\n') == f"{MASK} done\n"
        assert stream.flush() == ""

    def test_flush_releases_a_partial_match(self) -> None:
        stream = MASKER.stream()
        assert stream.feed("end p@ss") == "end "
        assert stream.flush() == "p@ss"

    @pytest.mark.parametrize("size", [1, 7, 8, 9, 64, 100, 1000])
    def test_long_stream_in_fixed_chunks(self, size: int) -> None:
        line = "2024-05-01 INFO request ok id=0123456789abcdef user=alice\n"
        text = line * 40 + f"token={SECRET} hex={SECRET.encode().hex()}\n" + line * 40 + SECRET
        stream = MASKER.stream()
        emitted = [stream.feed(text[i : i + size]) for i in range(0, len(text), size)]
        out = "".join(emitted) + stream.flush()
        assert out == reference_mask(text, [SECRET])
        assert out.count(MASK) == 3

    def test_held_tail_that_turns_out_harmless(self) -> None:
        stream = MASKER.stream()
        assert stream.feed("p@") == ""
        assert stream.feed("x") == "p@x"


# --- properties -----------------------------------------------------------------------------------

SECRETS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="*"),
    min_size=MIN_SECRET_LENGTH,
    max_size=24,
)
NOISE = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(SECRETS, NOISE, NOISE, st.sampled_from(sorted(ENCODINGS)))
def test_a_secret_never_survives_in_any_encoding(secret: str, before: str, after: str, encoding: str) -> None:
    encoded = ENCODINGS[encoding](secret)
    masked = Masker({"S": secret}).mask(before + encoded + after)
    assert secret not in masked
    assert encoded not in masked


@given(SECRETS, st.binary(max_size=8), st.binary(max_size=8), st.sampled_from([b64, b64url]))
def test_a_secret_inside_any_base64_blob_cannot_be_decoded(
    secret: str, before: bytes, after: bytes, encoder: Callable[[bytes], str]
) -> None:
    masked = Masker({"S": secret}).mask(encoder(before + secret.encode() + after))
    assert not any(secret.encode() in fragment for fragment in decodable_fragments(masked))


@given(SECRETS, NOISE, NOISE, st.sampled_from(sorted(ENCODINGS)), st.lists(st.integers(0, 200), max_size=8))
def test_streaming_at_any_chunk_boundaries_equals_masking_the_whole(
    secret: str, before: str, after: str, encoding: str, cuts: list[int]
) -> None:
    masker = Masker({"S": secret, "OTHER": "another-longer-secret"})
    text = before + ENCODINGS[encoding](secret) + after + "another-longer-secret" + before
    bounds = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    stream = masker.stream()
    emitted = [stream.feed(chunk) for chunk in chunks]
    streamed = "".join(emitted) + stream.flush()
    assert streamed == masker.mask(text)
    assert secret not in streamed
    assert all(secret not in piece for piece in emitted)


@given(st.lists(SECRETS, min_size=1, max_size=4), NOISE)
def test_text_without_secrets_passes_through_unchanged(secrets: list[str], text: str) -> None:
    assume(not any(form in text for secret in secrets for form in secret_forms(secret)))
    masker = Masker({f"K{i}": secret for i, secret in enumerate(secrets)})
    assert masker.mask(text) == text
    stream = masker.stream()
    assert stream.feed(text) + stream.flush() == text


def reference_mask(text: str, secrets: list[str]) -> str:
    """The masking rule written the slow, obvious way: at each place, replace the longest form found there."""
    forms = {form for secret in secrets for form in secret_forms(secret)}
    out: list[str] = []
    pos = 0
    while pos < len(text):
        found = max((form for form in forms if text.startswith(form, pos)), key=len, default=None)
        if found is None:
            out.append(text[pos])
            pos += 1
        else:
            out.append(MASK)
            pos += len(found)
    return "".join(out)


LONG_SECRETS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="*"), min_size=4, max_size=30
)


@given(
    st.lists(LONG_SECRETS, min_size=1, max_size=3),
    st.lists(st.tuples(NOISE, st.integers(0, 2), st.sampled_from(sorted(ENCODINGS))), max_size=6),
    st.integers(0, 120),
)
def test_masking_matches_the_obvious_rule_on_long_and_short_texts(
    secrets: list[str], pieces: list[tuple[str, int, str]], padding: int
) -> None:
    text = "x" * padding + "".join(
        noise + ENCODINGS[encoding](secrets[which % len(secrets)]) for noise, which, encoding in pieces
    )
    masker = Masker({f"K{i}": secret for i, secret in enumerate(secrets)})
    expected = reference_mask(text, secrets)
    assert masker.mask(text) == expected
    stream = masker.stream()
    middle = len(text) // 2
    assert stream.feed(text[:middle]) + stream.feed(text[middle:]) + stream.flush() == expected


def test_long_text_with_secrets_far_apart() -> None:
    secret = "a-long-enough-secret-value"
    text = ("filler line without anything\n" * 500).join(
        ["start ", f" {secret} ", f" {secret.encode().hex()} ", " end"]
    )
    masked = Masker({"S": secret}).mask(text)
    assert masked == reference_mask(text, [secret])
    assert masked.count(MASK) == 2


@pytest.mark.parametrize("offset", [0, 65536 - 20, 65536 - 3, 65536, 131072 + 7])
def test_secret_anywhere_in_a_text_of_several_filter_blocks(offset: int) -> None:
    secret = "block-boundary-secret-value"
    filler = "".join(f"line {i:06d} nothing to see\n" for i in range(8000))
    text = filler[:offset] + secret + filler[offset:] + base64.b64encode(b"xy" + secret.encode()).decode()
    masked = Masker({"S": secret}).mask(text)
    assert masked == reference_mask(text, [secret])
    assert masked.count(MASK) == 2
