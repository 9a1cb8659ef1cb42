"""mypy types -> ``capsys.sendable.Shape``.

This module only *describes* a mypy type in the checker-neutral form; whether that type
is sendable is decided by ``capsys.sendable.static_problem`` and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mypy.expandtype import expand_type_by_instance
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import CallExpr, Expression, NameExpr, RefExpr, TypeInfo, Var
from mypy.semanal_shared import has_placeholder
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    NoneType,
    Overloaded,
    TupleType,
    Type,
    TypeAliasType,
    TypedDictType,
    TypeOfAny,
    TypeType,
    TypeVarType,
    UninhabitedType,
    UnionType,
    get_proper_type,
)

from capsys.sendable import CAPSYS_NAMES, Shape, ShapeKind, accepted
from mypy_plugin.deps import consulted_class

ISO = CAPSYS_NAMES["Iso"]
TAG = CAPSYS_NAMES["Tag"]
VAL = CAPSYS_NAMES["Val"]
REF = CAPSYS_NAMES["Ref"]
AGENT = CAPSYS_NAMES["Agent"]
MESSAGE = CAPSYS_NAMES["message"]

_DATACLASS_MAKERS = frozenset({"dataclasses.dataclass"})
# Deeper than any real annotation; only pathological generic recursion gets here.
_MAX_DEPTH = 40


def decorator_fullname(expr: Expression) -> str:
    if isinstance(expr, CallExpr):
        expr = expr.callee
    return expr.fullname if isinstance(expr, RefExpr) else ""


def is_message_class(info: TypeInfo) -> bool:
    """``@message`` classes: marked in metadata (survives the cache) or by decorator."""
    if info.metadata.get("capsys", {}).get("message"):
        return True
    return any(decorator_fullname(d) == MESSAGE for d in info.defn.decorators)


def record_state(info: TypeInfo) -> tuple[bool, bool]:
    """(is a dataclass-like record, is frozen).

    After semantic analysis mypy's dataclass metadata says it; while semantic analysis
    is still running (agent ``__init__`` and ``Val[...]`` are checked then) the class may
    only be tagged, so the decorator is read instead. Unknown makers count as frozen:
    a miss is better than a false report.
    """
    data = info.metadata.get("dataclass")
    if isinstance(data, dict):
        return True, bool(data.get("frozen"))
    if "dataclass_tag" not in info.metadata:
        return False, False
    for dec in info.defn.decorators:
        name = decorator_fullname(dec)
        if name == MESSAGE:
            return True, True
        if name in _DATACLASS_MAKERS:
            return True, says_frozen(dec)
    return True, True


def says_frozen(dec: Expression) -> bool:
    """``@dataclass(frozen=True)`` (a literal True, as the decorator must be written)."""
    return isinstance(dec, CallExpr) and any(
        name == "frozen" and isinstance(arg, NameExpr) and arg.fullname == "builtins.True"
        for name, arg in zip(dec.arg_names, dec.args, strict=False)
    )


# Declared like fields but stored as none: an ``InitVar[...]`` is only an ``__init__``
# parameter, ``_: KW_ONLY`` only a marker; neither is in the instance's state.
_PSEUDO_FIELDS = frozenset({"dataclasses.InitVar", "dataclasses.KW_ONLY"})


def _is_pseudo_field(typ: Type | None) -> bool:
    """An ``InitVar[...]`` (before mypy's dataclass plugin unwraps it) or ``KW_ONLY``."""
    proper = get_proper_type(typ) if typ is not None else None
    if isinstance(proper, Instance):
        return proper.type.fullname in _PSEUDO_FIELDS
    # A PEP 661 sentinel (``KW_ONLY`` from Python 3.15) is a literal of a sentinel value.
    if isinstance(proper, LiteralType):
        return getattr(proper.value, "fullname", None) in _PSEUDO_FIELDS
    return False


def _stored_attribute(base: TypeInfo, attr: object) -> str | None:
    """The name of a dataclass ``attributes`` entry that is a stored field, else None."""
    if not isinstance(attr, dict) or attr.get("is_init_var"):
        return None
    name = attr.get("name")
    if not isinstance(name, str):
        return None
    sym = base.names.get(name)
    if sym is not None and isinstance(sym.node, Var) and _is_pseudo_field(sym.node.type):
        return None
    return name


def _record_field_names(info: TypeInfo) -> list[str]:
    names: list[str] = []
    for base in reversed(info.mro):
        data = base.metadata.get("dataclass")
        found: list[str]
        if isinstance(data, dict):
            found = [
                name
                for name in (_stored_attribute(base, a) for a in data.get("attributes", ()))
                if name is not None
            ]
        elif "dataclass_tag" in base.metadata:
            found = [
                name
                for name, sym in base.names.items()
                if isinstance(sym.node, Var)
                and not sym.node.is_classvar
                and not sym.node.is_inferred
                and not name.startswith("__")
                and not _is_pseudo_field(sym.node.type)
            ]
        else:
            continue
        names.extend(n for n in found if n not in names)
    return names


def pending_fields(typ: Type) -> bool:
    """Whether a record reachable from ``typ`` (as a field, an item, a type argument) has
    a field whose type semantic analysis has not settled yet: ``inner: "Inner"`` before
    ``Inner`` is defined, where the shape would read an unknown (Any) field."""
    seen: set[str] = set()
    todo = [typ]
    while todo:
        item = todo.pop()
        if isinstance(item, TypeAliasType) and item.alias is not None:
            if item.alias.fullname in seen:
                continue  # a recursive alias: its expansion is already queued
            seen.add(item.alias.fullname)
        proper = get_proper_type(item)
        if has_placeholder(proper):
            return True
        if isinstance(proper, UnionType):
            todo.extend(proper.items)
        elif isinstance(proper, TupleType):
            todo.extend(proper.items)
            todo.append(proper.partial_fallback)
        elif isinstance(proper, TypeType):
            todo.append(proper.item)
        elif isinstance(proper, Instance):
            todo.extend(proper.args)
            info = proper.type
            if info.fullname in seen:
                continue
            seen.add(info.fullname)
            if info.is_named_tuple and info.tuple_type is None:
                return True
            if not record_state(info)[0]:
                continue
            for field in _record_field_names(info):
                sym = info.get(field)
                if sym is None or not isinstance(sym.node, Var) or sym.node.type is None:
                    return True
                todo.append(sym.node.type)
    return False


class Translator:
    """Translates one mypy type; guards recursive aliases and runaway generics."""

    def __init__(self) -> None:
        self._expanding: set[str] = set()
        self._depth = 0

    def shape(self, typ: Type) -> Shape:
        if self._depth > _MAX_DEPTH:
            return accepted(str(typ))
        self._depth += 1
        try:
            return self._shape(typ)
        finally:
            self._depth -= 1

    def _shape(self, typ: Type) -> Shape:
        if isinstance(typ, TypeAliasType) and typ.alias is not None:
            name = typ.alias.fullname
            if name in (VAL, REF):
                kind = ShapeKind.VAL if name == VAL else ShapeKind.REF
                inner = self.shape(typ.args[0]) if typ.args else Shape(ShapeKind.ANY, "Any")
                return Shape(kind, kind.name.title(), (inner,))
            if typ.is_recursive:
                if name in self._expanding:
                    return accepted(typ.alias.name)
                self._expanding.add(name)
                try:
                    return self.shape(get_proper_type(typ))
                finally:
                    self._expanding.discard(name)
        proper = get_proper_type(typ)
        if isinstance(proper, AnyType):
            if proper.type_of_any == TypeOfAny.from_error:
                return accepted("Any")  # mypy has reported the error already
            return Shape(ShapeKind.ANY, "Any")
        if isinstance(proper, (NoneType, UninhabitedType)):
            return Shape(ShapeKind.NONE)
        if isinstance(proper, LiteralType):
            return Shape(ShapeKind.LITERAL, f"Literal[{proper.value_repr()}]")
        if isinstance(proper, UnionType):
            return Shape(ShapeKind.UNION, "", tuple(self.shape(t) for t in proper.items))
        if isinstance(proper, TupleType):
            return self._tuple(proper)
        if isinstance(proper, Instance):
            return self._instance(proper)
        if isinstance(proper, TypeVarType):
            if proper.values:
                bounds = tuple(self.shape(v) for v in proper.values)
            else:
                bound = get_proper_type(proper.upper_bound)
                unbounded = isinstance(bound, Instance) and bound.type.fullname == "builtins.object"
                bounds = () if unbounded else (self.shape(bound),)
            return Shape(ShapeKind.TYPEVAR, proper.name, bounds)
        if isinstance(proper, (CallableType, Overloaded)):
            if proper.is_type_obj():
                return Shape(ShapeKind.CLASS, "builtins.type", bases=frozenset({"builtins.object"}))
            return Shape(ShapeKind.CALLABLE, "Callable")
        if isinstance(proper, TypeType):
            return Shape(ShapeKind.CLASS, "builtins.type", (self.shape(proper.item),))
        if isinstance(proper, TypedDictType):
            return Shape(ShapeKind.CLASS, "builtins.dict", bases=frozenset({"builtins.object"}))
        # ParamSpec pieces, partial or erased types: nothing a value is declared as.
        return accepted(str(proper))

    def _tuple(self, typ: TupleType) -> Shape:
        info = typ.partial_fallback.type
        if info.is_named_tuple:
            consulted_class(info.module_name, info.fullname)  # its fields decide
            names = info.metadata.get("namedtuple", {}).get("fields", [])
            items = list(zip(names, typ.items, strict=False))
            return self._record(info, (), lambda: items)
        if info.fullname != "builtins.tuple":
            # A subclass of tuple may carry attributes of its own: the run-time check
            # refuses it as it refuses a subclass of str, so it is a plain class here.
            consulted_class(info.module_name, info.fullname)
            return Shape(ShapeKind.CLASS, info.fullname, (), _bases(info))
        if not typ.items:  # tuple[()]: one possible value, the empty tuple
            return Shape(ShapeKind.LITERAL, "tuple[()]")
        return Shape(
            ShapeKind.CLASS,
            "builtins.tuple",
            tuple(self.shape(t) for t in typ.items),
            _bases(info),
        )

    def _instance(self, typ: Instance) -> Shape:
        info = typ.type
        name = info.fullname
        consulted_class(info.module_name, info.fullname)  # its definition decides
        if name in (ISO, TAG):
            kind = ShapeKind.ISO if name == ISO else ShapeKind.TAG
            return Shape(kind, kind.name.title(), tuple(self.shape(a) for a in typ.args))
        if info.is_newtype and info.bases:
            return self.shape(info.bases[0])
        args = tuple(self.shape(a) for a in typ.args)
        if info.is_named_tuple and info.tuple_type is not None:
            expanded = get_proper_type(expand_type_by_instance(info.tuple_type, typ))
            if isinstance(expanded, TupleType):
                return self._tuple(expanded)
        is_record, frozen = record_state(info)
        if is_record and frozen:
            return self._record(info, args, lambda: self.dataclass_fields(typ))
        return Shape(
            ShapeKind.CLASS,
            name,
            args,
            _bases(info),
            mutable_record=is_record,
            # mypy spells a fixed-length tuple as a TupleType: an Instance is tuple[X, ...]
            variadic=name == "builtins.tuple",
        )

    def dataclass_fields(self, typ: Instance) -> Iterable[tuple[str, Type]]:
        for field in _record_field_names(typ.type):
            sym = typ.type.get(field)
            if sym is None or not isinstance(sym.node, Var) or sym.node.type is None:
                yield field, AnyType(TypeOfAny.special_form)
                continue
            owner = sym.node.info
            declared = sym.node.type
            if owner.type_vars:
                declared = expand_type_by_instance(declared, map_instance_to_supertype(typ, owner))
            yield field, declared

    def _record(
        self,
        info: TypeInfo,
        args: tuple[Shape, ...],
        items: Callable[[], Iterable[tuple[str, Type]]],
    ) -> Shape:
        # A thunk: static_problem expands fields only when it reaches them, which is
        # what keeps recursive records finite.
        def fields() -> list[tuple[str, Shape]]:
            return [(n, Translator().shape(t)) for n, t in items()]

        return Shape(ShapeKind.CLASS, info.fullname, args, _bases(info), fields)


def _bases(info: TypeInfo) -> frozenset[str]:
    return frozenset(b.fullname for b in info.mro[1:])


def shape_of(typ: Type) -> Shape:
    """The ``Shape`` of a mypy type."""
    return Translator().shape(typ)


def is_agent(info: TypeInfo) -> bool:
    return info.fullname != AGENT and info.has_base(AGENT)
