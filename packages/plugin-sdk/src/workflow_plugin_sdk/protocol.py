"""Wire protocol version 1, public: the runtime imports its messages from here.

``docs/protocol.md`` describes the same protocol for plugin authors in other
languages; this module is its executable definition.
"""

from __future__ import annotations

from ._errors import ProtocolError
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
