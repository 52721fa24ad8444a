"""The engine side of workflow plugins, for embedding in an engine.

The names below are the supported surface; modules may move behind them.
They load on first use (PEP 562), so ``import workflow_plugin_runtime``
stays cheap for a CLI that needs only a resolver and never a container.
"""

from __future__ import annotations

import importlib

from .__about__ import __version__

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs a cold resolve 8 ms (docs/performance.md)

if TYPE_CHECKING:
    from .config import (
        Config,
        PluginsPath,
        load_config,
    )
    from .control_chars import (
        escape_controls_in_json,
        neutralise_controls,
    )
    from .errors import (
        ConfigError,
        ImageBuildError,
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
        TaskHandlerError,
        TemplateError,
        ValidationFailed,
        WorkflowFileError,
        WorkflowPluginError,
    )
    from .executor import (
        ActionOutcome,
        PluginExecutor,
    )
    from .handlers import (
        HandlerCall,
        TaskHandler,
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
        MatchBackend,
    )
    from .permissions import (
        Permissions,
        SecurityMode,
    )
    from .pool import (
        WarmPool,
    )
    from .records import (
        run_record,
        write_run_record,
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
        RunResult,
        RunStatus,
        RuntimeKind,
        TaskResult,
        TaskStatus,
    )
    from .runtimes import (
        DockerRuntime,
        Invocation,
        InvocationResult,
        Mount,
        PluginRuntime,
        ProcessRuntime,
        ResourceLimits,
        plugin_argv,
    )
    from .scheduler import (
        RunObserver,
        Scheduler,
    )
    from .secrets import (
        SecretProvider,
        collect_secrets,
        default_secret_provider,
    )
    from .workflow import (
        RetryPolicy,
        Task,
        Workflow,
        load_workflow,
    )
    from .workflow_checks import (
        WorkflowCheck,
        check_workflow,
        check_workflow_file,
    )

_EXPORTS = {
    "ActionDef": "manifest",
    "ActionOutcome": "executor",
    "ActionRef": "references",
    "Capabilities": "manifest",
    "Config": "config",
    "ConfigError": "errors",
    "DockerRuntime": "runtimes",
    "ExecutionPolicy": "manager",
    "Failure": "results",
    "FailureKind": "results",
    "HandlerCall": "handlers",
    "ImageBuildError": "errors",
    "Invocation": "runtimes",
    "InvocationFailed": "errors",
    "InvocationResult": "runtimes",
    "ManifestError": "errors",
    "Masker": "masking",
    "MatchBackend": "masking",
    "Metrics": "results",
    "Mount": "runtimes",
    "PermissionDeniedError": "errors",
    "Permissions": "permissions",
    "PluginExecutor": "executor",
    "PluginListing": "resolve",
    "PluginManager": "manager",
    "PluginManifest": "manifest",
    "PluginNotFoundError": "errors",
    "PluginRef": "references",
    "PluginRuntime": "runtimes",
    "PluginsPath": "config",
    "PreparedCall": "manager",
    "Problem": "errors",
    "ProcessRuntime": "runtimes",
    "ReferenceSyntaxError": "errors",
    "ResolvedAction": "resolve",
    "Resolver": "resolve",
    "ResourceLimits": "runtimes",
    "RetryPolicy": "workflow",
    "RunObserver": "scheduler",
    "RunResult": "results",
    "RunStatus": "results",
    "RuntimeKind": "results",
    "RuntimeUnavailableError": "errors",
    "Scheduler": "scheduler",
    "SecretError": "errors",
    "SecretProvider": "secrets",
    "SecurityMode": "permissions",
    "Severity": "errors",
    "SourceLocation": "errors",
    "Task": "workflow",
    "TaskHandler": "handlers",
    "TaskHandlerError": "errors",
    "TaskResult": "results",
    "TaskStatus": "results",
    "TemplateError": "errors",
    "ValidationFailed": "errors",
    "WarmPool": "pool",
    "Workflow": "workflow",
    "WorkflowCheck": "workflow_checks",
    "WorkflowFileError": "errors",
    "WorkflowPluginError": "errors",
    "check_workflow": "workflow_checks",
    "check_workflow_file": "workflow_checks",
    "collect_secrets": "secrets",
    "default_secret_provider": "secrets",
    "escape_controls_in_json": "control_chars",
    "load_config": "config",
    "load_manifest": "manifest",
    "load_workflow": "workflow",
    "manifest_problems": "manifest",
    "neutralise_controls": "control_chars",
    "parse_action_ref": "references",
    "plugin_argv": "runtimes",
    "run_record": "records",
    "write_run_record": "records",
}

__all__ = [
    "ActionDef",
    "ActionOutcome",
    "ActionRef",
    "Capabilities",
    "Config",
    "ConfigError",
    "DockerRuntime",
    "ExecutionPolicy",
    "Failure",
    "FailureKind",
    "HandlerCall",
    "ImageBuildError",
    "Invocation",
    "InvocationFailed",
    "InvocationResult",
    "ManifestError",
    "Masker",
    "MatchBackend",
    "Metrics",
    "Mount",
    "PermissionDeniedError",
    "Permissions",
    "PluginExecutor",
    "PluginListing",
    "PluginManager",
    "PluginManifest",
    "PluginNotFoundError",
    "PluginRef",
    "PluginRuntime",
    "PluginsPath",
    "PreparedCall",
    "Problem",
    "ProcessRuntime",
    "ReferenceSyntaxError",
    "ResolvedAction",
    "Resolver",
    "ResourceLimits",
    "RetryPolicy",
    "RunObserver",
    "RunResult",
    "RunStatus",
    "RuntimeKind",
    "RuntimeUnavailableError",
    "Scheduler",
    "SecretError",
    "SecretProvider",
    "SecurityMode",
    "Severity",
    "SourceLocation",
    "Task",
    "TaskHandler",
    "TaskHandlerError",
    "TaskResult",
    "TaskStatus",
    "TemplateError",
    "ValidationFailed",
    "WarmPool",
    "Workflow",
    "WorkflowCheck",
    "WorkflowFileError",
    "WorkflowPluginError",
    "__version__",
    "check_workflow",
    "check_workflow_file",
    "collect_secrets",
    "default_secret_provider",
    "escape_controls_in_json",
    "load_config",
    "load_manifest",
    "load_workflow",
    "manifest_problems",
    "neutralise_controls",
    "parse_action_ref",
    "plugin_argv",
    "run_record",
    "write_run_record",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
