"""The engine side of workflow plugins, for embedding in an engine.

The names below are the supported surface; modules may move behind them.
They load on first use (PEP 562), so ``import workflow_plugin_runtime``
stays cheap for a CLI that needs only a resolver and never a container.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs a cold resolve 8 ms (docs/performance.md)

if TYPE_CHECKING:
    from .__about__ import __version__
    from ._util.control_chars import escape_controls_in_json, neutralise_controls
    from .config import (
        Config,
        ExecutorKind,
        ExecutorSettings,
        PluginsPath,
        RuntimeKind,
        find_project_root,
        load_config,
        restricted_backend,
    )
    from .conformance import CheckName, CheckResult, CheckStatus, ConformanceReport, ConformanceTimings, check_plugin
    from .errors import (
        ConfigError,
        Failure,
        FailureKind,
        ImageBuildError,
        ManifestError,
        PermissionDeniedError,
        PluginNotFoundError,
        Problem,
        RecordWriteError,
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
    from .execution.containment import contained_run
    from .execution.dask.executor import DaskExecutor, dask_executor
    from .execution.dask.remote import WorkerSite
    from .execution.executor import ActionOutcome, PluginExecutor
    from .execution.handlers import HandlerCall, TaskHandler
    from .execution.locking import (
        DriftKind,
        LockCheck,
        LockedPlugin,
        PluginDrift,
        check_lock,
        lock_path_for,
        locked_plugins,
        read_lock,
        write_lock,
    )
    from .execution.manager import ExecutionPolicy, PluginManager, PreparedCall
    from .execution.records import record_json, run_record, write_run_record
    from .execution.results import RunResult, RunStatus, TaskResult, TaskStatus
    from .execution.scheduler import RunObserver, Scheduler, new_run_id
    from .execution.task_executor import LocalExecutor, PluginTask, TaskExecutor, TaskOutcome
    from .masking.masker import Masker, MatchBackend
    from .plugins.manifest import ActionDef, Capabilities, PluginManifest, thaw_manifest_data
    from .plugins.manifest_loading import load_manifest, manifest_problems
    from .plugins.references import ActionRef, PluginRef, parse_action_ref, parse_plugin_ref
    from .plugins.resolve import ListedPlugin, PluginCopy, PluginListing, ResolvedAction, Resolver
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
    from .runtimes.backends import usable_backend
    from .runtimes.base import Metrics
    from .runtimes.docker.image_checks import image_problems
    from .runtimes.docker.images import DEFAULT_BASE_IMAGE, build_image, image_spec
    from .runtimes.leftovers import DeadRunCleanup, clean_dead_runs
    from .runtimes.pool import WarmPool
    from .workflows.checks import WorkflowCheck, check_workflow, check_workflow_file
    from .workflows.grant_warnings import capability_warnings, plugin_grant_problems
    from .workflows.loading import load_workflow
    from .workflows.permissions import Permissions, SecurityMode, permissions_yaml, recommended_permissions
    from .workflows.secrets import (
        SecretProvider,
        collect_secrets,
        default_secret_provider,
        every_secret,
        load_vars_file,
        merge_vars,
        parse_var_options,
    )
    from .workflows.workflow import RetryPolicy, Task, Workflow

_EXPORTS = {
    "__version__": "__about__",  # a module of its own for the build's version; found and loaded when asked for
    "DaskExecutor": "execution.dask.executor",
    "dask_executor": "execution.dask.executor",
    "WorkerSite": "execution.dask.remote",
    "ExecutorKind": "config",
    "ExecutorSettings": "config",
    "LocalExecutor": "execution.task_executor",
    "PluginTask": "execution.task_executor",
    "TaskExecutor": "execution.task_executor",
    "TaskOutcome": "execution.task_executor",
    "DriftKind": "execution.locking",
    "LockCheck": "execution.locking",
    "LockedPlugin": "execution.locking",
    "PluginDrift": "execution.locking",
    "check_lock": "execution.locking",
    "lock_path_for": "execution.locking",
    "locked_plugins": "execution.locking",
    "read_lock": "execution.locking",
    "write_lock": "execution.locking",
    "ActionDef": "plugins.manifest",
    "ActionOutcome": "execution.executor",
    "ActionRef": "plugins.references",
    "Capabilities": "plugins.manifest",
    "CheckName": "conformance",
    "CheckResult": "conformance",
    "CheckStatus": "conformance",
    "Config": "config",
    "ConfigError": "errors",
    "ConformanceReport": "conformance",
    "ConformanceTimings": "conformance",
    "DEFAULT_BASE_IMAGE": "runtimes.docker.images",
    "DeadRunCleanup": "runtimes.leftovers",
    "DockerRuntime": "runtimes",
    "ExecutionPolicy": "execution.manager",
    "Failure": "errors",
    "FailureKind": "errors",
    "HandlerCall": "execution.handlers",
    "ImageBuildError": "errors",
    "Invocation": "runtimes",
    "InvocationResult": "runtimes",
    "ListedPlugin": "plugins.resolve",
    "ManifestError": "errors",
    "Masker": "masking.masker",
    "MatchBackend": "masking.masker",
    "Metrics": "runtimes.base",
    "Mount": "runtimes",
    "PermissionDeniedError": "errors",
    "Permissions": "workflows.permissions",
    "PluginCopy": "plugins.resolve",
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
    "RecordWriteError": "errors",
    "ReferenceSyntaxError": "errors",
    "ResolvedAction": "plugins.resolve",
    "Resolver": "plugins.resolve",
    "ResourceLimits": "runtimes",
    "RetryPolicy": "workflows.workflow",
    "RunObserver": "execution.scheduler",
    "RunResult": "execution.results",
    "RunStatus": "execution.results",
    "RuntimeKind": "config",
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
    "build_image": "runtimes.docker.images",
    "capability_warnings": "workflows.grant_warnings",
    "check_plugin": "conformance",
    "check_workflow": "workflows.checks",
    "check_workflow_file": "workflows.checks",
    "clean_dead_runs": "runtimes.leftovers",
    "collect_secrets": "workflows.secrets",
    "contained_run": "execution.containment",
    "default_secret_provider": "workflows.secrets",
    "escape_controls_in_json": "_util.control_chars",
    "every_secret": "workflows.secrets",
    "find_project_root": "config",
    "image_problems": "runtimes.docker.image_checks",
    "image_spec": "runtimes.docker.images",
    "load_config": "config",
    "load_manifest": "plugins.manifest_loading",
    "load_vars_file": "workflows.secrets",
    "load_workflow": "workflows.loading",
    "manifest_problems": "plugins.manifest_loading",
    "merge_vars": "workflows.secrets",
    "neutralise_controls": "_util.control_chars",
    "new_run_id": "execution.scheduler",
    "parse_action_ref": "plugins.references",
    "parse_plugin_ref": "plugins.references",
    "parse_var_options": "workflows.secrets",
    "permissions_yaml": "workflows.permissions",
    "plugin_argv": "runtimes",
    "plugin_grant_problems": "workflows.grant_warnings",
    "recommended_permissions": "workflows.permissions",
    "record_json": "execution.records",
    "restricted_backend": "config",
    "run_record": "execution.records",
    "thaw_manifest_data": "plugins.manifest",
    "usable_backend": "runtimes.backends",
    "write_run_record": "execution.records",
}

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "ActionDef",
    "ActionOutcome",
    "ActionRef",
    "Capabilities",
    "CheckName",
    "CheckResult",
    "CheckStatus",
    "Config",
    "ConfigError",
    "ConformanceReport",
    "ConformanceTimings",
    "DaskExecutor",
    "DeadRunCleanup",
    "DockerRuntime",
    "DriftKind",
    "ExecutionPolicy",
    "ExecutorKind",
    "ExecutorSettings",
    "Failure",
    "FailureKind",
    "HandlerCall",
    "ImageBuildError",
    "Invocation",
    "InvocationResult",
    "ListedPlugin",
    "LocalExecutor",
    "LockCheck",
    "LockedPlugin",
    "ManifestError",
    "Masker",
    "MatchBackend",
    "Metrics",
    "Mount",
    "PermissionDeniedError",
    "Permissions",
    "PluginCopy",
    "PluginDrift",
    "PluginExecutor",
    "PluginListing",
    "PluginManager",
    "PluginManifest",
    "PluginNotFoundError",
    "PluginRef",
    "PluginRuntime",
    "PluginTask",
    "PluginsPath",
    "PreparedCall",
    "Problem",
    "ProcessRuntime",
    "RecordWriteError",
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
    "TaskExecutor",
    "TaskHandler",
    "TaskHandlerError",
    "TaskOutcome",
    "TaskResult",
    "TaskStatus",
    "TemplateError",
    "ValidationFailed",
    "WarmPool",
    "WorkerSite",
    "Workflow",
    "WorkflowCheck",
    "WorkflowFileError",
    "WorkflowPluginError",
    "__version__",
    "build_image",
    "capability_warnings",
    "check_lock",
    "check_plugin",
    "check_workflow",
    "check_workflow_file",
    "clean_dead_runs",
    "collect_secrets",
    "contained_run",
    "dask_executor",
    "default_secret_provider",
    "escape_controls_in_json",
    "every_secret",
    "find_project_root",
    "image_problems",
    "image_spec",
    "load_config",
    "load_manifest",
    "load_vars_file",
    "load_workflow",
    "lock_path_for",
    "locked_plugins",
    "manifest_problems",
    "merge_vars",
    "neutralise_controls",
    "new_run_id",
    "parse_action_ref",
    "parse_plugin_ref",
    "parse_var_options",
    "permissions_yaml",
    "plugin_argv",
    "plugin_grant_problems",
    "read_lock",
    "recommended_permissions",
    "record_json",
    "restricted_backend",
    "run_record",
    "thaw_manifest_data",
    "usable_backend",
    "write_lock",
    "write_run_record",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    qualified = f"{__name__}.{module}"
    # The import statement's machinery, not importlib.import_module: ``-X importtime`` then shows what each
    # name's first use loads, and the package skips importing importlib (0.8 ms of a cold start).
    __import__(qualified)
    value = getattr(sys.modules[qualified], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
