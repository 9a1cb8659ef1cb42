"""The project index: what each module imports and which classes it defines.

Rules must know whether a name, as written in one module, is an agent class, a
``@message`` class, a frozen record, an enum... also when the class lives in another
file of the checked project, or inherits from one that does. The index answers that
without importing anything: each module is summarised once (top-level imports, classes,
module-level mutable globals) from its libcst tree, and other modules are loaded lazily,
only when a name actually leads to them. Every file consulted is recorded so the cache
can invalidate a result when a dependency changes.
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import libcst as cst

from capsys.sendable import CAPSYS_NAMES

__all__ = [
    "ABSTRACT_COLLECTIONS",
    "CAPSYS_ROOTS",
    "ClassKind",
    "ClassSummary",
    "ModuleSummary",
    "NameResolver",
    "NestedClasses",
    "ProjectIndex",
    "class_summary",
    "dotted_name",
    "mutable_kind",
    "module_name_for",
    "resolve_relative",
    "summarize",
    "summarize_nested",
    "top_level",
]

CAPSYS_ROOTS = frozenset({"capsys", "runtime"})
_BUILTINS = frozenset(dir(builtins))
# Public names a `from capsys import *` / `from runtime import *` may bring in.
_STAR_NAMES = frozenset(CAPSYS_NAMES) | {
    "Runtime",
    "run",
    "channel",
    "quorum",
    "broadcast",
    "shard",
    "LeaseManager",
}
# The abstract collection types of ``typing`` and ``collections.abc``.
ABSTRACT_COLLECTIONS = (
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
    "Hashable",
    "Sized",
    "Awaitable",
    "Coroutine",
)
_STDLIB = frozenset(sys.stdlib_module_names)
# Standard modules of typing constructs, not classes of values: a name there is only
# known when listed.
_STDLIB_TYPING = frozenset({"typing", "typing_extensions", "abc", "collections.abc", "dataclasses"})
# Classes of those modules that, as a base, make an ordinary class (as for mypy: the
# abstract collections, ``typing``'s aliases of the containers, ``abc.ABC``).
_TYPING_BASES = frozenset(
    {
        "abc.ABC",
        *(f"{m}.{n}" for m in ("typing", "collections.abc") for n in ABSTRACT_COLLECTIONS),
        *(
            f"typing.{n}"
            for n in (
                "List", "Dict", "Set", "FrozenSet", "Tuple", "DefaultDict", "Deque",
                "OrderedDict", "Counter", "ChainMap",
            )
        ),
    }
)  # fmt: skip
_MUTABLE_CONSTRUCTORS = frozenset(
    {
        "builtins.list",
        "builtins.dict",
        "builtins.set",
        "builtins.bytearray",
        "collections.deque",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
        "collections.ChainMap",
    }
)
# Other standard classes whose instances are evidently mutable state (not containers
# that the linter's other rules describe).
_MUTABLE_OBJECTS = frozenset({"array.array"})


def dotted_name(expr: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if not isinstance(expr, cst.Name):
        return None
    parts.append(expr.value)
    return ".".join(reversed(parts))


def resolve_relative(module: str, is_package: bool, level: int, target: str) -> str:
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    base = ".".join(parts)
    if target:
        return f"{base}.{target}" if base else target
    return base


def import_bindings(
    node: cst.Import | cst.ImportFrom, module: str, is_package: bool
) -> Iterator[tuple[str, str]]:
    """(local name, qualified name) pairs bound by one import statement.

    ``from m import *`` of capsys/runtime yields their public names; other star
    imports bind nothing the linter can know.
    """
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                yield alias.asname.name.value, full
            else:
                head = full.split(".", 1)[0]
                yield head, head
        return
    target = dotted_name(node.module) if node.module is not None else ""
    if target is None:
        return
    level = len(node.relative)
    source = resolve_relative(module, is_package, level, target) if level else target
    if isinstance(node.names, cst.ImportStar):
        if source.split(".", 1)[0] in CAPSYS_ROOTS:
            for name in _STAR_NAMES:
                yield name, f"{source}.{name}"
        return
    for alias in node.names:
        if not isinstance(alias.name, cst.Name):
            continue
        local = alias.name.value
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        yield local, f"{source}.{alias.name.value}" if source else alias.name.value


class ClassKind(enum.Enum):
    """What a class is, as far as the capability rules care."""

    AGENT = "agent"
    MESSAGE = "message"  # @message
    FROZEN_RECORD = "frozen-record"  # frozen dataclass or NamedTuple
    ENUM = "enum"
    MUTABLE_RECORD = "mutable-record"  # a dataclass that is not frozen
    TYPED_DICT = "typed-dict"
    PLAIN = "plain"  # an ordinary class: only known, ordinary bases, no decorators
    UNKNOWN = "unknown"  # anything the linter cannot be sure about: no finding


_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag"})
# Bases that make nothing of a class: mypy leaves Protocol out of a class's MRO.
_NEUTRAL_BASES = frozenset(
    {
        "builtins.object",
        "typing.Generic",
        "typing_extensions.Generic",
        "typing.Protocol",
        "typing_extensions.Protocol",
    }
)
_NAMEDTUPLE_BASES = frozenset({"typing.NamedTuple", "typing_extensions.NamedTuple"})
_TYPED_DICT_BASES = frozenset({"typing.TypedDict", "typing_extensions.TypedDict"})
# Subclasses of built-in classes are ordinary classes: of a value type (``str``,
# ``tuple``...) because they take attributes of their own, of a container (``list``,
# ``dict``...) or ``Exception`` because they are mutable. The run-time check refuses
# them, and so do both checkers. (``object`` is neutral; ``type`` makes metaclasses.)
_BUILTIN_CLASSES = tuple(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and name not in ("object", "type")
)
_EXTERNAL_KINDS = {
    **dict.fromkeys((f"builtins.{name}" for name in _BUILTIN_CLASSES), ClassKind.PLAIN),
    **dict.fromkeys(_ENUM_BASES, ClassKind.ENUM),
    "typing.NamedTuple": ClassKind.FROZEN_RECORD,
    "typing_extensions.NamedTuple": ClassKind.FROZEN_RECORD,
    "typing.TypedDict": ClassKind.TYPED_DICT,
    "typing_extensions.TypedDict": ClassKind.TYPED_DICT,
}


_WRITABLE = frozenset({ClassKind.PLAIN, ClassKind.MUTABLE_RECORD, ClassKind.TYPED_DICT})


@dataclass(frozen=True)
class ClassSummary:
    """A top-level class as written: resolved bases and decorators, annotated fields."""

    name: str
    module: str
    bases: tuple[str | None, ...]  # qualified names; None for an expression we cannot name
    decorators: tuple[str | None, ...]
    dataclass_frozen: bool | None  # None: not a @dataclass; else its frozen= flag
    fields: tuple[tuple[str, cst.BaseExpression], ...]  # (name, annotation) of annotated fields
    defines_setattr: bool = False
    behaviours: tuple[cst.FunctionDef, ...] = ()  # the @behaviour methods
    # The names of a generic class's type parameters, in order (``Generic[T, U]``, or the
    # type variables of its subscripted bases in first-seen order, or ``class C[T]``).
    type_params: tuple[str, ...] = ()
    init: cst.FunctionDef | None = None  # its own __init__

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class ModuleSummary:
    """One module's top level: the import map, defined names, classes, mutable globals."""

    name: str
    is_package: bool
    imports: dict[str, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)  # names bound at the top level
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    mutable_globals: set[str] = field(default_factory=set)  # containers and `global` names
    container_globals: dict[str, str] = field(default_factory=dict)  # name -> container class
    # Names bound to a call of a class (maybe the project's, judged when asked): its
    # qualified name.
    instance_globals: dict[str, str] = field(default_factory=dict)
    # Module-level type aliases (``Names = list[str]``, ``Names: TypeAlias = ...``,
    # ``type Names = ...``, ``NewType("Bag", list[int])``): name -> the type they stand for.
    type_aliases: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # Module-level ``TypeVar``s: name -> their bound (one item) or constraints (none:
    # unbounded).
    type_vars: dict[str, tuple[cst.BaseExpression, ...]] = field(default_factory=dict)


