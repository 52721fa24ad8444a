"""Wire protocol version 1: the one definition both sides of a plugin call use.

The runtime and the SDK import this module (the runtime through the public
``workflow_plugin_sdk.protocol``); nothing else in the project may describe
the messages again. Version 1 in short (``docs/protocol.md`` is the full text):

* one-shot: the runtime writes one request object on stdin and closes it; the
  plugin writes one response object on stdout and exits;
* serve loop: the runtime starts the plugin with ``WORKFLOW_PLUGIN_SERVE=1``;
  the plugin first writes a ready line, then answers one request line with one
  response line, each carrying the request's ``id``, until stdin closes.

Every decoder validates the message's shape and raises :class:`ProtocolError`
(never ``KeyError`` or ``json.JSONDecodeError``) so that a peer speaking
garbage is reported, not crashed on. What a plugin sends (responses, ready
lines, log records) must also be data every later reader can carry: text
that is valid Unicode, finite numbers, bounded nesting (see ``_values``).

The message classes live in ``_messages`` and are imported for type checkers
only: a plugin process never pays for ``typing`` (see that module).
"""

from __future__ import annotations

import json
import sys

from ._errors import ProtocolError
from ._values import escape_surrogates, finite_float, unreadable_message

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy treats any such name as true
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ._messages import (
        ErrorResponse,
        InvocationContext,
        LogRecord,
        MessageId,
        ReadyMessage,
        Request,
        Response,
        SuccessResponse,
    )

PROTOCOL_VERSION = 1
"""The protocol version this SDK speaks; separate from the package version."""

SERVE_ENV_VAR = "WORKFLOW_PLUGIN_SERVE"
"""Set to ``"1"`` by the runtime to start a plugin as a pooled worker, to ``"fork"`` as a fork server's template."""

FORK_SERVE_VALUE = "fork"
"""``WORKFLOW_PLUGIN_SERVE=fork``: a template that forks one process per call (see ``_fork_server``)."""
FORK_CALL_MESSAGE = b"call"
FORK_READY_MESSAGE = b"ready"
FORK_FORKED_PREFIX = b"forked "
FORK_EXITED_PREFIX = b"exited "
FORK_FAILED_PREFIX = b"failed "
FORK_CALL_FDS = 5
"""A fork server's call message carries these descriptors: stdin, stdout, stderr, environment, reply socket."""
FORK_MAX_MESSAGE_BYTES = 4096

LOG_LEVELS = ("debug", "info", "warning", "error")

EXIT_OK = 0
"""One-shot exit code: the action succeeded (the response has ``ok: true``)."""
EXIT_ACTION_FAILED = 1
"""One-shot exit code: the action failed; the response carries the error."""
EXIT_BAD_REQUEST = 2
"""One-shot exit code: the request broke the protocol; the response's error type is ``ProtocolError``."""

CONTEXT_FIELDS = ("run_id", "workflow", "task", "workflow_dir")
"""The request context's known keys; each is optional and, when present, a string."""


def parse_log_line(line: str) -> LogRecord | None:
    """Read one stderr line: a JSON ``{"level", "message"}`` object or plain text.

    Returns ``None`` for a blank line. Never raises: a log stream is not
    protocol, and a broken record is shown as the text it is.
    """
    text = escape_surrogates(line.rstrip("\r\n"))  # raw ones become escapes: JSON reads them, the check finds them
    if not text.strip():
        return None
    if text.lstrip().startswith("{"):
        try:
            value = _DECODE_LOG(text)
        except (ValueError, RecursionError, ProtocolError):
            value = None
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            level = value.get("level")
            record: LogRecord = {
                "level": level if isinstance(level, str) and level in LOG_LEVELS else "info",
                "message": value["message"],
                "structured": True,
            }
            if isinstance(value.get("data"), dict):
                record["data"] = value["data"]
            if unreadable_message(record, text) is None:
                return record
    return {"level": "info", "message": text, "structured": False}


def _check_readable(message: dict[str, Any], text: str, what: str) -> None:
    problem = unreadable_message(message, text)
    if problem is not None:
        raise ProtocolError(f"{what} {problem}")


