"""Overlapping and touching occurrences are masked as their union, one token a run, by both matchers and the stream.

The runner's cases are translated from actions/runner (file and test named in
each case's id); its three-character values are doubled to meet our minimum
secret length.
"""

from __future__ import annotations

import importlib.util

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

HYPERSCAN_MISSING = importlib.util.find_spec("hyperscan") is None


def maskers(secrets: dict[str, str]) -> list[Masker]:
    """One masker per matcher available here, so every check below holds for both."""
    backends = [MatchBackend.REGEX] if HYPERSCAN_MISSING else [MatchBackend.REGEX, MatchBackend.HYPERSCAN]
    built = [Masker(secrets, backend=backend) for backend in backends]
    assert [masker.backend for masker in built] == backends
    return built


def streamed(masker: Masker, text: str, cuts: list[int]) -> tuple[str, list[str]]:
    """The stream's output for ``text`` fed in pieces cut at ``cuts``, and the pieces it emitted."""
    bounds = sorted({min(max(cut, 0), len(text)) for cut in cuts})
    stream = masker.stream()
    emitted = [stream.feed(text[a:b]) for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    emitted.append(stream.flush())
    return "".join(emitted), emitted


RUNNER_CASES = [
    pytest.param(
        {"A": "bbccdd", "B": "ddeeff"},
        "aabbccddeeffgg",
        f"aa{MASK}gg",
        id="runner-src/Test/L0/SecretMaskerL0.cs-SecretMasker_MaskSecrets_OverlappingSecrets",
    ),
    pytest.param(
        {"A": "eeffgg", "B": "bbccdd"},
        "aabbccddeeffgghh",
        f"aa{MASK}hh",
        id="runner-src/Test/L0/SecretMaskerL0.cs-SecretMasker_MaskSecrets_AdjacentSecrets",
    ),
    pytest.param(
        {"A": "aabbcc"},
        "aabbccaabbccddeeff",
        f"{MASK}ddeeff",
        id="runner-src/Test/L0/SecretMaskerL0.cs-SecretMasker_MaskSecrets_MultipleAdjacentInstances",
    ),
    pytest.param(
        {"A": "bbccdd", "B": "ffgghh"},
        "aabbccddeeffgghhii",
        f"aa{MASK}ee{MASK}ii",
        id="runner-src/Test/L0/SecretMaskerL0.cs-SecretMasker_MaskSecrets_MultipleSecrets",
    ),
    pytest.param(
        {"A": "cdcd"},
        "abcdcdcdefg",
        f"ab{MASK}efg",
        id="runner-src/Test/L0/ValueMaskL0.cs-ValueMaskTests_GetPositions_Overlap",
    ),
    pytest.param({"A": "abcd", "B": "cdef"}, "abcdef abcd-cdef", f"{MASK} {MASK}-{MASK}", id="two-overlap-one-apart"),
    pytest.param({"A": "secret"}, "secretsecretsecret!", f"{MASK}!", id="one-secret-repeated-touching"),
    pytest.param({"A": "aaaa"}, "baaaaaaaaaab aaa", f"b{MASK}b aaa", id="self-overlapping-run"),
]


@pytest.mark.parametrize(("secrets", "text", "expected"), RUNNER_CASES)
def test_overlapping_and_touching_occurrences_are_one_mask(secrets: dict[str, str], text: str, expected: str) -> None:
    for masker in maskers(secrets):
        assert masker.mask(text) == expected


@pytest.mark.parametrize(("secrets", "text", "expected"), RUNNER_CASES)
def test_the_stream_gives_the_same_at_every_pair_of_chunk_boundaries(
    secrets: dict[str, str], text: str, expected: str
) -> None:
    """Occurrences overlapping or touching across a boundary still join the mask already emitted: one token."""
    for masker in maskers(secrets):
        for first in range(len(text) + 1):
            for second in range(first, len(text) + 1):
                assert streamed(masker, text, [first, second])[0] == expected, (first, second)


def test_a_mask_emitted_before_its_run_is_complete_is_not_repeated_or_leaked() -> None:
    """The first occurrence is complete and emitted; the next, overlapping it, arrives later and adds nothing."""
    for masker in maskers({"A": "cdcd"}):
        stream = masker.stream()
        assert stream.feed("abcdcd") == f"ab{MASK}"
        assert stream.feed("c") == ""
        assert stream.feed("d") == ""
        assert stream.feed("cdxy") == "xy"
        assert stream.flush() == ""


@pytest.mark.parametrize("offset", [65536 - 9, 65536 - 4, 65536, 65536 + 3])
def test_a_run_across_a_block_boundary_of_a_long_text_is_one_mask(backend: MatchBackend, offset: int) -> None:
    """Hyperscan masks long texts in 64 Ki-character blocks; the regex matcher scans windows around word hits."""
    secret = "overlapping-secret-overlapping-secret"
    run = "overlapping-secret-" * 5 + "overlapping-secret"  # occurrences overlapping each other, 4 of them
    filler = "".join(f"line {i:06d} nothing to see\n" for i in range(8000))
    text = filler[:offset] + run + filler[offset:] + secret + secret
    masker = Masker({"S": secret}, backend=backend)
    expected = filler[:offset] + MASK + filler[offset:] + MASK
    assert masker.mask(text) == expected
    assert streamed(masker, text, list(range(offset - 50, len(text), 65536)))[0] == expected


SMALL_ALPHABET_SECRETS = st.lists(
    st.one_of(st.text(alphabet="ab", min_size=4, max_size=8), st.text(alphabet="abé", min_size=15, max_size=22)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    SMALL_ALPHABET_SECRETS,
    st.one_of(st.text(alphabet="ab", max_size=60), st.text(alphabet="abé\n", min_size=64, max_size=400)),
    st.lists(st.integers(0, 400), max_size=6),
)
def test_both_matchers_and_the_stream_agree_on_overlap_heavy_text(
    secrets: list[str], text: str, cuts: list[int]
) -> None:
    """Secrets and text from two or three letters overlap everywhere: where matchers could disagree.

    Secrets of 15 characters and more, in texts of 64 and more, take the
    regex matcher's word filter; shorter ones its plain scan.
    """
    built = maskers({f"K{i}": secret for i, secret in enumerate(secrets)})
    results = {masker.mask(text) for masker in built}
    assert len(results) == 1
    (masked,) = results
    assert not any(secret in masked for secret in secrets)
    assert MASK + MASK not in masked
    for masker in built:
        out, emitted = streamed(masker, text, cuts)
        assert out == masked
        assert all(MASK + MASK not in piece for piece in emitted)
