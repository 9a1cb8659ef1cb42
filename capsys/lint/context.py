"""Everything a rule may ask about one file, computed once and shared by all rules.

``FileContext`` walks the tree once (``_Scan``) and keeps what the rules need: every
call and attribute with its enclosing scopes, every annotation, nested imports and
``global`` declarations. The import resolver (``names``) and the project index
(``index``) answer "what does this name refer to" without importing anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Generic, TypeVar, cast

import libcst as cst

from capsys.config import Config
from capsys.lint.index import (
    ClassKind,
    ModuleSummary,
    NameResolver,
    ProjectIndex,
    mutable_kind,
    summarize,
    summarize_nested,
    top_level,
)
from capsys.lint.shapes import ShapeBuilder, atom_shape, display_type, literal_item, same_type
from capsys.lint.walk import LEAVES, children, walk
from capsys.sendable import Shape, ShapeKind

__all__ = [
    "AgentClass",
    "Behaviour",
    "FileContext",
    "MessageClass",
    "Scope",
    "Site",
    "function_params",
    "iter_function_bindings",
]

ScopeNode = cst.ClassDef | cst.FunctionDef | cst.Lambda


@dataclass(frozen=True)
class Scope:
    """The chain of classes, functions and lambdas around a node, outermost first."""

    chain: tuple[ScopeNode, ...] = ()

    @property
    def function(self) -> cst.FunctionDef | None:
        """The innermost enclosing ``def`` (None at module or class level)."""
        for node in reversed(self.chain):
            if isinstance(node, cst.FunctionDef):
                return node
            if isinstance(node, cst.ClassDef):
                return None
        return None

    @property
    def in_lambda(self) -> bool:
        """Whether a lambda lies between the node and its innermost ``def``."""
        for node in reversed(self.chain):
            if isinstance(node, cst.Lambda):
                return True
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                return False
        return False

    def method(self) -> tuple[cst.ClassDef, cst.FunctionDef] | None:
        """The (class, method) whose body holds the node, through nested defs/lambdas."""
        for i in range(len(self.chain) - 1, 0, -1):
            node, parent = self.chain[i], self.chain[i - 1]
            if isinstance(node, cst.FunctionDef) and isinstance(parent, cst.ClassDef):
                return parent, node
        return None

    def directly_in(self, function: cst.FunctionDef) -> bool:
        """The node is in ``function``'s own body, not in a nested def, class or lambda."""
        return bool(self.chain) and self.chain[-1] is function


N = TypeVar("N", bound=cst.CSTNode)


@dataclass(frozen=True)
class Site(Generic[N]):
    """A node of interest and its scope."""

    node: N
    scope: Scope


@dataclass(frozen=True)
class Behaviour:
    node: cst.FunctionDef
    name: str
    is_async: bool


@dataclass(frozen=True)
class AgentClass:
    """An agent class defined in this file: its behaviours, ``__init__`` and methods."""

    node: cst.ClassDef
    name: str
    behaviours: tuple[Behaviour, ...]
    init: cst.FunctionDef | None
    methods: tuple[cst.FunctionDef, ...]

    def behaviour(self, function: cst.FunctionDef) -> Behaviour | None:
        for b in self.behaviours:
            if b.node is function:
                return b
        return None


@dataclass(frozen=True)
class MessageClass:
    node: cst.ClassDef
    name: str


