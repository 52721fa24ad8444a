"""The report of ``workflow plugin test``: one row per check, then the timings and a verdict.

Reasons quote the plugin's own words (its error messages, its stderr), so
every cell is plain text with control characters made visible, never markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from workflow_plugin_runtime import CheckStatus

from .console import plain, print_unfolded

if TYPE_CHECKING:
    from workflow_plugin_runtime import ConformanceReport

    from .console import Console

__all__ = ["conformance_table", "print_conformance"]

_STATUS_STYLE = {CheckStatus.PASSED: "green", CheckStatus.FAILED: "bold red", CheckStatus.SKIPPED: "yellow"}


def conformance_table(report: ConformanceReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("check", no_wrap=True)
    table.add_column("on", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for result in report.checks:
        reason = plain(result.reason)
        if result.hint:
            reason.append_text(plain(f"\nhint: {result.hint}", "dim"))
        table.add_row(
            plain(result.check.value, "bold"),
            plain(result.subject),
            Text(result.status.value, style=_STATUS_STYLE[result.status]),
            reason,
        )
    return table


def print_conformance(console: Console, report: ConformanceReport) -> None:
    heading = f"{report.plugin_ref} {report.version} on the {report.runtime.value} runtime ({report.plugin_dir})"
    console.print(plain(heading, "bold underline"))
    print_unfolded(console, conformance_table(report))
    timings = report.timings
    cold = "-" if timings.cold_start_s is None else f"{timings.cold_start_s * 1000:.1f} ms"
    warm = "- (no serve loop)" if timings.warm_call_s is None else f"{timings.warm_call_s * 1000:.2f} ms"
    console.print(plain(f"cold start: {cold}; warm call: {warm}"))
    failed = len(report.failed)
    if failed:
        console.print(plain(f"{failed} of {len(report.checks)} checks failed", "bold red"))
    else:
        console.print(plain(f"all {len(report.checks)} checks passed (skipped ones do not apply)", "green"))
