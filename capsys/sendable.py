"""THE table of what may cross an agent boundary, and every check built on it.

One list of known types (``KNOWN_TYPES``) feeds three enforcers so they never disagree:

* the run-time *value* checks: ``payload_kind`` / ``prepare_payload`` (a shallow check,
  one dict lookup per argument, cheap enough for every send) and ``check_sendable`` /
  ``check_immutable`` (a deep, iterative walk for debug mode and ``val()``);
* the *static* form keyed by fully-qualified type names (``STATIC_KINDS``), consulted by
  the mypy plugin and the linter through the checker-neutral ``Shape`` description and
  ``static_problem``;
* ``@message`` validation, which turns annotations into ``Shape``s and asks the same
  ``static_problem``.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import copy as _copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import sys
import types
import typing
import uuid
import weakref
from collections.abc import Callable as AbcCallable
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Literal, NamedTuple

import typing_extensions

from capsys.capabilities import REF_MARKER, VAL_MARKER, Iso, MovedIso, moved_error
from capsys.errors import CapabilityUsageError, MovedError, NotSendableError
from capsys.names import CAPSYS_NAMES
from capsys.tag import Tag

__all__ = [
    "held_agent",
    "KNOWN_TYPES",
    "STATIC_KINDS",
    "RUNTIME_KINDS",
    "SHARED_TYPES",
    "KnownType",
    "TypeKind",
    "Shape",
    "ShapeKind",
    "Problem",
    "static_problem",
    "shape_of_annotation",
    "substitute",
    "payload_kind",
    "prepare_payload",
    "payload_moves",
    "move_payload",
    "refuse_iso_for_many",
    "check_sendable",
    "check_immutable",
    "validate_message_class",
    "CAPSYS_NAMES",
    "SUGGESTIONS",
    "PayloadKind",
]


class TypeKind(enum.Enum):
    """How a known type behaves at a boundary."""

    ATOM = "atom"  # deeply immutable by itself
    CONTAINER = "container"  # immutable container: sendable iff its items are


class KnownType(NamedTuple):
    """One row of the table: the name type checkers use, the class, its kind."""

    fullname: str
    runtime: type
    kind: TypeKind
    example: object  # a value of the type, used by the tests that compare both forms


_ATOM, _CONTAINER = TypeKind.ATOM, TypeKind.CONTAINER

KNOWN_TYPES: Final[tuple[KnownType, ...]] = (
    KnownType("builtins.None", type(None), _ATOM, None),
    KnownType("builtins.bool", bool, _ATOM, True),
    KnownType("builtins.int", int, _ATOM, 1),
    KnownType("builtins.float", float, _ATOM, 1.5),
    KnownType("builtins.complex", complex, _ATOM, 1j),
    KnownType("builtins.str", str, _ATOM, "s"),
    KnownType("builtins.bytes", bytes, _ATOM, b"b"),
    KnownType("builtins.range", range, _ATOM, range(3)),
    KnownType("decimal.Decimal", decimal.Decimal, _ATOM, decimal.Decimal("1.5")),
    KnownType("fractions.Fraction", fractions.Fraction, _ATOM, fractions.Fraction(1, 3)),
    KnownType("datetime.date", datetime.date, _ATOM, datetime.date(2026, 1, 1)),
    KnownType("datetime.time", datetime.time, _ATOM, datetime.time(12, 0)),
    KnownType("datetime.datetime", datetime.datetime, _ATOM, datetime.datetime(2026, 1, 1)),
    KnownType("datetime.timedelta", datetime.timedelta, _ATOM, datetime.timedelta(1)),
    KnownType("datetime.timezone", datetime.timezone, _ATOM, datetime.timezone.utc),
    KnownType("uuid.UUID", uuid.UUID, _ATOM, uuid.UUID(int=1)),
    KnownType("pathlib.PurePath", pathlib.PurePath, _ATOM, pathlib.PurePath("a")),
    KnownType("pathlib.PurePosixPath", pathlib.PurePosixPath, _ATOM, pathlib.PurePosixPath("a")),
    KnownType(
        "pathlib.PureWindowsPath", pathlib.PureWindowsPath, _ATOM, pathlib.PureWindowsPath("a")
    ),
    KnownType("pathlib.Path", pathlib.Path, _ATOM, pathlib.Path("a")),
    KnownType("pathlib.PosixPath", pathlib.PosixPath, _ATOM, pathlib.PurePosixPath("a")),
    KnownType("pathlib.WindowsPath", pathlib.WindowsPath, _ATOM, pathlib.PureWindowsPath("a")),
    KnownType("builtins.tuple", tuple, _CONTAINER, (1, "a")),
    KnownType("builtins.frozenset", frozenset, _CONTAINER, frozenset({1, 2})),
)

# The static form: fully-qualified name -> kind. Type checkers name these classes the
# same way on every Python version; the run-time module of some moved (pathlib._local
# in 3.13), which is why the name is stored and not derived from the class.
STATIC_KINDS: Final[dict[str, TypeKind]] = {row.fullname: row.kind for row in KNOWN_TYPES}

# Runtime objects made to be shared by agents: thread-safe, and every item that goes into
# one is checked (and an Iso moved) on the way in, so they cross a boundary by reference,
# like a Tag. Not deeply immutable, so never a Val. Named, not imported: capsys does not
# depend on runtime.
SHARED_HANDLES: Final[frozenset[str]] = frozenset({"runtime.primitives.channel.Channel"})
_FULLNAME_OF_TYPE: Final[dict[type, str]] = {row.runtime: row.fullname for row in KNOWN_TYPES}

# Alternative spellings the checkers may meet for the same classes.
STATIC_KINDS.update(
    {
        "types.NoneType": TypeKind.ATOM,
        "_decimal.Decimal": TypeKind.ATOM,
        "typing.Tuple": TypeKind.CONTAINER,
        "typing.FrozenSet": TypeKind.CONTAINER,
        "pathlib._local.PurePath": TypeKind.ATOM,
        "pathlib._local.PurePosixPath": TypeKind.ATOM,
        "pathlib._local.PureWindowsPath": TypeKind.ATOM,
        "pathlib._local.Path": TypeKind.ATOM,
        "pathlib._local.PosixPath": TypeKind.ATOM,
        "pathlib._local.WindowsPath": TypeKind.ATOM,
    }
)

# What to use instead, for the well-known mutable types (used in every message).
SUGGESTIONS: Final[dict[str, str]] = {
    "builtins.list": "use tuple[...] to share it, or Iso[list[...]] to move it",
    "builtins.dict": "use a @message class or tuple of pairs to share it, or Iso[dict[...]] to move it",
    "builtins.set": "use frozenset[...] to share it, or Iso[set[...]] to move it",
    "builtins.bytearray": "use bytes to share it, or Iso[bytearray] to move it",
    "builtins.memoryview": "copy it into bytes, or move the owner as an Iso",
    "builtins.object": "declare a concrete sendable type",
    "builtins.type": "send a value or a Tag, not a class",
}

_ENUM_BASE = "enum.Enum"
_AGENT_BASE = CAPSYS_NAMES["Agent"]


# --------------------------------------------------------------------------------------
# The static form: a checker-neutral description of a type and one evaluator for it.
# --------------------------------------------------------------------------------------


class ShapeKind(enum.Enum):
    CLASS = "class"  # a nominal class: name, type arguments, bases, maybe record fields
    UNION = "union"
    LITERAL = "literal"
    NONE = "none"
    ANY = "any"  # Any or a type the checker could not resolve
    CALLABLE = "callable"
    TYPEVAR = "typevar"  # args: bound or constraints
    ISO = "iso"
    TAG = "tag"
    VAL = "val"
    REF = "ref"


@dataclasses.dataclass(frozen=True)
class Shape:
    """A static type as the capability rules need to see it.

    Front ends (typing objects here, mypy types in the plugin, annotations in the
    linter) translate into this; ``static_problem`` is the only place with the rules.
    ``fields`` is set only for *frozen* record classes (frozen dataclasses, NamedTuples,
    ``@message`` classes) and is a thunk so recursive types are expanded lazily.
    """

    kind: ShapeKind
    name: str = ""
    args: tuple[Shape, ...] = ()
    bases: frozenset[str] = frozenset()
    fields: typing.Callable[[], Iterable[tuple[str, Shape]]] | None = None
    mutable_record: bool = False  # a dataclass / record class that is not frozen
    variadic: bool = False  # tuple[X, ...]: the one arg describes every item

    def display(self) -> str:
        """The type as a user would write it."""
        k = self.kind
        if k is ShapeKind.CLASS:
            short = self.name.rsplit(".", 1)[-1]
            if short == "None":
                return "None"
            if self.args:
                more = ", ..." if self.variadic else ""
                return f"{short}[{', '.join(a.display() for a in self.args)}{more}]"
            return short
        if k is ShapeKind.UNION:
            return " | ".join(a.display() for a in self.args)
        if k in _WRAPPER_NAMES:
            inner = self.args[0].display() if self.args else "Any"
            return f"{_WRAPPER_NAMES[k]}[{inner}]"
        if k is ShapeKind.NONE:
            return "None"
        if k is ShapeKind.ANY:
            return self.name or "Any"
        return self.name or k.value


ANY_SHAPE: Final = Shape(ShapeKind.ANY, "Any")


def accepted(text: str) -> Shape:
    """A shape that ``static_problem`` accepts, shown as ``text``, for a type met again
    while it is being expanded (a recursive alias): accepting it coinductively is what
    the table does for recursive records, and its non-recursive parts are checked at
    the first expansion."""
    return Shape(ShapeKind.LITERAL, text)


_WRAPPER_NAMES: Final = {
    ShapeKind.ISO: "Iso",
    ShapeKind.TAG: "Tag",
    ShapeKind.VAL: "Val",
    ShapeKind.REF: "Ref",
}


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a static type is not sendable (or not deeply immutable)."""

    type_text: str  # the offending (inner) type, e.g. "list[int]"
    where: str  # path inside the checked type, e.g. ".items" or "[1]"; "" at the top
    reason: str  # what to do about it
    is_any: bool = False  # the type is Any/unknown: CAP012 rather than CAP001

    def describe(self, checked: str | None = None) -> str:
        """``reason``, prefixed by the offending part when it is not all of ``checked``."""
        if self.where or (checked is not None and checked != self.type_text):
            at = f" at {self.where}" if self.where else ""
            return f"{self.type_text}{at}: {self.reason}"
        return self.reason