def standard_name(qualified: str) -> bool:
    """Whether ``qualified`` names, by its module, what may be a class of the standard
    library: in no module of typing constructs (``typing``, ``abc``, ``dataclasses``...),
    and a class when it is a builtin."""
    module, _, name = qualified.rpartition(".")
    root = module.split(".", 1)[0]
    if root not in _STDLIB or module in _STDLIB_TYPING or root in _STDLIB_TYPING:
        return False
    return module != "builtins" or isinstance(getattr(builtins, name, None), type)


def capsys_public_name(qualified: str | None) -> str | None:
    """``"iso"`` for ``capsys.iso`` / ``capsys.capabilities.iso`` / ``runtime.x.iso``."""
    if qualified is None:
        return None
    root, _, rest = qualified.partition(".")
    if root not in CAPSYS_ROOTS or not rest:
        return None
    return rest.rsplit(".", 1)[-1]


class NameResolver:
    """Resolves names as written in one module to qualified names, without running code.

    Handles ``import capsys as c`` (``c.iso``), ``from capsys import iso as i``,
    ``from capsys.capabilities import iso``, relative imports, names defined in the
    module itself (``pkg.mod.Name``) and builtins that the module does not rebind.
    """

    def __init__(
        self,
        summary: ModuleSummary,
        shadowed: frozenset[str] = frozenset(),
        nested: Mapping[str, str] | None = None,
    ) -> None:
        self.summary = summary
        self.imports = summary.imports
        self._shadowed = shadowed  # names bound somewhere in the module (not builtins)
        self._nested = nested or {}  # classes defined in functions: name -> qualified

    def qualified(self, expr: cst.BaseExpression) -> str | None:
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.imports.get(head)
        if base is None:
            if head in self.summary.defined:
                base = f"{self.summary.name}.{head}" if self.summary.name else head
            elif head in self._nested:
                base = self._nested[head]
            elif head in _BUILTINS and head not in self._shadowed:
                base = f"builtins.{head}"
            else:
                return None
        return f"{base}.{rest}" if rest else base

    def capsys_name(self, expr: cst.BaseExpression) -> str | None:
        """The public capsys/runtime name ``expr`` refers to (``"iso"``, ``"Tag"``...)."""
        return capsys_public_name(self.qualified(expr))


