"""Command-line values turned into Python values without importing pydantic, where that is plainly the same.

Typer 0.29 converts every parameter value (a path, a number, even an
option left at its default of ``None``) through a pydantic ``TypeAdapter``
built on first use. Importing pydantic and building those adapters is the
largest single cost of starting a command (docs/performance.md, "CLI
start-up"), and every ``workflow`` command pays it although its values are
a few paths, strings and small numbers.

So each of our parameters gets its conversion up front: the values whose
meaning is beyond doubt (any string for a ``str``; a string for a ``Path``,
then checked by Typer's own path checks; a number written in ASCII digits
within the option's range; a choice Typer's own matching finds) are
converted here, and every other value goes to Typer's own conversion,
which also words every error. A value is thus accepted or refused exactly
as Typer does, and every message is Typer's; only the common case no
longer needs pydantic. ``tests/test_coercion.py`` compares both on the
values that reach this path.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_choice, coerce_cli_path
from typer._typing import get_args, get_origin

from .fast_path import plain_whole_number

if TYPE_CHECKING:
    from collections.abc import Iterable

    from typer._click import Context, Parameter
    from typer.core import _TyperParameter

__all__ = ["PlainRuntimeParam", "convert_plainly"]

_TYPERS = object()
"""A value this module leaves to Typer's own conversion."""


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """A parameter's conversion: plain values here, any other through Typer's (pydantic) conversion."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        converted = _convert(value, self.annotation, self.descriptor, param, ctx)
        if converted is _TYPERS:
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
        return converted


def convert_plainly(params: Iterable[Parameter]) -> None:
    """Give each of Typer's parameters in ``params`` its conversion before Typer builds a pydantic one.

    Typer builds a parameter's conversion lazily into ``_runtime_param``;
    one set here is used instead. File parameters, custom parsers and
    conversions already made keep theirs.
    """
    for param in params:
        descriptor: TypeDescriptor | None = getattr(param, "type_descriptor", None)
        if descriptor is None or descriptor.file_annotation is not None or descriptor.parameter_info.parser:
            continue
        if getattr(param, "_runtime_param", None) is not None:
            continue
        param._runtime_param = PlainRuntimeParam(  # type: ignore[attr-defined]  # Typer's lazily built slot
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, descriptor=descriptor
        )


def _convert(value: Any, annotation: Any, descriptor: TypeDescriptor, param: _TyperParameter, ctx: Context) -> Any:
    if get_origin(annotation) is list:
        if not isinstance(value, list | tuple):
            return _TYPERS
        (item_type,) = get_args(annotation)
        items = [_convert(item, item_type, descriptor, param, ctx) for item in value]
        return _TYPERS if any(item is _TYPERS for item in items) else items
    info = descriptor.parameter_info
    converted: Any = _TYPERS
    if annotation is str and isinstance(value, str):
        converted = value
    elif annotation is Path and isinstance(value, str | Path):
        # Typer's own checks (exists, file_okay, ...) and their messages; a Path needs no adapter.
        with contextlib.suppress(ValueError):  # a NUL byte: Typer's conversion words the error
            converted = coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    elif annotation is int and not info.clamp:
        number = plain_whole_number(value, minimum=info.min, maximum=info.max)
        converted = _TYPERS if number is None else number
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        with contextlib.suppress(ValueError):  # not one of them: Typer's conversion words the error
            converted = coerce_cli_choice(value, choices=tuple(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
    return converted