def static_problem(
    shape: Shape,
    *,
    immutable: bool = False,
    vals_reported: bool = False,
    _walk: _Walk | None = None,
) -> Problem | None:
    """Return why ``shape`` is not sendable (or, with ``immutable``, not deeply
    immutable), or ``None`` when it is fine. Recursive record types are accepted
    coinductively: a record met again while it is being checked adds no problem.

    ``vals_reported``: the caller (a static checker) reports every ``Val[T]`` of a
    mutable ``T`` where it is written (CAP004), so such a ``Val`` adds no sendability
    problem on top: one mistake, one finding.
    """
    if _walk is None:
        _walk = _Walk()
    k = shape.kind
    if k in (ShapeKind.NONE, ShapeKind.LITERAL):
        return None
    if k is ShapeKind.ANY:
        return Problem(
            shape.display(),
            "",
            "its type is Any/unknown, so it cannot be proven sendable; "
            "annotate it with a sendable type",
            is_any=True,
        )
    if k is ShapeKind.TAG:
        return None
    if k is ShapeKind.ISO:
        if immutable:
            return Problem(
                shape.display(),
                "",
                "an Iso is a mutable, movable handle, not an "
                "immutable value; take() it or use Val[...] of an immutable type",
            )
        return None
    if k is ShapeKind.VAL:
        inner = shape.args[0] if shape.args else ANY_SHAPE
        p = static_problem(inner, immutable=True, vals_reported=vals_reported, _walk=_walk)
        if p is not None and vals_reported and not immutable and not p.is_any:
            return None
        return p
    if k is ShapeKind.REF:
        return Problem(
            shape.display(),
            "",
            "a Ref is a local mutable reference and never "
            "crosses a boundary; move it as Iso[...] or share an immutable copy",
        )
    if k is ShapeKind.CALLABLE:
        return Problem(
            shape.display(),
            "",
            "callables can capture mutable state; send a Tag and name a behaviour instead",
        )
    if k is ShapeKind.UNION:
        for item in shape.args:
            p = static_problem(item, immutable=immutable, vals_reported=vals_reported, _walk=_walk)
            if p is not None:
                return p
        return None
    if k is ShapeKind.TYPEVAR:
        if not shape.args:
            return Problem(
                shape.display(),
                "",
                "an unbounded type variable admits mutable values; bound it by a sendable type",
            )
        for item in shape.args:
            p = static_problem(item, immutable=immutable, vals_reported=vals_reported, _walk=_walk)
            if p is not None:
                text = item.display()
                reason = f"it may be {text}, which is not sendable: {p.describe(text)}"
                return Problem(shape.display(), "", reason, p.is_any)
        return None
    return _class_problem(shape, immutable, vals_reported, _walk)


