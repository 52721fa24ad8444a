"""Registering actions and calling them: the part of the SDK without I/O.

``dispatch`` turns one request into one response and never raises: an unknown
action, a handler exception (even ``sys.exit``) or a result that is not a
JSON object each become an error response, because a plugin must always
answer in protocol.
"""

from __future__ import annotations

import re

from ._context import PluginContext
from ._errors import ActionError, DefinitionError, ProtocolError
from ._protocol import EXIT_ACTION_FAILED, EXIT_OK, encode_message, error_response, success_response
from ._values import unreadable_message

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from ._context import LogSink
    from ._messages import Request, Response

    Handler = Callable[[PluginContext, dict[str, Any]], "dict[str, Any] | None"]
    H = TypeVar("H", bound=Handler)

_ACTION_NAME = re.compile(r"[a-z][a-z0-9_-]*")


class ActionRegistry:
    """The actions of one plugin, by name."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def define_action(self, name: str) -> Callable[[H], H]:
        """Register the decorated function as the handler of action ``name``."""
        if not isinstance(name, str) or not _ACTION_NAME.fullmatch(name):
            raise DefinitionError(
                f"invalid action name {name!r}: use lowercase letters, digits, '-' or '_', "
                "starting with a letter (e.g. 'get' or 'render-page')"
            )

        def register(handler: H) -> H:
            if name in self._handlers:
                raise DefinitionError(f"action {name!r} is defined twice")
            self._handlers[name] = handler
            return handler

        return register

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def swap_handlers(self, handlers: dict[str, Handler]) -> dict[str, Handler]:
        """Install ``handlers`` and return the previous ones (used to load plugins in tests)."""
        previous, self._handlers = self._handlers, handlers
        return previous

    def __repr__(self) -> str:
        return f"ActionRegistry({self.names()!r})"


default_registry = ActionRegistry()


def define_action(name: str) -> Callable[[H], H]:
    """Decorator: ``@define_action("get")`` makes a function the action ``get``."""
    return default_registry.define_action(name)


def _describe_exception(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the response
        text = "<the exception's message cannot be shown>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _log_traceback(ctx: PluginContext, exc: BaseException) -> None:
    import traceback  # only on failure: importing it costs every plugin start several ms

    ctx.log.error(ctx.mask("".join(traceback.format_exception(exc)).rstrip()))


def dispatch(request: Request, registry: ActionRegistry, *, sink: LogSink | None = None) -> Response:
    """Call the request's action and build its response; never raises."""
    request_id = request.get("id")
    action = request["action"]
    ctx = PluginContext(
        action,
        request["inputs"],
        secret_inputs=request["secret_inputs"],
        context=request["context"],
        sink=sink,
    )
    handler = registry.get(action)
    if handler is None:
        known = ", ".join(registry.names()) or "none"
        message = f"unknown action {action!r}; this plugin defines: {known}"
        return error_response("UnknownAction", message, id=request_id)
    try:
        outputs = handler(ctx, request["inputs"])
    except ActionError as exc:
        return error_response(
            ctx.mask(str(exc.type)), ctx.mask(str(exc.message)), retryable=bool(exc.retryable), id=request_id
        )
    except SystemExit as exc:
        message = f"the action called sys.exit({exc.code!r}); raise ActionError to fail an action"
        return error_response("SystemExit", ctx.mask(message), id=request_id)
    except Exception as exc:  # noqa: BLE001 - any handler failure must become a response
        _log_traceback(ctx, exc)
        return error_response(type(exc).__name__, ctx.mask(_describe_exception(exc)), id=request_id)
    if outputs is None:
        outputs = {}
    if not isinstance(outputs, dict):
        return error_response(
            "InvalidOutputs",
            f"action {action!r} returned {type(outputs).__name__}; an action must return a dict (a JSON object)",
            id=request_id,
        )
    return success_response(outputs, id=request_id)


def answer(request: Request, registry: ActionRegistry, *, sink: LogSink | None = None) -> tuple[bytes, int]:
    """Dispatch and encode: the response line and its one-shot exit code; never raises.

    Outputs that JSON cannot carry, or that the runtime would refuse (text
    that is not valid Unicode, such as a file name holding bytes that are not
    UTF-8), become an ``InvalidOutputs`` error here, so the in-process test
    helper fails exactly where a real plugin would.
    """
    response = dispatch(request, registry, sink=sink)
    try:
        data = encode_message(response)
        problem = unreadable_message(response, data.decode("utf-8"))
        if problem is not None:
            raise ProtocolError(f"response {problem}")
        return data, EXIT_OK if response["ok"] else EXIT_ACTION_FAILED
    except ProtocolError as exc:
        message = f"action {request['action']!r} returned outputs that cannot be sent as JSON: {exc}"
        fallback = error_response("InvalidOutputs", message, id=response.get("id"))
        return encode_message(fallback), EXIT_ACTION_FAILED