def mutable_kind(expr: cst.BaseExpression, resolver: NameResolver) -> str | None:
    """The container class of a list/dict/set display or comprehension, or of a call to a
    mutable container type (``builtins.list``...); None for anything else."""
    if isinstance(expr, (cst.List, cst.ListComp)):
        return "builtins.list"
    if isinstance(expr, (cst.Dict, cst.DictComp)):
        return "builtins.dict"
    if isinstance(expr, (cst.Set, cst.SetComp)):
        return "builtins.set"
    if isinstance(expr, cst.Call):
        qualified = resolver.qualified(expr.func)
        return qualified if qualified in _MUTABLE_CONSTRUCTORS else None
    return None


def top_level(body: Sequence[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Top-level statements, looking into ``if``/``try`` blocks (TYPE_CHECKING, fallbacks)."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body
        elif isinstance(stmt, cst.If):
            yield from top_level(stmt.body.body)
            orelse = stmt.orelse
            while orelse is not None:
                yield from top_level(orelse.body.body)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        elif isinstance(stmt, cst.Try):
            yield from top_level(stmt.body.body)
            for handler in stmt.handlers:
                yield from top_level(handler.body.body)
        else:
            yield stmt


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _decorator_info(
    node: cst.ClassDef, resolver: NameResolver
) -> tuple[tuple[str | None, ...], bool | None]:
    names: list[str | None] = []
    frozen: bool | None = None
    for deco in node.decorators:
        expr = deco.decorator
        call_args: Sequence[cst.Arg] = ()
        if isinstance(expr, cst.Call):
            call_args = expr.args
            expr = expr.func
        qualified = resolver.qualified(expr)
        names.append(qualified)
        if qualified == "dataclasses.dataclass":
            frozen = False
            for arg in call_args:
                if arg.keyword is not None and arg.keyword.value == "frozen":
                    frozen = isinstance(arg.value, cst.Name) and arg.value.value == "True"
    return tuple(names), frozen


def class_summary(node: cst.ClassDef, module: str, resolver: NameResolver) -> ClassSummary:
    # A generic base (``Generic[T]``, ``tuple[int, int]``) counts as its origin class.
    bases = tuple(
        resolver.qualified(arg.value.value if isinstance(arg.value, cst.Subscript) else arg.value)
        for arg in node.bases
    )
    decorators, frozen = _decorator_info(node, resolver)
    fields: list[tuple[str, cst.BaseExpression]] = []
    behaviours: list[cst.FunctionDef] = []
    init: cst.FunctionDef | None = None
    defines_setattr = False
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in top_level(body):
        if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
            fields.append((stmt.target.value, stmt.annotation.annotation))
        elif isinstance(stmt, cst.FunctionDef):
            if stmt.name.value in ("__setattr__", "__delattr__"):
                defines_setattr = True
            if stmt.name.value == "__init__":
                init = stmt
            if any(resolver.capsys_name(d.decorator) == "behaviour" for d in stmt.decorators):
                behaviours.append(stmt)
    return ClassSummary(
        node.name.value,
        module,
        bases,
        decorators,
        frozen,
        tuple(fields),
        defines_setattr,
        tuple(behaviours),
        _type_params(node, resolver),
        init,
    )


_GENERIC = frozenset({"typing.Generic", "typing_extensions.Generic"})


def _type_params(node: cst.ClassDef, resolver: NameResolver) -> tuple[str, ...]:
    """The type parameter names of ``node``: ``class C[T]``, ``Generic[T, U]`` as written,
    else every bare name given to a subscripted base, in first-seen order (the type
    rules of ``typing``; a name that is not a type variable is filtered out later, as it
    never matches one)."""
    if node.type_parameters is not None:
        return tuple(p.param.name.value for p in node.type_parameters.params)
    seen: list[str] = []
    for arg in node.bases:
        value = arg.value
        if arg.keyword is not None or not isinstance(value, cst.Subscript):
            continue
        names = [
            e.slice.value.value
            for e in value.slice
            if isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.Name)
        ]
        if resolver.qualified(value.value) in _GENERIC:
            return tuple(names)
        seen.extend(n for n in names if n not in seen)
    return tuple(seen)


def summarize(
    module: cst.Module,
    name: str,
    is_package: bool = False,
    extra_imports: Sequence[cst.Import | cst.ImportFrom] = (),
    global_names: Sequence[str] = (),
) -> ModuleSummary:
    """Summarise a module from its top-level statements (one pass, no full walk).

    ``extra_imports`` (imports nested in functions) and ``global_names`` (names
    declared ``global``) come from the caller's full walk when it has one.
    """
    summary = ModuleSummary(name, is_package)
    resolver = NameResolver(summary)
    statements = list(top_level(module.body))
    for stmt in (*statements, *extra_imports):
        if isinstance(stmt, (cst.Import, cst.ImportFrom)):
            summary.imports.update(import_bindings(stmt, name, is_package))
    for stmt in statements:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef, cst.TypeAlias)):
            summary.defined.add(stmt.name.value)
        elif isinstance(stmt, cst.Assign):
            for target in stmt.targets:
                summary.defined.update(_target_names(target.target))
        elif isinstance(stmt, cst.AnnAssign):
            summary.defined.update(_target_names(stmt.target))
    for local in summary.defined:
        summary.imports.pop(local, None)
    for stmt in statements:
        if isinstance(stmt, cst.ClassDef):
            summary.classes[stmt.name.value] = class_summary(stmt, name, resolver)
        elif isinstance(stmt, cst.Assign):
            targets = [t.target for t in stmt.targets]
            _global_value(summary, targets, stmt.value, resolver)
            made = _functional_class(stmt, name, resolver)
            if made is not None:
                summary.classes[made.name] = made
        elif isinstance(stmt, cst.AnnAssign) and stmt.value is not None:
            _global_value(summary, [stmt.target], stmt.value, resolver)
    summary.mutable_globals.update(summary.container_globals, global_names)
    _collect_type_names(summary, statements, resolver)
    return summary


