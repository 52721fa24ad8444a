"""ui/render.py rendered into a string console: tables, schemas, the inspect report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.commands.plugin_views import inspection, list_entry, problem_view
from workflow_cli.ui.console import make_console
from workflow_cli.ui.render import (
    DEFAULTS_NOTE,
    plugin_table,
    print_inspection,
    print_nothing_found,
    print_plugin_list,
    print_problem_view,
    schema_fields,
    schema_renderable,
    type_text,
)
from workflow_plugin_runtime import Problem, Resolver, Severity, SourceLocation, load_manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GREETER = FIXTURES / "plugins_a" / "greeter"


def string_console(width: int = 100) -> Any:
    """Rich's Console writing into a string (make_console: colour is off for a non-terminal file)."""
    return make_console(file=io.StringIO(), width=width)


def render(renderable: object, *, width: int = 100) -> str:
    console = string_console(width)
    console.print(renderable)
    return text_of(console)


def text_of(console: Any) -> str:
    value = console.file.getvalue()
    assert isinstance(value, str)
    return "\n".join(line.rstrip() for line in value.splitlines())


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "string"),
        ({"type": ["string", "null"]}, "string | null"),
        ({"type": "array", "items": {"type": "integer"}}, "array of integer"),
        ({"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, "array of array of string"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "string | integer"),
        ({"anyOf": [{"type": "boolean"}, {"const": 1}]}, "boolean | const 1"),
        ({"enum": ["a", "b"]}, "enum"),
        ({"$ref": "#/definitions/item"}, "see #/definitions/item"),
        ({}, "any"),
        (True, "any"),
        (False, "nothing"),
    ],
)
def test_type_text_says_types_as_a_reader_would(schema, expected):
    assert type_text(schema) == expected


def test_schema_fields_flatten_nested_objects_and_arrays_of_objects():
    schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "description": "Where"},
            "token": {"type": "string", "secret": True},
            "retry": {"type": "object", "properties": {"count": {"type": "integer", "default": 3, "minimum": 0}}},
            "headers": {
                "type": "array",
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            },
            "mode": {"enum": ["fast", "safe"]},
        },
    }

    fields = {field.name: field for field in schema_fields(schema)}

    assert list(fields) == ["url", "token", "retry", "retry.count", "headers", "headers[].name", "mode"]
    assert fields["url"].required and fields["url"].description == "Where"
    assert fields["token"].secret and not fields["token"].required
    assert fields["retry.count"].default == "3"
    assert fields["retry.count"].notes == ">= 0"
    assert fields["headers"].type == "array of object"
    assert fields["headers[].name"].required
    assert fields["mode"].notes == 'one of "fast", "safe"'


def test_schema_table_marks_required_defaults_and_secrets():
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "description": "Who"},
            "token": {"type": "string", "secret": True},
            "times": {"type": "integer", "default": 1},
        },
        "additionalProperties": False,
    }

    text = render(schema_renderable(schema, absent="-"))

    lines = text.splitlines()
    assert set(lines[1]) == {"─"}
    assert lines[:1] + lines[2:] == [
        "field   type      required   default   notes    description",
        "name    string    yes                           Who",
        "token   string    no                   secret",
        "times   integer   no         1",
        DEFAULTS_NOTE,
        "no other keys accepted",
    ]


def test_schema_table_leaves_out_columns_no_field_uses():
    text = render(schema_renderable({"type": "object", "properties": {"n": {"type": "number"}}}, absent="-"))

    assert text.splitlines()[0].split() == ["field", "type", "required"]


def test_absent_and_property_less_schemas_say_what_they_accept():
    assert render(schema_renderable(None, absent="any object (not checked)")) == "any object (not checked)"
    assert render(schema_renderable({"type": "object"}, absent="-")) == "object (no declared properties)"