class _Scan:
    """The one full walk of a file: collects the sites every rule looks at."""

    def __init__(self, module: cst.Module) -> None:
        self.calls: list[Site[cst.Call]] = []
        self.attributes: list[Site[cst.Attribute]] = []
        self.annotations: list[Site[cst.Annotation]] = []
        self.nested_imports: list[cst.Import | cst.ImportFrom] = []
        self.globals: list[str] = []
        self.bound: set[str] = set()
        self.params: list[cst.Param] = []
        self.assigns: list[cst.Assign | cst.AnnAssign] = []
        self.fors: list[cst.For] = []
        self.classes: list[cst.ClassDef] = []  # every class definition, in source order
        self._run(module)

    def _run(self, module: cst.Module) -> None:
        stack: list[tuple[cst.CSTNode, Scope]] = [(module, Scope())]
        calls, attributes, annotations = self.calls, self.attributes, self.annotations
        bound = self.bound
        while stack:
            node, scope = stack.pop()
            kind = type(node)
            # Exact type tests: isinstance() against libcst classes goes through ABCMeta.
            if kind is cst.Call:
                calls.append(Site(cast(cst.Call, node), scope))
            elif kind is cst.Attribute:
                attributes.append(Site(cast(cst.Attribute, node), scope))
            elif kind is cst.Annotation:
                annotations.append(Site(cast(cst.Annotation, node), scope))
            elif kind is cst.Param:
                param = cast(cst.Param, node)
                bound.add(param.name.value)
                self.params.append(param)
            elif kind is cst.Assign or kind is cst.AnnAssign:
                self.assigns.append(cast("cst.Assign | cst.AnnAssign", node))
            elif kind is cst.For:
                self.fors.append(cast(cst.For, node))
            elif kind is cst.AssignTarget:
                target = cast(cst.AssignTarget, node).target
                if isinstance(target, cst.Name):
                    bound.add(target.value)
            elif kind is cst.Import or kind is cst.ImportFrom:
                if scope.chain:
                    self.nested_imports.append(cast("cst.Import | cst.ImportFrom", node))
            elif kind is cst.Global:
                self.globals.extend(item.name.value for item in cast(cst.Global, node).names)
            elif kind is cst.FunctionDef or kind is cst.ClassDef or kind is cst.Lambda:
                self._enter(cast(ScopeNode, node), scope, stack)
                continue
            elif kind in LEAVES:
                continue
            found = list(children(node))
            found.reverse()
            stack.extend((child, scope) for child in found)

    def _enter(self, node: ScopeNode, scope: Scope, stack: list[tuple[cst.CSTNode, Scope]]) -> None:
        """Decorators (and a class's bases) belong to the outer scope; the rest inside."""
        inner = Scope((*scope.chain, node))
        outer: list[cst.CSTNode] = []
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.bound.add(node.name.value)
            outer.extend(d.decorator for d in node.decorators)
        if isinstance(node, cst.ClassDef):
            self.classes.append(node)
            outer.extend(arg.value for arg in (*node.bases, *node.keywords))
            inside: list[cst.CSTNode] = [node.body]
        elif isinstance(node, cst.FunctionDef):
            inside = [node.params, node.body]
            if node.returns is not None:
                inside.append(node.returns)
        else:
            inside = [node.params, node.body]
        stack.extend((child, inner) for child in reversed(inside))
        stack.extend((child, scope) for child in reversed(outer))


