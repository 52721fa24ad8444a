"""Text utilities: a small plugin written with the SDK."""

from __future__ import annotations

from typing import Any

from workflow_plugin_sdk import ActionError, PluginContext, define_action, run


@define_action("echo")
def echo(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    ctx.log.info("echoing %d input(s)", len(inputs))
    return dict(inputs)


@define_action("words")
def words(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    found = inputs["text"].split()
    ctx.log.info("counted %d words", len(found))
    return {"words": found, "count": len(found)}


@define_action("render")
def render(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    try:
        text = inputs["template"].format(**inputs.get("values", {}))
    except (KeyError, IndexError, ValueError) as exc:
        raise ActionError(f"cannot render the template: {exc!r} is not among the values") from exc
    return {"text": text}


if __name__ == "__main__":
    run()
