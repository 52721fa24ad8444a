from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import re
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import MappingProxyType
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflow_plugin_runtime._util.control_chars import neutralise_controls
from workflow_plugin_runtime.errors import Severity
from workflow_plugin_runtime.masking.forms import MIN_SECRET_LENGTH, secret_forms
from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

SECRET = 'p@ss "w/rd"+é=ok'

HYPERSCAN_MISSING = importlib.util.find_spec("hyperscan") is None


def make_masker(secrets: dict[str, str], backend: MatchBackend) -> Masker:
    masker = Masker(secrets, backend=backend)
    assert masker.backend is backend
    return masker


@pytest.fixture(scope="module")
def masker(backend: MatchBackend) -> Masker:
    return make_masker({"DB_PASSWORD": SECRET}, backend)


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
    def test_each_standalone_encoding_is_masked(self, masker: Masker, encoding: str) -> None:
        encoded = ENCODINGS[encoding](SECRET)
        masked = masker.mask(f"before {encoded} after")
        assert encoded not in masked
        assert masked.startswith("before ") and masked.endswith(" after")
        assert MASK in masked

    @pytest.mark.parametrize("encoder", [b64, b64url], ids=["standard", "urlsafe"])
    @pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz", b"Basic user:"])
    def test_secret_inside_a_longer_base64_string_at_each_alignment(
        self, masker: Masker, encoder: Callable[[bytes], str], before: bytes
    ) -> None:
        blob = encoder(before + SECRET.encode() + b" and more")
        masked = masker.mask(f"Authorization: {blob}")
        assert MASK in masked
        assert not any(SECRET.encode() in fragment for fragment in decodable_fragments(masked))

    def test_base64_twice_inside_a_longer_blob(self, masker: Masker) -> None:
        blob = b64(b"{" + b64(SECRET.encode()).encode() + b"}")
        masked = masker.mask(blob)
        assert not any(b64(SECRET.encode()).encode() in fragment for fragment in decodable_fragments(masked))

    def test_each_line_of_a_multiline_secret(self, backend: MatchBackend) -> None:
        key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nab\n-----END KEY-----"
        masker = make_masker({"KEY": key}, backend)
        masked = masker.mask("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\nend: -----END KEY----- ab")
        assert masked == f"line: {MASK}\r\nend: {MASK} ab"
        assert masker.mask(key) == MASK

    def test_longest_form_wins(self, backend: MatchBackend) -> None:
        masker = make_masker({"A": "abcd", "B": "abcdefgh"}, backend)
        assert masker.mask("xabcdefghx abcdx") == f"x{MASK}x {MASK}x"

    def test_secret_forms_skips_short_values(self) -> None:
        assert secret_forms("abc") == frozenset()
        assert all(len(form) >= MIN_SECRET_LENGTH for form in secret_forms("abcd\nxy\nlonger line"))
        assert "xy" not in secret_forms("abcd\nxy\nlonger line")

    def test_regex_characters_in_secrets_are_literal(self, backend: MatchBackend) -> None:
        masker = make_masker({"RX": "a.*(b)|[c]"}, backend)
        assert masker.mask("xa.*(b)|[c]x aXXbc") == f"x{MASK}x aXXbc"

    def test_nul_and_non_ascii_bytes_in_secrets(self, backend: MatchBackend) -> None:
        secret = "nul\x00byte-é-\U0001f511"
        masker = make_masker({"S": secret}, backend)
        text = f"a {secret} b {json.dumps(secret)} c {secret.encode().hex()}"
        assert masker.mask(text) == f'a {MASK} b "{MASK}" c {MASK}'

    def test_a_very_long_secret(self, backend: MatchBackend) -> None:
        key = "\n".join(b64(bytes([i % 251]) * 48) for i in range(60))
        masker = make_masker({"PEM": key}, backend)
        assert masker.mask(f"key={json.dumps(key)}") == f'key="{MASK}"'
        assert masker.mask(f"hex={key.encode().hex()}") == f"hex={MASK}"
        stream = masker.stream()
        pieces = [stream.feed(key[i : i + 100]) for i in range(0, len(key), 100)]
        assert "".join(pieces) + stream.flush() == MASK

    def test_long_secrets_sharing_a_long_beginning(self, backend: MatchBackend) -> None:
        """Hyperscan finds a long form by its first 64 bytes: the rest must still decide the match."""
        common = "shared-beginning-" * 6
        secrets = [common + "alpha", common + "alpha-and-more", common + "gamma"]
        masker = make_masker({f"K{i}": value for i, value in enumerate(secrets)}, backend)
        text = f"1 {common}alpha-and-more 2 {common}gamma 3 {common}alpha 4 {common}beta"
        assert masker.mask(text) == f"1 {MASK} 2 {MASK} 3 {MASK} 4 {common}beta"
        assert masker.mask(text) == reference_mask(text, secrets)


