"""Helpers shared by the rule modules (not a rule: the registry skips this module)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import libcst as cst

from capsys.lint.context import AgentClass, FileContext, Site, function_params
from capsys.lint.index import NameResolver, capsys_public_name, mutable_kind, top_level
from capsys.lint.shapes import parse_annotation, string_value
from capsys.lint.walk import walk
from capsys.sendable import ANY_SHAPE, CAPSYS_NAMES, Shape, ShapeKind, held_agent

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
    "expr_shape",
    "field_shape",
    "held_agent",
    "is_agent_shape",
    "literal_shape",
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
    return Boundary(call, verb, target, where, tuple(payload), ref, tuple(starred))


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
    return Boundary(call, verb, target, f"{verb} of {target}", tuple(payload), None)


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
    if all(s == first for s in shapes) and first.kind is not ShapeKind.ANY:
        return first
    return None


_LITERAL_NAMES = {"True": "builtins.bool", "False": "builtins.bool"}
_CONSTANT_NAMES = frozenset({*_LITERAL_NAMES, "None"})


def literal_shape(ctx: FileContext, expr: cst.BaseExpression) -> Shape | None:
    """The shape of a literal, display, lambda or container-constructor call."""
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
    if isinstance(expr, cst.Integer):
        return Shape(ShapeKind.CLASS, "builtins.int")
    if isinstance(expr, cst.Float):
        return Shape(ShapeKind.CLASS, "builtins.float")
    if isinstance(expr, cst.Imaginary):
        return Shape(ShapeKind.CLASS, "builtins.complex")
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        prefix = expr.prefix.lower() if isinstance(expr, cst.SimpleString) else ""
        return Shape(ShapeKind.CLASS, "builtins.bytes" if "b" in prefix else "builtins.str")
    if isinstance(expr, cst.Name) and expr.value in _LITERAL_NAMES:
        return Shape(ShapeKind.CLASS, _LITERAL_NAMES[expr.value])
    if isinstance(expr, cst.Name) and expr.value == "None":
        return Shape(ShapeKind.NONE)
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


def expr_shape(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> Shape | None:
    """The evident type of an expression at ``site``, or None when it is not evident."""
    literal = literal_shape(ctx, expr)
    if literal is not None:
        return literal
    if isinstance(expr, cst.NamedExpr):
        return expr_shape(ctx, expr.value, site)
    if isinstance(expr, cst.IfExp):  # evident when both branches are
        body, orelse = expr_shape(ctx, expr.body, site), expr_shape(ctx, expr.orelse, site)
        if body is None or orelse is None:
            return None
        return body if body == orelse else Shape(ShapeKind.UNION, "", (body, orelse))
    if isinstance(expr, cst.Tuple):
        items = [expr_shape(ctx, e.value, site) for e in expr.elements]
        if any(i is None for i in items) or any(
            isinstance(e, cst.StarredElement) for e in expr.elements
        ):
            return None
        return Shape(ShapeKind.CLASS, "builtins.tuple", tuple(i for i in items if i is not None))
    function = site.scope.function
    if isinstance(expr, cst.Name):
        shape = ctx.local_shape(expr, function)
        if shape is not None:
            return None if _narrowed(ctx, function, expr.value) else shape
        bound_here = function is not None and (
            expr.value in ctx.bindings(function) or ctx.param(function, expr.value) is not None
        )
        kind = ctx.summary.container_globals.get(expr.value)
        if kind is not None and not bound_here and expr.value not in ctx.summary.imports:
            return Shape(ShapeKind.CLASS, kind)
        if expr.value in ctx.module_functions and not bound_around(ctx, expr.value, site):
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
    if isinstance(expr, cst.Call) and ctx.is_agent_class(expr.func):
        qualified = ctx.qualified(expr.func) or ""
        return Shape(ShapeKind.CLASS, qualified, (), frozenset({_AGENT_BASE}))
    if isinstance(expr, cst.Call):
        constructed = ctx.constructed_shape(expr, function)
        if constructed is not None:
            return _inferred_args(ctx, constructed, expr, site)
        return _returned_shape(ctx, expr, site)
    return None


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


def _generic(shape: Shape) -> bool:
    return shape.kind is ShapeKind.TYPEVAR or any(_generic(a) for a in shape.args)


def is_agent_shape(shape: Shape) -> bool:
    return shape.kind is ShapeKind.CLASS and _AGENT_BASE in shape.bases
