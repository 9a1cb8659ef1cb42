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

from collections.abc import Callable, Iterator, Sequence

import libcst as cst

from capsys.lint.index import (
    ABSTRACT_COLLECTIONS,
    ClassKind,
    ClassSummary,
    NameResolver,
    ProjectIndex,
)
from capsys.lint.walk import walk
from capsys.sendable import (
    ANY_SHAPE,
    CAPSYS_NAMES,
    STATIC_KINDS,
    Problem,
    Shape,
    ShapeKind,
    accepted,
    static_problem,
    substitute,
)

__all__ = [
    "ShapeBuilder",
    "atom_shape",
    "display_type",
    "join_items",
    "literal_item",
    "parse_annotation",
    "problem_of",
    "same_type",
    "string_value",
]

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
for _abstract in ABSTRACT_COLLECTIONS:
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
        self._expanding: set[str] = set()  # the aliases being expanded (recursion guard)

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
        name = qualified.rsplit(".", 1)[-1]
        if alias is not None:
            if qualified in self._expanding:  # a recursive alias, as the mypy plugin does
                return accepted(name)
            self._expanding.add(qualified)
            try:
                return self.shape(alias, here, depth + 1)
            finally:
                self._expanding.discard(qualified)
        return Shape(ShapeKind.TYPEVAR, name, tuple(self.shape(b, here, depth + 1) for b in bounds))

    def _stdlib_class(self, qualified: str, args: tuple[Shape, ...]) -> Shape | None:
        """A standard-library class the sendability table does not list (``io.StringIO``,
        ``threading.Lock``, ``queue.Queue``...): not sendable, as the mypy plugin and the
        run-time check say. None for anything else: a third-party class stays unknown,
        and so do the typing constructs (``typing``, ``collections.abc``, ``dataclasses``
        pseudo-fields) the table does not describe."""
        if not self.index.standard_class(qualified):
            return None  # not standard, a typing construct, or a project module's name
        if qualified.startswith("enum."):
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
        if kind is ClassKind.TYPED_DICT:  # the dict it is, as mypy (and its plugin) says
            return Shape(ShapeKind.CLASS, "builtins.dict")
        if kind is ClassKind.PLAIN:
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

        Inherited fields come first, from the dataclass and ``@message`` bases of the
        project in reverse method resolution order, as the dataclass transform (and the
        mypy plugin) collects them: a redeclared field keeps its place and takes its
        latest type. A generic record's type parameters are replaced by ``args``
        (``Box[int]``: its ``item: T`` is an int, as the mypy plugin says); left out
        (``Box``, the type of ``Box(1)``), each is unknown: the value decides, as at run
        time. A base's parameters are always unknown (its arguments are not recorded)."""
        found: dict[str, Shape] = {}
        for base in self._record_bases(cls, set()):
            for name, shape in self._own_field_shapes(base, depth, ()):
                found[name] = shape
        found.update(self._own_field_shapes(cls, depth, args))
        yield from found.items()

    def shape_in(self, module: str, annotation: cst.BaseExpression) -> Shape:
        """The ``Shape`` of an annotation written in the project module ``module``."""
        resolver = self._resolver_of(module)
        return ANY_SHAPE if resolver is None else self.shape(annotation, resolver)

    def typed_dict_keys(self, qualified: str) -> Iterator[tuple[str, Shape]]:
        """The keys of the project TypedDict ``qualified`` with their value shapes, those
        of its TypedDict bases first (a redeclared key takes its latest type)."""
        found: dict[str, Shape] = {}
        for cls in self._typed_dict_bases(qualified, set()):
            found.update(self._own_field_shapes(cls, 0, ()))
        yield from found.items()

    def _typed_dict_bases(self, qualified: str, seen: set[str]) -> Iterator[ClassSummary]:
        """``qualified`` and the project TypedDicts it derives from, most basic first."""
        resolved = self.index.resolve_export(qualified)
        cls = self.index.lookup_class(resolved)
        if cls is None or resolved in seen:
            return
        seen.add(resolved)
        for base in reversed(cls.bases):
            if base is not None and self.index.class_kind(base) is ClassKind.TYPED_DICT:
                yield from self._typed_dict_bases(base, seen)
        yield cls

    def _record_bases(self, cls: ClassSummary, seen: set[str]) -> Iterator[ClassSummary]:
        """The project's dataclass and ``@message`` classes ``cls`` derives from, most
        basic first (each once)."""
        for qualified in reversed(cls.bases):
            if qualified is None:
                continue
            resolved = self.index.resolve_export(qualified)
            base = self.index.lookup_class(resolved)
            if base is None or resolved in seen:
                continue
            seen.add(resolved)
            yield from self._record_bases(base, seen)
            if base.dataclass_frozen is not None or (
                self.index.class_kind(resolved) is ClassKind.MESSAGE
            ):
                yield base

    def _own_field_shapes(
        self, cls: ClassSummary, depth: int, args: tuple[Shape, ...]
    ) -> Iterator[tuple[str, Shape]]:
        """The fields declared in the body of ``cls``, its type parameters bound to
        ``args`` (or unknown)."""
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


# --------------------------------------------------------------------------------------
# Literals and displays: the types mypy infers for them without a type context.
# --------------------------------------------------------------------------------------

_ATOMS: dict[type[cst.CSTNode], str] = {
    cst.Integer: "builtins.int",
    cst.Float: "builtins.float",
    cst.Imaginary: "builtins.complex",
    cst.FormattedString: "builtins.str",
}
_BOOLS = frozenset({"True", "False"})