class TestShortAndEmpty:
    def test_short_values_warn_by_key_and_are_not_masked(self, backend: MatchBackend) -> None:
        masker = make_masker({"PIN": "123", "EMPTY": "", "GOOD": "long-enough"}, backend)
        assert [(p.severity, p.message) for p in masker.warnings] == [
            (Severity.WARNING, "secret EMPTY is empty, so it is not masked: anything that prints it will show it"),
            (
                Severity.WARNING,
                "secret PIN is shorter than 4 characters, so it is not masked: anything that prints it will show it",
            ),
        ]
        assert all("123" not in str(p) for p in masker.warnings)
        assert masker.mask("123 long-enough") == f"123 {MASK}"

    @pytest.mark.parametrize("backend", list(MatchBackend))
    def test_no_secrets_is_a_no_op(self, backend: MatchBackend) -> None:
        masker = Masker({}, backend=backend)
        assert not masker.active
        assert masker.backend is None
        assert masker.warnings == ()
        data = {"a": [1]}
        assert masker.mask_data(data) is data
        stream = masker.stream()
        assert stream.feed("abc") == "abc"
        assert stream.flush() == ""

    def test_repr_reveals_nothing(self, masker: Masker) -> None:
        assert SECRET not in repr(masker)
        assert repr(masker) == "<Masker active=True>"


class TestMaskData:
    def test_nested_structures(self, masker: Masker) -> None:
        data = {"out": [SECRET, {"msg": f"x {SECRET} y", SECRET: 1}], "n": 5, "t": True, "z": None}
        assert masker.mask_data(data) == {"out": [MASK, {"msg": f"x {MASK} y", MASK: 1}], "n": 5, "t": True, "z": None}

    def test_numbers_that_spell_a_secret(self, backend: MatchBackend) -> None:
        masker = make_masker({"PIN": "123456"}, backend)
        assert masker.mask_data({"a": 123456, "b": 1234567, "c": 12, "d": 0.5, "e": (1, "x123456")}) == {
            "a": MASK,
            "b": f"{MASK}7",
            "c": 12,
            "d": 0.5,
            "e": [1, f"x{MASK}"],
        }

    def test_a_number_is_masked_when_a_form_spells_part_of_its_json_and_kept_when_none_can(
        self, backend: MatchBackend
    ) -> None:
        """Only a form made of the characters JSON writes numbers with can occur in one; others skip numbers."""
        exponent = make_masker({"KEY": "1.5e+300"}, backend)
        assert exponent.mask_data({"x": 1.5e300, "y": 2.5}) == {"x": MASK, "y": 2.5}
        lettered = make_masker({"KEY": "123456x"}, backend)
        data = {"n": 123456, "f": 123456.5, "s": "123456x"}
        assert lettered.mask_data(data) == {"n": 123456, "f": 123456.5, "s": MASK}

    def test_texts_masked_again_and_again_give_the_same_answer_past_what_is_remembered(self, masker: Masker) -> None:
        texts = [f"{index}:{SECRET}" if index % 2 else f"{index}:plain" for index in range(10_000)]
        expected = [f"{index}:{MASK}" if index % 2 else f"{index}:plain" for index in range(10_000)]
        assert [masker.mask(text) for text in texts] == expected
        assert [masker.mask(text) for text in reversed(texts)] == expected[::-1]
        assert masker.mask_data({text: text for text in texts[:4]}) == {e: e for e in expected[:4]}

    def test_keys_that_mask_alike_keep_every_entry_numbered_by_place(self, backend: MatchBackend) -> None:
        masker = make_masker({"FIRST": "alpha-secret-1", "SECOND": "beta-secret-22"}, backend)
        data = {"beta-secret-22": 1, "plain": 2, "alpha-secret-1": [3], "***": 4, "***#3": 5, "x alpha-secret-1": 6}
        assert masker.mask_data(data) == {MASK: 1, "plain": 2, f"{MASK}#2": [3], f"{MASK}#4": 4, "***#3": 5, "x ***": 6}
        assert masker.mask_data({"outer": data}) == {"outer": masker.mask_data(data)}

    def test_values_that_mask_alike_all_stay(self, backend: MatchBackend) -> None:
        masker = make_masker({"FIRST": "alpha-secret-1", "SECOND": "beta-secret-22"}, backend)
        assert masker.mask_data({"a": "alpha-secret-1", "b": ["beta-secret-22", "alpha-secret-1"]}) == {
            "a": MASK,
            "b": [MASK, MASK],
        }

    def test_plain_dicts_and_other_containers_of_any_kind_of_value_mask_alike(self, backend: MatchBackend) -> None:
        masker = make_masker({"PIN": "123456", "KEY": "alpha-secret-1"}, backend)

        class Label(str):
            __slots__ = ()

        data = {
            "n": 123456,
            "f": 0.5,
            "t": True,
            "none": None,
            Label("alpha-secret-1"): Label("x alpha-secret-1"),
            7: "alpha-secret-1",
            "inner": OrderedDict(a=123456, b={"c": "alpha-secret-1"}),
            "seq": ("alpha-secret-1", 123456),
        }
        expected = {
            "n": MASK,
            "f": 0.5,
            "t": True,
            "none": None,
            MASK: f"x {MASK}",
            7: MASK,
            "inner": {"a": MASK, "b": {"c": MASK}},
            "seq": [MASK, MASK],
        }
        assert masker.mask_data(data) == expected
        assert masker.mask_data(MappingProxyType(data)) == expected
        assert type(masker.mask_data(data)["inner"]) is dict

    def test_call_is_mask(self, masker: Masker) -> None:
        assert masker(SECRET) == MASK


