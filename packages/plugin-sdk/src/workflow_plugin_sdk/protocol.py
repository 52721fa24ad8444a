"""Wire protocol version 1, public: the runtime imports its messages from here.

``docs/protocol.md`` describes the same protocol for plugin authors in other
languages; this module is its executable definition. The message classes
(``TypedDict``s, see ``_messages``) load on first use (PEP 562): the engine
names them in annotations only, and builds its requests with the functions.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._protocol import (
    CONTEXT_FIELDS,
    EXIT_ACTION_FAILED,
    EXIT_BAD_REQUEST,
    EXIT_OK,
    FORK_CALL_FDS,
    FORK_CALL_MESSAGE,
    FORK_EXITED_PREFIX,
    FORK_FAILED_PREFIX,
    FORK_FORKED_PREFIX,
    FORK_MAX_MESSAGE_BYTES,
    FORK_READY_MESSAGE,
    FORK_SERVE_VALUE,
    LOG_LEVELS,
    PROTOCOL_VERSION,
    SERVE_ENV_VAR,
    decode_ready,
    decode_request,
    decode_response,
    encode_message,
    error_response,
    make_request,
    parse_log_line,
    ready_message,
    success_response,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy treats any such name as true
if TYPE_CHECKING:
    from ._messages import (
        ErrorInfo,
        ErrorResponse,
        InvocationContext,
        LogRecord,
        MessageId,
        ReadyMessage,
        Request,
        Response,
        SuccessResponse,
    )

__all__ = [
    "CONTEXT_FIELDS",
    "EXIT_ACTION_FAILED",
    "EXIT_BAD_REQUEST",
    "EXIT_OK",
    "FORK_CALL_FDS",
    "FORK_CALL_MESSAGE",
    "FORK_EXITED_PREFIX",
    "FORK_FAILED_PREFIX",
    "FORK_FORKED_PREFIX",
    "FORK_MAX_MESSAGE_BYTES",
    "FORK_READY_MESSAGE",
    "FORK_SERVE_VALUE",
    "LOG_LEVELS",
    "PROTOCOL_VERSION",
    "SERVE_ENV_VAR",
    "ErrorInfo",
    "ErrorResponse",
    "InvocationContext",
    "LogRecord",
    "MessageId",
    "ProtocolError",
    "ReadyMessage",
    "Request",
    "Response",
    "SuccessResponse",
    "decode_ready",
    "decode_request",
    "decode_response",
    "encode_message",
    "error_response",
    "make_request",
    "parse_log_line",
    "ready_message",
    "success_response",
]

_EXPORTS = dict.fromkeys(
    (
        "ErrorInfo",
        "ErrorResponse",
        "InvocationContext",
        "LogRecord",
        "MessageId",
        "ReadyMessage",
        "Request",
        "Response",
        "SuccessResponse",
    ),
    "_messages",
)
"""The names that load on first use, and their private module (as the package root's ``_EXPORTS``)."""


def __getattr__(name: str) -> object:
    """The message classes, built (with ``typing``) on first use: the engine names them in annotations only."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _messages

    value = getattr(_messages, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
