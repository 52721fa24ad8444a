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
    from ._util.control_chars import escape_controls_in_json, neutralise_controls
    from .config import Config, PluginsPath, load_config
    from .errors import (
        ConfigError,
        Failure,
        FailureKind,
        ImageBuildError,
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
    from .execution.executor import ActionOutcome, PluginExecutor
    from .execution.handlers import HandlerCall, TaskHandler
    from .execution.manager import ExecutionPolicy, PluginManager, PreparedCall
    from .execution.records import run_record, write_run_record
    from .execution.results import RunResult, RunStatus, TaskResult, TaskStatus
    from .execution.scheduler import RunObserver, Scheduler
    from .masking.masker import Masker, MatchBackend
    from .plugins.manifest import ActionDef, Capabilities, PluginManifest
    from .plugins.manifest_loading import load_manifest, manifest_problems
    from .plugins.references import ActionRef, PluginRef, parse_action_ref
    from .plugins.resolve import PluginListing, ResolvedAction, Resolver
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
    from .runtimes.base import Metrics, RuntimeKind
    from .runtimes.pool import WarmPool
    from .workflows.checks import WorkflowCheck, check_workflow, check_workflow_file
    from .workflows.loading import load_workflow
    from .workflows.permissions import Permissions, SecurityMode
    from .workflows.secrets import SecretProvider, collect_secrets, default_secret_provider
    from .workflows.workflow import RetryPolicy, Task, Workflow

_EXPORTS = {
    "ActionDef": "plugins.manifest",
    "ActionOutcome": "execution.executor",
    "ActionRef": "plugins.references",
    "Capabilities": "plugins.manifest",
    "Config": "config",
    "ConfigError": "errors",
    "DockerRuntime": "runtimes",
    "ExecutionPolicy": "execution.manager",
    "Failure": "errors",
    "FailureKind": "errors",
    "HandlerCall": "execution.handlers",
    "ImageBuildError": "errors",
    "Invocation": "runtimes",
    "InvocationResult": "runtimes",
    "ManifestError": "errors",
    "Masker": "masking.masker",
    "MatchBackend": "masking.masker",
    "Metrics": "runtimes.base",
    "Mount": "runtimes",
    "PermissionDeniedError": "errors",
    "Permissions": "workflows.permissions",
    "PluginExecutor": "execution.executor",
    "PluginListing": "plugins.resolve",
    "PluginManager": "execution.manager",
    "PluginManifest": "plugins.manifest",
    "PluginNotFoundError": "errors",
    "PluginRef": "plugins.references",
    "PluginRuntime": "runtimes",
    "PluginsPath": "config",
    "PreparedCall": "execution.manager",
    "Problem": "errors",
    "ProcessRuntime": "runtimes",
    "ReferenceSyntaxError": "errors",
    "ResolvedAction": "plugins.resolve",
    "Resolver": "plugins.resolve",
    "ResourceLimits": "runtimes",
    "RetryPolicy": "workflows.workflow",
    "RunObserver": "execution.scheduler",
    "RunResult": "execution.results",
    "RunStatus": "execution.results",
    "RuntimeKind": "runtimes.base",
    "RuntimeUnavailableError": "errors",
    "Scheduler": "execution.scheduler",
    "SecretError": "errors",
    "SecretProvider": "workflows.secrets",
    "SecurityMode": "workflows.permissions",
    "Severity": "errors",
    "SourceLocation": "errors",
    "Task": "workflows.workflow",
    "TaskHandler": "execution.handlers",
    "TaskHandlerError": "errors",
    "TaskResult": "execution.results",
    "TaskStatus": "execution.results",
    "TemplateError": "errors",
    "ValidationFailed": "errors",
    "WarmPool": "runtimes.pool",
    "Workflow": "workflows.workflow",
    "WorkflowCheck": "workflows.checks",
    "WorkflowFileError": "errors",
    "WorkflowPluginError": "errors",
    "check_workflow": "workflows.checks",
    "check_workflow_file": "workflows.checks",
    "collect_secrets": "workflows.secrets",
    "default_secret_provider": "workflows.secrets",
    "escape_controls_in_json": "_util.control_chars",
    "load_config": "config",
    "load_manifest": "plugins.manifest_loading",
    "load_workflow": "workflows.loading",
    "manifest_problems": "plugins.manifest_loading",
    "neutralise_controls": "_util.control_chars",
    "parse_action_ref": "plugins.references",
    "plugin_argv": "runtimes",
    "run_record": "execution.records",
    "write_run_record": "execution.records",
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
