"""ConformanceReport: a failed check fails it, a skipped one does not; its JSON document."""

from __future__ import annotations

from workflow_plugin_runtime import (
    CheckName,
    CheckResult,
    CheckStatus,
    ConformanceReport,
    ConformanceTimings,
    RuntimeKind,
)


def report_of(*statuses: CheckStatus) -> ConformanceReport:
    checks = tuple(
        CheckResult(check=name, status=status, reason=f"because {name.value}", hint="fix it")
        for name, status in zip(CheckName, statuses, strict=False)
    )
    return ConformanceReport(
        plugin_ref="acme/x",
        version="1.0.0",
        plugin_dir="/p",
        runtime=RuntimeKind.SANDBOX,
        checks=checks,
        timings=ConformanceTimings(cold_start_s=0.0123456789),
    )


def test_skipped_checks_do_not_fail_a_report_and_failed_ones_do():
    assert report_of(CheckStatus.PASSED, CheckStatus.SKIPPED).ok
    failing = report_of(CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.SKIPPED)
    assert not failing.ok
    assert [result.check for result in failing.failed] == [CheckName.ONE_RESPONSE]


def test_the_json_document():
    document = report_of(CheckStatus.FAILED).to_json()

    assert document == {
        "plugin": "acme/x",
        "version": "1.0.0",
        "plugin_dir": "/p",
        "runtime": "sandbox",
        "ok": False,
        "checks": [
            {"check": "example", "subject": "", "status": "failed", "reason": "because example", "hint": "fix it"}
        ],
        "timings": {"cold_start_s": 0.012346, "warm_call_s": None},
    }