def make_request(
    action: str,
    inputs: dict[str, Any],
    *,
    secret_inputs: Iterable[str] = (),
    context: InvocationContext | None = None,
    id: MessageId | None = None,  # noqa: A002 - the wire name
) -> Request:
    """Build a request and check it as a plugin would (so a bad one fails here, not in the plugin)."""
    request: dict[str, Any] = {
        "protocol": PROTOCOL_VERSION,
        "action": action,
        "inputs": inputs,
        "secret_inputs": list(secret_inputs),
        "context": dict(context) if context is not None else {},
    }
    if id is not None:
        request["id"] = id
    return _checked_request(request)


def success_response(outputs: dict[str, Any], *, id: MessageId | None = None) -> SuccessResponse:  # noqa: A002
    response: SuccessResponse = {"ok": True, "outputs": outputs}
    if id is not None:
        response["id"] = id
    return response


def error_response(
    type: str,  # noqa: A002 - the wire name
    message: str,
    *,
    retryable: bool = False,
    id: MessageId | None = None,  # noqa: A002
) -> ErrorResponse:
    response: ErrorResponse = {
        "ok": False,
        "error": {"type": escape_surrogates(type), "message": escape_surrogates(message), "retryable": retryable},
    }
    if id is not None:
        response["id"] = id
    return response


def ready_message(actions: Iterable[str]) -> ReadyMessage:
    return {"protocol": PROTOCOL_VERSION, "ready": True, "actions": sorted(actions)}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_C_ENCODE = getattr(json.encoder, "c_make_encoder", None)
if _C_ENCODE is not None:  # CPython's: the encoder ``_ENCODER.encode`` would make for every message, made once
    _C_ENCODE = _C_ENCODE(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False)


def _encode(message: object) -> str:
    """``json.dumps`` with ``_ENCODER``'s options, without making an encoder per message.

    The encoder made once keeps no marks of the containers it is in (they
    would be left behind by a failed call): a circular message fails it
    with ``RecursionError``, and is encoded again by ``_ENCODER``, which
    names the circular reference as ``json.dumps`` does.
    """
    if _C_ENCODE is None:
        return _ENCODER.encode(message)
    try:
        return "".join(_C_ENCODE(message, 0))
    except RecursionError:
        return _ENCODER.encode(message)


def encode_message(message: Request | Response | ReadyMessage) -> bytes:
    """One message as a single JSON line (JSON escapes every newline in strings).

    Text that UTF-8 cannot carry (a lone surrogate, which a JSON ``\\ud800``
    escape decodes to) is sent as JSON escapes instead of failing: a request
    may hold some when the operator's own input did (see docs/protocol.md).
    """
    try:
        text = _encode(message)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message is not JSON-serialisable: {exc}") from exc
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def _reject_constant(name: str) -> None:
    raise ProtocolError(f"{name} is not a JSON number")


def _text(data: bytes | str, what: str) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    return escape_surrogates(data)  # a str may hold raw ones: as JSON escapes they are found like any other


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=finite_float)
"""Made once: ``json.loads`` with options builds a decoder (and its scanner) for every message."""
_DECODE = _DECODER.decode
_RAW_DECODE = _DECODER.raw_decode
_DECODE_LOG = json.JSONDecoder(parse_float=finite_float).decode


def _load_object(text: str, what: str) -> dict[str, Any]:
    if not text or text.isspace():  # what ``strip()`` would empty, without copying the text
        raise ProtocolError(f"{what} is empty; expected one JSON object")
    try:
        if text[:1] == "{":  # a message as sent: not ``decode``, which matches a whitespace pattern on each side
            value, end = _RAW_DECODE(text)
            if text[end:] not in ("", "\n"):  # anything else after it: ``decode`` says what, as for any other text
                value = _DECODE(text)
        elif text.startswith("\ufeff"):  # as json.loads says it (the decoder alone does not look)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        else:
            value = _DECODE(text)
    except ProtocolError as exc:
        raise ProtocolError(f"{what} is not valid JSON: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # the only other one: an integer over the interpreter's digit limit
        raise ProtocolError(
            f"{what} holds an integer longer than {sys.get_int_max_str_digits()} digits, which cannot be read; "
            "send very large numbers as strings"
        ) from exc
    except RecursionError as exc:
        raise ProtocolError(f"{what} nests too deeply") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_version(message: dict[str, Any], what: str) -> None:
    if "protocol" not in message:
        raise ProtocolError(
            f"{what} has no 'protocol' field; this side speaks protocol version {PROTOCOL_VERSION} "
            f'(send "protocol": {PROTOCOL_VERSION})'
        )
    version = message["protocol"]
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"{what} uses unsupported protocol version {json.dumps(version)}; this side speaks "
            f"version {PROTOCOL_VERSION} only. Upgrade the older of the SDK and the runtime."
        )