def test_plugin_table_lists_plugins_with_their_shadowed_copies(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, version in ((first, "2.0.0"), (second, "1.0.0")):
        (folder / "p").mkdir(parents=True)
        (folder / "p" / "run.py").write_text("")
        (folder / "p" / "plugin.yaml").write_text(
            f"namespace: acme\nname: p\nversion: {version}\n"
            "runtime: {entrypoint: run.py}\nactions: {a: {}, b: {}}\n"
        )
    listing = Resolver([first, second], entry_points=False).list_plugins()
    entries = [list_entry(listed) for listed in listing.plugins]

    lines = render(plugin_table(entries), width=200).splitlines()

    assert lines[0].split() == ["ref", "version", "actions", "path", "from"]
    assert set(lines[1]) == {"─"}
    assert lines[2].split() == ["acme/p", "2.0.0", "a,", "b", str(first / "p"), "given"]
    assert lines[3].split() == ["shadowed", "1.0.0", str(second / "p"), "given"]
    assert len(lines) == 4


def test_piped_plugin_list_never_folds_long_paths():
    entry = {
        "ref": "acme/p",
        "version": "1",
        "description": "",
        "path": "/a/very/long/path/" + "x" * 150,
        "source": "given",
        "actions": ["go"],
        "shadowed": [],
        "shadowed_copies": [],
    }
    console = string_console(width=80)

    print_plugin_list(console, [entry])

    rows = text_of(console).splitlines()
    assert rows[2].split() == ["acme/p", "1", "go", entry["path"], "given"]
    assert rows[3] == "1 plugin"


def test_nothing_found_lists_each_place():
    console = string_console()

    print_nothing_found(console, ["/a (--plugins-path)", "/b (default, missing)"])

    assert text_of(console).splitlines()[:3] == [
        "no plugins found; looked in:",
        "  /a (--plugins-path)",
        "  /b (default, missing)",
    ]


def test_problem_view_prints_location_message_and_hint():
    problem = Problem(
        "bad grant", SourceLocation(Path("wf.yaml"), 3, 5, "permissions.env[0]"), "list names", Severity.WARNING
    )
    console = string_console()

    print_problem_view(console, problem_view(problem))

    assert text_of(console) == "warning: wf.yaml:3:5: permissions.env[0]: bad grant\n  hint: list names"


def test_inspection_report_shows_actions_capabilities_and_paste_ready_permissions():
    manifest = load_manifest(GREETER)
    warning = Problem(
        "acme/greeter asks for /etc (read), which exposes the host's configuration (/etc)", severity=Severity.WARNING
    )
    report = inspection(manifest, source="given path", warnings=[warning])
    console = string_console(width=120)

    print_inspection(console, report)

    text = text_of(console)
    lines = text.splitlines()
    assert lines[0] == "acme/greeter 2.0.0"
    assert lines[1] == "Greets people (CLI test fixture)"
    assert lines[3] == "runtime  main.py (entrypoint) · image acme/greeter:2.0.0 · timeout 20s"
    assert "greet  timeout 5s  Say hello" in lines
    assert "ping  timeout 20s" in lines
    name_row = next(line for line in lines if line.split()[:1] == ["name"])
    assert name_row.split() == ["name", "string", "yes", "Who", "to", "greet"]
    token_row = next(line for line in lines if line.split()[:1] == ["token"])
    assert token_row.split() == ["token", "string", "no", "secret"]
    retries_row = next(line for line in lines if line.split()[:1] == ["options.retries"])
    assert retries_row.split() == ["options.retries", "integer", "no", "3", ">=", "0"]
    assert any(line.split()[:2] == ["tags", "array"] for line in lines)
    assert "    any object (no inputs schema)" in lines
    assert "  network     yes" in lines
    assert "  filesystem  /data (read)" in lines
    assert "  env         GREETER_LANG" in lines
    start = lines.index("paste into a workflow that runs with security: restricted")
    assert lines[start + 1 : start + 6] == [
        "  permissions:",
        "    network: [acme/greeter]",
        "    mounts:",
        "    - {source: ./data, target: /data, access: read}",
        "    env: [GREETER_LANG]",
    ]
    assert "Warnings" in lines
    assert lines[-1].startswith("warning: acme/greeter asks for /etc (read)")


def test_a_plugin_needing_nothing_says_so(tmp_path):
    (tmp_path / "run.py").write_text("")
    (tmp_path / "plugin.yaml").write_text(
        "namespace: a\nname: b\nversion: '1'\nruntime: {entrypoint: run.py}\nactions: {go: {}}\n"
    )
    console = string_console()

    print_inspection(console, inspection(load_manifest(tmp_path), source="given path"))

    lines = text_of(console).splitlines()
    assert lines[lines.index("Recommended permissions") + 1] == "  none: it needs no grants to run restricted"
    assert "Warnings" not in lines
