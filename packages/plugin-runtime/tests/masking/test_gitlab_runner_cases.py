"""GitLab Runner's masking cases, translated: each passes through ``mask()`` and the stream, with both matchers.

Each case's id names the file in the gitlab-runner repository and the Go
test it comes from, then the case. As in those tables, ``|`` in a case's
text marks where GitLab's test splits its writes: the stream is fed exactly
those pieces, then (for short texts) the whole text cut at every single
point, and one character at a time.

GitLab writes ``[MASKED]`` once per occurrence; we write ``***`` once per
run of overlapping or touching occurrences, so expected outputs are spelled
with ours, and a case where the two differ says so. GitLab masks a value of
any length; ours are at least ``MIN_SECRET_LENGTH`` long (shorter ones are
warned about, not masked), so a case's two- and three-character values are
doubled, with the text around them, keeping what the case is about: where
the value sits, what touches it, where a write splits it.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime.masking.forms import secret_forms
from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

WRITE_BREAK = "|"
SHORT_TEXT = 300
"""Texts up to this long are also streamed cut at every single point."""

MASKER_TEST = "common/buildlogger/internal/masker/masker_test.go"
STEP_RUNNER_TEST = "common/buildlogger/build_logger_step_runner_test.go"
BUILD_MASKING = "common/buildtest/masking.go"
CRED_SETUP_TEST = "executors/shell/shell_integration_test.go"
FUZZ = "common/buildlogger/internal/build_logger_fuzz.go"

BUILD_ERRORS = (
    "Job failed: exit code 1",
    "Job failed: exit status 1",
    "Job failed: run exit (exit code: 1)",
    "Job failed: command terminated with exit code 1",
    'Job failed: step "user_script": exec: executing script: exit status 1',
)
STEP_RUNNER_HEADER = "2026-05-05T12:00:00.000000Z 01O "
JOB_TOKEN = "glcbt-64_Zx9FakeJobTokenForTests"
"""The job's ``CI_JOB_TOKEN``, a masked variable, which git prints as a credential and inside a rewritten URL."""
LARGE = "_" * 8000


@dataclass(frozen=True, kw_only=True)
class GitLabCase:
    """One translated case: the values registered, the text as GitLab writes it (``|`` between writes), our output."""

    source: str
    name: str
    values: tuple[str, ...]
    written: str
    expected: str

    @property
    def text(self) -> str:
        return self.written.replace(WRITE_BREAK, "")


def masker_case(written: str, values: tuple[str, ...], *, expected: str, named: str | None = None) -> GitLabCase:
    """A case of ``TestMasking``, named by its input (``|`` included) as GitLab names it, or by GitLab's input."""
    return GitLabCase(
        source=f"{MASKER_TEST}-TestMasking", name=named or written, values=values, written=written, expected=expected
    )


