"""The engine side of workflow plugins, for embedding in an engine.

The names below are the supported surface; modules may move behind them.
They load on first use (PEP 562), so ``import workflow_plugin_runtime``
stays cheap for a CLI that needs only a resolver and never a container.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

if TYPE_CHECKING:
    from .config import (
        Config,
        PluginsPath,
        load_config,
    )
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
    from .executor import (
        ActionOutcome,
        PluginExecutor,
    )
    from .manager import (
        ExecutionPolicy,
        PluginManager,
        PreparedCall,
    )
    from .manifest import (
        ActionDef,
        Capabilities,
        PluginManifest,
        load_manifest,
        manifest_problems,
    )
    from .masking import (
        Masker,
    )
    from .pool import (
        WarmPool,
    )
    from .references import (
        ActionRef,
        PluginRef,
        parse_action_ref,
    )
    from .resolve import (
        PluginListing,
        ResolvedAction,
        Resolver,
    )
    from .results import (
        Failure,
        FailureKind,
        Metrics,
        RuntimeKind,
    )

_EXPORTS = {
    "ActionDef": "manifest",
    "ActionOutcome": "executor",
    "ActionRef": "references",
    "Capabilities": "manifest",
    "Config": "config",
    "ConfigError": "errors",
    "ExecutionPolicy": "manager",
    "Failure": "results",
    "FailureKind": "results",
    "InvocationFailed": "errors",
    "ManifestError": "errors",
    "Masker": "masking",
    "Metrics": "results",
    "PermissionDeniedError": "errors",
    "PluginExecutor": "executor",
    "PluginListing": "resolve",
    "PluginManager": "manager",
    "PluginManifest": "manifest",
    "PluginNotFoundError": "errors",
    "PluginRef": "references",
    "PluginsPath": "config",
    "PreparedCall": "manager",
    "Problem": "errors",
    "ReferenceSyntaxError": "errors",
    "ResolvedAction": "resolve",
    "Resolver": "resolve",
    "RuntimeKind": "results",
    "RuntimeUnavailableError": "errors",
    "SecretError": "errors",
    "Severity": "errors",
    "SourceLocation": "errors",
    "TemplateError": "errors",
    "ValidationFailed": "errors",
    "WarmPool": "pool",
    "WorkflowFileError": "errors",
    "WorkflowPluginError": "errors",
    "load_config": "config",
    "load_manifest": "manifest",
    "manifest_problems": "manifest",
    "parse_action_ref": "references",
}

__all__ = [
    "ActionDef",
    "ActionOutcome",
    "ActionRef",
    "Capabilities",
    "Config",
    "ConfigError",
    "ExecutionPolicy",
    "Failure",
    "FailureKind",
    "InvocationFailed",
    "ManifestError",
    "Masker",
    "Metrics",
    "PermissionDeniedError",
    "PluginExecutor",
    "PluginListing",
    "PluginManager",
    "PluginManifest",
    "PluginNotFoundError",
    "PluginRef",
    "PluginsPath",
    "PreparedCall",
    "Problem",
    "ReferenceSyntaxError",
    "ResolvedAction",
    "Resolver",
    "RuntimeKind",
    "RuntimeUnavailableError",
    "SecretError",
    "Severity",
    "SourceLocation",
    "TemplateError",
    "ValidationFailed",
    "WarmPool",
    "WorkflowFileError",
    "WorkflowPluginError",
    "__version__",
    "load_config",
    "load_manifest",
    "manifest_problems",
    "parse_action_ref",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
