"""CAP007 agent-state-access: agent state reached around a ``Tag``.

## What it does
Finds agent classes instantiated directly (``Counter()`` instead of
``rt.spawn(Counter)``), attributes other than ``send``/``ask``/``send_wait`` reached
through a name that is evidently a ``Tag`` (a parameter or variable annotated
``Tag[...]`` or ``Optional[Tag[...]]``, the result of ``spawn``, ``self.me``, an agent
field holding a Tag, a loop variable over a list of Tags or a field holding one),
agent objects passed across a boundary, and annotations that hold an agent object:
a behaviour's or ``__init__``'s parameter, a behaviour's result or a ``@message``
field annotated with an agent class (or ``A | None``; as the mypy plugin does), and an
agent's field annotated with one (also ``list[A]`` and the like; never ``Tag[A]`` or
``type[A]``).

## Why is this bad?
An agent's state is private, touched only by its behaviours one message at a time.
Creating the object directly or reaching into it bypasses the mailbox and races with
the agent.

## Example
```python
counter = Counter()
```

## Use instead
```python
async with Runtime() as rt:
    counter = rt.spawn(Counter)
    counter.send(Counter.inc)
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import libcst as cst

from capsys.diagnostics import format_message, held_agent_detail, passed_agent_detail
from capsys.lint.context import AgentClass, FileContext, Site, function_params
from capsys.lint.model import Finding
from capsys.lint.rules._common import (
    SPAWN_GROUPS,
    agent_fields,
    agent_method,
    boundary,
    expr_shape,
    held_agent,
    is_agent_shape,
    self_name,
    spawn_group_target,
)
from capsys.lint.walk import walk

CODE = "CAP007"
# Tag's own public surface, plus its one slot; anything else is agent state.
_TAG_SURFACE = frozenset({"send", "send_wait", "ask", "_address"})


def _short(qualified: str | None) -> str:
    return qualified.rsplit(".", 1)[-1] if qualified else "Agent"


_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
_UNION = frozenset({"typing.Union", "typing_extensions.Union"})


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _without_none(ctx: FileContext, annotation: cst.BaseExpression) -> cst.BaseExpression:
    """``X`` for ``Optional[X]`` / ``Union[X, None]`` / ``X | None``: where such a value
    is used as an ``X`` it has been narrowed (``if x is not None``), so it is an ``X``."""
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        if _is_none(annotation.right):
            return _without_none(ctx, annotation.left)
        if _is_none(annotation.left):
            return _without_none(ctx, annotation.right)
        return annotation
    if isinstance(annotation, cst.Subscript):
        head = ctx.names.qualified(annotation.value)
        items = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
        if len(items) != len(annotation.slice):
            return annotation
        if head in _OPTIONAL and len(items) == 1:
            return _without_none(ctx, items[0])
        if head in _UNION and len(items) == 2 and any(_is_none(i) for i in items):
            return _without_none(ctx, next(i for i in items if not _is_none(i)))
    return annotation


def _tag_annotation(ctx: FileContext, annotation: cst.BaseExpression) -> str | None:
    """The agent name of a ``Tag[A]`` / ``Tag`` annotation (or ``Tag[A] | None``), or
    None if it is not one."""
    annotation = _without_none(ctx, annotation)
    head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
    if ctx.names.capsys_name(head) != "Tag":
        return None
    if isinstance(annotation, cst.Subscript) and annotation.slice:
        element = annotation.slice[0].slice
        if isinstance(element, cst.Index):
            inner = element.value
            if isinstance(inner, (cst.SimpleString, cst.ConcatenatedString)):
                value = inner.evaluated_value
                return value.strip() if isinstance(value, str) else "Agent"
            if isinstance(inner, (cst.Name, cst.Attribute)):
                return _short(ctx.names.qualified(inner) or ctx.module.code_for_node(inner))
    return "Agent"


def _spawned(ctx: FileContext, expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Await):
        return None
    if not isinstance(expr, cst.Call):
        return None
    func = expr.func
    if not (
        (isinstance(func, cst.Attribute) and func.attr.value == "spawn")
        or ctx.names.capsys_name(func) == "spawn"
    ):
        return None
    args = [a for a in expr.args if a.keyword is None and not a.star]
    if not args or not ctx.is_agent_class(args[0].value):
        return None
    return _short(ctx.qualified(args[0].value))


# Containers whose items an annotation like ``list[Tag[A]]`` makes evident.
_CONTAINERS = frozenset(
    {
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.frozenset",
        "typing.List",
        "typing.Tuple",
        "typing.Sequence",
        "typing.Iterable",
        "collections.abc.Sequence",
        "collections.abc.Iterable",
    }
)


def _tags_annotation(ctx: FileContext, annotation: cst.BaseExpression) -> str | None:
    """The agent name of ``list[Tag[A]]``-style annotations (a container of Tags)."""
    annotation = _without_none(ctx, annotation)
    if not isinstance(annotation, cst.Subscript) or not annotation.slice:
        return None
    if ctx.names.qualified(annotation.value) not in _CONTAINERS:
        return None
    element = annotation.slice[0].slice
    if not isinstance(element, cst.Index):
        return None
    return _tag_annotation(ctx, element.value)


_MAPPINGS = frozenset(
    {
        "builtins.dict",
        "typing.Dict",
        "typing.Mapping",
        "typing.MutableMapping",
        "typing.DefaultDict",
        "typing.OrderedDict",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
        "collections.defaultdict",
        "collections.OrderedDict",
    }
)


def _mapped_tags_annotation(ctx: FileContext, annotation: cst.BaseExpression) -> str | None:
    """The agent name of ``dict[K, Tag[A]]``-style annotations: a mapping whose values
    are Tags (indexing it gives a Tag; iterating it gives keys, which are not)."""
    annotation = _without_none(ctx, annotation)
    if not isinstance(annotation, cst.Subscript) or len(annotation.slice) != 2:
        return None
    if ctx.names.qualified(annotation.value) not in _MAPPINGS:
        return None
    element = annotation.slice[1].slice
    return _tag_annotation(ctx, element.value) if isinstance(element, cst.Index) else None


def _tags_value(ctx: FileContext, value: cst.BaseExpression) -> str | None:
    """The agent name of a list/tuple display or comprehension of ``spawn`` calls."""
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return _spawned(ctx, value.elt)
    if isinstance(value, (cst.List, cst.Tuple)) and value.elements:
        agents = {_spawned(ctx, e.value) for e in value.elements}
        if len(agents) == 1 and None not in agents:
            return agents.pop()
    return None


def _tag_field(
    ctx: FileContext, agent: AgentClass, field: str, many: bool = False, mapping: bool = False
) -> str | None:
    """The agent name if every assignment of ``self.<field>`` in the class stores a Tag
    (a container of Tags when ``many``; a mapping to Tags, annotated so, when
    ``mapping``)."""
    annotated = (
        _mapped_tags_annotation if mapping else _tags_annotation if many else _tag_annotation
    )
    kind = "mapped-tags-fields" if mapping else "tags-fields" if many else "tag-fields"
    key = (kind, id(agent.node))
    cache = ctx.memo.get(key)
    if not isinstance(cache, dict):
        cache = {}
        ctx.memo[key] = cache
    if field in cache:
        found: str | None = cache[field]
        return found
    result: str | None = None
    names: set[str | None] = set()
    assigned = False
    body = agent.node.body.body if isinstance(agent.node.body, cst.IndentedBlock) else ()
    for stmt in body:  # a class-level declaration: `peer: Tag[Other]`
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if (
                isinstance(small, cst.AnnAssign)
                and isinstance(small.target, cst.Name)
                and small.target.value == field
            ):
                assigned = True
                names.add(annotated(ctx, small.annotation.annotation))
    for method in agent.methods:
        me = self_name(method)
        if me is None:
            continue
        for node in _assignments(method, me, field):
            assigned = True
            if isinstance(node, cst.AnnAssign):
                names.add(annotated(ctx, node.annotation.annotation))
            elif isinstance(node, cst.Assign) and len(node.targets) == 1 and not mapping:
                names.add(_tag_value(ctx, node.value, method, many))
            else:
                names.add(None)
    if assigned and None not in names and len(names) == 1:
        result = names.pop()
    cache[field] = result
    return result


def _tag_value(
    ctx: FileContext, value: cst.BaseExpression, method: cst.FunctionDef, many: bool = False
) -> str | None:
    spawned = _tags_value(ctx, value) if many else _spawned(ctx, value)
    if spawned is not None:
        return spawned
    if isinstance(value, cst.Name):
        param = ctx.param(method, value.value)
        if (
            param is not None
            and param.annotation is not None
            and value.value not in ctx.bindings(method)
        ):
            annotated = _tags_annotation if many else _tag_annotation
            return annotated(ctx, param.annotation.annotation)
    return None


def _is_field(target: cst.BaseExpression, me: str, field: str) -> bool:
    return (
        isinstance(target, cst.Attribute)
        and isinstance(target.value, cst.Name)
        and target.value.value == me
        and target.attr.value == field
    )


def _assignments(method: cst.FunctionDef, me: str, field: str) -> list[cst.CSTNode]:
    """The statements assigning ``self.<field>`` in a method (unpacking targets are
    returned as their ``AssignTarget``, which the caller treats as not evident)."""
    found: list[cst.CSTNode] = []
    for node in walk(method.body):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if _is_field(t.target, me, field):
                    found.append(node)
                elif isinstance(t.target, (cst.Tuple, cst.List)) and any(
                    _is_field(e.value, me, field) for e in t.target.elements
                ):
                    found.append(t)
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and _is_field(node.target, me, field):
            found.append(node)
    return found


def _candidates(ctx: FileContext) -> tuple[frozenset[str], frozenset[str]]:
    """(names, self fields) that may hold a Tag somewhere in the file: a cheap filter so
    the precise, per-scope check runs only where it can find something."""
    key = ("tag-candidates", 0)
    cached = ctx.memo.get(key)
    if isinstance(cached, tuple):
        return cached
    names = {
        p.name.value
        for p in ctx.params
        if p.annotation is not None
        and (
            _tag_annotation(ctx, p.annotation.annotation)
            or _tags_annotation(ctx, p.annotation.annotation)
            or _mapped_tags_annotation(ctx, p.annotation.annotation)
        )
    }
    fields: set[str] = set()
    for node in ctx.assigns:
        if isinstance(node, cst.AnnAssign):
            targets = [node.target]
            annotation = node.annotation.annotation
            is_tag = bool(
                _tag_annotation(ctx, annotation)
                or _tags_annotation(ctx, annotation)
                or _mapped_tags_annotation(ctx, annotation)
            )
        else:
            targets = [t.target for t in node.targets]
            value = node.value
            is_tag = (
                _spawned(ctx, value) is not None
                or _tags_value(ctx, value) is not None
                or (isinstance(value, cst.Name) and value.value in names)
            )
        if not is_tag:
            continue
        for target in targets:
            if isinstance(target, cst.Name):
                names.add(target.value)
                fields.add(target.value)  # maybe a class-level field declaration
            elif isinstance(target, cst.Attribute):
                fields.add(target.attr.value)
    for loop in ctx.fors:  # `for tag in tags:` over a container of Tags
        it = loop.iter
        over_tags = (
            (isinstance(it, cst.Name) and it.value in names)
            or (isinstance(it, cst.Attribute) and it.attr.value in fields)
            or _tags_value(ctx, it)
        )
        if over_tags and isinstance(loop.target, cst.Name):
            names.add(loop.target.value)
    result = (frozenset(names), frozenset(fields))
    ctx.memo[key] = result
    return result


def _topology_value(ctx: FileContext, value: cst.BaseExpression) -> str | None:
    """The agent name of a topology builder call (``mesh(rt, W, 3)``): its ``Topology``
    holds Tags of ``W`` (``.nodes``, ``.root``, indexing)."""
    if not isinstance(value, cst.Call):
        return None
    verb = ctx.names.capsys_name(value.func)
    if verb not in SPAWN_GROUPS:
        return None
    cls = spawn_group_target(value, verb)
    if cls is None or not ctx.is_agent_class(cls):
        return None
    return _short(ctx.qualified(cls))


def _topology_annotation(ctx: FileContext, annotation: cst.BaseExpression) -> str | None:
    """The agent name of a ``Topology[A]`` annotation."""
    if not isinstance(annotation, cst.Subscript) or len(annotation.slice) != 1:
        return None
    if ctx.names.capsys_name(annotation.value) != "Topology":
        return None
    element = annotation.slice[0].slice
    if not isinstance(element, cst.Index) or not isinstance(
        element.value, (cst.Name, cst.Attribute)
    ):
        return None
    if not ctx.is_agent_class(element.value):
        return None
    return _short(ctx.qualified(element.value))


def _topology_of(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> str | None:
    """The agent name when ``expr`` is evidently a ``Topology`` (a builder call, or a
    local bound only to one or annotated ``Topology[A]``)."""
    direct = _topology_value(ctx, expr)
    if direct is not None or not isinstance(expr, cst.Name):
        return direct
    return _local_agent(
        ctx,
        expr.value,
        site,
        lambda annotation: _topology_annotation(ctx, annotation),
        lambda value: _topology_value(ctx, value),
        None,
    )


def _tag_of(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> str | None:
    """The agent name when ``expr`` is evidently a Tag at ``site``."""
    spawned = _spawned(ctx, expr)
    if spawned is not None:
        return spawned
    tag_names, tag_fields = _candidates(ctx)
    if isinstance(expr, cst.Subscript):  # tags[0], by_name["a"], topo[0]
        return (
            _tags_of(ctx, expr.value, site)
            or _mapped_tags_of(ctx, expr.value, site)
            or _topology_of(ctx, expr.value, site)
        )
    if isinstance(expr, cst.Attribute) and expr.attr.value == "root":  # topo.root
        topology = _topology_of(ctx, expr.value, site)
        if topology is not None:
            return topology
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        attr = expr.attr.value
        if attr != "me" and attr not in tag_fields:
            return None
        found = agent_method(ctx, site)
        if found is None:
            return None
        agent, method = found
        if expr.value.value == self_name(method):
            if attr == "me":
                return agent.name
            return _tag_field(ctx, agent, attr)
        return None
    if not isinstance(expr, cst.Name) or expr.value not in tag_names:
        return None
    return _local_agent(
        ctx,
        expr.value,
        site,
        lambda annotation: _tag_annotation(ctx, annotation),
        lambda value: _spawned(ctx, value),
        lambda iterable: _tags_of(ctx, iterable, site),
    )


def _tags_of(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> str | None:
    """The agent name when ``expr`` is evidently a container of Tags at ``site``."""
    direct = _tags_value(ctx, expr)
    if direct is not None:
        return direct
    if isinstance(expr, cst.Attribute) and expr.attr.value == "nodes":  # topo.nodes
        topology = _topology_of(ctx, expr.value, site)
        if topology is not None:
            return topology
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):  # self.tags
        if expr.attr.value not in _candidates(ctx)[1]:
            return None
        found = agent_method(ctx, site)
        if found is None or expr.value.value != self_name(found[1]):
            return None
        return _tag_field(ctx, found[0], expr.attr.value, many=True)
    if not isinstance(expr, cst.Name) or expr.value not in _candidates(ctx)[0]:
        return None
    return _local_agent(
        ctx,
        expr.value,
        site,
        lambda annotation: _tags_annotation(ctx, annotation),
        lambda value: _tags_value(ctx, value),
        None,
    )


def _mapped_tags_of(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> str | None:
    """The agent name when ``expr`` is evidently (annotated as) a mapping to Tags."""
    names, fields = _candidates(ctx)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):  # self.by_name
        if expr.attr.value not in fields:
            return None
        found = agent_method(ctx, site)
        if found is None or expr.value.value != self_name(found[1]):
            return None
        return _tag_field(ctx, found[0], expr.attr.value, mapping=True)
    if not isinstance(expr, cst.Name) or expr.value not in names:
        return None
    return _local_agent(
        ctx,
        expr.value,
        site,
        lambda annotation: _mapped_tags_annotation(ctx, annotation),
        lambda value: None,
        None,
    )


def _local_agent(
    ctx: FileContext,
    name: str,
    site: Site[Any],
    from_annotation: Callable[[cst.BaseExpression], str | None],
    from_value: Callable[[cst.BaseExpression], str | None],
    from_loop: Callable[[cst.BaseExpression], str | None] | None,
) -> str | None:
    """The agent name a local ``name`` evidently refers to at ``site``: every binding of
    it in the function (parameter annotation, annotated or plain assignment, a for loop
    when ``from_loop`` is given) must agree, or there is no answer."""
    function = site.scope.function
    if function is None or site.scope.in_lambda:
        return None
    binds = ctx.bindings(function).get(name, [])
    param = ctx.param(function, name)
    if param is not None:
        if binds or param.annotation is None:
            return None
        return from_annotation(param.annotation.annotation)
    found: set[str | None] = set()
    for node in binds:
        if isinstance(node, cst.AnnAssign):
            found.add(from_annotation(node.annotation.annotation))
        elif (
            isinstance(node, cst.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            found.add(from_value(node.value))
        elif (
            from_loop is not None
            and isinstance(node, cst.For)
            and isinstance(node.target, cst.Name)
        ):
            found.add(from_loop(node.iter))
        else:
            return None
    if len(found) == 1 and None not in found:
        return found.pop()
    return None


def _in_implementation(ctx: FileContext) -> bool:
    """capsys and the runtime implement agents and Tags: they create and open them."""
    root = ctx.module_name.split(".", 1)[0]
    return root in ("capsys", "runtime")


def _class_alias(ctx: FileContext, func: cst.BaseExpression, site: Site[Any]) -> str | None:
    """The agent class a local name is bound to when its only binding in the function is
    ``name = AgentClass`` (``cls = Ok; cls(2)``); None otherwise."""
    function = site.scope.function
    if not isinstance(func, cst.Name) or function is None or site.scope.in_lambda:
        return None
    if ctx.param(function, func.value) is not None:
        return None
    binds = ctx.bindings(function).get(func.value, [])
    if len(binds) != 1:
        return None
    node = binds[0]
    if not (
        isinstance(node, cst.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0].target, cst.Name)
        and isinstance(node.value, (cst.Name, cst.Attribute))
        and ctx.is_agent_class(node.value)
    ):
        return None
    return ctx.qualified(node.value)


def _instantiations(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        call = site.node
        if ctx.is_agent_class(call.func):
            qualified = ctx.qualified(call.func)
        else:
            qualified = _class_alias(ctx, call.func, site)
            if qualified is None:
                continue
        name = _short(qualified)
        detail = (
            f"agent {name} is instantiated directly, so its state would be reachable "
            f"around its mailbox; create it with rt.spawn({name}, ...) and use the Tag"
        )
        yield Finding(CODE, call, format_message(CODE, detail=detail))


def _through_tag(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.attributes:
        node = site.node
        attr = node.attr.value
        if attr in _TAG_SURFACE or (attr.startswith("__") and attr.endswith("__")):
            continue
        agent = _tag_of(ctx, node.value, site)
        if agent is None:
            continue
        detail = (
            f'"{attr}" is reached through a Tag[{agent}], but a Tag is only the address of '
            f"the agent and its state is private; call a behaviour instead: "
            f"tag.send({agent}.<behaviour>, ...) or await tag.ask({agent}.<behaviour>, ...)"
        )
        yield Finding(CODE, node, format_message(CODE, detail=detail))


def _agent_objects_sent(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        b = boundary(ctx, site.node, site.scope.function)
        if b is None:
            continue
        for label, value in b.payload:
            if isinstance(value, cst.Call):
                continue  # Agent(...) itself is reported as an instantiation
            shape = expr_shape(ctx, value, site)
            if shape is None or not is_agent_shape(shape):
                continue
            other = _short(shape.name)
            detail = (
                f"Argument {label} of {b.where} is an agent object ({other}): holding "
                f"another agent's object reaches its state around its mailbox; pass its "
                f"Tag[{other}] instead"
            )
            yield Finding(CODE, value, format_message(CODE, detail=detail))


def _boundary_annotations(
    ctx: FileContext,
) -> Iterator[tuple[cst.CSTNode, cst.BaseExpression, str]]:
    """(where, annotation, what) of behaviour and ``__init__`` parameters, behaviour
    results and ``@message`` fields: the boundary, where the mypy plugin reports agent
    objects (a parameter or field at its name, a result at its annotation)."""
    for agent in ctx.agent_classes:
        signatures = [(agent.init, f"{agent.name}.__init__")] if agent.init else []
        signatures += [(b.node, f"behaviour {agent.name}.{b.name}") for b in agent.behaviours]
        for function, owner in signatures:
            for param in function_params(function):
                if param.annotation is not None:
                    what = f'Parameter "{param.name.value}" of {owner}'
                    yield param.name, param.annotation.annotation, what
            if function.returns is not None and function is not agent.init:
                returns = function.returns.annotation
                yield returns, returns, f"The return type of {owner}"
    for message in ctx.message_classes:
        body = message.node.body
        for line in body.body if isinstance(body, cst.IndentedBlock) else ():
            for stmt in line.body if isinstance(line, cst.SimpleStatementLine) else ():
                if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
                    what = f'Field "{stmt.target.value}" of message {message.name}'
                    yield stmt.target, stmt.annotation.annotation, what


def _held(ctx: FileContext) -> Iterator[Finding]:
    """Signatures, message fields and agent fields annotated to hold an agent object."""
    for where, annotation, what in _boundary_annotations(ctx):
        agent = held_agent(ctx.shape(annotation))
        if agent is not None:
            detail = passed_agent_detail(what, agent)
            yield Finding(CODE, where, format_message(CODE, detail=detail))
    for owner in ctx.agent_classes:
        for name, annotation in _field_annotations(ctx, owner):
            agent = held_agent(ctx.shape(annotation), deep=True)
            if agent is not None:
                detail = held_agent_detail(f'Field "{name}" of agent {owner.name}', agent)
                yield Finding(CODE, annotation, format_message(CODE, detail=detail))


def _field_annotations(
    ctx: FileContext, agent: AgentClass
) -> Iterator[tuple[str, cst.BaseExpression]]:
    """(field, annotation) of the class's annotated fields: ``peer: A`` in its body and
    ``self.peer: A = ...`` in its methods."""
    body = agent.node.body
    for line in body.body if isinstance(body, cst.IndentedBlock) else ():
        for stmt in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
                yield stmt.target.value, stmt.annotation.annotation
    for name, assignments in agent_fields(ctx, agent).items():
        for _, node in assignments:
            if isinstance(node, cst.AnnAssign):
                yield name, node.annotation.annotation


def check(ctx: FileContext) -> Iterator[Finding]:
    if _in_implementation(ctx):
        return
    yield from _instantiations(ctx)
    yield from _through_tag(ctx)
    yield from _agent_objects_sent(ctx)
    yield from _held(ctx)