def _global_value(
    summary: ModuleSummary,
    targets: Sequence[cst.BaseExpression],
    value: cst.BaseExpression,
    resolver: NameResolver,
) -> None:
    """Record what a module-level assignment binds its names to: a container display or
    constructor (``container_globals``), another evidently mutable object (an
    ``array``, a subscripted constructor such as ``deque[int]()``: ``mutable_globals``),
    or an instance of a class that may be the project's (``instance_globals``)."""
    names = [name for target in targets for name in _target_names(target)]
    kind = mutable_kind(value, resolver)
    if kind is not None:
        summary.container_globals.update(dict.fromkeys(names, kind))
        return
    if not isinstance(value, cst.Call):
        return
    func = value.func.value if isinstance(value.func, cst.Subscript) else value.func
    made = resolver.qualified(func)
    if made in _MUTABLE_CONSTRUCTORS or made in _MUTABLE_OBJECTS:
        summary.mutable_globals.update(names)
    elif made is not None:
        summary.instance_globals.update(dict.fromkeys(names, made))


def _functional_class(stmt: cst.Assign, module: str, resolver: NameResolver) -> ClassSummary | None:
    """The class ``N = NamedTuple("N", [("f", T), ...])`` or ``N = TypedDict("N", {...})``
    defines, as if written as a class statement (the type checkers read both forms
    alike). None for anything else, and for a NamedTuple whose fields are not all
    written out as (string, type) pairs: it stays unknown."""
    value = stmt.value
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0].target, cst.Name):
        return None
    if not isinstance(value, cst.Call) or any(a.star for a in value.args):
        return None
    made = resolver.qualified(value.func)
    name = stmt.targets[0].target.value
    positional = [a.value for a in value.args if a.keyword is None]
    if made in _TYPED_DICT_BASES:  # its keys, when written out as {"key": type, ...}
        keys = positional[1] if len(positional) == 2 else None
        items: list[tuple[str, cst.BaseExpression]] = []
        for entry in keys.elements if isinstance(keys, cst.Dict) else ():
            key = entry.key if isinstance(entry, cst.DictElement) else None
            text = key.evaluated_value if isinstance(key, cst.SimpleString) else None
            if not isinstance(text, str):
                items = []
                break
            items.append((text, entry.value))
        return ClassSummary(name, module, (made,), (), None, tuple(items))
    if made not in _NAMEDTUPLE_BASES or len(positional) != 2 or len(value.args) != 2:
        return None
    pairs = positional[1]
    if not isinstance(pairs, (cst.List, cst.Tuple)):
        return None
    fields: list[tuple[str, cst.BaseExpression]] = []
    for element in pairs.elements:
        pair = element.value
        if not isinstance(pair, cst.Tuple) or len(pair.elements) != 2:
            return None
        if any(isinstance(e, cst.StarredElement) for e in (element, *pair.elements)):
            return None
        field_name, annotation = (e.value for e in pair.elements)
        text = field_name.evaluated_value if isinstance(field_name, cst.SimpleString) else None
        if not isinstance(text, str):
            return None
        fields.append((text, annotation))
    return ClassSummary(name, module, (made,), (), None, tuple(fields))


