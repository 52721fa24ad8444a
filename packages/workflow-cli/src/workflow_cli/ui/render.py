"""Tables and schema rendering for ``workflow plugin list`` and ``workflow plugin inspect``.

Renderers take the same JSON-ready data the commands print with ``--json``
(:mod:`workflow_cli.commands.plugin_views`), so the terminal view and the
JSON document always agree. Tests render into
``Console(file=io.StringIO(), width=...)`` and compare text. Every word that
comes from a manifest or a path goes through :func:`.console.plain`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from workflow_plugin_runtime import Severity

from ..commands.plugin_views import runs_in_text
from .console import plain, print_unfolded
from .plain_table import SIMPLE_HEAD, rich_table
from .plugin_list_text import HEADERS, display_path, list_rows, list_summary

if TYPE_CHECKING:
    from workflow_cli.commands.plugin_views import (
        ActionView,
        CapabilitiesView,
        Inspection,
        ListEntry,
        ProblemView,
    )

__all__ = [
    "DEFAULTS_NOTE",
    "SchemaField",
    "inspection_renderable",
    "plugin_table",
    "print_inspection",
    "print_nothing_found",
    "print_plugin_list",
    "print_problem_view",
    "schema_fields",
    "schema_renderable",
    "type_text",
]

DEFAULTS_NOTE = "defaults are applied by the plugin, not by the engine"
"""Said under every schema with a ``default``: JSON Schema defaults document, they do not fill in."""

_CONSTRAINTS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
    ("minItems", "items >= {}"),
    ("maxItems", "items <= {}"),
    ("pattern", "matches {}"),
    ("format", "format {}"),
)


@dataclass(frozen=True, slots=True)
class SchemaField:
    """One property of an inputs or outputs schema, flattened (``options.retries``, ``items[].name``)."""

    name: str
    type: str
    required: bool
    default: str | None
    secret: bool
    notes: str
    description: str


def type_text(schema: Any) -> str:
    """A JSON Schema's type as a reader says it: ``string``, ``array of integer``, ``string | null``."""
    if not isinstance(schema, Mapping):
        return "nothing" if schema is False else "any"
    if "$ref" in schema:
        return f"see {schema['$ref']}"
    combined = next((schema[key] for key in ("oneOf", "anyOf") if isinstance(schema.get(key), list)), None)
    if combined is not None:
        return " | ".join(type_text(sub) for sub in combined)
    if "const" in schema:
        return f"const {json.dumps(schema['const'])}"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    words = [
        f"array of {type_text(schema['items'])}" if name == "array" and "items" in schema else str(name)
        for name in kinds
    ]
    return " | ".join(words) if words else ("enum" if "enum" in schema else "any")


def _notes(schema: Mapping[str, Any]) -> str:
    notes = []
    if isinstance(schema.get("enum"), list):
        notes.append("one of " + ", ".join(json.dumps(value) for value in schema["enum"]))
    notes += [template.format(schema[key]) for key, template in _CONSTRAINTS if key in schema]
    return "; ".join(notes)


def schema_fields(schema: Any, *, prefix: str = "") -> list[SchemaField]:
    """Every property of an object schema, nested objects and arrays of objects included."""
    if not isinstance(schema, Mapping):
        return []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = set(schema.get("required") or ())
    fields: list[SchemaField] = []
    for name, sub in properties.items():
        full = f"{prefix}{name}"
        sub_schema: Mapping[str, Any] = sub if isinstance(sub, Mapping) else {}
        fields.append(
            SchemaField(
                name=full,
                type=type_text(sub),
                required=name in required,
                default=json.dumps(sub_schema["default"]) if "default" in sub_schema else None,
                secret=sub_schema.get("secret") is True,
                notes=_notes(sub_schema),
                description=str(sub_schema.get("description", "")),
            )
        )
        fields += schema_fields(sub_schema, prefix=f"{full}.")
        items = sub_schema.get("items")
        if isinstance(items, Mapping):
            fields += schema_fields(items, prefix=f"{full}[].")
    return fields