def _check_field(message: dict[str, Any], key: str, expected: type | tuple[type, ...], what: str) -> None:
    value = message.get(key)
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = " or ".join(_json_type(kind()) for kind in allowed)
        found = "missing" if key not in message else _json_type(value)
        raise ProtocolError(f"{what} field {key!r}: expected {names}, got {found}")


def _check_strings(values: list[Any], what: str) -> None:
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ProtocolError(f"{what}[{index}]: expected string, got {_json_type(value)}")


def _check_id(message: dict[str, Any], what: str) -> None:
    if "id" in message and message["id"] is not None:
        _check_field(message, "id", (str, int), what)


_ID_TYPES = (int, str, type(None))
_ONLY_STR = {str}


def _plainly_valid_request(message: dict[str, Any]) -> bool:
    """Whether ``message`` is a request of exactly the usual types, in one pass; else the checks below say why not.

    A warm call pays this on both sides (the engine builds the request, the
    plugin reads it): one expression instead of a dozen field checks that
    only exist to name what is wrong, its element checks without a generator.
    """
    context = message.get("context")
    secret_inputs = message.get("secret_inputs")
    return (
        type(message.get("protocol")) is int
        and message["protocol"] == PROTOCOL_VERSION
        and type(message.get("action")) is str
        and message["action"] != ""
        and type(message.get("inputs")) is dict
        and type(secret_inputs) is list
        and (not secret_inputs or set(map(type, secret_inputs)) == _ONLY_STR)
        and type(context) is dict
        and {type(context.get(key, "")) for key in CONTEXT_FIELDS} == _ONLY_STR
        and type(message.get("id")) in _ID_TYPES
    )


def _checked_request(message: dict[str, Any]) -> Request:
    if _plainly_valid_request(message):
        return message  # type: ignore[return-value]  # validated above
    what = "request"
    _check_version(message, what)
    _check_field(message, "action", str, what)
    if not message["action"]:
        raise ProtocolError("request field 'action': expected a non-empty string")
    _check_field(message, "inputs", dict, what)
    message.setdefault("secret_inputs", [])
    _check_field(message, "secret_inputs", list, what)
    _check_strings(message["secret_inputs"], "request field 'secret_inputs'")
    message.setdefault("context", {})
    _check_field(message, "context", dict, what)
    context = message["context"]
    for key in CONTEXT_FIELDS:
        if key in context:
            _check_field(context, key, str, "request context")
    _check_id(message, what)
    return message  # type: ignore[return-value]  # validated above


def decode_request(data: bytes | str) -> Request:
    """Parse and validate one request (a whole stdin document or one line)."""
    return _checked_request(_load_object(_text(data, "request"), "request"))


def decode_response(data: bytes | str) -> Response:
    """Parse and validate one response; ``ok`` decides which shape is required."""
    what = "response"
    text = _text(data, what)
    message = _load_object(text, what)
    usual = message.get("ok") is True and type(message.get("outputs")) is dict and type(message.get("id")) in _ID_TYPES
    if not usual:  # anything but a success of exactly the usual types: each field checked, the first wrong one named
        _check_field(message, "ok", bool, what)
        _check_id(message, what)
        if message["ok"]:
            _check_field(message, "outputs", dict, what)
        else:
            _check_field(message, "error", dict, what)
            error = message["error"]
            _check_field(error, "type", str, "response error")
            _check_field(error, "message", str, "response error")
            error.setdefault("retryable", False)
            _check_field(error, "retryable", bool, "response error")
    _check_readable(message, text, what)
    return message  # type: ignore[return-value]  # validated above


def decode_ready(data: bytes | str) -> ReadyMessage:
    """Parse the first line of a pooled worker; anything else means no serve loop."""
    what = "ready line"
    text = _text(data, what)
    message = _load_object(text, what)
    _check_version(message, what)
    if message.get("ready") is not True:
        raise ProtocolError("ready line field 'ready': expected true")
    message.setdefault("actions", [])
    _check_field(message, "actions", list, what)
    _check_strings(message["actions"], "ready line field 'actions'")
    _check_readable(message, text, what)
    return message  # type: ignore[return-value]  # validated above
