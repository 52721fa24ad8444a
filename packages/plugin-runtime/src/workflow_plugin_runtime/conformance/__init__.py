"""The conformance kit behind ``workflow plugin test``: a plugin's examples and protocol probes, on a real runtime.

The top layer of the runtime: it runs calls through ``execution`` and the
``runtimes`` as a workflow run does, and drives a plugin's pipes itself
only for the probes a well-behaved runtime never sends (:mod:`.session`).
"""

from __future__ import annotations

from .kit import check_plugin
from .results import CheckName, CheckResult, CheckStatus, ConformanceReport, ConformanceTimings

__all__ = ["CheckName", "CheckResult", "CheckStatus", "ConformanceReport", "ConformanceTimings", "check_plugin"]
