"""The Quickstart's main job: call a real plugin through the wire protocol.

Starts examples/plugins/text/main.py as a subprocess, sends it requests on
stdin and prints the responses, as the runtime does for every task.
"""

from __future__ import annotations

import json
from pathlib import Path

from workflow_plugin_sdk.testing import run_plugin, serve_plugin

PLUGIN = Path(__file__).parent / "plugins" / "text" / "main.py"


def main() -> None:
    result = run_plugin(PLUGIN, "words", {"text": "plugins speak JSON over stdin and stdout"})
    print("one-shot call  ->", json.dumps(result.response))
    for record in result.logs:
        print("  plugin log    :", record["level"], record["message"])
    failed = run_plugin(PLUGIN, "render", {"template": "Hello {name}", "values": {}})
    print("failing call   ->", json.dumps(failed.response))
    with serve_plugin(PLUGIN) as worker:
        print("warm worker speaks the serve loop; actions:", ", ".join(worker.actions))
        for text in ("one", "two words", "and three words"):
            print("  pooled call   ->", json.dumps(worker.call("words", {"text": text}).response))


if __name__ == "__main__":
    main()