class TestStream:
    def test_secret_split_across_chunks_is_held_back(self, masker: Masker) -> None:
        stream = masker.stream()
        first = stream.feed("log: p@ss ")
        assert first == "log: "
        assert stream.feed('"w/rd"+é=ok done\n') == f"{MASK} done\n"
        assert stream.flush() == ""

    def test_flush_releases_a_partial_match(self, masker: Masker) -> None:
        stream = masker.stream()
        assert stream.feed("end p@ss") == "end "
        assert stream.flush() == "p@ss"

    @pytest.mark.parametrize("size", [1, 7, 8, 9, 64, 100, 1000])
    def test_long_stream_in_fixed_chunks(self, masker: Masker, size: int) -> None:
        line = "2024-05-01 INFO request ok id=0123456789abcdef user=alice\n"
        text = line * 40 + f"token={SECRET} hex={SECRET.encode().hex()}\n" + line * 40 + SECRET
        stream = masker.stream()
        emitted = [stream.feed(text[i : i + size]) for i in range(0, len(text), size)]
        out = "".join(emitted) + stream.flush()
        assert out == reference_mask(text, [SECRET])
        assert out.count(MASK) == 3

    def test_held_tail_that_turns_out_harmless(self, masker: Masker) -> None:
        stream = masker.stream()
        assert stream.feed("p@") == ""
        assert stream.feed("x") == "p@x"


class TestBackends:
    def test_auto_takes_hyperscan_where_it_installs(self) -> None:
        expected = MatchBackend.REGEX if HYPERSCAN_MISSING else MatchBackend.HYPERSCAN
        assert Masker({"S": SECRET}).backend is expected

    def test_without_hyperscan_the_regex_matcher_masks(self) -> None:
        """A platform without the wheel (simulated by blocking the import in a fresh interpreter) still masks."""
        script = (
            "import sys; sys.modules['hyperscan'] = None\n"
            "from workflow_plugin_runtime.masking.masker import Masker, MatchBackend\n"
            "masker = Masker({'S': 'a-long-enough-secret'}, backend=MatchBackend.HYPERSCAN)\n"
            "print(masker.backend.value, masker.mask('x a-long-enough-secret y'))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        assert done.stdout == f"regex x {MASK} y\n"

    @pytest.mark.skipif(HYPERSCAN_MISSING, reason="hyperscan has no wheel for this platform")
    def test_a_failed_scan_is_masked_by_the_regex_matcher(self) -> None:
        """A scratch space that belongs to no database makes hyperscan refuse the scan, as a real fault would."""
        import hyperscan

        masker = make_masker({"S": SECRET}, MatchBackend.HYPERSCAN)
        masker._matcher._local.scratch = hyperscan.Scratch()  # type: ignore[union-attr]
        text = f"a {SECRET} b " + "x" * 100 + SECRET
        assert masker.mask(text) == f"a {MASK} b " + "x" * 100 + MASK
        stream = masker.stream()
        assert stream.feed(text) + stream.flush() == f"a {MASK} b " + "x" * 100 + MASK

    def test_threads_share_one_masker(self, backend: MatchBackend) -> None:
        masker = make_masker({"S": SECRET, "T": "another-secret-value"}, backend)
        text = ("line without secrets\n" * 2000 + f"{SECRET} another-secret-value\n") * 4
        expected = reference_mask(text, [SECRET, "another-secret-value"])
        results: list[str] = []

        def work() -> None:
            results.extend(masker.mask(text) for _ in range(20))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [expected] * 80
        assert masker._regex is None or backend is MatchBackend.REGEX  # hyperscan never had to fall back


# --- properties -----------------------------------------------------------------------------------

SECRETS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="*"),
    min_size=MIN_SECRET_LENGTH,
    max_size=24,
)
NOISE = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(SECRETS, NOISE, NOISE, st.sampled_from(sorted(ENCODINGS)))
def test_a_secret_never_survives_in_any_encoding(
    backend: MatchBackend, secret: str, before: str, after: str, encoding: str
) -> None:
    encoded = ENCODINGS[encoding](secret)
    masked = make_masker({"S": secret}, backend).mask(before + encoded + after)
    assert secret not in masked
    assert encoded not in masked


