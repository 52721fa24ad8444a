"""Wire protocol version 1, public: the runtime imports its messages from here."""

from __future__ import annotations

from ._errors import ProtocolError
from ._protocol import (
    LOG_LEVELS,
    PROTOCOL_VERSION,
    SERVE_ENV_VAR,
    ErrorInfo,
    ErrorResponse,
    InvocationContext,
    LogRecord,
    MessageId,
    ReadyMessage,
    Request,
    Response,
    SuccessResponse,
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