CASES = [
    # the empty value is warned about and registers nothing, as GitLab drops it
    masker_case("empty secrets have no affect", ("",), expected="empty secrets have no affect"),
    masker_case("no escaping at all", (), expected="no escaping at all"),
    masker_case("secrets", ("secrets",), expected=MASK),
    masker_case("secret|s", ("secrets",), expected=MASK),
    masker_case("s|ecrets", ("secrets",), expected=MASK),
    # GitLab: "[MASKED][MASKED]"; two touching occurrences are one run, one mask, nothing of either left
    masker_case("secretssecrets", ("secrets",), expected=MASK),
    masker_case("ssecrets", ("secrets",), expected=f"s{MASK}"),
    masker_case("s|secrets", ("secrets",), expected=f"s{MASK}"),
    # "at" doubled
    masker_case(
        "atat the start of the buffer",
        ("atat",),
        expected=f"{MASK} the start of the buffer",
        named="at the start of the buffer",
    ),
    masker_case("in the middle of the buffer", ("middle",), expected=f"in the {MASK} of the buffer"),
    masker_case("at the end of the buffer", ("buffer",), expected=f"at the end of the {MASK}"),
    # "all" and "are" doubled
    masker_case(
        "allall values areare masked",
        ("allall", "values", "areare", "masked"),
        expected=f"{MASK} {MASK} {MASK} {MASK}",
        named="all values are masked",
    ),
    # "foo" and "bar" doubled; the letters before and after each are still the value's own first and last
    masker_case(
        "prefixed and suffixed: xfoofoox ybarbary ffoofoo barbarr ffoofooo bbarbarr",
        ("foofoo", "barbar"),
        expected=f"prefixed and suffixed: x{MASK}x y{MASK}y f{MASK} {MASK}r f{MASK}o b{MASK}r",
        named="prefixed and suffixed: xfoox ybary ffoo barr ffooo bbarr",
    ),
    # the same doubled, each write break at the same place in the value: inside it, before it, before its last letter
    masker_case(
        "prefix|ed, su|ffi|xed |and split|:| xfoofo|ox y|barbary ffoofo|o barba|rr ffoofooo b|barbarr",
        ("foofoo", "barbar"),
        expected=f"prefixed, suffixed and split: x{MASK}x y{MASK}y f{MASK} {MASK}r f{MASK}o b{MASK}r",
        named="prefix|ed, su|ffi|xed |and split|:| xfo|ox y|bary ffo|o ba|rr ffooo b|barr",
    ),
    # "all" and "are" doubled, still split one letter before their end
    masker_case(
        "sp|lit allal|l val|ues arear|e |mask|ed",
        ("split", "allall", "values", "areare", "masked"),
        expected=f"{MASK} {MASK} {MASK} {MASK} {MASK}",
        named="sp|lit al|l val|ues ar|e |mask|ed",
    ),
    masker_case(
        "prefix_mask mask prefix_|mask prefix_ma|sk mas|k",
        ("mask", "prefix_mask"),
        expected=f"{MASK} {MASK} {MASK} {MASK} {MASK}",
    ),
    masker_case(
        f"large secret: {LARGE}|{LARGE}",
        (LARGE * 2,),
        expected=f"large secret: {MASK}",
        named="large secret: <8000 underscores>|<8000 underscores>",
    ),
    # "en" is below our minimum (warned about, not registered); it lies inside "en foobar", masked as GitLab masks it
    masker_case(
        "overlap: this is the en| foobar",
        ("this is the end", "en foobar", "en"),
        expected=f"overlap: this is the {MASK}",
    ),
    # the masking half of the case: the timestamp header GitLab strips is its step-runner wire format's
    GitLabCase(
        source=f"{STEP_RUNNER_TEST}-TestStepRunnerStream",
        name="pre-stamped strip applies the wrap chain masker",
        values=("secret-token",),
        written=f"{STEP_RUNNER_HEADER}contains secret-token literally\n",
        expected=f"{STEP_RUNNER_HEADER}contains {MASK} literally\n",
    ),
    GitLabCase(
        source=f"{STEP_RUNNER_TEST}-TestStepRunnerStream",
        name="plain data is masked by the wrap chain",
        values=("secret-token",),
        written="contains secret-token literally\n",
        expected=f"contains {MASK} literally\n",
    ),
    # a job's variables printed one `echo KEY=$KEY` per write; the value that extends another is masked whole
    GitLabCase(
        source=f"{BUILD_MASKING}-RunBuildWithMasking",
        name="success job",
        values=("MASKED_VALUE", "MASKED_VALUE_OTHER"),
        written="MASKED_KEY=MASKED_VALUE\n|CLEARTEXT_KEY=CLEARTEXT_VALUE\n|MASKED_KEY_OTHER=MASKED_VALUE_OTHER\n"
        "|ADD_MASK_SECRET=ADD_MASK_SECRET_VALUE\n",
        expected=f"MASKED_KEY={MASK}\nCLEARTEXT_KEY=CLEARTEXT_VALUE\nMASKED_KEY_OTHER={MASK}\n"
        "ADD_MASK_SECRET=ADD_MASK_SECRET_VALUE\n",
    ),
    # each executor's way of saying the job failed is a masked value; whichever the log holds is masked
    GitLabCase(
        source=f"{BUILD_MASKING}-RunBuildWithMasking",
        name="failed job (can mask error message)",
        values=BUILD_ERRORS,
        written=WRITE_BREAK.join(f"ERROR: {error}\n" for error in BUILD_ERRORS),
        expected=f"ERROR: {MASK}\n" * len(BUILD_ERRORS),
    ),
    # `git credential fill` printed per hook: the stored password stays, the job token is masked for any username
    GitLabCase(
        source=f"{CRED_SETUP_TEST}-TestCredSetup",
        name="FF_GIT_URLS_WITHOUT_TOKENS:true",
        values=(JOB_TOKEN,),
        written="#pre_get_source# username=gitlab-ci-token password=fake_password\n"
        f"|#post_get_source# username=gitlab-ci-token password={JOB_TOKEN}\n"
        f"|#build# username=my-personal-token-7 password={JOB_TOKEN}\n",
        expected="#pre_get_source# username=gitlab-ci-token password=fake_password\n"
        f"#post_get_source# username=gitlab-ci-token password={MASK}\n"
        f"#build# username=my-personal-token-7 password={MASK}\n",
    ),
    # `git config --list --show-origin --show-scope`: the token inside the insteadOf URL, then as a credential
    GitLabCase(
        source=f"{CRED_SETUP_TEST}-TestCredSetup",
        name="FF_GIT_URLS_WITHOUT_TOKENS:false",
        values=(JOB_TOKEN,),
        written=f"#helper# global\tfile:/builds/.gitlab-runner.ext.conf\turl.https://gitlab-ci-token:{JOB_TOKEN}"
        "@gitlab.com/.insteadof=https://gitlab.com/\n"
        f"|#build# username=gitlab-ci-token password={JOB_TOKEN}\n",
        expected=f"#helper# global\tfile:/builds/.gitlab-runner.ext.conf\turl.https://gitlab-ci-token:{MASK}"
        "@gitlab.com/.insteadof=https://gitlab.com/\n"
        f"#build# username=gitlab-ci-token password={MASK}\n",
    ),
]