@given(SECRETS, st.binary(max_size=8), st.binary(max_size=8), st.sampled_from([b64, b64url]))
def test_a_secret_inside_any_base64_blob_cannot_be_decoded(
    backend: MatchBackend, secret: str, before: bytes, after: bytes, encoder: Callable[[bytes], str]
) -> None:
    masked = make_masker({"S": secret}, backend).mask(encoder(before + secret.encode() + after))
    assert not any(secret.encode() in fragment for fragment in decodable_fragments(masked))


@given(SECRETS, NOISE, NOISE, st.sampled_from(sorted(ENCODINGS)), st.lists(st.integers(0, 200), max_size=8))
def test_streaming_at_any_chunk_boundaries_equals_masking_the_whole(
    backend: MatchBackend, secret: str, before: str, after: str, encoding: str, cuts: list[int]
) -> None:
    masker = make_masker({"S": secret, "OTHER": "another-longer-secret"}, backend)
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
def test_text_without_secrets_passes_through_unchanged(backend: MatchBackend, secrets: list[str], text: str) -> None:
    assume(not any(form in text for secret in secrets for form in secret_forms(secret)))
    masker = make_masker({f"K{i}": secret for i, secret in enumerate(secrets)}, backend)
    assert masker.mask(text) == text
    stream = masker.stream()
    assert stream.feed(text) + stream.flush() == text


def reference_mask(text: str, secrets: list[str]) -> str:
    """The masking rule written the slow, obvious way: mark every character of every occurrence, one mask a run."""
    forms = {form for secret in secrets for form in secret_forms(secret)}
    covered = [False] * len(text)
    for form in forms:
        start = text.find(form)
        while start >= 0:
            covered[start : start + len(form)] = [True] * len(form)
            start = text.find(form, start + 1)
    out: list[str] = []
    for pos, char in enumerate(text):
        if not covered[pos]:
            out.append(char)
        elif pos == 0 or not covered[pos - 1]:
            out.append(MASK)
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
    backend: MatchBackend, secrets: list[str], pieces: list[tuple[str, int, str]], padding: int
) -> None:
    text = "x" * padding + "".join(
        noise + ENCODINGS[encoding](secrets[which % len(secrets)]) for noise, which, encoding in pieces
    )
    masker = make_masker({f"K{i}": secret for i, secret in enumerate(secrets)}, backend)
    expected = reference_mask(text, secrets)
    assert masker.mask(text) == expected
    stream = masker.stream()
    middle = len(text) // 2
    assert stream.feed(text[:middle]) + stream.feed(text[middle:]) + stream.flush() == expected


@given(LONG_SECRETS, st.text(max_size=80), st.lists(st.tuples(NOISE, st.sampled_from(sorted(ENCODINGS))), max_size=5))
def test_secrets_that_extend_one_another(
    backend: MatchBackend, secret: str, extension: str, pieces: list[tuple[str, str]]
) -> None:
    """Forms sharing beginnings (one secret the start of another, long or short) are where matchers can disagree."""
    secrets = [secret, secret + extension, (secret * 4)[:70]]
    text = "".join(noise + ENCODINGS[encoding](secrets[len(noise) % 3]) for noise, encoding in pieces)
    masker = make_masker({f"K{i}": value for i, value in enumerate(secrets)}, backend)
    assert masker.mask(text) == reference_mask(text, secrets)


