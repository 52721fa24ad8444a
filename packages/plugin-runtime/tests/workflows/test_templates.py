from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_plugin_runtime.errors import SourceLocation, TemplateError
from workflow_plugin_runtime.workflows.template_values import compile_value, iter_templates
from workflow_plugin_runtime.workflows.templates import (
    Placeholder,
    Scope,
    Template,
    TemplateContext,
    compile_template,
    escape_literal,
    interpolate,
    is_name,
    is_secret_name,
    template_source,
)

CONTEXT = TemplateContext(
    secrets={"API_TOKEN": "tok-123456"},
    vars={"base_url": "https://example.com", "count": 3, "flag": True, "none": None, "list": [1, "a"]},
    task_outputs={
        "fetch": {"status": 200, "ratio": 0.5, "ok": False, "body": {"items": [{"name": "first"}]}, "note": None},
        "empty": {},
    },
)


def render(text: str) -> object:
    return compile_template(text).render(CONTEXT)


def error_of(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        compile_template(text)
    return caught.value


class TestParse:
    def test_placeholders_of_each_scope(self) -> None:
        template = compile_template("{{ secrets.API_TOKEN }}{{ vars.base_url }}{{ tasks.fetch.outputs.body.items.0 }}")
        assert template.placeholders == (
            Placeholder(Scope.SECRETS, "API_TOKEN"),
            Placeholder(Scope.VARS, "base_url"),
            Placeholder(Scope.TASKS, "fetch", ("body", "items", "0")),
        )
        assert [placeholder.column for placeholder in template.placeholders] == [1, 24, 43]

    @pytest.mark.parametrize(
        "text", ["{{vars.count}}", "{{   vars.count\t}}", "{{\n vars.count \n}}", "{{ vars.count }}"]
    )
    def test_whitespace_inside_braces_is_ignored(self, text: str) -> None:
        assert compile_template(text).whole == Placeholder(Scope.VARS, "count")

    def test_extra_opening_braces_are_literal_and_the_column_points_at_the_template(self) -> None:
        template = compile_template("{{{ vars.count }}}")
        assert template.parts == ("{", Placeholder(Scope.VARS, "count"), "}")
        assert template.placeholders[0].column == 2

    def test_whole_outputs_object(self) -> None:
        assert render("{{ tasks.fetch.outputs }}") == CONTEXT.task_outputs["fetch"]

    def test_plain_text_is_one_literal(self) -> None:
        template = compile_template("no templates } here }}")
        assert template.parts == ("no templates } here }}",)
        assert template.whole is None
        assert template.placeholders == ()

    def test_placeholder_source_and_str(self) -> None:
        placeholder = Placeholder(Scope.TASKS, "a-b", ("x", "1"))
        assert str(placeholder) == "tasks.a-b.outputs.x.1"
        assert placeholder.source == "{{ tasks.a-b.outputs.x.1 }}"


class TestRender:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("{{ vars.count }}", 3),
            ("{{ vars.flag }}", True),
            ("{{ vars.none }}", None),
            ("{{ vars.list }}", [1, "a"]),
            ("{{ tasks.fetch.outputs.status }}", 200),
            ("{{ tasks.fetch.outputs.ratio }}", 0.5),
            ("{{ tasks.fetch.outputs.body }}", {"items": [{"name": "first"}]}),
            ("{{ tasks.fetch.outputs.body.items.0.name }}", "first"),
            ("{{ secrets.API_TOKEN }}", "tok-123456"),
        ],
    )
    def test_whole_value_keeps_its_json_type(self, text: str, expected: object) -> None:
        assert render(text) == expected
        assert type(render(text)) is type(expected)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("{{ vars.base_url }}/status", "https://example.com/status"),
            ("n={{ vars.count }}", "n=3"),
            ("{{ vars.flag }}!", "true!"),
            ("[{{ vars.none }}]", "[null]"),
            ("{{ vars.list }} ", '[1,"a"] '),
            ("b={{ tasks.fetch.outputs.body }}", 'b={"items":[{"name":"first"}]}'),
            ("Bearer {{ secrets.API_TOKEN }}", "Bearer tok-123456"),
            (" {{ vars.count }}", " 3"),
        ],
    )
    def test_interpolation_gives_a_string_with_compact_json(self, text: str, expected: str) -> None:
        assert render(text) == expected

    def test_interpolate_keeps_unicode(self) -> None:
        assert interpolate({"k": "é"}) == '{"k":"é"}'

    def test_unknown_secret_names_key_and_how_to_set_it(self) -> None:
        with pytest.raises(TemplateError) as caught:
            render("{{ secrets.NOPE }}")
        assert caught.value.message == "unknown secret 'NOPE'"
        assert "WORKFLOW_SECRET_NOPE" in str(caught.value.hint)

    def test_unknown_var(self) -> None:
        with pytest.raises(TemplateError, match="unknown var 'nope'") as caught:
            render("x{{ vars.nope }}")
        assert "--var nope=VALUE" in str(caught.value.hint)

    def test_task_without_outputs(self) -> None:
        with pytest.raises(TemplateError, match="task 'later' has no outputs yet"):
            render("{{ tasks.later.outputs.x }}")

    def test_missing_output_key_lists_the_keys_not_the_values(self) -> None:
        with pytest.raises(TemplateError) as caught:
            render("{{ tasks.fetch.outputs.stat }}")
        assert caught.value.message == "tasks.fetch.outputs has no key 'stat' (its keys: body, note, ok, ratio, status)"

    def test_missing_key_of_empty_outputs(self) -> None:
        with pytest.raises(TemplateError, match=r"tasks.empty.outputs has no key 'x' \(its keys: none\)"):
            render("{{ tasks.empty.outputs.x }}")

    def test_index_out_of_range(self) -> None:
        with pytest.raises(
            TemplateError, match=r"tasks.fetch.outputs.body.items is an array of 1 items, it has no item '5'"
        ):
            render("{{ tasks.fetch.outputs.body.items.5 }}")

    def test_key_under_a_scalar(self) -> None:
        with pytest.raises(TemplateError, match=r"tasks\.fetch\.outputs\.status is an integer, it has no key 'x'"):
            render("{{ tasks.fetch.outputs.status.x }}")

    def test_render_error_carries_the_template_location(self) -> None:
        where = SourceLocation(Path("wf.yaml"), 7, 12, "tasks.a.inputs.x")
        with pytest.raises(TemplateError) as caught:
            compile_template("{{ vars.nope }}", location=where).render(CONTEXT)
        assert caught.value.location == where
        assert str(caught.value).startswith("wf.yaml:7:12: tasks.a.inputs.x: unknown var 'nope'")