# Shapes whose type arguments may be objects held (``list[A]``, ``Ref[A]``); a Tag's is
# an address and ``type[A]`` holds a class.
_HOLDERS = (ShapeKind.CLASS, ShapeKind.ISO, ShapeKind.VAL, ShapeKind.REF)
_NOT_HOLDING = frozenset({"builtins.type"})


def held_agent(shape: Shape, *, deep: bool = False) -> str | None:
    """The agent class (as displayed) when ``shape`` is an agent object or a union with
    one (CAP007 in both checkers); with ``deep``, also an item of a container or wrapper
    (``list[A]``, ``dict[str, A]``), never inside ``Tag[A]`` or ``type[A]``."""
    if shape.kind is ShapeKind.CLASS and _AGENT_BASE in shape.bases:
        return shape.display()
    holding = deep and shape.kind in _HOLDERS and shape.name not in _NOT_HOLDING
    for item in shape.args if shape.kind is ShapeKind.UNION or holding else ():
        found = held_agent(item, deep=deep)
        if found is not None:
            return found
    return None


@dataclasses.dataclass(frozen=True)
class _Walk:
    """One ``static_problem`` walk. ``path``: the records being checked (met again, they
    add no problem); ``names``: their classes, to stop a generic record that nests its
    own parameter ever deeper (``G[U]`` holding a ``G[tuple[U, U]]``); ``verdicts``: the
    records already judged in this walk, shared by all its branches, so a chain of
    messages that each hold several of the previous one is judged once per message,
    not once per path (2**n)."""

    path: frozenset[str] = frozenset()
    names: tuple[str, ...] = ()
    verdicts: dict[tuple[str, bool, bool], Problem | None] = dataclasses.field(default_factory=dict)

    def entering(self, name: str, key: str) -> _Walk:
        return _Walk(self.path | {key}, (*self.names, name), self.verdicts)


_MAX_RECURRENCE = 3  # times one record class may recur on a path with other arguments


def _class_problem(
    shape: Shape, immutable: bool, vals_reported: bool, walk: _Walk
) -> Problem | None:
    kind = STATIC_KINDS.get(shape.name)
    if kind is TypeKind.ATOM:
        return None
    if not immutable and (
        shape.name in SHARED_HANDLES or not SHARED_HANDLES.isdisjoint(shape.bases)
    ):
        return None
    if kind is TypeKind.CONTAINER:
        if not shape.args:
            return Problem(
                shape.display(),
                "",
                "its items are untyped (Any); write "
                f"{shape.display()}[...] with sendable item types",
                is_any=True,
            )
        for i, item in enumerate(shape.args):
            p = static_problem(item, immutable=immutable, vals_reported=vals_reported, _walk=walk)
            if p is not None:
                step = "[...]" if shape.variadic else f"[{i}]"
                return dataclasses.replace(p, where=f"{step}{p.where}")
        return None
    if _ENUM_BASE in shape.bases or shape.name == _ENUM_BASE:
        return None
    if shape.fields is not None:
        # Keyed by the type with its arguments: ``Box[Box[list[int]]]`` meets Box twice,
        # the second time as ``Box[list[int]]``, and that one is not sendable.
        key = shape.display()
        if key in walk.path or walk.names.count(shape.name) >= _MAX_RECURRENCE:
            return None
        verdict_key = (key, immutable, vals_reported)
        if verdict_key in walk.verdicts:
            return walk.verdicts[verdict_key]
        inner = walk.entering(shape.name, key)
        found = None
        for field_name, field_shape in shape.fields():
            p = static_problem(
                field_shape, immutable=immutable, vals_reported=vals_reported, _walk=inner
            )
            if p is not None:
                found = dataclasses.replace(p, where=f".{field_name}{p.where}")
                break
        walk.verdicts[verdict_key] = found
        return found
    if _AGENT_BASE in shape.bases:
        return Problem(
            shape.display(),
            "",
            "an agent object is never sent; send its Tag (self.me inside the agent)",
        )
    if shape.mutable_record:
        return Problem(
            shape.display(),
            "",
            "the class is not frozen; make it a @message or "
            "a frozen dataclass with sendable fields",
        )
    hint = SUGGESTIONS.get(shape.name)
    if hint is None:
        hint = (
            "it is mutable or may hold mutable values; make it a @message / frozen "
            "dataclass, or move it as Iso[...]"
        )
    return Problem(shape.display(), "", hint)


