"""Annotations (libcst expressions) -> ``capsys.sendable.Shape``.

The linter never restates which types are sendable: it only translates what is written
into the checker-neutral ``Shape`` and asks ``capsys.sendable.static_problem``. Module-level
type aliases, ``NewType``s and ``TypeVar``s of the project are followed; a standard-library
class the table does not list is an ordinary (not sendable) class, as in the mypy plugin.
A name it cannot identify for sure (a third-party class, a generic alias given arguments)
becomes an ``Any`` shape, which ``static_problem`` reports as ``is_any``: the definition
rules skip those (that is CAP012, the mypy plugin's business), so the linter never guesses.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator

import libcst as cst

from capsys.lint.index import ClassKind, ClassSummary, NameResolver, ProjectIndex
from capsys.sendable import (
    ANY_SHAPE,
    CAPSYS_NAMES,
    STATIC_KINDS,
    Problem,
    Shape,
    ShapeKind,
    static_problem,
    substitute,
)

__all__ = ["ShapeBuilder", "parse_annotation", "problem_of", "string_value"]

_AGENT_BASE = CAPSYS_NAMES["Agent"]

# Known mutable (or mutable-admitting) types, by the qualified names written in code;
# mapped to the name the sendability table uses in its messages.
_MUTABLE = {
    "builtins.list": "builtins.list",
    "builtins.dict": "builtins.dict",
    "builtins.set": "builtins.set",
    "builtins.bytearray": "builtins.bytearray",
    "builtins.memoryview": "builtins.memoryview",
    "builtins.object": "builtins.object",
    "builtins.type": "builtins.type",
    "typing.List": "builtins.list",
    "typing.Dict": "builtins.dict",
    "typing.Set": "builtins.set",
    "typing.Type": "builtins.type",
    "typing.DefaultDict": "collections.defaultdict",
    "typing.Deque": "collections.deque",
    "typing.OrderedDict": "collections.OrderedDict",
    "typing.Counter": "collections.Counter",
    "typing.ChainMap": "collections.ChainMap",
    "collections.deque": "collections.deque",
    "collections.defaultdict": "collections.defaultdict",
    "collections.OrderedDict": "collections.OrderedDict",
    "collections.Counter": "collections.Counter",
    "collections.ChainMap": "collections.ChainMap",
}
for _abstract in (
    "Sequence",
    "MutableSequence",
    "Mapping",
    "MutableMapping",
    "Set",
    "MutableSet",
    "AbstractSet",
    "Iterable",
    "Iterator",
    "Collection",
    "Container",
    "Reversible",
    "Generator",
    "AsyncIterable",
    "AsyncIterator",
    "AsyncGenerator",
    "KeysView",
    "ValuesView",
    "ItemsView",
    "MappingView",
):
    _MUTABLE.setdefault(f"typing.{_abstract}", f"typing.{_abstract}")
    _MUTABLE.setdefault(f"collections.abc.{_abstract}", f"typing.{_abstract}")

_CONTAINERS = {
    "builtins.tuple": "builtins.tuple",
    "builtins.frozenset": "builtins.frozenset",
    "typing.Tuple": "builtins.tuple",
    "typing.FrozenSet": "builtins.frozenset",
}
_CALLABLES = frozenset({"typing.Callable", "collections.abc.Callable"})
_UNIONS = frozenset({"typing.Union", "typing_extensions.Union"})
_OPTIONALS = frozenset({"typing.Optional", "typing_extensions.Optional"})
_LITERALS = frozenset({"typing.Literal", "typing_extensions.Literal"})
_TRANSPARENT = frozenset(
    {
        "typing.ClassVar",
        "typing.Final",
        "typing_extensions.Final",
        "typing.Annotated",
        "typing_extensions.Annotated",
        "typing.Required",
        "typing.NotRequired",
        "typing_extensions.Required",
        "typing_extensions.NotRequired",
        "typing.ReadOnly",
        "typing_extensions.ReadOnly",
    }
)
_ANY = frozenset({"typing.Any", "typing_extensions.Any"})
_STDLIB = frozenset(sys.stdlib_module_names)
# Standard modules of typing constructs, not classes of values: left unknown.
_STDLIB_TYPING = frozenset({"typing", "typing_extensions", "abc", "collections.abc", "dataclasses"})
_ENUM_CLASSES = frozenset(
    {"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag"}
)
# Standard names that type checkers know by another name (typeshed aliases): the mypy
# plugin's messages show that one.
_STDLIB_SPELLING = {"threading.Lock": "_thread.LockType", "weakref.ref": "weakref.ReferenceType"}
_CAPSYS_WRAPPERS = {
    "Iso": ShapeKind.ISO,
    "Val": ShapeKind.VAL,
    "Ref": ShapeKind.REF,
    "Tag": ShapeKind.TAG,
}


def _subscript_args(node: cst.Subscript) -> list[cst.BaseExpression]:
    args: list[cst.BaseExpression] = []
    for element in node.slice:
        if isinstance(element.slice, cst.Index):
            args.append(element.slice.value)
    return args


def string_value(node: cst.BaseExpression) -> str | None:
    if not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return None
    try:
        value: object = node.evaluated_value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def parse_annotation(text: str) -> cst.BaseExpression | None:
    try:
        return cst.parse_expression(text.strip())
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None


# Annotations in a class body that declare no instance field: class variables, and a
# dataclass's keyword-only marker and init-only pseudo-fields.
_NOT_FIELDS = frozenset(
    {"typing.ClassVar", "typing_extensions.ClassVar", "dataclasses.KW_ONLY", "dataclasses.InitVar"}
)


class ShapeBuilder:
    """Translates annotations written in the modules of one project into ``Shape``s."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._resolvers: dict[str, NameResolver | None] = {}

    def _resolver_of(self, module: str) -> NameResolver | None:
        if module not in self._resolvers:
            summary = self.index.module(module)
            self._resolvers[module] = NameResolver(summary) if summary is not None else None
        return self._resolvers[module]

    def shape(self, expr: cst.BaseExpression, resolver: NameResolver, _depth: int = 0) -> Shape:
        """The ``Shape`` of the annotation ``expr`` written where ``resolver`` resolves."""
        if _depth > 40:
            return ANY_SHAPE
        text = string_value(expr)
        if text is not None:
            parsed = parse_annotation(text)
            return ANY_SHAPE if parsed is None else self.shape(parsed, resolver, _depth + 1)
        if isinstance(expr, cst.Name) and expr.value == "None":
            return Shape(ShapeKind.NONE)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
            items = (
                self.shape(expr.left, resolver, _depth + 1),
                self.shape(expr.right, resolver, _depth + 1),
            )
            flat = tuple(
                i
                for item in items
                for i in (item.args if item.kind is ShapeKind.UNION else (item,))
            )
            return Shape(ShapeKind.UNION, "", flat)
        if isinstance(expr, cst.Subscript):
            return self._generic(expr, resolver, _depth)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            return self._named(resolver.qualified(expr), (), resolver, _depth)
        return ANY_SHAPE

    def _generic(self, expr: cst.Subscript, resolver: NameResolver, depth: int) -> Shape:
        qualified = resolver.qualified(expr.value)
        raw_args = _subscript_args(expr)
        if qualified in _LITERALS:
            return Shape(ShapeKind.LITERAL, "Literal[...]")
        if qualified in _TRANSPARENT:
            return self.shape(raw_args[0], resolver, depth + 1) if raw_args else ANY_SHAPE
        if qualified in _CALLABLES:
            return Shape(ShapeKind.CALLABLE, "Callable")
        if qualified in _OPTIONALS and raw_args:
            return Shape(
                ShapeKind.UNION,
                "",
                (self.shape(raw_args[0], resolver, depth + 1), Shape(ShapeKind.NONE)),
            )
        if qualified in _UNIONS:
            return Shape(
                ShapeKind.UNION, "", tuple(self.shape(a, resolver, depth + 1) for a in raw_args)
            )
        container = _CONTAINERS.get(qualified or "")
        if container == "builtins.tuple":
            if (
                len(raw_args) == 1
                and isinstance(raw_args[0], cst.Tuple)
                and not raw_args[0].elements
            ):
                return Shape(ShapeKind.LITERAL, "tuple[()]")
            items = tuple(
                self.shape(a, resolver, depth + 1)
                for a in raw_args
                if not isinstance(a, cst.Ellipsis)
            )
            variadic = any(isinstance(a, cst.Ellipsis) for a in raw_args)
            return Shape(ShapeKind.CLASS, container, items, variadic=variadic)
        args = tuple(self.shape(a, resolver, depth + 1) for a in raw_args)
        return self._named(qualified, args, resolver, depth)

    def _named(
        self, qualified: str | None, args: tuple[Shape, ...], resolver: NameResolver, depth: int
    ) -> Shape:
        if qualified is None or qualified in _ANY:
            return ANY_SHAPE
        if qualified == "builtins.None":
            return Shape(ShapeKind.NONE)
        root = qualified.split(".", 1)[0]
        if root in ("capsys", "runtime"):
            short = qualified.rsplit(".", 1)[-1]
            wrapper = _CAPSYS_WRAPPERS.get(short)
            if wrapper is not None:
                return Shape(wrapper, short, args)
            if short == "Agent":
                return Shape(ShapeKind.CLASS, _AGENT_BASE, (), frozenset({_AGENT_BASE}))
            return ANY_SHAPE
        if qualified in _CALLABLES:
            return Shape(ShapeKind.CALLABLE, "Callable")
        container = _CONTAINERS.get(qualified)
        if container is not None:
            return Shape(ShapeKind.CLASS, container, args)
        if qualified in STATIC_KINDS:
            return Shape(ShapeKind.CLASS, qualified, args)
        mutable = _MUTABLE.get(qualified)
        if mutable is not None:
            return Shape(ShapeKind.CLASS, mutable, args)
        named = self._type_name(qualified, args, resolver, depth)
        if named is not None:
            return named
        shape = self._project_class(qualified, args, depth)
        if shape.kind is ShapeKind.ANY:
            return self._stdlib_class(qualified, args) or shape
        return shape

    def _type_name(
        self, qualified: str, args: tuple[Shape, ...], resolver: NameResolver, depth: int
    ) -> Shape | None:
        """A module-level type alias (or ``NewType``) of the project: the type it stands
        for; a ``TypeVar``: its bound or constraints (an unbounded one admits anything,
        mutable values too). None when ``qualified`` is neither."""
        found = self.index.type_name(qualified)
        if found is None:
            return None
        summary, alias, bounds = found
        if args:
            return ANY_SHAPE  # a generic alias given arguments: no substitution here
        here = resolver if resolver.summary is summary else self._resolver_of(summary.name)
        if here is None:
            return ANY_SHAPE
        if alias is not None:
            return self.shape(alias, here, depth + 1)
        name = qualified.rsplit(".", 1)[-1]
        return Shape(ShapeKind.TYPEVAR, name, tuple(self.shape(b, here, depth + 1) for b in bounds))

    def _stdlib_class(self, qualified: str, args: tuple[Shape, ...]) -> Shape | None:
        """A standard-library class the sendability table does not list (``io.StringIO``,
        ``threading.Lock``, ``queue.Queue``...): not sendable, as the mypy plugin and the
        run-time check say. None for anything else: a third-party class stays unknown,
        and so do the typing constructs (``typing``, ``collections.abc``, ``dataclasses``
        pseudo-fields) the table does not describe."""
        module, _, name = qualified.rpartition(".")
        root = module.split(".", 1)[0]
        if root not in _STDLIB or module in _STDLIB_TYPING or root in _STDLIB_TYPING:
            return None
        if module == "builtins" and not isinstance(getattr(builtins, name, None), type):
            return None
        if self.index.module(module) is not None:
            return None  # a project module named like a standard one
        if module == "enum":
            if qualified not in _ENUM_CLASSES:
                return None
            return Shape(ShapeKind.CLASS, qualified, args, frozenset({"enum.Enum"}))
        return Shape(ShapeKind.CLASS, _STDLIB_SPELLING.get(qualified, qualified), args)

    def _project_class(self, qualified: str, args: tuple[Shape, ...], depth: int) -> Shape:
        index = self.index
        kind = index.class_kind(qualified)
        if kind is ClassKind.UNKNOWN:
            return ANY_SHAPE
        if kind is ClassKind.AGENT:
            return Shape(ShapeKind.CLASS, qualified, args, frozenset({_AGENT_BASE}))
        if kind is ClassKind.ENUM:
            return Shape(ShapeKind.CLASS, qualified, args, frozenset({"enum.Enum"}))
        if kind is ClassKind.MUTABLE_RECORD:
            return Shape(ShapeKind.CLASS, qualified, args, mutable_record=True)
        if kind in (ClassKind.PLAIN, ClassKind.TYPED_DICT):
            return Shape(ShapeKind.CLASS, qualified, args)
        cls = index.lookup_class(qualified)
        if cls is None:
            return ANY_SHAPE

        return self.record(cls, args, depth)

    def record(self, cls: ClassSummary, args: tuple[Shape, ...], depth: int = 0) -> Shape:
        """The shape of the record class ``cls`` given ``args`` (its fields built lazily)."""

        def fields(cls: ClassSummary = cls) -> Iterator[tuple[str, Shape]]:
            yield from self.field_shapes(cls, depth + 1, args)

        return Shape(ShapeKind.CLASS, cls.qualname, args, fields=fields)

    def field_shapes(
        self, cls: ClassSummary, depth: int = 0, args: tuple[Shape, ...] = ()
    ) -> Iterator[tuple[str, Shape]]:
        """The fields of a record class with their shapes (ClassVar fields excluded).

        A generic record's type parameters are replaced by ``args`` (``Box[int]``: its
        ``item: T`` is an int, as the mypy plugin says); left out (``Box``, the type of
        ``Box(1)``), each is unknown: the value decides, as at run time."""
        resolver = self._resolver_of(cls.module)
        params = cls.type_params
        given = dict(zip(params, args, strict=False)) if len(args) == len(params) else {}
        table = {name: given.get(name, ANY_SHAPE) for name in params}
        for name, shape in self._raw_field_shapes(cls, resolver, depth):
            yield name, substitute(shape, table) if table else shape

    def _raw_field_shapes(
        self, cls: ClassSummary, resolver: NameResolver | None, depth: int
    ) -> Iterator[tuple[str, Shape]]:
        for name, annotation in cls.fields:
            if resolver is None:
                yield name, ANY_SHAPE
                continue
            head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
            if resolver.qualified(head) in _NOT_FIELDS:
                continue
            yield name, self.shape(annotation, resolver, depth)


def problem_of(shape: Shape, *, immutable: bool = False) -> Problem | None:
    """``static_problem`` minus the Any/unknown cases, which the linter never reports
    (and minus a mutable ``Val[T]``: CAP004 reports it where it is written)."""
    problem = static_problem(shape, immutable=immutable, vals_reported=True)
    if problem is None or problem.is_any:
        return None
    return problem