class TestEscapes:
    @pytest.mark.parametrize(
        ("source", "rendered"),
        [
            (r"\{{ vars.count }}", "{{ vars.count }}"),
            (r"\\{{ vars.count }}", "\\3"),
            (r"\\\{{ x }}", r"\{{ x }}"),
            (r"\\\\{{ vars.count }}", r"\\3"),
            (r"a\b\{{", r"a\b{{"),
            (r"C:\dir\{{ vars.count }}", r"C:\dir{{ vars.count }}"),
            (r"C:\dir\\{{ vars.count }}", "C:\\dir\\3"),
            (r"\{{{{ vars.count }}", "{{3"),
            (r"\{{\{{", "{{{{"),
            ("trailing \\", "trailing \\"),
            ("{{{ vars.count }}}", "{3}"),
            ("{{{{ vars.count }}", "{{3"),
            (r"\{{{ x }}", "{{{ x }}"),
            (r"\\{{{ vars.count }}", "\\{3"),
        ],
    )
    def test_backslash_before_braces(self, source: str, rendered: str) -> None:
        assert render(source) == rendered

    def test_escaped_only_value_is_a_plain_string(self) -> None:
        template = compile_template(r"\{{ vars.count }}")
        assert template.placeholders == ()
        assert template.whole is None

    def test_escape_literal(self) -> None:
        assert escape_literal("{{ a }}") == r"\{{ a }}"
        assert escape_literal(r"\{{") == r"\\\{{"
        assert escape_literal("no braces") == "no braces"