def function_params(function: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    """Every parameter of a function, in order (positional-only to ``**kwargs``)."""
    p = function.params
    params = [*p.posonly_params, *p.params]
    if isinstance(p.star_arg, cst.Param):
        params.append(p.star_arg)
    params.extend(p.kwonly_params)
    if p.star_kwarg is not None:
        params.append(p.star_kwarg)
    return params


def _targets(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _targets(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _targets(target.value)


def _alias_names(node: cst.Import | cst.ImportFrom) -> Iterator[str]:
    if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
        return
    assert not isinstance(node.names, cst.ImportStar)
    for alias in node.names:
        name = alias.asname.name if alias.asname else alias.name
        if isinstance(name, cst.Name):
            yield name.value
        elif isinstance(name, cst.Attribute):  # import a.b binds a
            head: cst.BaseExpression = name
            while isinstance(head, cst.Attribute):
                head = head.value
            if isinstance(head, cst.Name):
                yield head.value


def _binding_names(node: cst.CSTNode) -> Iterator[str]:
    """The names one node binds in its scope (for the nodes that bind any)."""
    kind = type(node)
    if kind is cst.FunctionDef or kind is cst.ClassDef:
        assert isinstance(node, (cst.FunctionDef, cst.ClassDef))
        yield node.name.value
    elif kind is cst.Assign:
        assert isinstance(node, cst.Assign)
        for target in node.targets:
            yield from _targets(target.target)
    elif kind in _TARGET_NODES:
        yield from _targets(node.target)  # type: ignore[attr-defined]
    elif kind is cst.WithItem:
        assert isinstance(node, cst.WithItem)
        if node.asname is not None:
            yield from _targets(node.asname.name)
    elif kind is cst.ExceptHandler:
        assert isinstance(node, cst.ExceptHandler)
        if node.name is not None:
            yield from _targets(node.name.name)
    elif kind is cst.Global or kind is cst.Nonlocal:
        assert isinstance(node, (cst.Global, cst.Nonlocal))
        yield from (item.name.value for item in node.names)
    elif kind is cst.Import or kind is cst.ImportFrom:
        assert isinstance(node, (cst.Import, cst.ImportFrom))
        yield from _alias_names(node)
    elif (kind is cst.MatchAs or kind is cst.MatchStar) and node.name is not None:  # type: ignore[attr-defined]
        yield node.name.value  # type: ignore[attr-defined]


_TARGET_NODES = frozenset({cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.For, cst.Del})
_BINDING_NODES = frozenset(
    {
        cst.FunctionDef,
        cst.ClassDef,
        cst.Assign,
        *_TARGET_NODES,
        cst.WithItem,
        cst.ExceptHandler,
        cst.Global,
        cst.Nonlocal,
        cst.Import,
        cst.ImportFrom,
        cst.MatchAs,
        cst.MatchStar,
    }
)


def iter_function_bindings(function: cst.FunctionDef) -> Iterator[tuple[str, cst.CSTNode]]:
    """(name, binding statement) for every binding in ``function``'s own body (nested
    functions and classes bind their name here; their bodies are not entered)."""
    for node in walk(function.body, into_scopes=False):
        if type(node) in _BINDING_NODES:
            for name in _binding_names(node):
                yield name, node


class FileContext:
    """One parsed file and everything the rules may ask about it."""

    def __init__(
        self,
        path: Path,
        module: cst.Module,
        config: Config,
        index: ProjectIndex,
        module_name: str = "",
        is_package: bool = False,
    ) -> None:
        self.path = path
        self.module = module
        self.config = config
        self.index = index
        self.module_name = module_name
        scan = _Scan(module)
        self.calls: Sequence[Site[cst.Call]] = scan.calls
        self.attributes: Sequence[Site[cst.Attribute]] = scan.attributes
        self.annotations: Sequence[Site[cst.Annotation]] = scan.annotations
        self.params: Sequence[cst.Param] = scan.params  # every parameter, any scope
        self.assigns: Sequence[cst.Assign | cst.AnnAssign] = scan.assigns  # any scope
        self.fors: Sequence[cst.For] = scan.fors  # any scope
        self.summary: ModuleSummary = summarize(
            module, module_name, is_package, scan.nested_imports, scan.globals
        )
        index.add(self.summary)
        self.classes: Sequence[cst.ClassDef] = scan.classes  # any scope
        top = {id(s) for s in top_level(module.body) if isinstance(s, cst.ClassDef)}
        nested = [c for c in scan.classes if id(c) not in top]
        self._nested_names: dict[int, str] = {}
        local_names: dict[str, str] = {}
        if nested:
            found = summarize_nested(self.summary, nested)
            index.add(found.summary)
            self._nested_names, local_names = found.qualified, found.names
        self.names = NameResolver(self.summary, frozenset(scan.bound), local_names)
        self.shapes = ShapeBuilder(index)
        self._bindings: dict[int, dict[str, list[cst.CSTNode]]] = {}
        self.memo: dict[tuple[str, int], object] = {}  # per-file memo for rule helpers

    # -- classes -------------------------------------------------------------------

    def qualified(self, expr: cst.BaseExpression) -> str | None:
        """The qualified name of ``expr``, following project re-exports."""
        name = self.names.qualified(expr)
        return self.index.resolve_export(name) if name is not None else None

    def class_kind(self, expr: cst.BaseExpression) -> ClassKind:
        """What class ``expr`` (a name as written here) denotes; UNKNOWN unless sure."""
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return ClassKind.UNKNOWN
        return self.index.class_kind(self.qualified(expr))

    def base_kind(self, expr: cst.BaseExpression) -> ClassKind | None:
        """What the base class ``expr`` (as written in a class's bases, maybe
        subscripted) makes of a class deriving from it (``ProjectIndex.base_kind``)."""
        head = expr.value if isinstance(expr, cst.Subscript) else expr
        if not isinstance(head, (cst.Name, cst.Attribute)):
            return ClassKind.UNKNOWN
        return self.index.base_kind(self.qualified(head))

    def is_agent_class(self, expr: cst.BaseExpression) -> bool:
        return self.class_kind(expr) is ClassKind.AGENT

    def is_message_class(self, expr: cst.BaseExpression) -> bool:
        return self.class_kind(expr) is ClassKind.MESSAGE

    def is_record_class(self, expr: cst.BaseExpression) -> bool:
        """A ``@message``, frozen dataclass or NamedTuple: sent with its Iso fields moved."""
        return self.class_kind(expr) in (ClassKind.MESSAGE, ClassKind.FROZEN_RECORD)

    def _own_kind(self, node: cst.ClassDef) -> ClassKind:
        name = self._nested_names.get(id(node))
        if name is None:
            name = f"{self.module_name}.{node.name.value}" if self.module_name else node.name.value
        return self.index.class_kind(name)

    @cached_property
    def agent_classes(self) -> tuple[AgentClass, ...]:
        """The agent classes defined in this file, at any depth."""
        found: list[AgentClass] = []
        for node in self.classes:
            if self._own_kind(node) is not ClassKind.AGENT:
                continue
            behaviours: list[Behaviour] = []
            methods: list[cst.FunctionDef] = []
            init: cst.FunctionDef | None = None
            body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
            for stmt in body:
                if not isinstance(stmt, cst.FunctionDef):
                    continue
                methods.append(stmt)
                if stmt.name.value == "__init__":
                    init = stmt
                if any(self.names.capsys_name(d.decorator) == "behaviour" for d in stmt.decorators):
                    behaviours.append(
                        Behaviour(stmt, stmt.name.value, stmt.asynchronous is not None)
                    )
            found.append(AgentClass(node, node.name.value, tuple(behaviours), init, tuple(methods)))
        return tuple(found)

    @cached_property
    def message_classes(self) -> tuple[MessageClass, ...]:
        """The ``@message`` classes defined in this file, at any depth."""
        return tuple(
            MessageClass(node, node.name.value)
            for node in self.classes
            if self._own_kind(node) is ClassKind.MESSAGE
        )

    @cached_property
    def module_functions(self) -> frozenset[str]:
        """Names whose only module-level binding is one undecorated ``def`` (and that no
        function declares ``global``): evidently plain functions of this module."""
        binds: dict[str, list[cst.CSTNode]] = {}
        for node in walk(self.module, into_scopes=False):
            if type(node) in _BINDING_NODES:
                for name in _binding_names(node):
                    binds.setdefault(name, []).append(node)
        return frozenset(
            name
            for name, nodes in binds.items()
            if len(nodes) == 1
            and isinstance(nodes[0], cst.FunctionDef)
            and not nodes[0].decorators
            and name not in self.summary.mutable_globals
        )

    def agent_of(self, node: cst.ClassDef) -> AgentClass | None:
        for agent in self.agent_classes:
            if agent.node is node:
                return agent
        return None

    @property
    def mutable_globals(self) -> frozenset[str]:
        """Module-level names bound to mutable containers, and names declared ``global``."""
        return frozenset(self.summary.mutable_globals)

    # -- types -----------------------------------------------------------------------

    def shape(self, annotation: cst.BaseExpression) -> Shape:
        """The ``Shape`` of an annotation written in this file."""
        return self.shapes.shape(annotation, self.names)

    def bindings(self, function: cst.FunctionDef) -> dict[str, list[cst.CSTNode]]:
        """Name -> binding statements in ``function``'s own body (memoised)."""
        key = id(function)
        found = self._bindings.get(key)
        if found is None:
            found = {}
            for name, node in iter_function_bindings(function):
                found.setdefault(name, []).append(node)
            self._bindings[key] = found
        return found

    def param(self, function: cst.FunctionDef, name: str) -> cst.Param | None:
        for p in function_params(function):
            if p.name.value == name:
                return p
        return None

    def evident_class(self, name: cst.Name, function: cst.FunctionDef | None) -> str | None:
        """The qualified class of a local name when evident from its only kind of binding.

        A parameter annotated ``C`` (never rebound), or a local whose every binding is
        ``name = C(...)`` / ``name: C = ...`` with the same ``C``. None when unsure.
        """
        if function is None:
            return None
        binds = self.bindings(function).get(name.value, [])
        param = self.param(function, name.value)
        if param is not None:
            if binds or param.annotation is None:
                return None
            return self._annotation_class(param.annotation.annotation)
        found: set[str | None] = set()
        for node in binds:
            if isinstance(node, cst.AnnAssign):
                found.add(self._annotation_class(node.annotation.annotation))
            elif (
                isinstance(node, cst.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0].target, cst.Name)
                and isinstance(node.value, cst.Call)
            ):
                found.add(self.qualified(node.value.func))
            else:
                return None
        if len(found) != 1:
            return None
        return found.pop()

    def _annotation_class(self, annotation: cst.BaseExpression) -> str | None:
        head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
        return self.qualified(head)

    def local_shape(self, name: cst.Name, function: cst.FunctionDef | None) -> Shape | None:
        """The evident type of a local name in ``function``, or None when not evident.

        Evident means: a parameter with an annotation and never rebound; or a local whose
        every binding is an annotated assignment or a plain ``name = <value>`` with an
        evidently mutable value (a list/dict/set display, ``list(...)``...) or a call of
        a project class the index knows (``Plain()``).
        """
        if function is None:
            return None
        binds = self.bindings(function).get(name.value, [])
        param = self.param(function, name.value)
        if param is not None:
            if binds or param.annotation is None:
                return None
            return self.shape(param.annotation.annotation)
        if not binds:
            return None
        annotated: Shape | None = None
        assigned: Shape | None = None
        for node in binds:
            if isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
                annotated = self.shape(node.annotation.annotation)
            elif (
                isinstance(node, cst.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0].target, cst.Name)
                and (value := self._assigned_shape(node.value, function)) is not None
            ):
                if (
                    assigned is not None
                    and value.fields is None
                    and (assigned.kind, assigned.name) == (value.kind, value.name)
                    and not same_type(assigned, value)
                ):  # ``[1]`` then ``[]``: one class, its items not evident
                    value = replace(value, args=())
                assigned = value
            elif isinstance(node, cst.AugAssign):
                continue
            else:
                return None
        return annotated if annotated is not None else assigned

    def _assigned_shape(self, value: cst.BaseExpression, function: cst.FunctionDef) -> Shape | None:
        typed = display_type(value, literal_item)  # ``["a"]``: list[str], as mypy infers
        if typed is not None:
            return typed
        mutable = mutable_kind(value, self.names)
        if mutable is not None:
            return Shape(ShapeKind.CLASS, mutable)
        if isinstance(value, cst.Call):
            return self.constructed_shape(value, function)
        if isinstance(value, cst.Tuple):  # pair = (1, [2]): evident when every item is
            items = [self._item_shape(e, function) for e in value.elements]
            if not items or any(i is None for i in items):
                return None
            return Shape(ShapeKind.CLASS, "builtins.tuple", tuple(i for i in items if i))
        return None

    def _item_shape(self, element: cst.BaseElement, function: cst.FunctionDef) -> Shape | None:
        """An item of a tuple display: a number, string, bytes, bool or None literal, or a
        value ``_assigned_shape`` knows."""
        if isinstance(element, cst.StarredElement):
            return None
        return atom_shape(element.value) or self._assigned_shape(element.value, function)

    def constructed_shape(self, call: cst.Call, function: cst.FunctionDef | None) -> Shape | None:
        """The shape of ``C(...)`` when ``C`` is a project class the index knows (not an
        agent class: instantiating one is CAP007 on its own), as if annotated ``C``;
        None for anything else or a name ``function`` binds itself."""
        func = call.func
        if (
            isinstance(func, cst.Name)
            and function is not None
            and (func.value in self.bindings(function) or self.param(function, func.value))
        ):
            return None
        kind = self.class_kind(func)
        if kind in (ClassKind.UNKNOWN, ClassKind.AGENT):
            return None
        return self.shape(func)
