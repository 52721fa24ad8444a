"""What several benchmarks measure with: a no-op plugin, its image, a bare JSON-lines worker.

Imported by the ``bench_*.py`` scripts (run from the repository root, so
this folder is on ``sys.path``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import workflow_plugin_sdk

NOOP_PLUGIN = """\
from workflow_plugin_sdk import define_action, run


@define_action("noop")
def noop(ctx, inputs):
    return {}


if __name__ == "__main__":
    run()
"""

NOOP_DOCKERFILE = """\
FROM python:3.11-slim
COPY workflow_plugin_sdk /usr/lib/python3/dist-packages/workflow_plugin_sdk
COPY main.py /plugin/main.py
WORKDIR /plugin
CMD ["python3", "-E", "-s", "main.py"]
"""

FLOOR_WORKER = r"""
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.write(json.dumps({"ok": True, "outputs": {}, "id": request["id"]}) + "\n")
    sys.stdout.flush()
"""
"""The floor of any warm pool: a bare Python loop answering JSON lines, no validation, no protocol checks."""


def build_noop_image(context: Path, tag: str) -> None:
    """Build the no-op plugin's image (the SDK copied in, as generated plugin images have it)."""
    shutil.copytree(Path(workflow_plugin_sdk.__file__).parent, context / "workflow_plugin_sdk")
    (context / "main.py").write_text(NOOP_PLUGIN)
    (context / "Dockerfile").write_text(NOOP_DOCKERFILE)
    subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], capture_output=True, check=True)
