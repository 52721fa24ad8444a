"""The command lines the entry point recognises without Typer: each fast command's parameters, as Typer has them.

A copy, in plain Python literals, of what Typer and Click make of the
commands' signatures (``commands/signatures.py``), so that
:mod:`workflow_cli.fast_path` can recognise a command line without
importing them; ``tests/test_command_lines.py`` derives it from the Typer
app and fails, printing the new table, when the two differ.

Keyed by the command's path (``("plugin", "list")``): ``usage`` is the
usage line after the command path, and ``params`` each parameter in
declaration order: its name in the function, its option names (none: the
positional argument), its kind (``flag``, ``str``, ``int``, ``path``) and
default; ``multiple`` and ``required`` when it repeats or must be given; an
int's ``minimum`` and ``maximum``; a path's checks, the ones of Click's
``exists``, ``file_okay``, ``dir_okay``, ``readable``, ``writable`` that are on.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["COMMANDS"]

# Parameters several commands share (the same declaration in commands/options.py).
_FILE = {
    "name": "file",
    "opts": (),
    "kind": "path",
    "default": None,
    "required": True,
    "path_checks": ("file_okay", "dir_okay", "readable"),
}
_VAR = {"name": "var", "opts": ("--var",), "kind": "str", "default": None, "multiple": True}
_VARS_FILE = {
    "name": "vars_file",
    "opts": ("--vars-file",),
    "kind": "path",
    "default": None,
    "path_checks": ("file_okay", "dir_okay", "readable"),
}
_SECRETS_FILE = {
    "name": "secrets_file",
    "opts": ("--secrets-file",),
    "kind": "path",
    "default": None,
    "path_checks": ("file_okay", "dir_okay", "readable"),
}
_PLUGINS_PATH = {
    "name": "plugins_path",
    "opts": ("--plugins-path", "-p"),
    "kind": "path",
    "default": None,
    "multiple": True,
    "path_checks": ("file_okay", "dir_okay", "readable"),
}
_WORKFLOW = {
    "name": "workflow",
    "opts": ("--workflow", "-w"),
    "kind": "path",
    "default": None,
    "path_checks": ("exists", "file_okay", "readable"),
}
_JSON_OUTPUT = {"name": "json_output", "opts": ("--json",), "kind": "flag", "default": False}
_AS_JSON = {"name": "as_json", "opts": ("--json",), "kind": "flag", "default": False}

COMMANDS: dict[tuple[str, ...], dict[str, Any]] = {
    ("run",): {
        "usage": "[OPTIONS] FILE",
        "params": (
            _FILE,
            _VAR,
            _VARS_FILE,
            _SECRETS_FILE,
            {
                "name": "concurrency",
                "opts": ("--concurrency", "-c"),
                "kind": "int",
                "default": 4,
                "minimum": 1,
                "maximum": None,
            },
            {"name": "pool", "opts": ("--pool",), "kind": "flag", "default": False},
            {"name": "backend", "opts": ("--backend",), "kind": "str", "default": None},
            _JSON_OUTPUT,
            _PLUGINS_PATH,
            {"name": "executor", "opts": ("--executor",), "kind": "str", "default": None},
            {"name": "dask_address", "opts": ("--dask-address",), "kind": "str", "default": None},
            {"name": "no_lock", "opts": ("--no-lock",), "kind": "flag", "default": False},
        ),
    },
    ("validate",): {
        "usage": "[OPTIONS] FILE",
        "params": (
            _FILE,
            _VAR,
            _VARS_FILE,
            _SECRETS_FILE,
            _PLUGINS_PATH,
            {"name": "skip_secrets", "opts": ("--skip-secrets",), "kind": "flag", "default": False},
            _JSON_OUTPUT,
        ),
    },
    ("lock",): {
        "usage": "[OPTIONS] FILE",
        "params": (
            _FILE,
            {"name": "check", "opts": ("--check",), "kind": "flag", "default": False},
            _VAR,
            _VARS_FILE,
            _PLUGINS_PATH,
            _JSON_OUTPUT,
        ),
    },
    ("plugin", "list"): {
        "usage": "[OPTIONS]",
        "params": (
            _PLUGINS_PATH,
            _WORKFLOW,
            _AS_JSON,
        ),
    },
    ("plugin", "inspect"): {
        "usage": "[OPTIONS] REF_OR_PATH",
        "params": (
            {"name": "target", "opts": (), "kind": "str", "default": None, "required": True},
            _WORKFLOW,
            _PLUGINS_PATH,
            _AS_JSON,
        ),
    },
}