_TYPE_ALIAS = frozenset({"typing.TypeAlias", "typing_extensions.TypeAlias"})
_NEW_TYPE = frozenset({"typing.NewType", "typing_extensions.NewType"})
_TYPE_VAR = frozenset({"typing.TypeVar", "typing_extensions.TypeVar"})
# What a plain ``Name = <value>`` may be to count as an alias when the name is used as a
# type: a subscripted generic, a class name, or a union of them (a string is only an
# alias when annotated ``TypeAlias``).
_ALIAS_VALUES = (cst.Subscript, cst.Name, cst.Attribute, cst.BinaryOperation)


def _collect_type_names(
    summary: ModuleSummary, statements: Sequence[cst.CSTNode], resolver: NameResolver
) -> None:
    """Fill ``type_aliases`` and ``type_vars`` from names bound once at the top level
    (a name bound twice could be either value: it stays unknown)."""
    counts: Counter[str] = Counter()
    found: dict[str, tuple[str, tuple[cst.BaseExpression, ...]]] = {}
    for stmt in statements:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            counts[stmt.name.value] += 1
        elif isinstance(stmt, cst.TypeAlias):
            counts[stmt.name.value] += 1
            if stmt.type_parameters is None:  # a generic alias would need substitution
                found[stmt.name.value] = ("alias", (stmt.value,))
        elif isinstance(stmt, cst.Assign):
            for target in stmt.targets:
                counts.update(_target_names(target.target))
            if len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name):
                name = stmt.targets[0].target.value
                value = stmt.value
                if isinstance(value, cst.Call):
                    made = _type_call(value, resolver)
                    if made is not None:
                        found[name] = made
                elif isinstance(value, _ALIAS_VALUES):
                    found[name] = ("alias", (value,))
        elif isinstance(stmt, cst.AnnAssign):
            counts.update(_target_names(stmt.target))
            if (
                isinstance(stmt.target, cst.Name)
                and stmt.value is not None
                and resolver.qualified(stmt.annotation.annotation) in _TYPE_ALIAS
            ):
                found[stmt.target.value] = ("alias", (stmt.value,))
    for name, (kind, exprs) in found.items():
        if counts[name] != 1:
            continue
        if kind == "alias":
            summary.type_aliases[name] = exprs[0]
        else:
            summary.type_vars[name] = exprs


def _type_call(
    call: cst.Call, resolver: NameResolver
) -> tuple[str, tuple[cst.BaseExpression, ...]] | None:
    """``NewType("N", T)`` -> an alias of ``T``; ``TypeVar("T", ...)`` -> its bound or
    constraints. None for any other call (or one whose arguments are not plain)."""
    if any(a.star for a in call.args):
        return None
    func = resolver.qualified(call.func)
    positional = [a.value for a in call.args if a.keyword is None]
    if func in _NEW_TYPE:
        return ("alias", (positional[1],)) if len(positional) == 2 else None
    if func not in _TYPE_VAR or not positional:
        return None
    bound = [a.value for a in call.args if a.keyword is not None and a.keyword.value == "bound"]
    return ("typevar", tuple(bound) if bound else tuple(positional[1:]))


