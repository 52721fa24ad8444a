"""A frozen, slotted base for the value classes that a cold ``resolve`` builds, without ``dataclasses``.

Why not ``@dataclass(frozen=True, slots=True)``, the house style: resolving one
plugin in a new interpreter may cost 3x a bare interpreter start, about 19 ms
above it on the reference machine, and measured there (interleaved runs,
medians) ``import dataclasses`` alone costs 11-13 ms (it imports ``inspect``)
and each frozen slotted dataclass another ~0.5 ms (it generates and compiles
its methods, then rebuilds the class for ``__slots__``). The resolve path
defines about fifteen such classes; as dataclasses they cost more than the
whole budget. So the classes on that path (references, manifests, resolution
results, discovery) subclass :class:`FrozenRecord` instead, and so do those
``validate`` and ``run`` build (the workflow model, its grants, positions, lock
entries, the errors module's problems and failures). It is the runtime's bottom
layer, below :mod:`.errors`, so that every layer can use it.

A subclass declares ``__slots__``, annotates its fields in constructor order
(the annotations, kept as strings, give the field order) and writes its
``__init__`` with :func:`object.__setattr__`. The base
gives it what the decorator would: assignment and deletion raise
``dataclasses.FrozenInstanceError`` (imported only when raised), ``__eq__`` and
``__hash__`` over the fields when the classes match (less those named in
``uncompared=(...)``, as ``field(compare=False)`` would), a dataclass-style
``__repr__`` (less those named in ``unshown=(...)``, as ``field(repr=False)``
would), ``__match_args__``, ordering with ``order=True``, pickling, and
:meth:`FrozenRecord.replace` (``dataclasses.replace``) for a class whose
constructor takes each field by its name. A class whose constructor takes
any field by keyword only (``kw_only=True``, or a ``*`` among its
parameters) says ``keyword_only=True``, so that pickling and copying pass
the fields by name.
Type checkers see a dataclass transform, so mypy checks constructors and
refuses assignment as it does for frozen dataclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self, dataclass_transform
else:

    def dataclass_transform(**_: object) -> Any:
        return lambda cls: cls


__all__ = ["FrozenRecord"]


@dataclass_transform(frozen_default=True, eq_default=True)
class FrozenRecord:
    """Immutable value object; see the module docstring for why this is not a dataclass."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _compared: tuple[str, ...] = ()
    _shown: tuple[str, ...] = ()
    _keyword_only: bool = False
    __match_args__: tuple[str, ...] = ()

    def __init_subclass__(
        cls,
        *,
        order: bool = False,
        uncompared: tuple[str, ...] = (),
        unshown: tuple[str, ...] = (),
        keyword_only: bool = False,
        **kwargs: Any,
    ) -> None:
        """``uncompared``: fields left out of equality, hashing and ordering (``field(compare=False)``).

        ``unshown``: fields left out of the repr (``field(repr=False)``); ``keyword_only``: the class's
        constructor takes some field by keyword only, so unpickling passes the fields by name.
        """
        super().__init_subclass__(**kwargs)
        if keyword_only:
            type.__setattr__(cls, "_keyword_only", True)
        if "_fields" not in cls.__dict__:
            # Not inspect.get_annotations: importing inspect is what this module avoids.
            cls._fields = tuple(cls.__dict__.get("__annotations__", ()))  # noqa: RUF063
        fields = cls._fields  # most classes leave nothing out: no filtering then (about forty classes load at start)
        type.__setattr__(cls, "_compared", tuple(n for n in fields if n not in uncompared) if uncompared else fields)
        type.__setattr__(cls, "_shown", tuple(n for n in fields if n not in unshown) if unshown else fields)
        type.__setattr__(cls, "__match_args__", fields)
        if order:
            type.__setattr__(cls, "__lt__", _compare(lambda a, b: a < b))
            type.__setattr__(cls, "__le__", _compare(lambda a, b: a <= b))
            type.__setattr__(cls, "__gt__", _compare(lambda a, b: a > b))
            type.__setattr__(cls, "__ge__", _compare(lambda a, b: a >= b))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def _compared_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared)

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._compared_values() == other._compared_values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._compared_values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, made by the constructor (so its checks run), as ``dataclasses.replace`` does."""
        fields = {name: getattr(self, name) for name in self._fields}  # not _values(): a generator resumed per field
        fields.update(changes)
        return type(self)(**fields)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._keyword_only:
            return _by_keywords, (type(self), dict(zip(self._fields, self._values(), strict=True)))
        return type(self), self._values()


def _by_keywords(cls: type[FrozenRecord], fields: dict[str, Any]) -> FrozenRecord:
    """Unpickles a record whose constructor takes keywords only."""
    return cls(**fields)


def _compare(test: Any) -> Any:
    def compare(self: FrozenRecord, other: object) -> Any:
        if other.__class__ is self.__class__:
            return bool(test(self._compared_values(), other._compared_values()))
        return NotImplemented

    return compare
