"""Helpers shared by the rule modules (not a rule: the registry skips this module)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import libcst as cst

from capsys.lint.context import AgentClass, FileContext, Site, function_params
from capsys.lint.index import NameResolver, capsys_public_name, mutable_kind, top_level
from capsys.lint.shapes import (
    atom_shape,
    display_type,
    literal_item,
    parse_annotation,
    same_type,
    string_value,
)
from capsys.lint.walk import walk
from capsys.sendable import (
    ANY_SHAPE,
    CAPSYS_NAMES,
    STATIC_KINDS,
    Shape,
    ShapeKind,
    TypeKind,
    held_agent,
)

_AGENT_BASE = CAPSYS_NAMES["Agent"]

__all__ = [
    "BOUNDARY_METHODS",
    "SPAWN_GROUPS",
    "Boundary",
    "agent_fields",
    "agent_method",
    "behaviour_ref",
    "boundary",
    "call_name",
    "call_values",
    "channel_method",
    "context_decides",
    "expr_shape",
    "field_shape",
    "held_agent",
    "is_agent_shape",
    "literal_shape",
    "located",
    "rebinds",
    "self_name",
    "spawn_group_target",
]

# Tag methods that deliver to another agent, and the runtime's spawn/quorum/broadcast.
BOUNDARY_METHODS = frozenset({"send", "ask", "send_wait", "spawn", "quorum", "broadcast"})
# The topology builders (runtime.topology): each spawns ``cls(*args)`` for every agent,
# so the items of ``args=`` are spawn arguments. (verb -> position of the agent class)
SPAWN_GROUPS = {"mesh": 1, "ring": 1, "star": 1, "hierarchical": 1}


def call_name(call: cst.Call) -> str | None:
    """``send`` for ``x.send(...)``, ``f`` for ``f(...)``."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def call_values(call: cst.Call) -> Iterator[tuple[int | str, cst.Arg]]:
    """(position or keyword, argument) of a call's plain arguments (no ``*``/``**``)."""
    position = 0
    for arg in call.args:
        if arg.star:
            continue
        if arg.keyword is not None:
            yield arg.keyword.value, arg
        else:
            yield position, arg
            position += 1


def located(expr: cst.BaseExpression) -> cst.CSTNode:
    """Where the mypy plugin reports an expression: a parenthesized tuple at its first
    parenthesis (mypy's tuple spans them), anything else at its first token."""
    if isinstance(expr, cst.Tuple) and expr.lpar:
        return expr.lpar[0]
    return expr


def self_name(method: cst.FunctionDef) -> str | None:
    """The name of a method's instance parameter (None for static/class methods)."""
    for deco in method.decorators:
        d = deco.decorator
        if isinstance(d, cst.Name) and d.value in ("staticmethod", "classmethod"):
            return None
    params = [*method.params.posonly_params, *method.params.params]
    return params[0].name.value if params else None


def agent_method(ctx: FileContext, site: Site[Any]) -> tuple[AgentClass, cst.FunctionDef] | None:
    """The agent class and method whose body (maybe a nested def/lambda) holds ``site``."""
    found = site.scope.method()
    if found is None:
        return None
    cls, method = found
    agent = ctx.agent_of(cls)
    if agent is None:
        return None
    return agent, method


def rebinds(site: Site[Any], method: cst.FunctionDef, name: str) -> bool:
    """Whether a def or lambda nested in ``method`` around ``site`` rebinds ``name``."""
    chain = site.scope.chain
    inner = chain[chain.index(method) + 1 :] if method in chain else ()
    return any(
        isinstance(node, (cst.FunctionDef, cst.Lambda))
        and any(p.name.value == name for p in function_params(node))
        for node in inner
    )


