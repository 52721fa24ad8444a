"""The GitHub Actions runner's masking cases not translated elsewhere, each named by its file and test.

Translated from the actions/runner repository. ``src/Test/L0/SecretMaskerL0.cs``
and ``src/Test/L0/ValueMaskL0.cs`` are the runner's own masker suites (both
inherited from the Azure Pipelines agent; ValueMaskL0 was later renamed
ValueSecretL0, and SecretMaskerL0's methods were renamed and two added
before both moved out with the masker): a case keeps the name it had in the
file the id names, and a renamed test is translated once. The other files
are the runner's tests that check what its masker does to a text, with the
value encoders ``HostContext`` registers.

How the runner's expectations translate:

- The runner (and the agent's ``********``) writes one token per run of
  masked characters, overlapping and touching occurrences merged: so do
  we, with ``MASK``.
- The runner masks a value of any length; ours must have
  ``MIN_SECRET_LENGTH`` characters (shorter ones are warned about by key and
  not masked, see ``test_the_runners_three_character_values_are_below_our_minimum``).
  A case whose values are shorter doubles each letter (``def`` becomes
  ``ddeeff``, ``abcdefg`` becomes ``aabbccddeeffgg``), as ``test_union.py``
  does for the runner's other cases, so every position keeps its meaning.
- The runner reports positions (start, length) for a value secret; a
  position translates to where the one mask stands in the masked text.

Every case runs through ``mask()`` and through the streaming masker cut at
every pair of points (the texts are short), with both matchers.

Already translated elsewhere, not repeated here: SecretMaskerL0's
OverlappingSecrets, AdjacentSecrets, MultipleAdjacentInstances and
MultipleSecrets and ValueMaskL0's Overlap (``test_union.py``); HostContextL0's
DefaultSecretMaskers and the eight rows of SecretSectionMasking
(``test_forms.py``).
"""

from __future__ import annotations

import base64
import json

import pytest

from workflow_plugin_runtime.errors import Severity
from workflow_plugin_runtime.masking.forms import MIN_SECRET_LENGTH
from workflow_plugin_runtime.masking.masker import MASK, Masker, MatchBackend

SECRET_MASKER = "runner-src/Test/L0/SecretMaskerL0.cs"
VALUE_MASK = "runner-src/Test/L0/ValueMaskL0.cs"
HOST_CONTEXT = "runner-src/Test/L0/HostContextL0.cs"
ACTION_COMMANDS = "runner-src/Test/L0/Worker/ActionCommandManagerL0.cs"
COMMAND_LINE = "runner-src/Test/L0/CommandLineParserL0.cs"
COMMAND_SETTINGS = "runner-src/Test/L0/Listener/CommandSettingsL0.cs"
DAP_DEBUGGER = "runner-src/Test/L0/Worker/DapDebuggerL0.cs"
DAP_REPL = "runner-src/Test/L0/Worker/DapReplExecutorL0.cs"
DAP_VARIABLES = "runner-src/Test/L0/Worker/DapVariableProviderL0.cs"

DEBUGGER_SECRET = "super-secret-token"
"""The value the runner's debugger tests register (DapDebuggerL0, DapReplExecutorL0, DapVariableProviderL0)."""


def masked_at_every_cut(masker: Masker, text: str, *, three_pieces: bool = True) -> str:
    """``mask(text)``, after checking the stream gives exactly that however the text is cut in two or three pieces.

    Three pieces (every pair of cut points) for short texts; ``three_pieces=False``
    for a case of hundreds of texts, where every single cut point is enough.
    """
    masked = masker.mask(text)
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1) if three_pieces else [first]:
            stream = masker.stream()
            pieces = [stream.feed(text[:first]), stream.feed(text[first:second]), stream.feed(text[second:])]
            assert "".join(pieces) + stream.flush() == masked, (first, second)
    stream = masker.stream()
    assert "".join(stream.feed(char) for char in text) + stream.flush() == masked, "one character at a time"
    return masked


def make_masker(secrets: dict[str, str], backend: MatchBackend) -> Masker:
    masker = Masker(secrets, backend=backend)
    assert masker.backend is (backend if masker.active else None)
    return masker


