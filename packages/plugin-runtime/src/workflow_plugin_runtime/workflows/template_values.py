"""Workflow values with templates in them: compiled once at load, rendered per task.

A value is any JSON-like tree (task inputs, env, outputs); every string in it
that holds ``{{`` is compiled into a :class:`~.templates.Template`, and each
placeholder is kept with the field it sits in (:class:`TemplateUse`), which is
what the static checks (unknown names, secrets outside inputs, typed wiring)
look at before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._frozen import FrozenRecord
from .._util.yaml_document import FieldPath, Locate, format_field_path
from ..errors import SourceLocation, TemplateError
from .templates import OPEN, Placeholder, Template, TemplateContext, compile_template

__all__ = [
    "CompiledValue",
    "TemplateUse",
    "compile_value",
    "iter_templates",
]


_set = object.__setattr__


class TemplateUse(FrozenRecord):
    """A placeholder found in a workflow value, with the field it sits in."""

    __slots__ = ("location", "path", "placeholder", "whole")
    path: FieldPath
    placeholder: Placeholder
    whole: bool
    location: SourceLocation | None

    def __init__(
        self, path: FieldPath, placeholder: Placeholder, whole: bool, location: SourceLocation | None = None
    ) -> None:
        _set(self, "path", path)
        _set(self, "placeholder", placeholder)
        _set(self, "whole", whole)
        _set(self, "location", location)

    @property
    def field(self) -> str:
        return format_field_path(self.path)


class CompiledValue(FrozenRecord):
    """A value (any JSON-like tree) with its template strings compiled; render it per invocation."""

    __slots__ = ("has_templates", "tree", "uses")
    tree: Any
    uses: tuple[TemplateUse, ...]
    has_templates: bool

    def __init__(self, tree: Any, uses: tuple[TemplateUse, ...], has_templates: bool) -> None:
        _set(self, "tree", tree)
        _set(self, "uses", uses)
        _set(self, "has_templates", has_templates)

    def render(self, context: TemplateContext) -> Any:
        """The value with every template rendered; read-only: it may share untouched parts."""
        return _render_tree(self.tree, context) if self.has_templates else self.tree


def _render_tree(tree: Any, context: TemplateContext) -> Any:
    if isinstance(tree, Template):
        return tree.render(context)
    if isinstance(tree, dict):
        return {key: _render_tree(item, context) for key, item in tree.items()}
    if isinstance(tree, list):
        return [_render_tree(item, context) for item in tree]
    return tree


def compile_value(
    value: Any,
    *,
    path: FieldPath = (),
    locate: Locate | None = None,
    on_error: Callable[[TemplateError], None] | None = None,
) -> CompiledValue:
    """Compile every string in ``value``, walking dicts and lists.

    ``locate`` maps a field path to its place in the file (a
    ``YamlDocument.location``). Without ``on_error`` the first TemplateError
    is raised; with it, each error is reported and its string kept as
    literal text, so a loader can collect every problem of a file at once.
    """
    if not value:  # no inputs, no env (most tasks): nothing to walk, and walking it would change nothing
        return CompiledValue(value, (), False)
    uses: list[TemplateUse] = []
    found = False

    def walk(node: Any, here: FieldPath) -> Any:
        nonlocal found
        if isinstance(node, str):
            if OPEN not in node:
                return node
            location = locate(here) if locate is not None else SourceLocation(field=format_field_path(here) or None)
            try:
                template = compile_template(node, location=location)
            except TemplateError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                return node
            found = True
            whole = template.whole is not None
            uses.extend(TemplateUse(here, placeholder, whole, location) for placeholder in template.placeholders)
            return template
        if isinstance(node, Mapping):
            return {key: walk(item, (*here, key)) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item, (*here, index)) for index, item in enumerate(node)]
        return node

    tree = walk(value, tuple(path))
    return CompiledValue(tree if found else value, tuple(uses), found)


def iter_templates(tree: Any) -> Iterator[Template]:
    """Every compiled template in a tree, depth first."""
    if isinstance(tree, Template):
        yield tree
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from iter_templates(item)
    elif isinstance(tree, list):
        for item in tree:
            yield from iter_templates(item)
