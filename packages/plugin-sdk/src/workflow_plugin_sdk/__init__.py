"""Write workflow plugin actions in a few lines.

::

    from workflow_plugin_sdk import PluginContext, define_action, run

    @define_action("get")
    def get(ctx: PluginContext, inputs: dict) -> dict:
        ctx.log.info("fetching %s", inputs["url"])
        return {"status": 200}

    if __name__ == "__main__":
        run()

Stdlib only, and cheap to import: plugins start once per call.
"""

from __future__ import annotations

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
