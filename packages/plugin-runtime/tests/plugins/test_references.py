from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime.errors import ReferenceSyntaxError, SourceLocation
from workflow_plugin_runtime.plugins.references import ActionRef, PluginRef, parse_action_ref, parse_plugin_ref


def test_valid_action_ref() -> None:
    ref = parse_action_ref("acme/http-client.get_all")
    assert ref == ActionRef("acme", "http-client", "get_all")
    assert ref.plugin == PluginRef("acme", "http-client")
    assert str(ref) == "acme/http-client.get_all"
    assert str(ref.plugin) == "acme/http-client"


def test_valid_plugin_ref() -> None:
    assert parse_plugin_ref("acme/http") == PluginRef("acme", "http")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("", "the reference is empty", "namespace/name.action"),
        ("acme/http", "'acme/http' is missing the action", "namespace/name.action"),
        ("http.get", "'http.get' is missing the namespace", "acme/http.get"),
        ("http", "'http' is missing its namespace and action", "namespace/name.action"),
        ("Acme/http.get", "'Acme/http.get' has uppercase letters", "'acme/http.get'"),
        ("acme/http.GET", "has uppercase letters", "'acme/http.get'"),
        ("/http.get", "'/http.get' has an empty namespace before '/'", None),
        ("acme/.get", "'acme/.get' has an empty plugin name after '/'", None),
        ("acme/http.", "'acme/http.' has an empty action name after '.'", None),
        ("acme/http.get.x", "has more than one '.'", None),
        ("ac.me/http.get", "has '.' inside the namespace", None),
        ("acme/http/x.get", "'acme/http/x.get' has more than one '/'", None),
        ("acme/http.get/x", "has '/' after the action's '.'", None),
        (" acme/http.get", "contains whitespace", "'acme/http.get'"),
        ("acme/ht tp.get", "contains whitespace", "'acme/http.get'"),
        ("acme/http.get\n", "contains whitespace", None),
        ("acme/9http.get", "plugin name '9http' is not valid", "lowercase letters"),
        ("ac_me/http.get", "namespace 'ac_me' is not valid", "lowercase letters"),
        ("acme/http.-get", "action '-get' in 'acme/http.-get' is not a valid action name", "starting with a letter"),
        ("acme/" + "x" * 65 + ".get", "is not valid", "at most 64 characters"),
    ],
)
def test_each_malformed_form_has_its_own_message(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_action_ref(text)
    assert message in caught.value.message
    if hint is not None:
        assert caught.value.hint is not None and hint in caught.value.hint


def test_non_string_and_location_are_carried() -> None:
    location = SourceLocation(field="tasks.fetch.uses", line=3)
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_action_ref(42, location=location)
    assert caught.value.message == "a reference must be a string, not int"
    assert caught.value.location == location


def test_plugin_ref_refuses_an_action() -> None:
    with pytest.raises(ReferenceSyntaxError, match=r"may not contain '\.'"):
        parse_plugin_ref("acme/http.get")


IDENT = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
ACTION = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


@given(IDENT, IDENT, ACTION)
def test_valid_references_round_trip(namespace: str, name: str, action: str) -> None:
    text = f"{namespace}/{name}.{action}"
    assert str(parse_action_ref(text)) == text
    assert str(parse_plugin_ref(f"{namespace}/{name}")) == f"{namespace}/{name}"


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list("aZ9-_/. \t\u00e9\u0130x")), max_size=16) | st.text(max_size=12))
def test_any_text_parses_or_raises_reference_syntax_error(text: str) -> None:
    try:
        ref = parse_action_ref(text)
    except ReferenceSyntaxError as exc:
        assert exc.message and exc.hint
    else:
        assert str(ref) == text


@settings(max_examples=300)
@given(st.text(alphabet="abcxyz019-_A.é/ ", max_size=70))
def test_character_checks_agree_with_the_published_patterns(text: str) -> None:
    from workflow_plugin_runtime.plugins import references

    assert references.is_identifier(text) == bool(references.IDENTIFIER_PATTERN.fullmatch(text))
    as_action = f"acme/http.{text}"
    try:
        parse_action_ref(as_action)
        parsed = True
    except ReferenceSyntaxError:
        parsed = False
    assert parsed == bool(references.ACTION_NAME_PATTERN.fullmatch(text))


def test_an_unknown_module_attribute_is_an_attribute_error() -> None:
    from workflow_plugin_runtime.plugins import references

    with pytest.raises(AttributeError, match="NO_SUCH_PATTERN"):
        _ = references.NO_SUCH_PATTERN  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("Acme/Bad_Name", "acme/bad-name"),
        ("acme/bad__name", "acme/bad-name"),
        ("acme/9lives", "acme/lives"),
        ("ac_me/http", "ac-me/http"),
        ("acme/bad name", "acme/badname"),
    ],
)
def test_a_malformed_plugin_ref_suggests_one_that_parses(text: str, suggestion: str) -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_plugin_ref(text)
    assert caught.value.hint is not None and repr(suggestion) in caught.value.hint
    assert str(parse_plugin_ref(suggestion)) == suggestion


def test_a_plugin_ref_without_a_slash_says_the_slash_is_missing() -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_plugin_ref("acme")
    assert caught.value.message == "'acme' is missing the '/' between namespace and name"
    assert caught.value.hint == "write it as namespace/name, e.g. acme/hello"


SUGGESTED = re.compile(r"(?:write|remove the spaces:|e\.g\.) '([^']+)'")


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list("aZ9-_/. \u00e9x")), max_size=16))
def test_every_reference_a_hint_suggests_parses(text: str) -> None:
    for parse in (parse_plugin_ref, parse_action_ref):
        try:
            parse(text)
        except ReferenceSyntaxError as exc:
            for suggestion in SUGGESTED.findall(exc.hint or ""):
                assert str(parse(suggestion)) == suggestion