CASES = [
    # SecretMaskerL0.cs, as first written (later renamed HandlesEmptyInput): null and "" both give "".
    pytest.param({"A": "abcd"}, "", "", id=f"{SECRET_MASKER}-SecretMasker_MaskSecrets_EmptyInput"),
    # Later HandlesNoMasks: no secret registered, the text is returned as is.
    pytest.param({}, "abcdefg", "abcdefg", id=f"{SECRET_MASKER}-SecretMasker_MaskSecrets_NoMasks"),
    # Later ReplacesValue: "def" in "abcdefg" gives "abc********g".
    pytest.param(
        {"A": "ddeeff"},
        "aabbccddeeffgg",
        f"aabbcc{MASK}gg",
        id=f"{SECRET_MASKER}-SecretMasker_MaskSecrets_BasicReplacement",
    ),
    # Later ReplacesMultipleInstances: "def" in "abcdefgdef" gives "abc********g********".
    pytest.param(
        {"A": "ddeeff"},
        "aabbccddeeffggddeeff",
        f"aabbcc{MASK}gg{MASK}",
        id=f"{SECRET_MASKER}-SecretMasker_MaskSecrets_MultipleInstances",
    ),
    # Added with the renamed tests: "b\c" printed JSON-escaped, "ab\\cd", gives "a********d".
    pytest.param({"A": "bb\\cc"}, "aabb\\\\ccdd", f"aa{MASK}dd", id=f"{SECRET_MASKER}-HandlesJsonEscapedInput"),
    # "b c" printed URL-encoded, "ab%20cd", gives "a********d".
    pytest.param({"A": "bb cc"}, "aabb%20ccdd", f"aa{MASK}dd", id=f"{SECRET_MASKER}-HandlesUrlEscapedInput"),
    # ValueMaskL0.cs (later ValueSecretL0.cs, HandlesEmptyValue): a null value finds nothing. Ours: an empty
    # value is warned about and masks nothing (test_an_empty_value_masks_nothing_and_is_warned_about).
    pytest.param({"A": ""}, "abcdefg", "abcdefg", id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_EmptyValue"),
    # Later HandlesEmptyInput: a null input finds nothing.
    pytest.param({"A": "ddeeff"}, "", "", id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_EmptyInput"),
    # Later GetsPosition: "def" in "abcdefg" at (3, 3); doubled, at (6, 6).
    pytest.param(
        {"A": "ddeeff"}, "aabbccddeeffgg", f"aabbcc{MASK}gg", id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_Basic"
    ),
    # Later GetPositionFromBeginningOfString: "abc" in "abcdefg" at (0, 3).
    pytest.param(
        {"A": "aabbcc"},
        "aabbccddeeffgg",
        f"{MASK}ddeeffgg",
        id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_BeginningOfString",
    ),
    # Later GetPositionFromEndOfString: "efg" in "abcdefg" at (4, 3).
    pytest.param(
        {"A": "eeffgg"}, "aabbccddeeffgg", f"aabbccdd{MASK}", id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_EndOfString"
    ),
    # Later GetsMultiplePositions: "def" in "abcdefgdefg" at (3, 3) and (7, 3).
    pytest.param(
        {"A": "ddeeff"},
        "aabbccddeeffggddeeffgg",
        f"aabbcc{MASK}gg{MASK}gg",
        id=f"{VALUE_MASK}-ValueMaskTests_GetPositions_Multiple",
    ),
    # The proxy password the runner registers from http_proxy, masked in the URL it logs. Reading proxy settings
    # is the runner's; the masking is the case.
    pytest.param(
        {"PROXY_PASSWORD": "password123"},
        "http://user:password123@127.0.0.1:8888",
        f"http://user:{MASK}@127.0.0.1:8888",
        id=f"{HOST_CONTEXT}-SecretMaskerForProxy",
    ),
    # ::add-mask::abc%0Ddef%0Aghi%0D%0Ajkl registers the value and each line; a line printed alone is masked,
    # and so is the whole value. Lines of three letters are doubled to meet our minimum.
    *(
        pytest.param(
            {"MULTILINE": "aabbcc\rddeeff\ngghhii\r\njjkkll"},
            printed,
            MASK,
            id=f"{ACTION_COMMANDS}-AddMaskWithMultilineValue/{label}",
        )
        for label, printed in [
            ("abc", "aabbcc"),
            ("def", "ddeeff"),
            ("ghi", "gghhii"),
            ("jkl", "jjkkll"),
            ("whole", "aabbcc\rddeeff\ngghhii\r\njjkkll"),
        ]
    ),
    # ::add-mask:: %0D  %0A   %0D%0A    %0D (only whitespace) masks nothing: no run of spaces is touched, with
    # the multi-line secret above registered too. Ours warns about the blank value by key
    # (test_a_value_of_whitespace_lines_masks_nothing_and_is_warned_about).
    *(
        pytest.param(
            {"MULTILINE": "aabbcc\rddeeff\ngghhii\r\njjkkll", "BLANK": " \r  \n   \r\n    \r"},
            printed,
            printed,
            id=f"{ACTION_COMMANDS}-AddMaskWithMultilineValue/{len(printed)}-spaces",
        )
        for printed in ["", " ", "  ", "   ", "    "]
    ),
    # On branch add-mask-bug: ::add-mask::%252F%2F registers "%2F%2F" (the command unescapes only %25 there),
    # and that text is masked whole.
    pytest.param({"A": "%2F%2F"}, "%2F%2F", MASK, id=f"{ACTION_COMMANDS}-AddMaskWithPercentEncodedString@add-mask-bug"),
    # The ::stop-commands:: token is registered as a secret for the whole run. Registering it is the runner's
    # command handling; the masking is the case.
    pytest.param(
        {"STOP_TOKEN": "randomToken"},
        "randomToken",
        MASK,
        id=f"{ACTION_COMMANDS}-StopProcessCommandMasksValidTokenForEntireRun",
    ),
    # Arguments the runner's command line marks secret are registered; each is masked. Marking them is the
    # runner's; the masking (values holding spaces) is the case.
    *(
        pytest.param(
            {"SECRET_ARG1": "secret value 1", "SECRET_ARG2": "secret value 2"},
            printed,
            MASK,
            id=f"{COMMAND_LINE}-MasksSecretArgs/{printed}",
        )
        for printed in ["secret value 1", "secret value 2"]
    ),
    pytest.param(
        {"TOKEN": "some secret token value"},
        "some secret token value",
        MASK,
        id=f"{COMMAND_SETTINGS}-GetsArgSecretFromEnvVar",
    ),
    # A setting that is not secret is not registered, so nothing masks it.
    pytest.param({}, "some runner", "some runner", id=f"{COMMAND_SETTINGS}-GetsNameArgFromEnvVar"),
    # The runner's debugger masks each text it builds before sending it: which of its texts go through the
    # masker is the debugger's; what the masker makes of each text is the case.
    *(
        pytest.param(
            {"TOKEN": DEBUGGER_SECRET},
            text.format(DEBUGGER_SECRET),
            text.format(MASK),
            id=f"{suite}-{name}",
        )
        for suite, name, text in [
            (DAP_DEBUGGER, "WelcomeMessageMasksSecrets", "Welcome! Token: {}"),
            (DAP_DEBUGGER, "ThreadsResponseMasksSecretsInJobName", "Job: build-{}"),
            (DAP_DEBUGGER, "StoppedEventMasksSecretsInStepDescription", "Run deploy {}"),
            (DAP_REPL, "ExecuteRunCommand_MasksSecretsInStdout", "the token is {}\nsecond line\n"),
            (DAP_REPL, "ExecuteRunCommand_MasksSecretsInStderr", "auth failed for {}"),
            (DAP_REPL, "ExecuteRunCommand_MasksSecretsInFailureResult", "spawn failed using {}"),
            (DAP_REPL, "ExpandExpressions_MasksSecretsInEvaluatedResult", "echo {} done"),
            (DAP_VARIABLES, "GetVariables_NonSecretScopeValuesMaskedBySecretMasker/SAFE", "hello world"),
            (DAP_VARIABLES, "GetVariables_NonSecretScopeValuesMaskedBySecretMasker/LEAKED", "prefix-{}-suffix"),
        ]
    ),
    pytest.param(
        {"STEP": "secret-step"},
        'main:\n  - step: "Checkout"\n  - step: "secret-step"\n',
        f'main:\n  - step: "Checkout"\n  - step: "{MASK}"\n',
        id=f"{DAP_DEBUGGER}-HandleSourceReturnsJobStepsSource",
    ),
    pytest.param(
        {"TOKEN": "super-secret"}, "super-secret", MASK, id=f"{DAP_VARIABLES}-EvaluateExpression_MasksSecretInResult"
    ),
]


@pytest.mark.parametrize(("secrets", "printed", "expected"), CASES)
def test_runner_case(backend: MatchBackend, secrets: dict[str, str], printed: str, expected: str) -> None:
    masker = make_masker(secrets, backend)
    assert masked_at_every_cut(masker, printed) == expected


def test_an_empty_value_masks_nothing_and_is_warned_about(backend: MatchBackend) -> None:
    """ValueMaskL0's EmptyValue: the runner ignores an empty value silently; ours also says so, by key."""
    masker = make_masker({"EMPTY_VALUE": ""}, backend)
    assert not masker.active
    assert [(problem.severity, problem.message) for problem in masker.warnings] == [
        (Severity.WARNING, "secret EMPTY_VALUE is empty, so it is not masked: anything that prints it will show it")
    ]


def test_a_value_of_whitespace_lines_masks_nothing_and_is_warned_about(backend: MatchBackend) -> None:
    """ActionCommandManagerL0's AddMaskWithMultilineValue, second value: the runner ignores it with a warning too."""
    blank = " \r  \n   \r\n    \r"
    masker = make_masker({"BLANK": blank}, backend)
    assert not masker.active
    (warning,) = masker.warnings
    assert "secret BLANK is only whitespace" in warning.message
    assert blank not in warning.message


def test_the_runners_three_character_values_are_below_our_minimum(backend: MatchBackend) -> None:
    """The runner masks ``def`` in ``abcdefg``; ours does not mask values under four characters, by design.

    Replacing every ``def`` of a log would ruin it and, by the holes it
    leaves, show the value anyway; the value is named in a warning by its
    key instead. This is why the cases above double each letter.
    """
    assert MIN_SECRET_LENGTH == 4
    originals = {"DEF": "def", "BCD": "bcd", "ABC": "abc", "B_BACKSLASH_C": "b\\c", "B_SPACE_C": "b c"}
    masker = make_masker(originals, backend)
    assert not masker.active
    assert [warning.message.split(" is ")[0] for warning in masker.warnings] == [
        f"secret {key}" for key in sorted(originals)
    ]
    assert masker.mask("abcdefg") == "abcdefg"


# HostContextL0.cs, DefaultSecretMaskers as commit c45aebc9a ("Update Base64 Encoders to deal with suffixes")
# wrote it, reverted by 745b90a8b: the secret inside a base64 blob with text after it. The runner then showed
# the characters before and after the secret's own; ours shows at most those (test_forms.py has the current
# rows, where the secret ends the blob).
SUFFIX_ROWS = [
    ("", ":", "", "Og=="),
    ("", ":a", "", "OmE="),
    ("", ":ab", "", "OmFi"),
    ("", ":abc", "", "OmFiYw=="),
    ("", ":abcd", "", "OmFiY2Q="),
    ("", ":abcde", "", "OmFiY2Rl"),
    (":", ":", "OlBh", "To="),
    ("a:", ":a", "YTpQ", "E6YQ=="),
    ("abc:", ":a", "YWJjOlBh", "Tph"),
    (":", "", "OlBh", "Q=="),
    ("a:", "", "YTpQ", "E="),
    ("abc:", "", "YWJjOlBh", "Q=="),
    ("abcd:", "", "YWJjZDpQ", "E="),
]


@pytest.mark.parametrize(
    ("prefix", "suffix", "runner_head", "runner_tail"),
    SUFFIX_ROWS,
    ids=[f"{HOST_CONTEXT}-DefaultSecretMaskers@c45aebc9a/{p}Password123!{s}" for p, s, _, _ in SUFFIX_ROWS],
)
def test_a_secret_inside_a_base64_blob_with_text_after_it(
    backend: MatchBackend, prefix: str, suffix: str, runner_head: str, runner_tail: str
) -> None:
    masker = make_masker({"PASSWORD": "Password123!"}, backend)
    blob = base64.b64encode(f"{prefix}Password123!{suffix}".encode()).decode()
    masked = masked_at_every_cut(masker, blob)
    head, token, tail = masked.partition(MASK)
    assert token == MASK and MASK not in tail, masked
    assert runner_head.startswith(head) and runner_tail.endswith(tail), (masked, runner_head, runner_tail)
    # Every character whose six bits all come from the secret is under the mask.
    first_of_secret = -(-8 * len(prefix) // 6)
    after_secret = 8 * (len(prefix) + len("Password123!")) // 6
    assert len(head) <= first_of_secret and len(blob) - len(tail) >= after_secret, masked


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(DEBUGGER_SECRET, id=f"{DAP_DEBUGGER}-ErrorResponseMasksSecretsInExceptionMessage"),
        pytest.param('super-"secret"-token', id="the-same-with-quotes-json-escapes"),
    ],
)
def test_a_secret_in_an_error_message_inside_a_json_response(backend: MatchBackend, secret: str) -> None:
    """The runner masks the error message before it writes the response; ours masks the document as written.

    So the JSON-escaped spelling must go too: the second value holds quotes,
    which the response writes as ``\\"``.
    """
    response = json.dumps({"success": False, "message": f"Could not read frameId: {secret}."})
    masker = make_masker({"TOKEN": secret}, backend)
    masked = masked_at_every_cut(masker, response)
    assert masked == json.dumps({"success": False, "message": f"Could not read frameId: {MASK}."})


# HostContextL0.cs, Base64SecretMaskers, on branch users/jww3/secret-variations-followon (not merged): the secret's
# base64, and the base64 of the secret less its first one and two bytes (what the runner's HostContext registers
# as Base64StringEscapeShift1 and 2), standard and URL-safe, each between 43 pairs of bookends, is masked whole;
# no head of one is masked.
BASE64_SECRET = "TeLL? noboDy~ SEcreT?"
BASE64_VARIATIONS = [
    "VGVMTD8gbm9ib0R5fiBTRWNyZVQ/",
    "ZUxMPyBub2JvRHl+IFNFY3JlVD8",
    "TEw/IG5vYm9EeX4gU0VjcmVUPw",
    "VGVMTD8gbm9ib0R5fiBTRWNyZVQ_",
    "ZUxMPyBub2JvRHl-IFNFY3JlVD8",
    "TEw_IG5vYm9EeX4gU0VjcmVUPw",
]
BASE64_BOOKENDS = [
    ("", ""),
    ("", "="),
    ("", "=="),
    ("", "==="),
    ("a", "z"),
    ("A", "Z"),
    ("abc", "abc"),
    ("ABC", "ABC"),
    ("0", "0"),
    ("00", "00"),
    ("000", "000"),
    ("123", "789"),
    ("`", "`"),
    ("'", "'"),
    ('"', '"'),
    ("[", "]"),
    ("(", ")"),
    ("$(", ")"),
    ("{", "}"),
    ("${", "}"),
    ("!", "!"),
    ("!!", "!!"),
    ("%", "%"),
    ("%%", "%%"),
    ("_", "_"),
    ("__", "__"),
    (":", ":"),
    ("::", "::"),
    (";", ";"),
    (";;", ";;"),
    (":", ""),
    (";", ""),
    ("", ":"),
    ("", ";"),
    ("VGVMTD8gbm9ib", "ZUxMPy"),
    ("VGVMTD8gbm9ib", "TEw/IG5vYm9EeX4"),
    ("ZUxMPy", "TEw/IG5vYm9EeX4"),
    ("VGVMTD8gbm9ib", ""),
    ("TEw/IG5vYm9EeX4", ""),
    ("ZUxMPy", ""),
    ("", "VGVMTD8gbm9ib"),
    ("", "TEw/IG5vYm9EeX4"),
    ("", "ZUxMPy"),
]


@pytest.mark.parametrize(
    "variation",
    BASE64_VARIATIONS,
    ids=[f"{HOST_CONTEXT}-Base64SecretMaskers@users/jww3/secret-variations-followon/{v}" for v in BASE64_VARIATIONS],
)
def test_the_runners_base64_variations_between_bookends(backend: MatchBackend, variation: str) -> None:
    """Each variation between each pair of bookends gives the bookends around one mask.

    One difference, ours the stronger: that branch registers its encodings
    without padding, so a ``=`` after a variation stays visible there; here
    the padded encoding is a form too, and the padding it ends with (which
    tells the secret's length modulo 3) is masked with it.
    """
    masker = make_masker({"SECRET": BASE64_SECRET}, backend)
    padding = -len(variation) % 4
    for prefix, suffix in BASE64_BOOKENDS:
        whole_padding = suffix.startswith("=" * padding)
        expected = prefix + MASK + (suffix[padding:] if whole_padding else suffix)
        assert masked_at_every_cut(masker, prefix + variation + suffix, three_pieces=False) == expected, (
            prefix,
            suffix,
        )
    for end in range(1, len(variation) - 1):
        assert masker.mask(variation[:end]) == variation[:end]