# --------------------------------------------------------------------------------------
# Typing objects -> Shape (used for @message fields and for classes met at run time).
# --------------------------------------------------------------------------------------


def _class_fullname(cls: type) -> str:
    return _FULLNAME_OF_TYPE.get(cls) or f"{cls.__module__}.{cls.__qualname__}"


def _base_names(cls: type) -> frozenset[str]:
    return frozenset(_class_fullname(b) for b in cls.__mro__[1:])


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def _frozen_record(cls: type) -> bool:
    """Instances that cannot change: a NamedTuple class itself, or a class that is itself
    a frozen dataclass. A plain subclass of either takes new attributes (an instance
    ``__dict__`` unless it declares ``__slots__ = ()``; the generated ``__setattr__``
    guards its own class only): not a record, as the mypy plugin and the linter judge
    it too."""
    if _is_namedtuple(cls):
        return "_fields" in cls.__dict__  # the NamedTuple itself, not a subclass
    params = cls.__dict__.get("__dataclass_params__")
    return params is not None and bool(params.frozen)


# The field annotations of record classes as resolved in the scope that defined them:
# a @message defined in a function, under `from __future__ import annotations`, names
# its neighbours by local names that only that scope knows.
_resolved: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()
FIELDS_ATTR = "__capsys_fields__"  # a @message class's resolved field types


def _record_hints(
    cls: type, scope: Mapping[str, Any] | None = None, *, strict: bool = False
) -> dict[str, Any]:
    """Resolved annotations of a record class's fields.

    ``scope`` holds the names of the scope that defined the class (a function's locals);
    what it resolved is kept for the later checks, which have no scope. With ``strict``
    a name that is not defined raises NameError (a class defined later in the module:
    the caller defers the check). Otherwise such a name is one only a type checker sees
    (imported under ``TYPE_CHECKING``, to break an import cycle) and stands for an
    unresolved placeholder: inside ``Tag[...]`` it does not matter, anywhere else it is
    an unknown type that the check refuses, naming it.
    """
    known = _resolved.get(cls) or cls.__dict__.get(FIELDS_ATTR)
    if known is not None:
        return known
    localns = {**scope, cls.__name__: cls} if scope else {cls.__name__: cls}
    try:
        hints = typing.get_type_hints(cls, include_extras=True, localns=localns)
    except NameError:
        if strict or _strict_names.get():
            raise
        hints = typing.get_type_hints(cls, include_extras=True, localns=_Placeholders(localns))
        placeholders = True
    else:
        placeholders = False
    if dataclasses.is_dataclass(cls):
        found = {f.name: _final_hint(f, hints.get(f.name, Any)) for f in dataclasses.fields(cls)}
    else:
        found = {name: hints.get(name, Any) for name in getattr(cls, "_fields", ())}
    if not placeholders:  # (a name missing now may be defined later: not kept)
        with contextlib.suppress(TypeError):  # a class that cannot be weakly referenced
            _resolved[cls] = found
    return found


_BARE_FINAL = frozenset({id(typing.Final), id(typing_extensions.Final)})


def _final_hint(field: dataclasses.Field[Any], hint: Any) -> Any:
    """A bare ``Final`` field (``x: Final = 3``) has the type of its value, as the type
    checkers infer it (a tuple's from its items); anything else stays as annotated."""
    if id(hint) not in _BARE_FINAL or field.default is dataclasses.MISSING:
        return hint
    return _hint_of_value(field.default)


def _hint_of_value(value: object) -> Any:
    if type(value) is tuple:
        return tuple.__class_getitem__(tuple(_hint_of_value(v) for v in value))
    return type(value)


# Set while a @message class is checked at its creation: a record among its field types
# whose annotations name a class not defined yet defers the check (see _record_hints).
_strict_names: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "capsys_strict_names", default=False
)


_UNRESOLVED_ATTR = "__capsys_unresolved__"
_UNRESOLVED_TEXT = "(not defined at run time)"


class _Placeholders(dict[str, Any]):
    """Local names for resolving annotations: a name found nowhere (not here, not in the
    module, not a builtin) becomes a placeholder class named after it."""

    def __missing__(self, name: str) -> Any:
        frame_globals = sys._getframe(1).f_globals  # the module the annotation names from
        if name in frame_globals or hasattr(builtins, name):
            raise KeyError(name)  # eval() goes on to the module's globals and builtins
        placeholder = type(name, (), {_UNRESOLVED_ATTR: name})
        self[name] = placeholder
        return placeholder


def substitute(shape: Shape, table: Mapping[str, Shape]) -> Shape:
    """``shape`` with the type variables named in ``table`` replaced (in its arguments;
    a nested record's fields follow from its own, substituted, arguments): the fields of
    ``Box[int]`` from those of ``Box[T]``."""
    if shape.kind is ShapeKind.TYPEVAR and shape.name in table:
        return table[shape.name]
    if not shape.args:
        return shape
    inner = shape.fields
    fields = None
    if inner is not None:  # ``item: Inner[T]``: Inner's fields were built from T

        def fields(
            inner: AbcCallable[[], Iterable[tuple[str, Shape]]] = inner,
        ) -> Iterator[tuple[str, Shape]]:
            for name, field in inner():
                yield name, substitute(field, table)

    return dataclasses.replace(
        shape, args=tuple(substitute(a, table) for a in shape.args), fields=fields
    )


