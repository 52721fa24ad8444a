"""The engine side of workflow plugins, for embedding in an engine.

The names below are the supported surface; modules may move behind them.
"""

from __future__ import annotations

from .__about__ import __version__
from .errors import (
    ConfigError,
    InvocationFailed,
    ManifestError,
    PermissionDeniedError,
    PluginNotFoundError,
    Problem,
    ReferenceSyntaxError,
    RuntimeUnavailableError,
    SecretError,
    Severity,
    SourceLocation,
    TemplateError,
    ValidationFailed,
    WorkflowFileError,
    WorkflowPluginError,
)
from .results import Failure, FailureKind, Metrics, RuntimeKind

__all__ = [
    "ConfigError",
    "Failure",
    "FailureKind",
    "InvocationFailed",
    "ManifestError",
    "Metrics",
    "PermissionDeniedError",
    "PluginNotFoundError",
    "Problem",
    "ReferenceSyntaxError",
    "RuntimeKind",
    "RuntimeUnavailableError",
    "SecretError",
    "Severity",
    "SourceLocation",
    "TemplateError",
    "ValidationFailed",
    "WorkflowFileError",
    "WorkflowPluginError",
    "__version__",
]