def atom_shape(expr: cst.BaseExpression) -> Shape | None:
    """The type of a number, string, bytes, ``True``/``False`` or ``None`` literal."""
    while isinstance(expr, cst.ConcatenatedString):  # "a" "b": typed by its parts
        expr = expr.left
    atom = _ATOMS.get(type(expr))
    if atom is not None:
        return Shape(ShapeKind.CLASS, atom)
    if isinstance(expr, cst.SimpleString):
        bytes_ = "b" in expr.prefix.lower()
        return Shape(ShapeKind.CLASS, "builtins.bytes" if bytes_ else "builtins.str")
    if isinstance(expr, cst.Name) and expr.value in _BOOLS:
        return Shape(ShapeKind.CLASS, "builtins.bool")
    if isinstance(expr, cst.Name) and expr.value == "None":
        return Shape(ShapeKind.NONE)
    return None


# bool < int < float < complex: mypy joins mixed numbers to the widest (a promotion).
_NUMBERS = ("builtins.bool", "builtins.int", "builtins.float", "builtins.complex")


def same_type(a: Shape, b: Shape) -> bool:
    """One type (two record shapes of one class differ only by their field thunks)."""
    return (
        a.kind is b.kind
        and a.name == b.name
        and a.variadic == b.variadic
        and len(a.args) == len(b.args)
        and all(same_type(x, y) for x, y in zip(a.args, b.args, strict=True))
    )


def join_items(items: Sequence[Shape]) -> Shape | None:
    """The item type mypy infers for a display of items of these types: their one type,
    the widest of mixed numbers (``[True, 1]`` is ``list[int]``, ``[1, 2.0]``
    ``list[float]``), ``X | None`` when some are None. None for any other mix, which
    mypy joins to a common base class (``object``...) that this does not compute."""
    present = [i for i in items if i.kind is not ShapeKind.NONE]
    if not present:
        return Shape(ShapeKind.NONE)
    first = present[0]
    if all(same_type(first, i) for i in present[1:]):
        joined = first
    elif all(i.kind is ShapeKind.CLASS and i.name in _NUMBERS and not i.args for i in present):
        joined = Shape(ShapeKind.CLASS, max((i.name for i in present), key=_NUMBERS.index))
    else:
        return None
    if len(present) == len(items):
        return joined
    if joined.kind is ShapeKind.UNION:
        return None
    return Shape(ShapeKind.UNION, "", (joined, Shape(ShapeKind.NONE)))


Item = Callable[[cst.BaseExpression], Shape | None]


def _joined(exprs: Sequence[cst.BaseExpression], item: Item) -> Shape | None:
    shapes = [item(e) for e in exprs]
    if any(s is None for s in shapes):
        return None
    return join_items([s for s in shapes if s is not None])


def _names_free(expr: cst.BaseExpression) -> bool:
    """No name but ``True``/``False``/``None`` in ``expr`` (a comprehension's element may
    name its own targets, which shadow the function's locals)."""
    return all(
        not isinstance(n, cst.Name) or n.value in _BOOLS or n.value == "None" for n in walk(expr)
    )


def display_type(expr: cst.BaseExpression, item: Item) -> Shape | None:
    """The type of a list/set/dict display or comprehension with its item types
    (``list[str]`` for ``["a"]``), as mypy infers it without a type context; ``item``
    gives the evident type of one item. None when some item's type is not evident, the
    display is empty or unpacks (``*xs``, ``**m``), or its items need a join that
    ``join_items`` does not compute: then the item types are left unsaid."""
    if isinstance(expr, (cst.List, cst.Set)):
        elements = expr.elements
        if not elements or any(isinstance(e, cst.StarredElement) for e in elements):
            return None
        joined = _joined([e.value for e in elements], item)
        name = "builtins.list" if isinstance(expr, cst.List) else "builtins.set"
        return Shape(ShapeKind.CLASS, name, (joined,)) if joined is not None else None
    if isinstance(expr, cst.Dict):
        pairs = [e for e in expr.elements if isinstance(e, cst.DictElement)]
        if not pairs or len(pairs) != len(expr.elements):
            return None
        keys = _joined([e.key for e in pairs], item)
        values = _joined([e.value for e in pairs], item)
        if keys is None or values is None:
            return None
        return Shape(ShapeKind.CLASS, "builtins.dict", (keys, values))
    if isinstance(expr, (cst.ListComp, cst.SetComp)) and _names_free(expr.elt):
        elt = item(expr.elt)
        name = "builtins.list" if isinstance(expr, cst.ListComp) else "builtins.set"
        return Shape(ShapeKind.CLASS, name, (elt,)) if elt is not None else None
    if isinstance(expr, cst.DictComp) and _names_free(expr.key) and _names_free(expr.value):
        key, value = item(expr.key), item(expr.value)
        if key is None or value is None:
            return None
        return Shape(ShapeKind.CLASS, "builtins.dict", (key, value))
    return None


def literal_item(expr: cst.BaseExpression) -> Shape | None:
    """The evident type of a literal: an atom, or a display or non-empty tuple display
    of literals (``[(1, "a")]`` is ``list[tuple[int, str]]``)."""
    atom = atom_shape(expr)
    if atom is not None:
        return atom
    if isinstance(expr, cst.Tuple):
        elements = expr.elements
        if not elements or any(isinstance(e, cst.StarredElement) for e in elements):
            return None
        items = [literal_item(e.value) for e in elements]
        if any(i is None for i in items):
            return None
        return Shape(ShapeKind.CLASS, "builtins.tuple", tuple(i for i in items if i is not None))
    return display_type(expr, literal_item)