def shape_of_class(cls: type, args: tuple[Shape, ...] = ()) -> Shape:
    """The ``Shape`` of a run-time class (fields expanded lazily for frozen records)."""
    if cls is type(None):
        return Shape(ShapeKind.NONE)
    if issubclass(cls, Iso):
        return Shape(ShapeKind.ISO, "Iso", args)
    if issubclass(cls, Tag):
        return Shape(ShapeKind.TAG, "Tag", args)
    name = _class_fullname(cls)
    bases = _base_names(cls)
    record = _frozen_record(cls)
    fields = None
    if record:

        def fields() -> list[tuple[str, Shape]]:
            shapes = [(n, shape_of_annotation(t)) for n, t in _record_hints(cls).items()]
            # A generic record given its arguments (``Box[int]``): its fields typed by
            # them, as the static checkers see them.
            params = getattr(cls, "__parameters__", ())
            if args and len(args) == len(params):
                table = {getattr(p, "__name__", ""): a for p, a in zip(params, args, strict=True)}
                shapes = [(n, substitute(s, table)) for n, s in shapes]
            return shapes

    return Shape(
        ShapeKind.CLASS,
        name,
        args,
        bases,
        fields,
        mutable_record=dataclasses.is_dataclass(cls) and not record,
    )


_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


_LITERAL_STRINGS: Final = tuple(
    form
    for form in (getattr(typing, "LiteralString", None), typing_extensions.LiteralString)
    if form is not None
)