# --------------------------------------------------------------------------------------
# Boundaries: calls that hand values to another agent.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    """One call that crosses an agent boundary, as far as the syntax makes it evident."""

    call: cst.Call
    verb: str  # send, send_wait, ask, spawn, quorum, broadcast, or a topology builder
    target: str  # "Log.add" (a behaviour) or "Log" (the class spawned)
    where: str  # "send to Log.add", "spawn of Log", "mesh of Log"
    payload: tuple[tuple[str, cst.BaseExpression], ...]  # (label, value) after the target
    behaviour: tuple[str, str] | None  # (qualified agent class, behaviour name)
    starred: tuple[tuple[str, cst.BaseExpression], ...] = ()  # (label, value) of *args
    spawned: str | None = None  # the qualified agent class a spawn creates


_TAG_VERBS = frozenset({"send", "send_wait", "ask"})
_SKIP_KEYWORDS = {
    "ask": frozenset({"timeout"}),
    "quorum": frozenset({"timeout", "accept"}),
    "broadcast": frozenset({"fanout"}),
}


def behaviour_ref(
    ctx: FileContext, expr: cst.BaseExpression, function: cst.FunctionDef | None = None
) -> tuple[str, str] | None:
    """(qualified agent class, behaviour name) for ``Agent.behaviour`` written here, or a
    local of ``function`` whose only binding is ``name = Agent.behaviour``."""
    if isinstance(expr, cst.Name) and function is not None:
        binds = ctx.bindings(function).get(expr.value, [])
        if len(binds) != 1 or ctx.param(function, expr.value) is not None:
            return None
        (node,) = binds
        if not (
            isinstance(node, cst.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            return None
        expr = node.value
    if not isinstance(expr, cst.Attribute):
        return None
    if not ctx.is_agent_class(expr.value):
        return None
    qualified = ctx.qualified(expr.value)
    return (qualified, expr.attr.value) if qualified is not None else None


def _label(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        return f"{expr.value.value}.{expr.attr.value}"
    if isinstance(expr, cst.Name):
        return expr.value
    return "the behaviour"


def boundary(
    ctx: FileContext, call: cst.Call, function: cst.FunctionDef | None = None
) -> Boundary | None:
    """The boundary ``call`` (in ``function``) crosses, when evident: a
    ``send``/``send_wait``/``ask`` whose first argument is a behaviour of a known agent
    class (or a local bound to one), a ``spawn`` of a known agent
    class (also through a topology builder's ``args=``), or the runtime's
    ``quorum``/``broadcast``."""
    func = call.func
    method = func.attr.value if isinstance(func, cst.Attribute) else None
    capsys = ctx.names.capsys_name(func)
    if method in _TAG_VERBS:
        verb, index = method, 0
    elif method == "spawn" or capsys == "spawn":
        verb, index = "spawn", 0
    elif capsys == "quorum":
        verb, index = "quorum", 2
    elif capsys == "broadcast":
        verb, index = "broadcast", 1
    elif capsys in SPAWN_GROUPS:
        return _spawn_group(ctx, call, capsys)
    else:
        return None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) <= index or any(a.star for a in call.args[: index + 1]):
        return None
    first = positional[index].value
    ref = None
    if verb == "spawn":
        if not ctx.is_agent_class(first):
            return None
        target = _label(first)
        where = f"spawn of {target}"
    else:
        ref = behaviour_ref(ctx, first, function)
        if ref is None and verb in _TAG_VERBS:
            return None
        target = _label(first)
        where = f"{verb} to {target}"
    skip = _SKIP_KEYWORDS.get(verb, frozenset())
    payload: list[tuple[str, cst.BaseExpression]] = []
    starred: list[tuple[str, cst.BaseExpression]] = []
    position = 0
    seen_target = False
    for arg in call.args:
        if arg.star:
            if arg.star == "*" and seen_target:
                position += 1
                starred.append((str(position), arg.value))
            continue
        if arg.keyword is not None:
            if arg.keyword.value not in skip:
                payload.append((f'"{arg.keyword.value}"', arg.value))
            continue
        if not seen_target:
            if arg is positional[index]:
                seen_target = True
            continue
        position += 1
        payload.append((str(position), arg.value))
    spawned = ctx.qualified(first) if verb == "spawn" else None
    return Boundary(call, verb, target, where, tuple(payload), ref, tuple(starred), spawned)


def spawn_group_target(call: cst.Call, verb: str) -> cst.BaseExpression | None:
    """The agent class a topology builder call spawns (its positional ``cls``)."""
    positional = [a for a in call.args if a.keyword is None]
    index = SPAWN_GROUPS[verb]
    if len(positional) <= index or any(a.star for a in positional[: index + 1]):
        return None
    return positional[index].value


def _spawn_group(ctx: FileContext, call: cst.Call, verb: str) -> Boundary | None:
    """``mesh(rt, W, 3, args=(a, b))``: ``a`` and ``b`` are arguments 1 and 2 of the
    spawn of every ``W``, as the mypy plugin labels them (``Argument 1 of mesh of W``).
    Only an ``args=`` tuple display is evident item by item."""
    cls = spawn_group_target(call, verb)
    if cls is None or not ctx.is_agent_class(cls):
        return None
    target = _label(cls)
    payload: list[tuple[str, cst.BaseExpression]] = []
    for arg in call.args:
        if arg.keyword is None or arg.keyword.value != "args":
            continue
        items = arg.value
        if not isinstance(items, cst.Tuple) or any(
            isinstance(e, cst.StarredElement) for e in items.elements
        ):
            continue
        payload.extend((str(i), e.value) for i, e in enumerate(items.elements, start=1))
    where = f"{verb} of {target}"
    return Boundary(call, verb, target, where, tuple(payload), None, (), ctx.qualified(cls))


_CHANNEL_METHODS = frozenset({"send", "put"})


def channel_method(ctx: FileContext, site: Site[cst.Call]) -> str | None:
    """``Channel.send`` / ``Channel.put`` for ``ch.send(x)`` / ``ch.put(x)`` on a name
    evidently bound to a channel (annotated ``Channel[...]`` or assigned ``channel(...)``),
    with one plain argument; None otherwise."""
    call = site.node
    func = call.func
    if not (
        isinstance(func, cst.Attribute)
        and func.attr.value in _CHANNEL_METHODS
        and isinstance(func.value, cst.Name)
        and len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
    ):
        return None
    kind = capsys_public_name(ctx.evident_class(func.value, site.scope.function))
    return f"Channel.{func.attr.value}" if kind in ("channel", "Channel") else None


# --------------------------------------------------------------------------------------
# Evident shapes of expressions (literals, displays, annotated names, fields).
# --------------------------------------------------------------------------------------


def agent_fields(
    ctx: FileContext, agent: AgentClass
) -> dict[str, list[tuple[cst.FunctionDef, cst.CSTNode]]]:
    """Field name -> (method, statement) for each assignment of ``self.<field>`` in the
    class's methods."""
    key = ("fields", id(agent.node))
    cached = ctx.memo.get(key)
    if isinstance(cached, dict):
        return cached
    found: dict[str, list[tuple[cst.FunctionDef, cst.CSTNode]]] = {}
    for method in agent.methods:
        me = self_name(method)
        if me is None:
            continue
        for node in _walk_statements(method):
            targets: list[cst.BaseExpression] = []
            if isinstance(node, cst.Assign):
                targets = [t.target for t in node.targets]
            elif isinstance(node, (cst.AnnAssign, cst.AugAssign)):
                targets = [node.target]
            for target in targets:
                for attr in _self_attrs(target, me):
                    found.setdefault(attr, []).append((method, node))
    ctx.memo[key] = found
    return found


def _self_attrs(target: cst.BaseExpression, me: str) -> Iterator[str]:
    if (
        isinstance(target, cst.Attribute)
        and isinstance(target.value, cst.Name)
        and target.value.value == me
    ):
        yield target.attr.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _self_attrs(element.value, me)


_STATEMENTS = (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.For, cst.WithItem)


def _walk_statements(function: cst.FunctionDef) -> list[cst.CSTNode]:
    return [node for node in walk(function.body) if isinstance(node, _STATEMENTS)]


def field_shape(ctx: FileContext, agent: AgentClass, name: str) -> Shape | None:
    """The evident type of ``self.<name>``: its annotation in the class, or the one
    class of every value assigned to it - a literal, a display, a container or project
    class constructor, or a local whose own type is evident, like an annotated
    ``__init__`` parameter (None when not evident)."""
    assignments = agent_fields(ctx, agent).get(name)
    if not assignments:
        return None
    for _, node in assignments:
        if isinstance(node, cst.AnnAssign):
            return ctx.shape(node.annotation.annotation)
    shapes: list[Shape | None] = []
    for method, node in assignments:
        if isinstance(node, cst.AugAssign):
            continue
        if not isinstance(node, cst.Assign) or len(node.targets) != 1:
            return None
        value = node.value
        if isinstance(value, cst.Name) and value.value not in _CONSTANT_NAMES:
            shapes.append(ctx.local_shape(value, method))
        elif isinstance(value, cst.Call):
            shapes.append(literal_shape(ctx, value) or ctx.constructed_shape(value, method))
        else:
            shapes.append(literal_shape(ctx, value))
    if not shapes or any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    if first.kind is ShapeKind.ANY:
        return None
    if all(s is not None and same_type(s, first) for s in shapes):
        return first
    if (
        first.kind is ShapeKind.CLASS
        and first.fields is None
        and all(s is not None and s.kind is first.kind and s.name == first.name for s in shapes)
    ):
        return replace(first, args=())  # ``[1]`` and ``[]``: one class, items not evident
    return None


_CONSTANT_NAMES = frozenset({"True", "False", "None"})


def literal_shape(
    ctx: FileContext, expr: cst.BaseExpression, *, typed: bool = True
) -> Shape | None:
    """The shape of a literal, display, lambda or container-constructor call; a display
    of literals with its item types (``list[int]`` for ``[1]``) unless not ``typed``."""
    if typed:
        shown = display_type(expr, literal_item)
        if shown is not None:
            return shown
    if isinstance(expr, (cst.List, cst.ListComp)):
        return Shape(ShapeKind.CLASS, "builtins.list")
    if isinstance(expr, (cst.Dict, cst.DictComp)):
        return Shape(ShapeKind.CLASS, "builtins.dict")
    if isinstance(expr, (cst.Set, cst.SetComp)):
        return Shape(ShapeKind.CLASS, "builtins.set")
    if isinstance(expr, cst.Lambda):
        return Shape(ShapeKind.CALLABLE, "Callable")
    if isinstance(expr, cst.GeneratorExp):
        return Shape(ShapeKind.CLASS, "typing.Generator")
    atom = atom_shape(expr)
    if atom is not None:
        return atom
    if isinstance(expr, cst.Call):
        kind = mutable_kind(expr, ctx.names)
        if kind is None and ctx.names.qualified(expr.func) == "builtins.sorted":
            kind = "builtins.list"  # sorted() always builds a new list
        return Shape(ShapeKind.CLASS, kind) if kind is not None else None
    return None


def bound_around(ctx: FileContext, name: str, site: Site[Any], *, imports_too: bool = True) -> bool:
    """Whether a function, lambda or comprehension around ``site`` binds ``name``.

    With ``imports_too=False`` a nested ``import`` does not count: the resolver already
    maps the name to what it imports (``import time`` inside a behaviour is still time).
    """
    for scope in site.scope.chain:
        if isinstance(scope, cst.Lambda):
            if any(p.name.value == name for p in function_params(scope)):
                return True
        elif isinstance(scope, cst.FunctionDef) and (
            ctx.param(scope, name) is not None
            or any(
                imports_too or not isinstance(node, (cst.Import, cst.ImportFrom))
                for node in ctx.bindings(scope).get(name, ())
            )
        ):
            return True
    function = site.scope.function
    return name in _comprehension_names(ctx, function if function is not None else ctx.module)


def _comprehension_names(ctx: FileContext, node: cst.FunctionDef | cst.Module) -> set[str]:
    key = ("comprehension-names", id(node))
    cached = ctx.memo.get(key)
    if isinstance(cached, set):
        return cached
    found = {
        sub.value
        for comp in walk(node)
        if isinstance(comp, cst.CompFor)
        for sub in walk(comp.target)
        if isinstance(sub, cst.Name)
    }
    ctx.memo[key] = found
    return found


def instance_methods(ctx: FileContext, agent: AgentClass) -> frozenset[str]:
    """Methods of the class that are evidently instance methods: undecorated or
    behaviours (``self.<name>`` is then a bound method). Memoised."""
    key = ("instance-methods", id(agent.node))
    cached = ctx.memo.get(key)
    if isinstance(cached, frozenset):
        return cached
    found = frozenset(
        m.name.value
        for m in agent.methods
        if all(ctx.names.capsys_name(d.decorator) == "behaviour" for d in m.decorators)
    )
    ctx.memo[key] = found
    return found


def expr_shape(
    ctx: FileContext, expr: cst.BaseExpression, site: Site[Any], *, typed: bool = True
) -> Shape | None:
    """The evident type of an expression at ``site``, or None when it is not evident.

    A display gives its item types when they are evident (``[x]`` is ``list[int]`` for
    an ``x: int``), as mypy infers them without a type context; with ``typed=False``
    (a context may decide them: a parameter declared ``list[float]`` makes ``[1]`` a
    ``list[float]``) displays are only their class."""
    if typed:
        shown = display_type(expr, lambda item: _item_shape(ctx, item, site))
        if shown is not None:
            return shown
    literal = literal_shape(ctx, expr, typed=False)
    if literal is not None:
        return literal
    if isinstance(expr, cst.NamedExpr):
        return expr_shape(ctx, expr.value, site, typed=typed)
    if isinstance(expr, cst.IfExp):  # evident when both branches are
        body = expr_shape(ctx, expr.body, site, typed=typed)
        orelse = expr_shape(ctx, expr.orelse, site, typed=typed)
        if body is None or orelse is None:
            return None
        return body if body == orelse else Shape(ShapeKind.UNION, "", (body, orelse))
    if isinstance(expr, cst.Tuple):
        items = [expr_shape(ctx, e.value, site, typed=typed) for e in expr.elements]
        if any(i is None for i in items) or any(
            isinstance(e, cst.StarredElement) for e in expr.elements
        ):
            return None
        return Shape(ShapeKind.CLASS, "builtins.tuple", tuple(i for i in items if i is not None))
    function = site.scope.function
    if isinstance(expr, cst.Name):
        name = _alias_source(ctx, expr, function)
        if name is None:
            return None
        shape = ctx.local_shape(name, function)
        if shape is not None:
            return None if _narrowed(ctx, function, name.value) else shape
        bound_here = function is not None and (
            name.value in ctx.bindings(function) or ctx.param(function, name.value) is not None
        )
        kind = ctx.summary.container_globals.get(name.value)
        if kind is not None and not bound_here and name.value not in ctx.summary.imports:
            return Shape(ShapeKind.CLASS, kind)
        if name.value in ctx.module_functions and not bound_around(ctx, name.value, site):
            return Shape(ShapeKind.CALLABLE, "Callable")  # a module-level def
        return None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        found = site.scope.method()
        if found is None:
            return None
        cls, method = found
        agent = ctx.agent_of(cls)
        if agent is None or expr.value.value != self_name(method):
            return None
        if expr.attr.value in instance_methods(ctx, agent):
            return Shape(ShapeKind.CALLABLE, "Callable")  # a bound method, carrying self
        if _narrowed(ctx, method, f"{expr.value.value}.{expr.attr.value}"):
            return None
        return field_shape(ctx, agent, expr.attr.value)
    if isinstance(expr, cst.Call) and ctx.names.capsys_name(expr.func) == "iso":
        return _iso_shape(ctx, expr, site, typed=typed)
    if isinstance(expr, cst.Call) and ctx.is_agent_class(expr.func):
        qualified = ctx.qualified(expr.func) or ""
        return Shape(ShapeKind.CLASS, qualified, (), frozenset({_AGENT_BASE}))
    if isinstance(expr, cst.Call):
        constructed = ctx.constructed_shape(expr, function)
        if constructed is not None:
            return _inferred_args(ctx, constructed, expr, site)
        return _returned_shape(ctx, expr, site) or _method_result(ctx, expr, site)
    return None


def _iso_shape(ctx: FileContext, call: cst.Call, site: Site[Any], *, typed: bool) -> Shape | None:
    """``iso(x)``: an ``Iso`` of the evident type of ``x``, as mypy infers ``Iso[T]``;
    None unless that type is spelled as mypy spells it (``Iso[list]`` is not)."""
    if len(call.args) != 1 or call.args[0].star or call.args[0].keyword is not None:
        return None
    inner = expr_shape(ctx, call.args[0].value, site, typed=typed)
    if inner is None or not _complete(ctx, inner):
        return None
    return Shape(ShapeKind.ISO, "Iso", (inner,))


# The types whose declared context decides the item types mypy infers for a display,
# rather than its items: the display's own class and the abstract types it implements.
_ABSTRACT = frozenset({"typing.Iterable", "typing.Collection", "typing.Container"})
_ORDERED = _ABSTRACT | {"typing.Sequence", "typing.Reversible"}
_LISTS = _ORDERED | {"builtins.list", "typing.MutableSequence"}
_SETS = _ABSTRACT | {"builtins.set", "typing.Set", "typing.AbstractSet", "typing.MutableSet"}
_DICTS = _ABSTRACT | {"builtins.dict", "typing.Mapping", "typing.MutableMapping"}
_CONTEXTS: dict[type[cst.CSTNode], frozenset[str]] = {
    cst.List: _LISTS,
    cst.ListComp: _LISTS,
    cst.Tuple: _ORDERED | {"builtins.tuple"},
    cst.Set: _SETS,
    cst.SetComp: _SETS,
    cst.Dict: _DICTS,
    cst.DictComp: _DICTS,
}
_STANDARD_ROOTS = frozenset({"builtins", "typing", "collections"})


def context_decides(value: cst.BaseExpression, context: Shape | None) -> bool:
    """Whether mypy may take the item types of the display ``value`` from ``context``,
    the declared type it is given to (None: not evident), rather than from its items:
    ``Sequence[float]`` makes ``[1]`` a ``list[float]``. So does a union holding such a
    type, a generic class that the linter cannot relate, or an unknown type."""
    if isinstance(value, cst.NamedExpr):
        return context_decides(value.value, context)
    if isinstance(value, cst.IfExp):
        return context_decides(value.body, context) or context_decides(value.orelse, context)
    names = _CONTEXTS.get(type(value))
    if names is None:
        return False
    return context is None or _constrains(context, names)


def _constrains(context: Shape, names: frozenset[str]) -> bool:
    kind = context.kind
    if kind in (ShapeKind.ANY, ShapeKind.TYPEVAR):
        return True
    if kind is ShapeKind.UNION:
        return any(_constrains(a, names) for a in context.args)
    if kind in (ShapeKind.VAL, ShapeKind.REF):  # aliases of their argument
        return not context.args or _constrains(context.args[0], names)
    if kind is not ShapeKind.CLASS:
        return False
    if context.name in names:
        return True
    return bool(context.args) and context.name.split(".", 1)[0] not in _STANDARD_ROOTS


def _alias_source(
    ctx: FileContext, name: cst.Name, function: cst.FunctionDef | None
) -> cst.Name | None:
    """The name whose value ``name`` evidently holds: through locals bound only once, to
    another name (``y = x``: ``x``, whose type mypy gave ``y``), else ``name`` itself.
    None when a name on the way is narrowed (its declared type is then not evident) or
    the chain loops."""
    seen: set[str] = set()
    while function is not None and name.value not in seen:
        seen.add(name.value)
        binds = ctx.bindings(function).get(name.value, [])
        if len(binds) != 1 or ctx.param(function, name.value) is not None:
            return name
        (node,) = binds
        if not (
            isinstance(node, cst.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
            and isinstance(node.value, cst.Name)
            and node.value.value not in _CONSTANT_NAMES
        ):
            return name
        if _narrowed(ctx, function, name.value):
            return None
        name = node.value
    return name if function is None else None


def _item_shape(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> Shape | None:
    """The evident type of one item of a display, when it says all that mypy's spelling
    of it says (not a bare ``list`` for a ``list[int]``)."""
    shape = expr_shape(ctx, expr, site)
    return shape if shape is not None and _complete(ctx, shape) else None


_HOLDING = (ShapeKind.TAG, ShapeKind.ISO, ShapeKind.VAL, ShapeKind.REF, ShapeKind.CLASS)


def _complete(ctx: FileContext, shape: Shape) -> bool:
    """Whether ``shape`` is spelled as mypy spells the type: every container and generic
    class with its arguments, nothing unknown or callable, an unsubscripted class only
    when it takes no type parameters (an atom of the table, a project class)."""
    kind = shape.kind
    if kind is ShapeKind.NONE:
        return True
    if kind is ShapeKind.UNION:
        return all(_complete(ctx, a) for a in shape.args)
    if shape.args and kind in _HOLDING:
        return all(_complete(ctx, a) for a in shape.args)
    if kind is not ShapeKind.CLASS:
        return False
    if shape.name in STATIC_KINDS:
        return STATIC_KINDS[shape.name] is TypeKind.ATOM
    cls = ctx.index.lookup_class(shape.name)
    return cls is not None and not cls.type_params


def _inferred_args(ctx: FileContext, shape: Shape, call: cst.Call, site: Site[Any]) -> Shape:
    """``Box([1])`` of a generic record (``item: T``): its type parameters bound to the
    evident types of the arguments given for fields typed by a bare parameter, as mypy
    infers ``Box[list[int]]``. A parameter no such argument evidently binds stays
    unknown (the value decides), and positions are matched only for a record with no
    project base class (inherited fields come first) and up to a ``KW_ONLY`` marker."""
    cls = ctx.index.lookup_class(shape.name) if shape.fields is not None else None
    if cls is None or not cls.type_params or shape.args:
        return shape
    summary = ctx.index.module(cls.module)
    if summary is None:
        return shape
    names = ctx.names if summary is ctx.summary else NameResolver(summary)
    fields: list[tuple[str, str | None]] = []  # (field, the type parameter typing it)
    for name, annotation in cls.fields:
        text = string_value(annotation)
        node = parse_annotation(text) if text is not None else annotation
        head = node.value if isinstance(node, cst.Subscript) else node
        qualified = names.qualified(head) if head is not None else None
        if qualified in ("typing.ClassVar", "typing_extensions.ClassVar"):
            continue
        if qualified == "dataclasses.KW_ONLY":
            fields.append(("", None))  # positions end here
            continue
        bare = isinstance(node, cst.Name) and node.value in cls.type_params
        fields.append((name, node.value if bare and isinstance(node, cst.Name) else None))
    positional = all(ctx.index.lookup_class(b) is None for b in cls.bases if b is not None)
    bound: dict[str, list[Shape]] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            return shape  # *args / **kwargs: the mapping is not evident
        if arg.keyword is not None:
            param = dict(fields).get(arg.keyword.value)
        elif positional and position < len(fields) and fields[position][0]:
            param = fields[position][1]
            position += 1
        else:
            return shape
        if param is None:
            continue
        found = expr_shape(ctx, arg.value, site)
        if found is not None and found not in bound.setdefault(param, []):
            bound[param].append(found)
    if not bound:
        return shape
    args = tuple(
        ANY_SHAPE
        if not bound.get(p)
        else bound[p][0]
        if len(bound[p]) == 1
        else Shape(ShapeKind.UNION, "", tuple(bound[p]))
        for p in cls.type_params
    )
    return ctx.shapes.record(cls, args)


def _narrowed(ctx: FileContext, function: cst.FunctionDef | None, name: str) -> bool:
    """Whether ``function`` narrows ``name`` (a local, or ``self.<field>``) anywhere: the
    subject of a ``match``, or inside a condition (``if``/``elif``/``while``/``assert``,
    a conditional expression, a comprehension's ``if``, an ``and``/``or`` operand) in a
    call (``isinstance(v, int)``, a ``TypeGuard``), a comparison (``v is None``) or an
    attribute test (``v.kind == "a"``). A type checker then knows more than the
    declaration, so the declared type is no longer evident. Bare truthiness (``if v:``)
    does not count."""
    if function is None:
        return False
    key = ("narrowed", id(function))
    cached = ctx.memo.get(key)
    if not isinstance(cached, frozenset):
        found: set[str] = set()
        for node in walk(function.body):
            if isinstance(node, (cst.If, cst.While, cst.Assert, cst.IfExp, cst.CompIf)):
                _collect_narrowed(node.test, found, top=True)
            elif isinstance(node, cst.Match):
                _collect_narrowed(node.subject, found, top=False)
            elif isinstance(node, cst.BooleanOperation):
                _collect_narrowed(node.left, found, top=True)
        cached = frozenset(found)
        ctx.memo[key] = cached
    return name in cached


def _collect_narrowed(test: cst.BaseExpression, found: set[str], *, top: bool) -> None:
    if top and isinstance(test, cst.UnaryOperation):
        _collect_narrowed(test.expression, found, top=True)
        return
    if top and isinstance(test, cst.BooleanOperation):
        _collect_narrowed(test.left, found, top=True)
        _collect_narrowed(test.right, found, top=True)
        return
    if top and isinstance(test, cst.Name):
        return  # bare truthiness
    if top and isinstance(test, cst.Attribute):  # ``if v.flag:`` may narrow v, not v.flag
        _collect_narrowed(test.value, found, top=False)
        return
    for node in walk(test):
        if isinstance(node, cst.Name):
            found.add(node.value)
        elif isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            found.add(f"{node.value.value}.{node.attr.value}")


def _returned_shape(ctx: FileContext, call: cst.Call, site: Site[Any]) -> Shape | None:
    """The declared return type of a call of a plain module-level function of this file
    (``def make() -> list[int]``): what the call evidently gives. None for an ``async``
    def (a coroutine), a function whose return type mentions a type variable (the call
    decides it), or a name bound around ``site``."""
    func = call.func
    if not isinstance(func, cst.Name) or func.value not in ctx.module_functions:
        return None
    if bound_around(ctx, func.value, site):
        return None
    for stmt in top_level(ctx.module.body):
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == func.value:
            if stmt.asynchronous is not None or stmt.returns is None:
                return None
            shape = ctx.shape(stmt.returns.annotation)
            return None if _generic(shape) else shape
    return None


def _method_result(ctx: FileContext, call: cst.Call, site: Site[Any]) -> Shape | None:
    """The declared return type of ``self.<method>()`` called in a method of an agent
    class of this file, where ``<method>`` is a plain (undecorated, not ``async``) method
    the class defines once and never assigns as a field. None otherwise, or when the
    type mentions a type variable."""
    func = call.func
    found = site.scope.method()
    if found is None or not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    cls, method = found
    agent = ctx.agent_of(cls)
    me = func.value.value
    if (
        agent is None
        or me != self_name(method)
        or me in ctx.bindings(method)
        or rebinds(site, method, me)
        or func.attr.value in agent_fields(ctx, agent)
    ):
        return None
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    target = _method_def(body, func.attr.value)
    if target is None or target.decorators or target.asynchronous or target.returns is None:
        return None
    shape = ctx.shape(target.returns.annotation)
    return None if _generic(shape) else shape


def _method_def(body: Sequence[cst.CSTNode], name: str) -> cst.FunctionDef | None:
    """The one ``def <name>`` of a class body; None when the body binds ``name`` in any
    other way too (an assignment merely naming it counts)."""
    found: list[cst.CSTNode] = []
    for stmt in top_level(body):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            if stmt.name.value == name:
                found.append(stmt)
        elif isinstance(stmt, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and any(
            isinstance(node, cst.Name) and node.value == name for node in walk(stmt)
        ):
            found.append(stmt)
    if len(found) != 1 or not isinstance(found[0], cst.FunctionDef):
        return None
    return found[0]


def _generic(shape: Shape) -> bool:
    return shape.kind is ShapeKind.TYPEVAR or any(_generic(a) for a in shape.args)


def is_agent_shape(shape: Shape) -> bool:
    return shape.kind is ShapeKind.CLASS and _AGENT_BASE in shape.bases
