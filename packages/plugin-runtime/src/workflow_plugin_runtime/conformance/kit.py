"""``check_plugin``: every conformance check of one plugin on one runtime, in order.

The first call is a plain one-shot call of the probe action: its time is
the cold-start figure, and when it cannot run at all (no image, no
sandbox) the kit stops there with :class:`RuntimeUnavailableError`, since
no check would say anything about the plugin.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import RuntimeKind
from ..errors import FailureKind, RuntimeUnavailableError
from ..plugins.manifest import ActionDef, PluginManifest, thaw_manifest_data
from .calls import PluginCalls
from .probes import (
    ProbeCall,
    malformed_request_check,
    secret_leak_check,
    serve_loop_check,
    sigterm_check,
    stdin_checks,
    unknown_action_check,
)
from .results import CheckName, CheckResult, CheckStatus, ConformanceReport, ConformanceTimings, verdict

__all__ = ["check_plugin", "probe_call"]

_EXAMPLES_HINT = "add examples (inputs and the outputs they give) to an action in plugin.yaml (docs/manifest.md)"


def probe_call(manifest: PluginManifest) -> ProbeCall:
    """The call the probes make: the first action with an example, with that example; else the first action."""
    for action in manifest.actions.values():
        if action.examples:
            example = action.examples[0]
            expected = None if example.outputs is None else thaw_manifest_data(example.outputs)
            return ProbeCall(action=action, inputs=thaw_manifest_data(example.inputs), expected=expected)
    return ProbeCall(action=next(iter(manifest.actions.values())), inputs={}, expected=None)


def check_plugin(manifest: PluginManifest, *, runtime: RuntimeKind = RuntimeKind.PROCESS) -> ConformanceReport:
    """Run the examples and the protocol probes on ``runtime``; raises :class:`RuntimeUnavailableError`."""
    calls = PluginCalls(manifest, kind=runtime)
    try:
        probe = probe_call(manifest)
        first = calls.call(calls.request(probe.action.name, probe.inputs))
        if first.failure is not None and first.failure.kind is FailureKind.RUNTIME_UNAVAILABLE:
            raise RuntimeUnavailableError(first.failure.message, hint=f"--runtime {runtime.value} cannot run it here")
        checks = [*_example_checks(calls, manifest), *stdin_checks(calls, probe)]
        checks += [malformed_request_check(calls, probe), unknown_action_check(calls)]
        serve, warm_s = serve_loop_check(calls, probe)
        checks += [serve, sigterm_check(calls, probe), secret_leak_check(calls, probe)]
    finally:
        calls.close()
    return ConformanceReport(
        plugin_ref=manifest.ref,
        version=str(manifest.version),
        plugin_dir=str(manifest.plugin_dir),
        runtime=runtime,
        checks=tuple(checks),
        timings=ConformanceTimings(cold_start_s=first.metrics.duration_s, warm_call_s=warm_s),
    )


def _example_checks(calls: PluginCalls, manifest: PluginManifest) -> list[CheckResult]:
    checks = [
        _example_check(calls, action, number, thaw_manifest_data(example.inputs), example.outputs)
        for action in manifest.actions.values()
        for number, example in enumerate(action.examples, 1)
    ]
    if checks:
        return checks
    reason = "no action has examples: nothing to compare"
    return [CheckResult(check=CheckName.EXAMPLE, status=CheckStatus.SKIPPED, reason=reason, hint=_EXAMPLES_HINT)]


def _example_check(
    calls: PluginCalls, action: ActionDef, number: int, inputs: dict[str, Any], expected: Any
) -> CheckResult:
    """One example run as a workflow task runs: inputs and outputs checked against the schemas, outputs compared."""
    subject = f"{action.name} #{number}"
    outcome = calls.execute(action.name, inputs)
    if outcome.failure is not None:
        reason = f"{outcome.failure.kind.value}: {outcome.failure.message}"
        hint = "the example must run as written in plugin.yaml: fix the plugin or the example"
        return verdict(CheckName.EXAMPLE, False, reason, hint=hint, subject=subject)
    if expected is not None and outcome.outputs != thaw_manifest_data(expected):
        shown = json.dumps(outcome.outputs, ensure_ascii=False, sort_keys=True)
        wanted = json.dumps(thaw_manifest_data(expected), ensure_ascii=False, sort_keys=True)
        reason = f"outputs {shown} differ from the example's {wanted}"
        hint = "outputs are compared exactly: fix the plugin or the example's outputs"
        return verdict(CheckName.EXAMPLE, False, reason, hint=hint, subject=subject)
    what = "match the example" if expected is not None else "fit the outputs schema (the example gives none to compare)"
    return verdict(CheckName.EXAMPLE, True, f"outputs {what}", subject=subject)
