"""No registered form of any secret survives masking, whole text or stream, with either matcher.

The forms are the masker's own (``secret_forms``), so a form registered later
is covered here without a change. Secrets are any Unicode (lone surrogates
aside: they have a test of their own) of any length from the minimum, mixed
with the separators, quotes and metacharacters encoders treat specially;
each form is embedded at a random place in random log text, next to another
form or not, and the stream is cut at random places.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime.masking.forms import MIN_SECRET_LENGTH, secret_forms
from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

SPECIAL = " \t\n\r\"'`\\&+;:,=/%?#@!$^()[]{}<>|.-_~\x00\x1b\u00a0\u2028é€𝄞"
SECRET_CHARS = st.one_of(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=MASK), st.sampled_from(SPECIAL)
)
SECRETS = st.one_of(
    st.text(SECRET_CHARS, min_size=MIN_SECRET_LENGTH, max_size=12),
    st.text(SECRET_CHARS, min_size=13, max_size=100),
)
LOG_TEXT = st.text(st.one_of(st.characters(blacklist_categories=["Cs"]), st.sampled_from(" \n:=\"'")), max_size=40)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stream_through(masker: Masker, text: str, cuts: list[int]) -> str:
    bounds = sorted(set(cuts))
    stream = masker.stream()
    pieces = [stream.feed(text[a:b]) for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    return "".join(pieces) + stream.flush()


def cut_points(rng: random.Random, size: int) -> list[int]:
    """Random cuts: none, a few, or one every few characters."""
    count = rng.choice([0, 1, 3, max(1, size // 7)])
    return [rng.randint(0, size) for _ in range(count)]


@PROPERTY
@given(st.lists(SECRETS, min_size=1, max_size=3), st.lists(LOG_TEXT, min_size=1, max_size=4), st.randoms())
def test_no_registered_form_survives_anywhere(
    backend: MatchBackend, secrets: list[str], noise: list[str], rng: random.Random
) -> None:
    masker = Masker({f"SECRET_{i}": secret for i, secret in enumerate(secrets)}, backend=backend)
    forms = sorted({form for secret in secrets for form in secret_forms(secret)})
    rng.shuffle(forms)
    pieces: list[str] = []
    for form in forms:  # each form at a random place: right after another form, or inside some log text
        before = rng.choice(noise)
        cut = rng.randint(0, len(before))
        pieces += (before[:cut], form, before[cut:]) if rng.random() < 0.7 else ("", form, "")
    text = "".join(pieces)
    masked = masker.mask(text)
    surviving = [form for form in forms if form in masked]
    assert not surviving
    assert stream_through(masker, text, cut_points(rng, len(text))) == masked


@PROPERTY
@given(st.lists(SECRETS, min_size=1, max_size=3), st.lists(LOG_TEXT, max_size=8), st.randoms())
def test_text_without_any_form_is_unchanged(
    backend: MatchBackend, secrets: list[str], lines: list[str], rng: random.Random
) -> None:
    text = "\n".join(lines)
    forms = {form for secret in secrets for form in secret_forms(secret)}
    if any(form in text for form in forms):  # random text rarely holds a form; such an example proves nothing here
        return
    masker = Masker({f"SECRET_{i}": secret for i, secret in enumerate(secrets)}, backend=backend)
    assert masker.mask(text) == text
    assert stream_through(masker, text, cut_points(rng, len(text))) == text
