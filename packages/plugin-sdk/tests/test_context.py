"""PluginContext and its logger: records, levels, and secrets masked in every format style."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workflow_plugin_sdk import ActionLogger, PluginContext
from workflow_plugin_sdk._context import Masker, stderr_sink
from workflow_plugin_sdk.testing import ActionResult, call_action, load_plugin

SECRETS_PLUGIN = Path(__file__).parent / "fixtures" / "secrets" / "main.py"
SECRETS = load_plugin(SECRETS_PLUGIN)
LOGGING_STYLES: list[str] = call_action("styles", registry=SECRETS).outputs["logging"]

_characters = st.one_of(
    st.characters(exclude_categories=["Cs"]),
    st.sampled_from(["'", '"', "\\", "\n", "\r", "\t", "\x00", "\x7f", "*", "%", "{", "}", "é", "€", "\u2028"]),
)
secret_values = st.one_of(
    st.text(_characters, min_size=4),
    st.lists(st.text(_characters.filter(lambda c: c != "\n"), min_size=1), min_size=2, max_size=4)
    .map("\n".join)
    .filter(lambda text: len(text) >= 4),
)


def _logger(secrets: list[object]) -> tuple[ActionLogger, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    return ActionLogger(Masker(secrets), records.append), records


def test_records_carry_level_message_and_data() -> None:
    log, records = _logger([])
    log.debug("d")
    log.info("fetched %d of %s", 3, "pages")
    log.warning("slow", seconds=2.5)
    log.error("failed", error={"code": 7})
    assert records == [
        {"level": "debug", "message": "d"},
        {"level": "info", "message": "fetched 3 of pages"},
        {"level": "warning", "message": "slow", "data": {"seconds": 2.5}},
        {"level": "error", "message": "failed", "data": {"error": {"code": 7}}},
    ]


def test_arguments_without_placeholders_are_appended_not_lost() -> None:
    log, records = _logger([])
    log.info("values", 1, "two")  # noqa: PLE1205 - the extra arguments are the point
    log.info("100%", "sure")
    assert [record["message"] for record in records] == ["values 1 two", "100% sure"]


def test_unknown_level_is_refused() -> None:
    log, _ = _logger([])
    with pytest.raises(ValueError, match="unknown log level 'fatal'; use one of debug, info, warning, error"):
        log.log("fatal", "boom")


def test_data_that_json_cannot_carry_is_shown_as_text() -> None:
    log, records = _logger([])
    log.info("m", path=Path("/tmp/x"), pair=(1, 2), count=3, flag=True, nothing=None)
    assert records[0]["data"] == {"path": "/tmp/x", "pair": [1, 2], "count": 3, "flag": True, "nothing": None}


def test_stderr_sink_writes_one_json_line_per_record() -> None:
    stream = io.StringIO()
    sink = stderr_sink(stream)
    sink({"level": "info", "message": "two\nlines", "data": {"é": 1}})
    assert stream.getvalue() == '{"level": "info", "message": "two\\nlines", "data": {"é": 1}}\n'


def test_context_fields() -> None:
    ctx = PluginContext(
        "get",
        {"token": "hunter22"},
        secret_inputs=["token"],
        context={"run_id": "r1", "workflow": "wf", "task": "t", "workflow_dir": "/w"},
        sink=lambda record: None,
    )
    assert (ctx.run_id, ctx.workflow, ctx.task, ctx.workflow_dir) == ("r1", "wf", "t", "/w")
    assert ctx.secret_inputs == frozenset({"token"})
    assert ctx.mask("token=hunter22") == "token=***"
    assert "hunter22" not in repr(ctx)
    bare = PluginContext("get", {})
    assert (bare.run_id, bare.workflow, bare.task, bare.workflow_dir) == (None, None, None, None)


def test_secret_names_missing_from_inputs_are_ignored() -> None:
    ctx = PluginContext("get", {"url": "x"}, secret_inputs=["token"])
    assert ctx.mask("nothing to hide") == "nothing to hide"


@pytest.mark.parametrize(
    ("secret", "text", "masked"),
    [
        ("hunter22", "pw hunter22 and hunter22", "pw *** and ***"),
        ('it\'s "x"', repr('it\'s "x"'), "'***'"),
        ("tab\there", json.dumps({"k": "tab\there"}), '{"k": "***"}'),
        ("naïve-pw", ascii("naïve-pw"), "'***'"),
        ("naïve-pw", json.dumps("naïve-pw"), '"***"'),
        ("first line\nsecond line", "line: second line", "line: ***"),
        ({"user": "admin", "password": "pa55word"}, "login admin:pa55word", "login ***:***"),
        (["alpha1", "beta22"], json.dumps(["alpha1", "beta22"]), "***"),
        (123456, "pin 123456", "pin ***"),
        (True, "True stays", "True stays"),
        ("", "empty secrets hide nothing", "empty secrets hide nothing"),
        ("x***", "xx***", "***"),
        ("****", "******", "***"),
    ],
)
def test_masker_hides_every_spelling(secret: object, text: str, masked: str) -> None:
    assert Masker([secret])(text) == masked


@pytest.mark.parametrize(
    ("secrets", "text", "masked"),
    [
        (["bbccdd", "ddeeff"], "aabbccddeeffgg", "aa***gg"),  # two secrets sharing characters: one run
        (["cdcd"], "abcdcdcdefg", "ab***efg"),  # a secret overlapping itself: nothing of its tail left
        (["secret", "token"], "secrettoken!", "***!"),  # touching occurrences: one token, no boundary shown
        (["abcd"], "abcd abcd", "*** ***"),
        (["first line\n      \nlast line"], "a      b last line", "a      b ***"),  # blank lines are not secrets
    ],
)
def test_masker_masks_the_union_of_occurrences(secrets: list[str], text: str, masked: str) -> None:
    assert Masker(secrets)(text) == masked


def test_masking_data_keeps_its_structure_whatever_the_secret() -> None:
    secret = '": "'
    log, records = _logger([secret])
    log.info("m", field=f"a{secret}b", nested={"k": [secret]}, **{secret: 1})
    assert records[0]["data"] == {"field": "a***b", "nested": {"k": ["***"]}, "***": 1}


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (str(key), *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [str(value)]


def _visible(result: ActionResult) -> list[str]:
    """Every text of a call that someone could read: the raw log stream, each record's fields, the error."""
    texts = [result.stderr, json.dumps(result.response, ensure_ascii=False), *_strings(dict(result.response))]
    for record in result.logs:
        texts += _strings(dict(record))
    return texts