def schema_renderable(schema: Any, *, absent: str) -> RenderableType:
    """A table of the schema's fields; ``absent`` says what no schema means (inputs vs outputs)."""
    if schema is None:
        return Text(absent, style="dim")
    fields = schema_fields(schema)
    if not fields:
        return plain(f"{type_text(schema)} (no declared properties)", "dim")
    show_default = any(field.default is not None for field in fields)
    show_notes = any(field.secret or field.notes for field in fields)
    show_description = any(field.description for field in fields)
    table = rich_table(SIMPLE_HEAD, header_style="bold")
    table.add_column("field", no_wrap=True)
    table.add_column("type")
    table.add_column("required", no_wrap=True)
    if show_default:
        table.add_column("default")
    if show_notes:
        table.add_column("notes")
    if show_description:
        table.add_column("description")
    for field in fields:
        cells: list[RenderableType] = [
            plain(field.name, "cyan"),
            plain(field.type),
            Text("yes", style="bold") if field.required else Text("no", style="dim"),
        ]
        if show_default:
            cells.append(plain(field.default or ""))
        if show_notes:
            notes = Text()
            if field.secret:
                notes.append("secret", style="bold magenta")
            if field.notes:
                notes.append(plain(("; " if field.secret else "") + field.notes))
            cells.append(notes)
        if show_description:
            cells.append(plain(field.description))
        table.add_row(*cells)
    below = _schema_notes(schema, defaults=show_default)
    return Group(table, *below) if below else table


def _schema_notes(schema: Any, *, defaults: bool) -> list[Text]:
    """What the table cannot say: who applies defaults, and that no other key is accepted."""
    notes = [Text(DEFAULTS_NOTE, style="dim")] if defaults else []
    if isinstance(schema, Mapping) and schema.get("additionalProperties") is False:
        notes.append(Text("no other keys accepted", style="dim"))
    return notes


def plugin_table(entries: Sequence[ListEntry]) -> Table:
    """Resolved plugins, each followed by the copies it shadows (marked, dimmed)."""
    table = rich_table(SIMPLE_HEAD, header_style="bold")
    ref, version, actions, path, source = HEADERS
    table.add_column(ref, no_wrap=True)
    table.add_column(version, no_wrap=True)
    table.add_column(actions)
    table.add_column(path, overflow="fold")
    table.add_column(source)
    for shadowed, cells in list_rows(entries):
        if shadowed:
            marker, copy_version, no_actions, copy_path, copy_source = cells
            dimmed = (plain(copy_version, "dim"), no_actions, plain(copy_path, "dim"), plain(copy_source, "dim"))
            table.add_row(Text(marker, style="yellow"), *dimmed)
        else:
            first, *rest = cells
            table.add_row(plain(first, "bold cyan"), *(plain(cell) for cell in rest))
    return table


def print_plugin_list(console: Console, entries: Sequence[ListEntry]) -> None:
    """The table; piped into a file or another program its rows are never folded, so grep and awk see whole paths."""
    print_unfolded(console, plugin_table(entries))
    console.print(Text(list_summary(entries), style="dim"))


def print_nothing_found(console: Console, looked: Sequence[str]) -> None:
    console.print("no plugins found; looked in:")
    for line in looked:
        console.print(plain(f"  {line}"))
    console.print(Text("add a folder with --plugins-path DIR, WORKFLOW_PLUGINS_PATH or plugins.paths in config", "dim"))


def print_problem_view(console: Console, problem: ProblemView) -> None:
    label, style = ("warning", "yellow") if problem["severity"] is Severity.WARNING else ("error", "red")
    text = Text.assemble((f"{label}: ", f"bold {style}"))
    if problem["location"]:
        text.append(plain(f"{problem['location']}: "))
    text.append(plain(problem["message"]))
    if problem["hint"]:
        text.append(plain(f"\n  hint: {problem['hint']}"))
    console.print(text)


def _key_values(rows: Sequence[tuple[str, str]], *, indent: int = 0) -> Text:
    """``key  value`` lines with the values aligned; plain text, so nothing is padded to the terminal's width."""
    width = max(len(key) for key, _ in rows) + 2
    text = Text()
    for index, (key, value) in enumerate(rows):
        text.append(("\n" if index else "") + " " * indent)
        text.append(key.ljust(width), style="bold")
        text.append(plain(value))
    return text