class TestErrors:
    def test_unterminated(self) -> None:
        error = error_of("abc {{ vars.count")
        assert error.message == 'unterminated template at column 5: "{{" has no closing "}}"'
        assert r"\{{" in str(error.hint)

    def test_empty(self) -> None:
        assert error_of("x{{  }}").message == "empty template at column 2"

    def test_unknown_root_suggests_the_nearest(self) -> None:
        error = error_of("{{ secret.API_TOKEN }}")
        assert error.message == "unknown template root 'secret' at column 4"
        assert str(error.hint).startswith("did you mean 'secrets'?")

    def test_unknown_root_without_a_close_match(self) -> None:
        error = error_of("{{ env.HOME }}")
        assert error.message == "unknown template root 'env' at column 4"
        assert error.hint == "a template starts with secrets., vars. or tasks."

    @pytest.mark.parametrize(
        ("text", "bad", "column"),
        [
            ("{{ vars.a | upper }}", " ", 10),
            ("{{ vars.a+1 }}", "+", 10),
            ("{{ vars['a'] }}", "[", 8),
            ("{{ vars.é }}", "é", 9),
        ],
    )
    def test_expressions_are_rejected(self, text: str, bad: str, column: int) -> None:
        error = error_of(text)
        assert f"unexpected {bad!r} at column {column}" in error.message
        assert "no expressions, filters or spaces inside" in error.message

    def test_secrets_and_vars_are_flat(self) -> None:
        error = error_of("{{ vars.a.b }}")
        assert error.message == "'vars' takes exactly one key, as in {{ vars.KEY }}; got 'vars.a.b' at column 1"
        assert error_of("{{ secrets }}").message.startswith("'secrets' takes exactly one key")

    def test_secret_names_are_environment_friendly(self) -> None:
        error = error_of("{{ secrets.API-TOKEN }}")
        assert error.message == (
            "invalid secrets key 'API-TOKEN' at column 12: use letters, digits and _, not starting with a digit"
        )

    def test_var_name_starting_with_a_digit(self) -> None:
        assert error_of("{{ vars.1x }}").message.startswith("invalid vars key '1x' at column 9")

    def test_empty_segment(self) -> None:
        assert error_of("{{ vars..a }}").message == "empty name in template {{ vars..a }} at column 9"
        assert "at column 20" in error_of("{{ tasks.a.outputs. }}").message

    def test_task_template_without_outputs_suggests_it(self) -> None:
        error = error_of("{{ tasks.fetch.status }}")
        assert error.message == "a task template reads tasks.ID.outputs[.KEY...]; got 'tasks.fetch.status' at column 1"
        assert error.hint == "did you mean {{ tasks.fetch.outputs.status }}?"

    def test_bad_task_id_and_index_placement(self) -> None:
        assert error_of("{{ tasks.9.outputs.x }}").message.startswith("invalid name '9' in template at column 10")
        assert compile_template("{{ tasks.a.outputs.9 }}").placeholders[0].keys == ("9",)

    def test_error_keeps_location(self) -> None:
        where = SourceLocation(Path("w.yaml"), 3, 5, "env.X")
        with pytest.raises(TemplateError) as caught:
            compile_template("{{ nope.x }}", location=where)
        assert caught.value.location == where


class TestCompileValue:
    def test_walks_dicts_and_lists_and_records_paths(self) -> None:
        value = {"url": "{{ vars.base_url }}/x", "list": [1, "{{ vars.count }}", {"deep key": "{{ vars.flag }}"}]}
        compiled = compile_value(value, path=("tasks", "t", "inputs"))
        assert [(use.field, str(use.placeholder), use.whole) for use in compiled.uses] == [
            ("tasks.t.inputs.url", "vars.base_url", False),
            ("tasks.t.inputs.list[1]", "vars.count", True),
            ('tasks.t.inputs.list[2]["deep key"]', "vars.flag", True),
        ]
        assert compiled.render(CONTEXT) == {"url": "https://example.com/x", "list": [1, 3, {"deep key": True}]}
        assert len(list(iter_templates(compiled.tree))) == 3

    def test_value_without_templates_is_returned_as_is(self) -> None:
        value = {"a": ["x", 1, None]}
        compiled = compile_value(value)
        assert not compiled.has_templates
        assert compiled.render(CONTEXT) is value

    def test_keys_are_never_templates(self) -> None:
        compiled = compile_value({"{{ vars.count }}": "v"})
        assert compiled.render(CONTEXT) == {"{{ vars.count }}": "v"}

    def test_locate_places_each_template(self) -> None:
        seen: list[tuple[str | int, ...]] = []

        def locate(path: tuple[str | int, ...]) -> SourceLocation:
            seen.append(path)
            return SourceLocation(Path("f.yaml"), 10 + len(seen), 3, ".".join(map(str, path)))

        compiled = compile_value({"a": "{{ vars.count }}", "b": "plain"}, path=("outputs",), locate=locate)
        assert seen == [("outputs", "a")]
        assert compiled.uses[0].location == SourceLocation(Path("f.yaml"), 11, 3, "outputs.a")

    def test_first_error_raises_without_a_collector(self) -> None:
        with pytest.raises(TemplateError, match="unknown template root 'x'"):
            compile_value({"a": "{{ x.y }}", "b": "{{ z.y }}"})

    def test_collector_receives_every_error(self) -> None:
        errors: list[TemplateError] = []
        compiled = compile_value(["{{ x.y }}", "{{ vars.count }}", "{{ z"], path=("env",), on_error=errors.append)
        assert [e.message for e in errors] == [
            "unknown template root 'x' at column 4",
            'unterminated template at column 1: "{{" has no closing "}}"',
        ]
        assert [e.location.field for e in errors if e.location] == ["env[0]", "env[2]"]
        assert compiled.render(CONTEXT) == ["{{ x.y }}", 3, "{{ z"]


