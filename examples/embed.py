"""Embedding the runtime in an engine: resolve, run cold, run warm, handle failures.

This file is the complete example of docs/embedding.md; tests run it.
"""

from __future__ import annotations

from pathlib import Path

from workflow_plugin_runtime import ExecutionPolicy, FailureKind, Masker, PluginExecutor, PluginManager, Resolver

PLUGINS = Path(__file__).parent / "plugins"


def main() -> None:
    resolver = Resolver([PLUGINS])
    secrets = Masker({"GREETING_TOKEN": "tok-1234-secret"})

    # Trusted mode, one process per call (the default).
    with PluginManager(resolver) as manager:
        executor = PluginExecutor(manager)
        outcome = executor.run(
            "examples/text.words",
            {"text": "engines embed the runtime"},
            context={"run_id": "demo-1", "workflow": "embedding", "task": "count"},
            on_log=lambda record: print(f"  [log] {record['message']}"),
        )
        assert outcome.ok and outcome.metrics is not None
        print("cold:", outcome.outputs, f"in {outcome.metrics.duration_s * 1000:.1f} ms")

        failed = executor.run("examples/text.render", {"template": "Hello {tok-1234-secret}"}, masker=secrets)
        assert failed.failure is not None and failed.failure.kind is FailureKind.ACTION
        print("failure:", failed.failure.kind.value, "-", failed.failure.message)

    # Warm workers: the same calls, served by a long-lived plugin process.
    with PluginManager(resolver, policy=ExecutionPolicy(pool=True)) as manager:
        executor = PluginExecutor(manager)
        for text in ("one", "two words", "and three words"):
            outcome = executor.run("examples/text.words", {"text": text})
            assert outcome.ok and outcome.metrics is not None
            print("warm" if outcome.metrics.warm else "first", outcome.outputs["count"])


if __name__ == "__main__":
    main()