@dataclass(frozen=True)
class NestedClasses:
    """The classes of a file defined inside functions or class bodies."""

    summary: ModuleSummary  # the pseudo-module ``<module>.<locals>`` holding them
    qualified: dict[int, str]  # id(ClassDef) -> its qualified name in the pseudo-module
    names: dict[str, str]  # bare names that resolve to one of them -> qualified name


def summarize_nested(summary: ModuleSummary, nodes: Sequence[cst.ClassDef]) -> NestedClasses:
    """Summarise classes defined in functions or class bodies as a pseudo-module.

    Tests and factories define agents and messages locally, and those are checked like
    top-level ones. The pseudo-module resolves names like the file itself; ``<locals>``
    is no identifier, so no other file can name it. A bare name refers to a local class
    only when exactly one local class has it and the module binds no such name: scopes
    are not tracked, so an ambiguous name is left unknown (no finding at its uses).
    """
    module = summary.name
    name = f"{module}.<locals>" if module else "<locals>"
    local = ModuleSummary(name, summary.is_package)
    local.imports.update(summary.imports)
    local.imports.update({d: f"{module}.{d}" if module else d for d in summary.defined})
    counts = Counter(node.name.value for node in nodes)
    qualified: dict[int, str] = {}
    names: dict[str, str] = {}
    for i, node in enumerate(nodes):
        cls = node.name.value
        key = cls if counts[cls] == 1 and cls not in local.imports else f"{cls}#{i}"
        qualified[id(node)] = f"{name}.{key}"
        if key == cls:
            names[cls] = f"{name}.{cls}"
    local.imports.update(names)
    resolver = NameResolver(local)
    for node in nodes:
        key = qualified[id(node)].rpartition(".")[2]
        local.classes[key] = replace(class_summary(node, name, resolver), name=key)
    return NestedClasses(local, qualified, names)