def params(cases: list[GitLabCase]) -> list[object]:
    return [pytest.param(case, id=f"gitlab-runner/{case.source}/{case.name}") for case in cases]


@functools.cache
def make_masker(values: tuple[str, ...], backend: MatchBackend) -> Masker:
    """One masker per set of values and matcher: a 16 000-character value takes seconds to compile."""
    masker = Masker({f"VALUE_{index}": value for index, value in enumerate(values)}, backend=backend)
    assert masker.backend is (backend if masker.active else None)
    return masker


def streamed(masker: Masker, pieces: list[str]) -> str:
    stream = masker.stream()
    return "".join(stream.feed(piece) for piece in pieces) + stream.flush()


@pytest.mark.parametrize("case", params(CASES))
def test_mask(backend: MatchBackend, case: GitLabCase) -> None:
    masked = make_masker(case.values, backend).mask(case.text)
    assert masked == case.expected
    assert not [value for value in case.values if secret_forms(value) and value in masked]


@pytest.mark.parametrize("case", params(CASES))
def test_stream_written_in_gitlabs_pieces(backend: MatchBackend, case: GitLabCase) -> None:
    assert streamed(make_masker(case.values, backend), case.written.split(WRITE_BREAK)) == case.expected


@pytest.mark.parametrize("case", params([case for case in CASES if len(case.text) <= SHORT_TEXT]))
def test_stream_cut_anywhere(backend: MatchBackend, case: GitLabCase) -> None:
    masker = make_masker(case.values, backend)
    text = case.text
    for cut in range(len(text) + 1):
        assert streamed(masker, [text[:cut], text[cut:]]) == case.expected, cut
    assert streamed(masker, list(text)) == case.expected


FUZZ_PHRASES = ("A" * 1024, "B" * 4 * 1024, "C" * 8 * 1024, "secret", "secret_suffix", "ssecret", "secrett", "ssecrett")


def random_pieces(rng: random.Random, text: str) -> list[str]:
    """``text`` cut into pieces of random length, as GitLab's fuzzer cuts both its input and its writes."""
    pieces = []
    while text:
        size = rng.randint(1, len(text))
        pieces.append(text[:size])
        text = text[size:]
    return pieces


@pytest.mark.parametrize("phrases", [pytest.param(FUZZ_PHRASES, id=f"gitlab-runner/{FUZZ}-Fuzz/phrases")])
@settings(max_examples=60, deadline=None)
@given(data=st.text(), rng=st.randoms(use_true_random=False))
def test_fuzz_no_phrase_survives(
    backend: MatchBackend, phrases: tuple[str, ...], data: str, rng: random.Random
) -> None:
    """Random text with a value after some of its random pieces, written in random pieces."""
    masker = make_masker(phrases, backend)
    text = "".join(piece + (rng.choice(phrases) if rng.random() < 0.5 else "") for piece in random_pieces(rng, data))
    masked = streamed(masker, random_pieces(rng, text))
    assert masked == masker.mask(text)
    assert not [phrase for phrase in phrases if phrase in masked]