def _runtime_line(report: Inspection) -> str:
    runtime = report["runtime"]
    start = " ".join(runtime["command"]) if runtime["command"] is not None else f"{runtime['entrypoint']} (entrypoint)"
    parts = [start, f"image {runtime['image']}", f"timeout {runtime['timeout']:g}s"]
    if runtime["pool"] is not None:
        size = runtime["pool"]["size"]
        parts.append("warm pool" if size is None else f"warm pool of at most {size:g}")
    elif not runtime["serve"]:
        parts.append("one-shot (no serve loop)")
    if runtime["start"] != "cold":  # the default, like a serving plugin's, goes without saying
        parts.append(f"{runtime['start']} start")
    return " · ".join(parts)


def _action(name: str, action: ActionView) -> Iterator[RenderableType]:
    title = Text.assemble(plain(name, "bold cyan"), f"  timeout {action['timeout']:g}s")
    if action["description"]:
        title.append(plain(f"  {action['description']}", "italic"))
    yield title
    yield Padding(Text("inputs", style="bold"), (0, 0, 0, 2), expand=False)
    yield Padding(
        schema_renderable(action["inputs"], absent="any object (no inputs schema)"), (0, 0, 0, 4), expand=False
    )
    yield Padding(Text("outputs", style="bold"), (0, 0, 0, 2), expand=False)
    yield Padding(schema_renderable(action["outputs"], absent="any object (not checked)"), (0, 0, 0, 4), expand=False)
    if action["examples"]:
        count = action["examples"]
        yield Padding(Text(f"{count} example{'s' if count != 1 else ''}", style="dim"), (0, 0, 0, 2), expand=False)


def _capabilities(capabilities: CapabilitiesView) -> Text:
    filesystem = ", ".join(f"{need['path']} ({need['access']})" for need in capabilities["filesystem"])
    return _key_values(
        [
            ("network", "yes" if capabilities["network"] else "no"),
            ("filesystem", filesystem or "none"),
            ("env", ", ".join(capabilities["env"]) or "none"),
        ],
        indent=2,
    )


def inspection_renderable(report: Inspection) -> Group:
    parts: list[RenderableType] = [Text.assemble(plain(report["ref"], "bold cyan"), plain(f" {report['version']}"))]
    if report["description"]:
        parts.append(plain(report["description"]))
    parts.append(
        _key_values(
            [
                ("path", f"{display_path(report['path'])} ({report['source']})"),
                ("runtime", _runtime_line(report)),
            ]
        )
    )
    count = len(report["actions"])
    parts.append(Text(f"\nActions ({count})", style="bold underline"))
    for name, action in report["actions"].items():
        parts += list(_action(name, action))
    parts.append(Text("\nCapabilities", style="bold underline"))
    parts.append(_capabilities(report["capabilities"]))
    parts.append(Text("\nRecommended permissions", style="bold underline"))
    if report["recommended_permissions_yaml"]:
        parts.append(Text("paste into a workflow that runs with security: restricted", style="dim"))
        indented = "\n".join(f"  {line}" for line in report["recommended_permissions_yaml"].splitlines())
        parts.append(plain(indented, "green"))
    else:
        parts.append(Padding(Text("none: it needs no grants to run restricted"), (0, 0, 0, 2), expand=False))
    return Group(*parts)


def print_inspection(console: Console, report: Inspection) -> None:
    """The report, then its warnings (with ``--workflow``: what comparing the grants found)."""
    print_unfolded(console, inspection_renderable(report))
    warnings = report["warnings"]
    if report["workflow"] is not None:
        console.print(plain(f"\nGrants of {report['workflow']}", "bold underline"))
        runs_in = report["runs_in"]
        if runs_in is not None:
            console.print(plain(f"  its plugins run in: {runs_in_text(runs_in)}"))
            if runs_in["unavailable"] is not None:
                print_problem_view(console, runs_in["unavailable"])
        if not warnings:
            console.print(Text("  no problems: the grants fit what this plugin needs"))
    elif warnings:
        console.print(Text("\nWarnings", style="bold underline"))
    for problem in warnings:
        print_problem_view(console, problem)
