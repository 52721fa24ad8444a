"""Files: saves a value into a file, so a workflow can keep what another task fetched.

Kept apart from acme/http on purpose: in a restricted workflow the plugin
with the network grant cannot write files, and the one that writes files
cannot reach the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workflow_plugin_sdk import ActionError, PluginContext, define_action, run


@define_action("write")
def write(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    content = inputs["content"]
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    data = text.encode("utf-8")
    path = Path(inputs["path"])
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ActionError(f"cannot write {path}: {exc.strerror}", type="WriteFailed") from exc
    ctx.log.info("wrote %d bytes to %s", len(data), path)
    return {"path": str(path), "bytes": len(data)}


if __name__ == "__main__":
    run()