def shape_of_annotation(tp: Any) -> Shape:
    """Translate a resolved typing annotation into a ``Shape``."""
    if tp is None or tp is type(None):
        return Shape(ShapeKind.NONE)
    if tp is Any:
        return ANY_SHAPE
    if tp in _LITERAL_STRINGS:  # a str to a type checker
        return shape_of_class(str)
    if isinstance(tp, typing.TypeVar):
        bounds = tp.__constraints__ or ((tp.__bound__,) if tp.__bound__ is not None else ())
        return Shape(ShapeKind.TYPEVAR, tp.__name__, tuple(shape_of_annotation(b) for b in bounds))
    supertype = getattr(tp, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return shape_of_annotation(supertype)
    alias_value = getattr(tp, "__value__", None)  # PEP 695 `type X = ...` (3.12+)
    if alias_value is not None and type(tp).__name__ == "TypeAliasType":
        return shape_of_annotation(alias_value)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        inner, *meta = args
        if any(m is VAL_MARKER for m in meta):
            return Shape(ShapeKind.VAL, "Val", (shape_of_annotation(inner),))
        if any(m is REF_MARKER for m in meta):
            return Shape(ShapeKind.REF, "Ref", (shape_of_annotation(inner),))
        return shape_of_annotation(inner)
    if origin in _UNION_TYPES:
        return Shape(ShapeKind.UNION, "", tuple(shape_of_annotation(a) for a in args))
    if origin is Literal:
        return Shape(ShapeKind.LITERAL, f"Literal[{', '.join(map(repr, args))}]")
    if origin in (typing.ClassVar, typing.Final):
        return shape_of_annotation(args[0]) if args else ANY_SHAPE
    if origin is AbcCallable or tp is AbcCallable or tp is typing.Callable:
        return Shape(ShapeKind.CALLABLE, "Callable")
    if origin is not None:
        if not isinstance(origin, type):
            return ANY_SHAPE
        if origin is tuple:
            if args in ((), ((),)):  # tuple[()]: one possible value, the empty tuple
                return Shape(ShapeKind.LITERAL, "tuple[()]")
            items = tuple(shape_of_annotation(a) for a in args if a is not Ellipsis)
            shape = shape_of_class(tuple, items)
            return dataclasses.replace(shape, variadic=Ellipsis in args)
        return shape_of_class(origin, tuple(shape_of_annotation(a) for a in args))
    if isinstance(tp, type):
        unresolved = tp.__dict__.get(_UNRESOLVED_ATTR)
        if unresolved is not None:  # see _record_hints
            return Shape(ShapeKind.ANY, f"{unresolved} {_UNRESOLVED_TEXT}")
        if tp in (tuple, frozenset):
            return shape_of_class(tp, ())
        return shape_of_class(tp)
    if isinstance(tp, (str, typing.ForwardRef)):
        return Shape(ShapeKind.ANY, f"unresolved {tp!r}")
    return Shape(ShapeKind.ANY, repr(tp))


# --------------------------------------------------------------------------------------
# @message validation.
# --------------------------------------------------------------------------------------


def validate_message_class(cls: type, scope: Mapping[str, Any] | None = None) -> None:
    """Check every field of a ``@message`` class; defer names not defined yet.

    A name that is not defined yet (a class defined later in the module) cannot be
    resolved now: the check then runs on the first instantiation, once, after which the
    original ``__init__`` is put back so construction costs nothing extra.
    """
    for base in cls.__mro__[1:-1]:
        if not (_frozen_record(base) or base is typing.Generic):
            raise NotSendableError(
                f"@message {cls.__name__}: its base class {base.__name__} is not a "
                "frozen dataclass or @message, so instances would not be immutable (CAP003)"
            )
    try:
        _check_message_fields(cls, scope)
    except NameError as exc:
        _defer_message_check(cls, scope, exc)


def _check_message_fields(
    cls: type, scope: Mapping[str, Any] | None, *, strict: bool = True
) -> None:
    hints = _record_hints(cls, scope, strict=strict)
    # Kept on the class as well: a class that travels by value (cloudpickle, as Ray sends
    # the classes of a program's __main__) arrives without the module globals that its
    # string annotations name, so the receiving process could not resolve them again.
    type.__setattr__(cls, FIELDS_ATTR, hints)
    token = _strict_names.set(strict)
    try:
        shapes = [(n, shape_of_annotation(a)) for n, a in hints.items()]
        problems = [(n, shape, static_problem(shape)) for n, shape in shapes]
    finally:
        _strict_names.reset(token)
    for field_name, shape, problem in problems:
        if problem is not None and problem.is_any and _UNRESOLVED_TEXT in shape.display():
            raise CapabilityUsageError(
                f"@message {cls.__name__}: field {field_name!r} has type "
                f"{shape.display()}: a name that only a type checker sees (imported "
                "under TYPE_CHECKING?) can stand only inside Tag[...]; import the type "
                "at module level so the field can be checked"
            )
        if problem is not None:
            raise NotSendableError(
                f"@message {cls.__name__}: field {field_name!r} has type "
                f"{shape.display()}, which is not sendable: "
                f"{problem.describe(shape.display())} (CAP003)"
            )


def _defer_message_check(
    cls: type, scope: Mapping[str, Any] | None, first_error: NameError
) -> None:
    original_init = cls.__init__  # type: ignore[misc]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Names still missing now are not defined at run time at all: see _record_hints.
        _check_message_fields(cls, scope, strict=False)
        type.__setattr__(cls, "__init__", original_init)
        original_init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"Validates the fields once ({first_error}), then constructs."
    type.__setattr__(cls, "__init__", __init__)


# --------------------------------------------------------------------------------------
# Run-time value checks.
# --------------------------------------------------------------------------------------


class PayloadKind(enum.IntEnum):
    """What a send does with a value of a given class (decided once per class)."""

    NOT_SENDABLE = 0
    SHARE = 1  # deeply immutable by its class: shared, never walked
    WALK = 2  # immutable container/record: shared; the deep check walks its items
    MOVE = 3  # an Iso handle: moved to the receiver
    MOVED = 4  # an already-moved Iso: using it raises MovedError


_NOT, _SHARE, _WALK, _MOVE, _MOVED = (
    PayloadKind.NOT_SENDABLE,
    PayloadKind.SHARE,
    PayloadKind.WALK,
    PayloadKind.MOVE,
    PayloadKind.MOVED,
)

# The run-time form of the table: class -> kind, seeded from KNOWN_TYPES and extended
# once per new class met by payload_kind(). Reads and inserts are single dict
# operations, atomic under the GIL; on free-threaded builds two threads may both
# compute a missing entry, which is harmless because the result is the same.
RUNTIME_KINDS: dict[type, PayloadKind] = {
    row.runtime: _SHARE if row.kind is TypeKind.ATOM else _WALK for row in KNOWN_TYPES
}
RUNTIME_KINDS[Iso] = _MOVE
RUNTIME_KINDS[MovedIso] = _MOVED
# The classes whose kind is SHARE, kept in step with RUNTIME_KINDS by payload_kind():
# the runtime's hot paths test ``type(value) in SHARED_TYPES``, twice as fast as a
# lookup and a compare. ``set.add`` is atomic (the GIL, or the set's own lock on
# free-threaded builds), and a class missing for a moment only takes the slow path.
SHARED_TYPES: set[type] = {cls for cls, kind in RUNTIME_KINDS.items() if kind is _SHARE}


def _classify(cls: type) -> PayloadKind:
    if issubclass(cls, MovedIso):
        return _MOVED
    if issubclass(cls, Iso):
        return _MOVE
    if issubclass(cls, Tag) or issubclass(cls, enum.Enum):
        return _SHARE
    if _shared_handle(cls):
        return _SHARE
    try:
        problem = _class_value_problem(cls)
    except NameError:
        return _NOT
    if problem is not None:
        return _NOT
    return _WALK


# What a type variable of a generic record stands for at run time: the value's own class
# says (``Box(1)`` holds an int), so its fields are walked by the deep check, as a tuple's
# items are. (The static checkers see ``Box[int]`` and substitute the argument.)
_BY_VALUE: Final = Shape(ShapeKind.NONE, "checked by value")


def _shared_handle(cls: type) -> bool:
    return _class_fullname(cls) in SHARED_HANDLES or not SHARED_HANDLES.isdisjoint(_base_names(cls))


def _class_value_problem(cls: type) -> Problem | None:
    """Why values of ``cls`` cannot be sent, judged from the class alone."""
    shape = shape_of_class(cls)
    if shape.fields is None or not getattr(cls, "__parameters__", ()):
        return static_problem(shape)
    for _, field in shape.fields():
        problem = static_problem(_typevars_by_value(field))
        if problem is not None:
            return problem
    return None


def _typevars_by_value(shape: Shape) -> Shape:
    if shape.kind is ShapeKind.TYPEVAR:
        return _BY_VALUE
    if not shape.args:
        return shape
    return dataclasses.replace(shape, args=tuple(_typevars_by_value(a) for a in shape.args))


def payload_kind(cls: type) -> PayloadKind:
    """The shallow check: one dict lookup for a class seen before."""
    kind = RUNTIME_KINDS.get(cls)
    if kind is None:
        kind = RUNTIME_KINDS[cls] = _classify(cls)
        if kind is _SHARE:
            SHARED_TYPES.add(cls)
    return kind


def _not_sendable(value: object, what: str) -> NotSendableError:
    problem = static_problem(shape_of_class(type(value)))
    reason = problem.reason if problem else "it is not sendable"
    return NotSendableError(_refusal(what, type(value), reason, immutable=False))


def _refusal(what: str, cls: type, reason: str, *, immutable: bool) -> str:
    """The one wording of a run-time refusal, shallow or deep (the path names where)."""
    name = cls.__qualname__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if immutable:
        return f"{what} is {article} {name}, which is not deeply immutable: {reason} (CAP004)"
    return f"{what} is {article} {name}, which cannot cross an agent boundary: {reason} (CAP001)"


def prepare_payload(
    what: str, args: tuple[Any, ...], kwargs: dict[str, Any], deep: bool = False
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Check the arguments of a send/ask/spawn and move any ``Iso`` among them.

    Returns the arguments the receiver gets: the same objects, except that each ``Iso``
    handle, also one inside a tuple, frozenset or record, is replaced by a fresh one and
    the caller's handle is killed. A caller that may still fail after the check (a full
    mailbox, a wait for room that is cancelled) calls ``payload_moves`` first and
    ``move_payload`` once the value is sure to be delivered, so a refused send keeps the
    caller's handles alive.
    """
    if payload_moves(what, args, kwargs, deep):
        return move_payload(what, args, kwargs)
    return args, kwargs


def payload_moves(
    what: str, args: tuple[Any, ...], kwargs: dict[str, Any], deep: bool = False
) -> bool:
    """Check the arguments of a send/ask/spawn without moving anything: raise
    ``NotSendableError`` / ``MovedError``, or say whether an ``Iso`` among them must move.

    On the hot path: in the common case (no Iso, shallow mode) it allocates nothing and
    costs a dict lookup per argument, plus one per item of a container whose declared
    type can hold an Iso (see ``_carries``).
    """
    moves = False
    kinds = RUNTIME_KINDS
    for i, value in enumerate(args):
        kind = kinds.get(value.__class__) or payload_kind(value.__class__)
        if kind is _SHARE:
            continue
        if kind is _WALK:
            if deep:
                check_sendable(value, f"argument {i + 1} of {what}")
            if _carries(value.__class__) and _holds_iso(value):
                moves = True
            continue
        if kind is _MOVE:
            moves = True
            continue
        _raise_for(value, kind, f"argument {i + 1} of {what}")
    if kwargs:
        for name, value in kwargs.items():
            kind = kinds.get(value.__class__) or payload_kind(value.__class__)
            if kind is _SHARE:
                continue
            if kind is _WALK:
                if deep:
                    check_sendable(value, f"argument {name!r} of {what}")
                if _carries(value.__class__) and _holds_iso(value):
                    moves = True
                continue
            if kind is _MOVE:
                moves = True
                continue
            _raise_for(value, kind, f"argument {name!r} of {what}")
    if moves:
        _refuse_twice(what, (*args, *kwargs.values()))
    return moves


def refuse_iso_for_many(what: str, count: int, values: Iterable[object]) -> None:
    """A call that gives the same arguments to ``count`` agents (quorum, broadcast, a
    topology builder) cannot move an ``Iso`` among them: refuse it before anything
    moves, so the caller's handle stays usable."""
    if count != 1 and any(holds_iso(v) for v in values):
        raise NotSendableError(
            f"an Iso argument of {what} can be moved to one agent only, not to {count}: "
            "share an immutable value instead, or send the Iso to one agent (CAP001)"
        )


def _refuse_twice(what: str, values: Iterable[object]) -> None:
    """One handle given twice in one send would reach the receiver once alive and
    once dead (moving the first kills the second): refuse it before anything moves."""
    seen: set[int] = set()
    for value in values:
        for handle in _isos_in(value):
            if id(handle) in seen:
                raise MovedError(
                    f"the same Iso handle is passed twice to {what}: a handle moves once; "
                    "pass it once, or make a second value with its own iso() (CAP006)"
                )
            seen.add(id(handle))


def _isos_in(value: object) -> Iterator[object]:
    cls = value.__class__
    if cls is Iso:
        yield value
    elif (RUNTIME_KINDS.get(cls) or payload_kind(cls)) is _WALK and _carries(cls):
        for _, child in _children(value, cls):
            yield from _isos_in(child)


def move_payload(
    what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Move every ``Iso`` in checked arguments (``payload_moves`` said so): the
    receiver's copies of the arguments hold fresh handles, the caller's are dead. A
    handle moved since the check (by another task, during an await) raises
    ``MovedError`` before anything moves."""
    payload_moves(what, args, kwargs)
    how = f"moved by {what}"
    args = tuple(_moved_inside(a, how) for a in args)
    if kwargs:
        kwargs = {k: _moved_inside(v, how) for k, v in kwargs.items()}
    return args, kwargs


def check_value(value: object, what: str, deep: bool = False) -> object:
    """Check one value crossing a boundary (an ask reply, a channel item); move an Iso."""
    kind = RUNTIME_KINDS.get(value.__class__) or payload_kind(value.__class__)
    if kind is _SHARE:
        return value
    if kind is _WALK:
        if deep:
            check_sendable(value, what)
        if _carries(value.__class__) and _holds_iso(value):
            _refuse_twice(what, (value,))
            return _moved_inside(value, f"moved by {what}")
        return value
    if kind is _MOVE:
        return value._move(f"moved by {what}")  # type: ignore[attr-defined]
    _raise_for(value, kind, what)


# Whether values of an immutable container or record class can hold an Iso somewhere
# inside, decided once per class: a record whose declared fields are atoms, Tags, Vals
# or containers of those never does, so sending it costs no walk; a bare tuple or
# frozenset (items of any type) can. Same threading note as RUNTIME_KINDS.
_CARRIES: dict[type, bool] = {}


def _carries(cls: type) -> bool:
    known = _CARRIES.get(cls)
    if known is None:
        known = _CARRIES[cls] = _class_carries(cls)
    return known


def _class_carries(cls: type) -> bool:
    try:
        fields = shape_of_class(cls).fields
        if fields is None:  # not a record: a tuple or frozenset, items undeclared
            return True
        return any(_shape_carries(shape, set()) for _, shape in fields())
    except NameError:  # an annotation that does not resolve: assume the worst
        return True


def _shape_carries(shape: Shape, seen: set[str]) -> bool:
    kind = shape.kind
    if kind in (ShapeKind.ISO, ShapeKind.ANY, ShapeKind.TYPEVAR):
        return True
    if kind is ShapeKind.UNION:
        return any(_shape_carries(a, seen) for a in shape.args)
    if kind is not ShapeKind.CLASS:
        return False  # None, Literal, Tag, Val (deeply immutable), or not sendable at all
    if shape.fields is not None:
        if shape.name in seen:  # a recursive record: already being answered
            return False
        seen.add(shape.name)
        return any(_shape_carries(s, seen) for _, s in shape.fields())
    if shape.name in ("builtins.tuple", "builtins.frozenset"):
        return not shape.args or any(_shape_carries(a, seen) for a in shape.args)
    return False


def holds_iso(value: object) -> bool:
    """Whether a send would move an Iso handle: ``value`` is one, or holds one inside
    (for a call that goes to several agents, which cannot all get it)."""
    cls = value.__class__
    kind = RUNTIME_KINDS.get(cls) or payload_kind(cls)
    if kind is _MOVE:
        return True
    return kind is _WALK and _carries(cls) and _holds_iso(value)


def _holds_iso(value: object) -> bool:
    """Whether an Iso handle is inside ``value``; a moved one raises ``MovedError``
    before anything is moved, so a send either moves every handle or none."""
    found = False  # no early return: a moved handle further on must still raise
    for _, child in _children(value, value.__class__):
        cls = child.__class__
        kind = RUNTIME_KINDS.get(cls) or payload_kind(cls)
        if kind is _MOVE:
            found = True
        elif kind is _MOVED:
            raise moved_error(child, "tried to send it inside another value")  # type: ignore[arg-type]
        elif kind is _WALK and _carries(cls) and _holds_iso(child):
            found = True
    return found


def _moved_inside(value: object, how: str) -> object:
    """``value`` with every Iso inside it moved to a fresh handle (the receiver's); the
    very same object when it holds none. Records are copied, never mutated in place."""
    return replace_inside(value, Iso, lambda handle: handle._move(how))


def replace_inside(value: object, leaf: type, replace: AbcCallable[[Any], object]) -> object:
    """``value`` with every ``leaf`` object inside its immutable containers and records
    replaced by ``replace(it)``; the very same object when nothing was replaced.
    Records are copied, never mutated in place. (Moving Isos, and carrying them across a
    process boundary in ``runtime.ray``.)"""
    cls = value.__class__
    if cls is leaf:
        return replace(value)
    kind = RUNTIME_KINDS.get(cls) or payload_kind(cls)
    if kind is not _WALK or not _carries(cls):
        return value
    old = [child for _, child in _children(value, cls)]
    new = [replace_inside(child, leaf, replace) for child in old]
    if all(a is b for a, b in zip(old, new, strict=True)):
        return value
    if _is_namedtuple(cls):
        return cls._make(new)  # type: ignore[attr-defined]
    if isinstance(value, (tuple, frozenset)):
        return typing.cast(Any, cls)(new)
    copy = _copy.copy(value)
    for f, a, b in zip(dataclasses.fields(value), old, new, strict=True):  # type: ignore[arg-type]
        if a is not b:
            object.__setattr__(copy, f.name, b)
    return copy


def _raise_for(value: object, kind: PayloadKind, what: str) -> typing.NoReturn:
    if kind is _MOVED:
        raise moved_error(value, f"tried to send it as {what}")  # type: ignore[arg-type]
    raise _not_sendable(value, what)


def _children(value: object, cls: type) -> Iterable[tuple[str, object]]:
    if _is_namedtuple(cls):
        return ((f".{n}", v) for n, v in zip(cls._fields, value, strict=True))  # type: ignore[attr-defined, call-overload]
    if isinstance(value, tuple):
        return ((f"[{i}]", v) for i, v in enumerate(value))
    if isinstance(value, frozenset):
        return ((f"{{{v!r}}}", v) for v in value)
    if dataclasses.is_dataclass(value):
        return ((f".{f.name}", getattr(value, f.name)) for f in dataclasses.fields(value))
    return ()


def _walk(value: object, root: str, immutable: bool) -> None:
    # Iterative depth-first walk with an explicit stack and a visited set: cycles and
    # very deep structures neither loop forever nor overflow the C stack. Paths are
    # kept as parent links (`trail`) and joined only for the error, so a walk stays
    # linear in the number of objects however deep they nest.
    trail: list[tuple[int, str]] = [(-1, root)]
    stack: list[tuple[int, object]] = [(0, value)]
    seen: set[int] = set()
    while stack:
        at, obj = stack.pop()
        cls = obj.__class__
        kind = RUNTIME_KINDS.get(cls) or payload_kind(cls)
        if kind is _SHARE and not (immutable and _shared_handle(cls)):
            continue  # (a Channel crosses by reference, but it is no Val)
        if kind is _MOVE and not immutable:
            continue
        if kind is _WALK:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            children = list(_children(obj, cls))
            for step, child in reversed(children):
                trail.append((at, step))
                stack.append((len(trail) - 1, child))
            continue
        if kind is _MOVED:
            obj.take()  # type: ignore[attr-defined]
        if kind is _MOVE:
            reason = "an Iso handle is movable, not immutable; take() it first"
        else:
            problem = static_problem(shape_of_class(cls), immutable=immutable)
            reason = problem.reason if problem else "it is not sendable"
        steps: list[str] = []
        while at > 0:
            at, step = trail[at]
            steps.append(step)
        inside = "".join(reversed(steps))
        # "value.nxt.label", but "[1] in argument 1 of S.b" (not "argument 1 of S.b[1]")
        path = root + inside if not inside or " " not in root else f"{inside} in {root}"
        raise NotSendableError(_refusal(path, cls, reason, immutable=immutable))


def check_sendable(value: object, what: str = "value") -> None:
    """Deep check (debug mode): every object reachable through immutable containers
    must be sendable. Raises ``NotSendableError`` naming the path, e.g. ``x[1].items: list``."""
    _walk(value, what, immutable=False)


def check_immutable(value: object, what: str = "value") -> None:
    """Deep check for ``val()``: every reachable object must be deeply immutable."""
    _walk(value, what, immutable=True)