def module_name_for(path: Path) -> tuple[str, bool, Path]:
    """(dotted module name, is_package, import root) of a file, from ``__init__.py`` files."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts: list[str] = [] if is_package else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.append(folder.name)
        folder = folder.parent
    return ".".join(reversed(parts)), is_package, folder


def file_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ProjectIndex:
    """Module summaries of the checked project, loaded lazily and memoised per run."""

    def __init__(self, roots: Sequence[Path] = ()) -> None:
        self.roots: list[Path] = []
        for root in roots:
            self.add_root(root)
        self._modules: dict[str, ModuleSummary | None] = {}
        self._kinds: dict[str, ClassKind] = {}
        # module -> (path, content hash; None: unreadable)
        self.consulted: dict[str, tuple[str, str | None]] = {}
        # module -> where it would be, had it been there (a file created later changes
        # what the files that import it mean, so those results must not stay cached)
        self._absent: dict[str, list[str]] = {}
        self._touched: set[str] = set()
        self._sources: dict[str, bytes | None] = {}

    def add_root(self, root: Path) -> None:
        root = root.resolve()
        if root not in self.roots:
            self.roots.append(root)

    def add(self, summary: ModuleSummary) -> None:
        """Register a module summarised by the caller (the file being checked)."""
        if self._modules.get(summary.name) is not summary:
            self._kinds.clear()  # class kinds may depend on the replaced summary
        self._modules[summary.name] = summary

    def begin_file(self) -> None:
        """Start recording which modules the next file's rules consult."""
        self._touched = set()

    def file_deps(self) -> dict[str, tuple[str, str | None]]:
        """What the results of the file begun last depend on: (path, content hash) of each
        project module its rules consulted, and (path, None) of each place where a module
        they looked for was not. Keyed by module name, or by path for the absent ones."""
        deps: dict[str, tuple[str, str | None]] = {}
        for module in sorted(self._touched):
            if module in self.consulted:
                deps[module] = self.consulted[module]
            for path in self._absent.get(module, ()):
                deps[path] = (path, None)
        return deps

    def _find_file(self, module: str) -> Path | None:
        rel = Path(*module.split("."))
        absent: list[str] = []
        found: Path | None = None
        for root in self.roots:
            for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
                if candidate.is_file():
                    found = candidate
                    break
                absent.append(str(candidate))
            if found is not None:
                break
        if absent:
            self._absent[module] = absent
        return found

    def module(self, name: str) -> ModuleSummary | None:
        """The summary of module ``name`` of the project, or None if it is not one."""
        self._touched.add(name)
        if name in self._modules:
            return self._modules[name]
        summary: ModuleSummary | None = None
        if name and name.split(".", 1)[0] not in CAPSYS_ROOTS:
            path = self._find_file(name)
            if path is not None:
                summary = self._load(path, name)
        self._modules[name] = summary
        return summary

    def source(self, name: str) -> bytes | None:
        """The bytes of project module ``name`` (None: no such module, or unreadable),
        recorded as a dependency of the file begun last like a summary looked up."""
        self._touched.add(name)
        if name in self._sources:
            return self._sources[name]
        data: bytes | None = None
        if name and name.split(".", 1)[0] not in CAPSYS_ROOTS:
            path = self._find_file(name)
            if path is not None:
                try:
                    data = path.read_bytes()
                except OSError:
                    self.consulted[name] = (str(path), None)
                else:
                    self.consulted[name] = (str(path), file_hash(data))
        self._sources[name] = data
        return data

    def _load(self, path: Path, name: str) -> ModuleSummary | None:
        try:
            data = path.read_bytes()
        except OSError:
            self.consulted[name] = (str(path), None)
            return None
        # Recorded before parsing: a module that does not parse yet may parse later.
        self.consulted[name] = (str(path), file_hash(data))
        try:
            tree = cst.parse_module(data)
        except (UnicodeDecodeError, cst.ParserSyntaxError, RecursionError):
            return None
        global_names: list[str] = []
        if b"global" in data:
            from capsys.lint.walk import walk

            global_names = [
                item.name.value
                for node in walk(tree)
                if isinstance(node, cst.Global)
                for item in node.names
            ]
        return summarize(tree, name, path.name == "__init__.py", (), global_names)

    def lookup_class(self, qualified: str, _depth: int = 0) -> ClassSummary | None:
        """The class a qualified name denotes, following re-exports (``from .m import C``)."""
        module, _, name = qualified.rpartition(".")
        if not module or _depth > 8:
            return None
        summary = self.module(module)
        if summary is None:
            return None
        found = summary.classes.get(name)
        if found is not None:
            return found
        target = summary.imports.get(name)
        if target is not None and target != qualified:
            return self.lookup_class(target, _depth + 1)
        return None

    def type_name(
        self, qualified: str
    ) -> tuple[ModuleSummary, cst.BaseExpression | None, tuple[cst.BaseExpression, ...]] | None:
        """What a module-level type alias or ``TypeVar`` of the project denotes, following
        re-exports: (its module, the aliased type or None, the TypeVar's bound or
        constraints). None when ``qualified`` is neither."""
        module, _, name = self.resolve_export(qualified).rpartition(".")
        summary = self.module(module) if module else None
        if summary is None:
            return None
        alias = summary.type_aliases.get(name)
        if alias is not None:
            return summary, alias, ()
        bounds = summary.type_vars.get(name)
        if bounds is not None:
            return summary, None, bounds
        return None

    def resolve_export(self, qualified: str) -> str:
        """Follow re-exports of a project name to where it is defined."""
        for _ in range(8):
            module, _, name = qualified.rpartition(".")
            summary = self.module(module) if module else None
            if summary is None or name in summary.defined:
                return qualified
            target = summary.imports.get(name)
            if target is None or target == qualified:
                return qualified
            qualified = target
        return qualified

    def behaviour(
        self, agent: str, name: str, _depth: int = 0
    ) -> tuple[ClassSummary, cst.FunctionDef] | None:
        """(defining class, definition) of behaviour ``name`` of ``agent``, looked up
        through the agent's project base classes."""
        cls = self.lookup_class(agent)
        if cls is None or _depth > 16:
            return None
        for behaviour in cls.behaviours:
            if behaviour.name.value == name:
                return cls, behaviour
        for base in cls.bases:
            if base is not None:
                found = self.behaviour(self.resolve_export(base), name, _depth + 1)
                if found is not None:
                    return found
        return None

    def initializer(
        self, agent: str, _depth: int = 0
    ) -> tuple[ClassSummary, cst.FunctionDef] | None:
        """(defining class, definition) of the ``__init__`` of ``agent``, looked up
        through its project base classes."""
        cls = self.lookup_class(agent)
        if cls is None or _depth > 16:
            return None
        if cls.init is not None:
            return cls, cls.init
        for base in cls.bases:
            if base is not None:
                found = self.initializer(self.resolve_export(base), _depth + 1)
                if found is not None:
                    return found
        return None

    def mutable_global(self, qualified: str) -> bool:
        """Whether ``pkg.mod.NAME`` is a module-level mutable global of the project."""
        qualified = self.resolve_export(qualified)
        module, _, name = qualified.rpartition(".")
        summary = self.module(module) if module else None
        return summary is not None and name in summary.mutable_globals

    def mutable_instance(self, qualified: str) -> bool:
        """Whether ``pkg.mod.NAME`` is bound at module level to an instance of a project
        class whose attributes may be written: an ordinary class, a dataclass that is
        not frozen, a TypedDict (not a frozen record, ``@message``, enum or agent)."""
        qualified = self.resolve_export(qualified)
        module, _, name = qualified.rpartition(".")
        summary = self.module(module) if module else None
        made = summary.instance_globals.get(name) if summary is not None else None
        if made is None or self.lookup_class(self.resolve_export(made)) is None:
            return False
        return self.class_kind(self.resolve_export(made)) in _WRITABLE

    def class_kind(self, qualified: str | None) -> ClassKind:
        """What the class named ``qualified`` is; UNKNOWN unless the linter is sure."""
        if qualified is None:
            return ClassKind.UNKNOWN
        cached = self._kinds.get(qualified)
        if cached is not None:
            return cached
        self._kinds[qualified] = ClassKind.UNKNOWN  # breaks inheritance cycles
        kind = self._compute_kind(qualified)
        self._kinds[qualified] = kind
        return kind

    def standard_class(self, qualified: str) -> bool:
        """Whether ``qualified`` may be a class of the standard library (``standard_name``)
        and no module of the project takes that name."""
        module = qualified.rpartition(".")[0]
        return standard_name(qualified) and self.module(module) is None

    def base_kind(self, qualified: str | None) -> ClassKind | None:
        """What a base class makes of a class deriving from it: None for a base that
        makes nothing of it (``object``, ``Generic``, ``Protocol``). A class of the
        standard library the index cannot read (``threading.Thread``, ``abc.ABC``,
        ``datetime.date``...) is an ordinary base, as the mypy plugin has it: even a
        subclass of a sendable class may add mutable attributes."""
        if qualified in _NEUTRAL_BASES:
            return None
        kind = self.class_kind(qualified)
        if kind is not ClassKind.UNKNOWN or qualified is None:
            return kind
        if qualified in _TYPING_BASES:
            return ClassKind.PLAIN
        if qualified.startswith("enum.") or not self.standard_class(qualified):
            return kind
        return ClassKind.PLAIN

    def _compute_kind(self, qualified: str) -> ClassKind:
        if capsys_public_name(qualified) == "Agent":
            return ClassKind.AGENT
        external = _EXTERNAL_KINDS.get(qualified)
        if external is not None:
            return external
        cls = self.lookup_class(qualified)
        if cls is None:
            return ClassKind.UNKNOWN
        base_kinds = [k for k in map(self.base_kind, cls.bases) if k is not None]
        if ClassKind.AGENT in base_kinds:
            return ClassKind.AGENT
        if any(capsys_public_name(d) == "message" for d in cls.decorators):
            return ClassKind.MESSAGE
        if ClassKind.ENUM in base_kinds:
            return ClassKind.ENUM
        if ClassKind.UNKNOWN in base_kinds:
            return ClassKind.UNKNOWN
        if any(d != "dataclasses.dataclass" for d in cls.decorators):
            return ClassKind.UNKNOWN
        if ClassKind.TYPED_DICT in base_kinds:
            return ClassKind.TYPED_DICT
        frozen_bases = {ClassKind.FROZEN_RECORD, ClassKind.MESSAGE}
        if cls.dataclass_frozen is None and not frozen_bases.isdisjoint(base_kinds):
            # A NamedTuple class body is a record; a plain subclass of a frozen record
            # (or of a @message) is not: it takes new attributes (the frozen
            # ``__setattr__`` guards its own class only), as the mypy plugin and the
            # run-time check judge it.
            if any(b in _NAMEDTUPLE_BASES for b in cls.bases):
                return ClassKind.FROZEN_RECORD
            return ClassKind.PLAIN
        if cls.dataclass_frozen is True and not cls.defines_setattr:
            return ClassKind.FROZEN_RECORD
        if cls.dataclass_frozen is False:
            return ClassKind.MUTABLE_RECORD
        if any(k is not ClassKind.PLAIN for k in base_kinds):
            return ClassKind.UNKNOWN
        return ClassKind.PLAIN
