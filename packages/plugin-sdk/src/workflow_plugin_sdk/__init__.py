"""Write workflow plugin actions in a few lines.

::

    from workflow_plugin_sdk import PluginContext, define_action, run

    @define_action("get")
    def get(ctx: PluginContext, inputs: dict) -> dict:
        ctx.log.info("fetching %s", inputs["url"])
        return {"status": 200}

    if __name__ == "__main__":
        run()

Stdlib only, and cheap to import: plugins start once per call. The names
load on first use (PEP 562): the engine imports only :mod:`.protocol`, which
imports this package first, and never calls the author API.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see _protocol)
if TYPE_CHECKING:
    from .__about__ import __version__
    from ._action import ActionRegistry, define_action
    from ._context import ActionLogger, PluginContext
    from ._errors import ActionError, DefinitionError, PluginSDKError, ProtocolError
    from ._protocol import PROTOCOL_VERSION
    from ._serve import run

__all__ = [
    "PROTOCOL_VERSION",
    "ActionError",
    "ActionLogger",
    "ActionRegistry",
    "DefinitionError",
    "PluginContext",
    "PluginSDKError",
    "ProtocolError",
    "__version__",
    "define_action",
    "run",
]

_EXPORTS = {
    "__version__": "__about__",  # a module of its own for the build's version; found and loaded when asked for
    "PROTOCOL_VERSION": "_protocol",
    "ActionError": "_errors",
    "ActionLogger": "_context",
    "ActionRegistry": "_action",
    "DefinitionError": "_errors",
    "PluginContext": "_context",
    "PluginSDKError": "_errors",
    "ProtocolError": "_errors",
    "define_action": "_action",
    "run": "_serve",
}
"""Which private module defines each public name."""


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    qualified = f"{__name__}.{module}"
    __import__(qualified)
    value = getattr(sys.modules[qualified], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
