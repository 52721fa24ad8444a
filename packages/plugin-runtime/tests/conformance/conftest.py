"""Small real plugins for the conformance kit's tests, written as POSIX sh into each test's folder."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from workflow_plugin_runtime import PluginManifest, load_manifest

ANSWER = """\
case $request in
    *'"action":"greet"'*) printf '{"ok":true,"outputs":{"greeting":"hello"}}\\n' ;;
    "{"*) printf '{"ok":false,"error":{"type":"UnknownAction","message":"only greet"}}\\n'; exit 1 ;;
    *) printf '{"ok":false,"error":{"type":"ProtocolError","message":"not JSON"}}\\n'; exit 2 ;;
esac
"""
"""The end of a one-shot sh plugin that answers ``greet`` and follows the protocol; ``$request`` holds stdin."""

ShPlugin = Callable[..., PluginManifest]


@pytest.fixture
def sh_plugin(tmp_path: Path) -> ShPlugin:
    """``sh_plugin(script, examples=...)``: a one-shot plugin whose main.sh is ``script``, with action ``greet``."""

    def write(script: str, *, examples: str = "[{inputs: {name: ada}, outputs: {greeting: hello}}]") -> PluginManifest:
        folder = tmp_path / f"plugin-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        (folder / "main.sh").write_text("#!/bin/sh\n" + script, encoding="utf-8")
        (folder / "plugin.yaml").write_text(
            f"namespace: kit-tests\nname: {folder.name}\nversion: 1.0.0\n"
            "runtime: {command: [sh, main.sh]}\n"
            f"actions:\n  greet:\n    examples: {examples}\n  wave: {{}}\n",
            encoding="utf-8",
        )
        return load_manifest(folder)

    return write