def _spellings(secret: str) -> set[str]:
    """The secret as a reader could recognise it: as is, or escaped by repr, ascii or JSON."""
    quoted = (repr(secret), ascii(secret), json.dumps(secret), json.dumps(secret, ensure_ascii=False))
    return {secret, *(text[1:-1] for text in quoted)}


def _leaked(secret: str, result: ActionResult) -> list[str]:
    spellings = _spellings(secret)
    return [text for text in _visible(result) if any(spelling in text for spelling in spellings)]


def _call(style: str, secret: str) -> ActionResult:
    return call_action("leak", {"style": style, "token": secret}, registry=SECRETS, secret_inputs=["token"])


@pytest.mark.parametrize("style", LOGGING_STYLES)
def test_each_style_logs_or_raises_something(style: str) -> None:
    result = _call(style, "hunter22-secret")
    assert result.logs or result.error, f"style {style} showed nothing; the leak test would prove nothing"
    assert "***" in result.stderr + json.dumps(result.response)
    assert _leaked("hunter22-secret", result) == []


@settings(max_examples=300, deadline=None)
@given(secret=secret_values, style=st.sampled_from(LOGGING_STYLES))
def test_secret_inputs_never_reach_logs_or_errors(secret: str, style: str) -> None:
    baseline = _call(style, "QQQQ-placeholder")
    assume(not _leaked(secret, baseline))  # the secret is also text the call shows anyway, e.g. "info"
    result = _call(style, secret)
    assert _leaked(secret, result) == []
