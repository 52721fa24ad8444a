"""docs/cli.md against the real CLI: every command has its section, and its section names every option."""

from __future__ import annotations

import re
from typing import Any

import typer.main

from workflow_cli.app import app

from .checks import ROOT


def commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every command the CLI has, by its full name (``plugin list``)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        full = f"{prefix} {name}".strip()
        found |= commands(command, full) if hasattr(command, "commands") else {full: command}
    return found


def sections() -> dict[str, str]:
    """docs/cli.md's ``## `workflow NAME ...``` sections, by the command name they start with."""
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for section in re.split(r"^## ", page, flags=re.MULTILINE)[1:]:
        words = section.split("`")[1].split() if section.startswith("`workflow ") else []
        name = [word for word in words[1:] if re.fullmatch(r"[a-z]+", word)]
        if name:
            found[" ".join(name)] = section
    return found


def test_every_command_has_a_section_naming_every_option() -> None:
    documented = sections()
    missing: list[str] = []
    for name, command in commands(typer.main.get_command(app)).items():
        section = documented.get(name)
        if section is None:
            missing.append(f"workflow {name}: no section")
            continue
        for option in (opt for param in command.params for opt in param.opts if opt.startswith("--")):
            if option not in section and option != "--help":
                missing.append(f"workflow {name}: {option}")
    assert not missing, missing