# --- properties -----------------------------------------------------------------------------------

NAMES = st.from_regex(re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,8}"), fullmatch=True)
SECRET_NAMES = st.from_regex(re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,8}"), fullmatch=True)
KEYS = st.one_of(NAMES, st.from_regex(re.compile(r"[0-9]{1,3}"), fullmatch=True))
REFERENCES = st.one_of(
    st.builds(Placeholder, st.just(Scope.SECRETS), SECRET_NAMES),
    st.builds(Placeholder, st.just(Scope.VARS), NAMES),
    st.builds(Placeholder, st.just(Scope.TASKS), NAMES, st.lists(KEYS, max_size=4).map(tuple)),
)
TRICKY_TEXT = st.text(alphabet=st.sampled_from(list("{}\\ a.$\n")) | st.characters(), max_size=30)


def normalise(parts: list[str | Placeholder]) -> tuple[str | Placeholder, ...]:
    merged: list[str | Placeholder] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return tuple(merged)


@settings(max_examples=1000)
@given(st.lists(st.one_of(TRICKY_TEXT, REFERENCES), max_size=6))
def test_source_round_trips_through_the_parser(parts: list[str | Placeholder]) -> None:
    source = template_source(parts)
    assert compile_template(source).parts == normalise(parts)


@given(TRICKY_TEXT)
def test_escaped_text_renders_to_itself(text: str) -> None:
    template = compile_template(escape_literal(text))
    assert template.placeholders == ()
    assert template.render(CONTEXT) == text


@given(st.text(alphabet=st.sampled_from(list("{}\\ .abstvrcue0_-\t|")) | st.characters(), max_size=60))
def test_arbitrary_text_parses_or_raises_template_error(text: str) -> None:
    try:
        template = compile_template(text)
    except TemplateError as error:
        assert re.search(r"at column \d+", error.message)
        return
    assert isinstance(template, Template)
    assert template.source == text


RENDERED = {"{{ vars.count }}": "3", "{{ tasks.fetch.outputs.status }}": "200"}


@given(
    st.lists(
        st.one_of(TRICKY_TEXT.map(lambda t: (False, t)), st.sampled_from(sorted(RENDERED)).map(lambda t: (True, t)))
    )
)
def test_rendering_joins_literals_and_values(pieces: list[tuple[bool, str]]) -> None:
    parts = [compile_template(text).parts[0] if is_template else text for is_template, text in pieces]
    source = template_source(parts)
    rendered = compile_template(source).render(CONTEXT)
    meaningful = [(is_template, text) for is_template, text in pieces if is_template or text]
    if len(meaningful) == 1 and meaningful[0][0]:
        assert rendered == int(RENDERED[meaningful[0][1]])
    else:
        assert rendered == "".join(RENDERED[text] if is_template else text for is_template, text in pieces)


NAME_TEXT = st.text(st.sampled_from("aZ_9-.$ é\n\u0660\uff21")) | st.text()


@given(NAME_TEXT)
def test_names_and_secret_names_are_what_their_grammar_says(text: str) -> None:
    """A letter or ``_``, then letters, digits, ``_`` (and ``-`` in a name): ASCII only, no trailing newline."""
    assert is_name(text) is (re.match(r"[A-Za-z_][A-Za-z0-9_-]*\Z", text) is not None)
    assert is_secret_name(text) is (re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", text) is not None)
