"""The files of a new plugin (``workflow plugin new``): small, working, tested from the first minute.

The scaffold is a complete plugin, not a stub: ``workflow plugin inspect``
shows it, its test passes under pytest, ``workflow plugin build`` builds it,
and a workflow can use ``NAMESPACE/NAME.greet`` at once.
"""

from __future__ import annotations

import errno
from pathlib import Path
from string import Template

__all__ = ["SCAFFOLD_ACTION", "scaffold_files", "write_scaffold"]

SCAFFOLD_ACTION = "greet"

_MANIFEST = Template("""\
# The manifest of the $ref plugin. `workflow schema plugin` prints its JSON Schema:
# save it and point your editor at it with a first line such as
# yaml-language-server: $$schema=plugin.schema.json
namespace: $namespace
name: $name
version: 0.1.0
description: Greets whoever it is asked to (made by `workflow plugin new`)
runtime:
  entrypoint: main.py
  timeout: 10
  serve: true   # it speaks the serve loop (the SDK's run() does), so `workflow run --pool` keeps it warm
actions:
  greet:
    description: Say hello to someone
    inputs:
      type: object
      required: [name]
      properties:
        name: {type: string, description: Who to greet}
        punctuation: {type: string, default: "!", description: What ends the greeting}
    outputs:
      type: object
      required: [greeting]
      properties:
        greeting: {type: string}
    examples:
      - inputs: {name: world}
        outputs: {greeting: "Hello, world!"}
""")

_ENTRYPOINT = Template('''\
"""The $ref plugin: its actions, defined with the workflow plugin SDK."""

from __future__ import annotations

from workflow_plugin_sdk import PluginContext, define_action, run


@define_action("greet")
def greet(ctx: PluginContext, inputs: dict) -> dict:
    ctx.log.info("greeting %s", inputs["name"])
    return {"greeting": f"Hello, {inputs['name']}{inputs.get('punctuation', '!')}"}


if __name__ == "__main__":
    run()
''')

_TEST = Template('''\
"""Tests of the $ref plugin's actions: in this process, and as a real subprocess speaking the protocol."""

from __future__ import annotations

from pathlib import Path

from workflow_plugin_sdk.testing import call_action, load_plugin, run_plugin

ENTRYPOINT = Path(__file__).resolve().parent.parent / "main.py"


def test_greet_in_process():
    result = call_action("greet", {"name": "world"}, registry=load_plugin(ENTRYPOINT))
    assert result.outputs == {"greeting": "Hello, world!"}


def test_greet_through_the_wire_protocol():
    result = run_plugin(ENTRYPOINT, "greet", {"name": "Ada", "punctuation": "."})
    assert result.ok, result.error
    assert result.outputs == {"greeting": "Hello, Ada."}
    assert any("greeting Ada" in record["message"] for record in result.logs)
''')

_PYTEST_INI = """\
# pytest settings of this plugin's own tests. This file makes the plugin's folder
# pytest's root, so its tests run alike wherever the plugin lives: the settings and
# conftest.py files of a project around it are not picked up.
[pytest]
testpaths = tests
"""

_README = Template("""\
# $ref

A workflow plugin with one action, `greet`. Use it in a workflow:

```yaml
tasks:
  hello:
    uses: $ref.greet
    inputs: {name: world}
```

- `workflow plugin inspect $ref`: its actions, inputs, outputs and permissions
- `python -m pytest tests`: its tests (the SDK's `workflow_plugin_sdk.testing`; pytest comes with
  `pip install 'workflow-plugin-sdk[test]'`)
- `workflow plugin build $ref`: its Docker image, for restricted workflows
""")


def scaffold_files(namespace: str, name: str) -> dict[str, str]:
    """Relative path -> text of every file of a new plugin."""
    values = {"ref": f"{namespace}/{name}", "namespace": namespace, "name": name}
    return {
        "plugin.yaml": _MANIFEST.substitute(values),
        "main.py": _ENTRYPOINT.substitute(values),
        "tests/test_main.py": _TEST.substitute(values),
        "pytest.ini": _PYTEST_INI,
        "README.md": _README.substitute(values),
    }


def write_scaffold(directory: Path, *, namespace: str, name: str) -> list[Path]:
    """Write a new plugin into ``directory`` (created if needed); ``FileExistsError`` if it is not empty."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(errno.EEXIST, "exists and is not empty", str(directory))
    written = []
    for relative, text in scaffold_files(namespace, name).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as stream:
            stream.write(text)
        written.append(path)
    return written
