"""Registering actions and calling them: the part of the SDK without I/O.

``dispatch`` turns one request into one response and never raises: an unknown
action, a handler exception or a result that is not a JSON object each become
an error response, because a plugin must always answer in protocol.
"""

from __future__ import annotations

import re
import traceback
from typing import Any, Callable, TypeVar

from ._context import LogSink, PluginContext
from ._errors import ActionError, DefinitionError
from ._protocol import Request, Response, error_response, success_response

Handler = Callable[[PluginContext, dict[str, Any]], "dict[str, Any] | None"]
H = TypeVar("H", bound=Handler)

_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class ActionRegistry:
    """The actions of one plugin, by name."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def define_action(self, name: str) -> Callable[[H], H]:
        """Register the decorated function as the handler of action ``name``."""
        if not isinstance(name, str) or not _ACTION_NAME.match(name):
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


default_registry = ActionRegistry()


def define_action(name: str) -> Callable[[H], H]:
    """Decorator: ``@define_action("get")`` makes a function the action ``get``."""
    return default_registry.define_action(name)


def _describe_exception(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        return error_response("UnknownAction", f"unknown action {action!r}; this plugin defines: {known}", id=request_id)
    try:
        outputs = handler(ctx, request["inputs"])
    except ActionError as exc:
        return error_response(exc.type, ctx.mask(exc.message), retryable=exc.retryable, id=request_id)
    except Exception as exc:  # noqa: BLE001 - any handler failure must become a response
        ctx.log.error(ctx.mask("".join(traceback.format_exception(exc)).rstrip()))
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
