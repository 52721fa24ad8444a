"""Defining actions and dispatching requests: every way a call can end becomes a response."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflow_plugin_sdk import ActionError, ActionRegistry, DefinitionError, PluginContext, define_action
from workflow_plugin_sdk._action import answer, default_registry, dispatch
from workflow_plugin_sdk.protocol import EXIT_ACTION_FAILED, EXIT_OK, decode_response, make_request
from workflow_plugin_sdk.testing import load_plugin

FAILING = load_plugin(Path(__file__).parent / "fixtures" / "failing" / "main.py")


def _dispatch(action: str, *, request_id: int | str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    response = dispatch(make_request(action, {}, id=request_id), FAILING, sink=records.append)
    return dict(response), records


@pytest.mark.parametrize("name", ["get", "render-page", "to_json", "a1"])
def test_valid_action_names(name: str) -> None:
    registry = ActionRegistry()
    registry.define_action(name)(lambda ctx, inputs: {})
    assert registry.names() == [name]


@pytest.mark.parametrize("name", ["", "Get", "1st", "-x", "get page", "get\n", "é", 3])
def test_invalid_action_names_are_refused_at_definition(name: Any) -> None:
    with pytest.raises(DefinitionError, match="invalid action name"):
        ActionRegistry().define_action(name)


def test_an_action_defined_twice_is_refused() -> None:
    registry = ActionRegistry()
    registry.define_action("go")(lambda ctx, inputs: {})
    with pytest.raises(DefinitionError, match="action 'go' is defined twice"):
        registry.define_action("go")(lambda ctx, inputs: {})


def test_define_action_registers_on_the_default_registry_and_returns_the_function() -> None:
    saved = default_registry.swap_handlers({})
    try:

        @define_action("probe")
        def probe(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
            return {"seen": inputs["x"], "action": ctx.action}

        assert default_registry.names() == ["probe"]
        assert default_registry.get("probe") is probe
        assert probe(PluginContext("probe", {"x": 1}), {"x": 1}) == {"seen": 1, "action": "probe"}
    finally:
        default_registry.swap_handlers(saved)


def test_registry_lists_names_sorted() -> None:
    assert FAILING.names() == sorted(FAILING.names())
    assert "crash" in repr(FAILING)
    assert FAILING.get("nope") is None


def test_unknown_action_lists_the_defined_ones() -> None:
    response, _ = _dispatch("nope", request_id=4)
    assert response == {
        "ok": False,
        "error": {
            "type": "UnknownAction",
            "message": "unknown action 'nope'; this plugin defines: " + ", ".join(FAILING.names()),
            "retryable": False,
        },
        "id": 4,
    }
    empty = dispatch(make_request("go", {}), ActionRegistry())
    assert empty["error"]["message"] == "unknown action 'go'; this plugin defines: none"  # type: ignore[typeddict-item]


def test_an_exception_becomes_an_error_and_its_traceback_a_log_record() -> None:
    response, records = _dispatch("crash", request_id="a")
    assert response == {
        "ok": False,
        "error": {"type": "ValueError", "message": "ValueError: the value 42 is wrong", "retryable": False},
        "id": "a",
    }
    assert [record["level"] for record in records] == ["error"]
    assert records[0]["message"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError("the value 42 is wrong")' in records[0]["message"]


def test_a_chained_exception_logs_both_tracebacks() -> None:
    response, records = _dispatch("chained")
    assert response["error"]["message"] == "RuntimeError: lookup failed"
    assert "KeyError: 'missing'" in records[0]["message"]
    assert "The above exception was the direct cause" in records[0]["message"]


def test_action_error_carries_type_and_retryable() -> None:
    response, records = _dispatch("refuse")
    assert response["error"] == {"type": "Busy", "message": "the server is busy; try again", "retryable": True}
    assert records == [], "an ActionError is an expected failure: no traceback"


def test_sys_exit_in_an_action_is_an_error_not_an_exit() -> None:
    response, _ = _dispatch("exit")
    assert response["error"]["type"] == "SystemExit"
    assert "sys.exit(3)" in response["error"]["message"]


def test_an_exception_that_cannot_be_shown_still_becomes_an_error() -> None:
    response, records = _dispatch("broken-message")
    assert response["error"]["type"] == "UnprintableError"
    assert response["error"]["message"] == "UnprintableError: <the exception's message cannot be shown>"
    assert records[0]["level"] == "error"


def test_returning_nothing_means_no_outputs() -> None:
    response, records = _dispatch("nothing", request_id=1)
    assert response == {"ok": True, "outputs": {}, "id": 1}
    assert records == [{"level": "info", "message": "did nothing"}]


def test_returning_something_else_than_an_object_is_invalid_outputs() -> None:
    response, _ = _dispatch("list")
    assert response["error"]["type"] == "InvalidOutputs"
    assert response["error"]["message"] == "action 'list' returned list; an action must return a dict (a JSON object)"


@pytest.mark.parametrize(("action", "reason"), [("nan", "Out of range float values"), ("unsendable", "object")])
def test_outputs_json_cannot_carry_become_invalid_outputs_when_encoded(action: str, reason: str) -> None:
    data, code = answer(make_request(action, {}, id=9), FAILING)
    response = decode_response(data)
    assert code == EXIT_ACTION_FAILED
    assert response["id"] == 9
    assert response["error"]["type"] == "InvalidOutputs"  # type: ignore[typeddict-item]
    assert reason in response["error"]["message"]  # type: ignore[typeddict-item]


def test_answer_encodes_success_as_one_line_with_exit_code_0() -> None:
    data, code = answer(make_request("nothing", {}), FAILING, sink=lambda record: None)
    assert code == EXIT_OK
    assert data == json.dumps({"ok": True, "outputs": {}}, separators=(",", ":")).encode() + b"\n"


def test_outputs_holding_text_that_is_not_unicode_fail_as_invalid_outputs_naming_the_field() -> None:
    """A file name with bytes that are not UTF-8 (surrogateescape): the runtime would refuse it, so the SDK does."""
    registry = ActionRegistry()
    registry.define_action("ls")(lambda ctx, inputs: {"files": ["ok", "bad-\udcff-name"]})
    data, code = answer(make_request("ls", {}, id=1), registry)
    response = decode_response(data)
    assert code == EXIT_ACTION_FAILED
    assert response["error"]["type"] == "InvalidOutputs"  # type: ignore[typeddict-item]
    assert "field 'outputs.files[1]': holds a lone surrogate (\\udcff)" in response["error"]["message"]  # type: ignore[typeddict-item]


def test_error_messages_and_logs_write_lone_surrogates_as_readable_escapes() -> None:
    def fail(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
        ctx.log.warning("cannot open %s", "/tmp/\udcff", path="/tmp/\udcff")
        raise ActionError("cannot open /tmp/\udcff", type="Missing\udcff")

    registry = ActionRegistry()
    registry.define_action("open")(fail)
    records: list[dict[str, Any]] = []
    data, code = answer(make_request("open", {}), registry, sink=records.append)
    error = decode_response(data)["error"]  # type: ignore[typeddict-item]
    assert code == EXIT_ACTION_FAILED
    assert (error["type"], error["message"]) == ("Missing\\udcff", "cannot open /tmp/\\udcff")
    assert records == [{"level": "warning", "message": "cannot open /tmp/\\udcff", "data": {"path": "/tmp/\\udcff"}}]