def test_long_text_with_secrets_far_apart(backend: MatchBackend) -> None:
    secret = "a-long-enough-secret-value"
    text = ("filler line without anything\n" * 500).join(
        ["start ", f" {secret} ", f" {secret.encode().hex()} ", " end"]
    )
    masked = make_masker({"S": secret}, backend).mask(text)
    assert masked == reference_mask(text, [secret])
    assert masked.count(MASK) == 2


@pytest.mark.parametrize("offset", [0, 65536 - 20, 65536 - 3, 65536, 131072 + 7])
def test_secret_anywhere_in_a_text_of_several_filter_blocks(backend: MatchBackend, offset: int) -> None:
    secret = "block-boundary-secret-value"
    filler = "".join(f"line {i:06d} nothing to see\n" for i in range(8000))
    text = filler[:offset] + secret + filler[offset:] + base64.b64encode(b"xy" + secret.encode()).decode()
    masked = make_masker({"S": secret}, backend).mask(text)
    assert masked == reference_mask(text, [secret])
    assert masked.count(MASK) == 2


@pytest.mark.parametrize("offset", [65536 - 60, 65536 - 1, 65536, 65536 + 90, 2 * 65536 - 7])
def test_forms_across_block_boundaries_of_a_long_non_ascii_text(backend: MatchBackend, offset: int) -> None:
    """Hyperscan masks long texts in blocks of 64 Ki characters; a form may straddle any of them."""
    secret = "ünïcode-secret-välue"
    forms = [ENCODINGS[name](secret) for name in ("plain", "json", "hex", "base64", "quote")]
    filler = "".join(f"zeile {i:05d} ✓ nichts\n" for i in range(12000))
    text = filler[:offset] + "|".join(forms) + filler[offset:] + secret
    masker = make_masker({"S": secret}, backend)
    masked = masker.mask(text)
    assert masked == Masker({"S": secret}, backend=MatchBackend.REGEX).mask(text)
    assert masked == filler[:offset] + "|".join([MASK] * len(forms)) + filler[offset:] + MASK
    stream = masker.stream()
    pieces = [stream.feed(text[i : i + 100_000]) for i in range(0, len(text), 100_000)]
    assert "".join(pieces) + stream.flush() == masked
    assert masker.mask(filler) is filler
    assert masker.mask(filler + secret) == filler + MASK


@pytest.mark.parametrize("secret", ["abc\udcffdef-secret", "lone\ud800surrogate"])
def test_a_secret_with_undecodable_bytes_is_masked_not_a_crash(secret):
    masker = Masker({"RAW": secret})
    raw = secret.encode("utf-8", "surrogateescape" if "\udcff" in secret else "surrogatepass")
    text = f"value={secret} hex={raw.hex()} b64={base64.b64encode(raw).decode()}"
    masked = masker.mask(text)
    assert secret not in masked
    assert raw.hex() not in masked
    assert masked == "value=*** hex=*** b64=***"


def test_a_secret_holding_a_control_character_is_masked_once_neutralised(backend: MatchBackend) -> None:
    """Plugin text is neutralised before it is masked: the secret's neutralised form is one of its forms."""
    masker = make_masker({"S": "ab\x1bcd\x9bef"}, backend)
    assert masker.mask(neutralise_controls("x ab\x1bcd\x9bef y")) == f"x {MASK} y"
    assert masker.mask("x ab\x1bcd\x9bef y") == f"x {MASK} y"


@given(st.integers(1, len(SECRET) - 1), st.text(alphabet="~|\n", max_size=20))
def test_a_head_a_cut_left_of_a_secret_is_dropped_and_nothing_else(
    backend: MatchBackend, inside: int, after: str
) -> None:
    """What follows the piece is in no form of the secret (``~``, ``|``, newlines), so it must all stay."""
    masker = make_masker({"DB_PASSWORD": SECRET}, backend)
    assert masker.without_cut_head(SECRET[inside:] + after) == after
    assert masker.without_cut_head("~" + SECRET[inside:] + after) == "~" + SECRET[inside:] + after
    assert Masker({}).without_cut_head(SECRET[inside:]) == SECRET[inside:]
