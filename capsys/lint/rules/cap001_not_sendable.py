"""CAP001 not-sendable: a non-sendable value crosses an agent boundary.

## What it does
Checks the arguments of ``send``/``send_wait``/``ask`` to a behaviour of a known agent
class, of ``spawn`` of a known agent class (and the ``args=`` of the topology builders ``mesh``,
``ring``, ``star``, ``hierarchical``, which spawn with them), of the runtime's ``quorum``
and ``broadcast``, the items put in a channel (``ch.send(x)`` / ``await ch.put(x)`` on a
name bound to ``channel(...)``), and the reply of an ``ask``/``quorum`` (the
behaviour's return type).
Only what the syntax makes evident is reported: list/dict/set displays and
comprehensions, generator expressions, ``list(...)``-style constructor calls and
``sorted(...)``, lambdas, ``x if c else y`` when both sides are evident, names whose
annotation or every assignment says what they are (a tuple display of evident items
too, or another such name: ``y = x``), agent fields annotated in the class, the result
of a function of the file or of a plain method of the agent (``self.snapshot()``)
declaring its return type, and the items of a ``*[...]`` display. The behaviour may be
named directly or through a local bound once to it (``b = A.put``). A display is
named with its item types when mypy would infer them from the items (``list[str]``
for ``["a"]``), not from a declared parameter (``Sequence[float]`` makes ``[1]`` a
``list[float]``) or a join (``list[object]``): then only its class is named.

## Why is this bad?
Only Iso (moved), deeply immutable values (shared) and Tags may cross. Anything else
stays reachable from the sender: two agents would mutate one object concurrently.

## Example
```python
def use(log: Tag[Log]) -> None:
    lines = ["a", "b"]
    log.send(Log.add, lines)
```

## Use instead
```python
    lines = ("a", "b")
    log.send(Log.add, lines)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext, Site
from capsys.lint.index import ClassSummary, NameResolver
from capsys.lint.model import Finding
from capsys.lint.rules._common import (
    Boundary,
    boundary,
    channel_method,
    context_decides,
    expr_shape,
    is_agent_shape,
    located,
    self_name,
)
from capsys.lint.shapes import problem_of, same_type
from capsys.sendable import Shape, ShapeKind

CODE = "CAP001"


def _is_self(ctx: FileContext, expr: cst.BaseExpression, site: Site[Any]) -> bool:
    found = site.scope.method()
    return found is not None and isinstance(expr, cst.Name) and expr.value == self_name(found[1])


def _unsendable(shape: Shape | None, node: cst.CSTNode, what: str) -> Finding | None:
    """The CAP001 finding at ``node`` when ``shape`` is evidently not sendable; ``what``
    names the value (its type follows). Agent objects are CAP007, not this."""
    if shape is None or is_agent_shape(shape):
        return None
    problem = problem_of(shape)
    if problem is None:
        return None
    text = shape.display()
    detail = problem.describe(text)
    return Finding(CODE, node, format_message(CODE, what=f"{what} ({text})", detail=detail))


def _payload(ctx: FileContext, b: Boundary, site: Site[Any]) -> Iterator[Finding]:
    for label, value in b.payload:
        if _is_self(ctx, value, site):
            continue  # CAP008
        shape = _argument_shape(ctx, value, _parameter(ctx, b, label), site)
        found = _unsendable(shape, located(value), f"Argument {label} of {b.where}")
        if found is not None:
            yield found
    for label, value in b.starred:
        yield from _starred(ctx, b, label, value, site)


def _argument_shape(
    ctx: FileContext, value: cst.BaseExpression, context: Shape | None, site: Site[Any]
) -> Shape | None:
    """The evident type of an argument given to a parameter declared ``context``: a
    display takes its item types from its items, unless the declared type may decide
    them (then only when they make that very type, as mypy would infer it)."""
    shape = expr_shape(ctx, value, site)
    if shape is None or not context_decides(value, context):
        return shape
    declared = context.args if context is not None and context.kind is ShapeKind.UNION else ()
    if context is not None and any(same_type(shape, d) for d in (context, *declared)):
        return shape
    return expr_shape(ctx, value, site, typed=False)


def _starred(
    ctx: FileContext, b: Boundary, label: str, value: cst.BaseExpression, site: Site[Any]
) -> Iterator[Finding]:
    """``send(A.b, *[[1]])``: each item of a list/tuple display unpacked into the call is
    an argument; the first evidently unsendable one is reported, as in the mypy plugin."""
    if not isinstance(value, (cst.List, cst.Tuple)):
        return
    for element in value.elements:
        if isinstance(element, cst.StarredElement) or _is_self(ctx, element.value, site):
            continue
        shape = expr_shape(ctx, element.value, site)  # typed as a whole, as mypy does
        found = _unsendable(
            shape,
            located(value),
            f"An item of *argument {label} of {b.where}",
        )
        if found is not None:
            yield found
            return


def _reply(ctx: FileContext, b: Boundary) -> Iterator[Finding]:
    if b.verb not in ("ask", "quorum") or b.behaviour is None:
        return
    agent, name = b.behaviour
    found = ctx.index.behaviour(agent, name)
    if found is None:
        return
    cls, definition = found
    if definition.returns is None:
        return  # CAP002 at the definition
    shape = _declared(ctx, cls, definition.returns.annotation)
    finding = _unsendable(shape, b.call, f"The reply of {b.verb} to {b.target}")
    if finding is not None:
        yield finding


def _declared(ctx: FileContext, cls: ClassSummary, annotation: cst.BaseExpression) -> Shape | None:
    """The shape of an annotation written in the module of ``cls``."""
    summary = ctx.index.module(cls.module)
    if summary is None:
        return None
    resolver = ctx.names if summary is ctx.summary else NameResolver(summary)
    return ctx.shapes.shape(annotation, resolver)


def _parameter(ctx: FileContext, b: Boundary, label: str) -> Shape | None:
    """The declared type of the parameter (of the behaviour, or of the ``__init__`` of
    the agent spawned) that receives argument ``label`` (``"1"``, or ``'"name"'`` for a
    keyword); None when it is not evident."""
    if b.behaviour is not None:
        found = ctx.index.behaviour(*b.behaviour)
    elif b.spawned is not None:
        found = ctx.index.initializer(b.spawned)
    else:
        return None
    if found is None:
        return None
    cls, definition = found
    params = definition.params
    positional = [*params.posonly_params, *params.params][1:]  # after self
    param: cst.Param | None = None
    if label.isdigit():
        index = int(label) - 1
        if index < len(positional):
            param = positional[index]
        elif isinstance(params.star_arg, cst.Param):
            param = params.star_arg
    else:
        keyword = label.strip('"')
        named = [p for p in (*positional, *params.kwonly_params) if p.name.value == keyword]
        param = named[0] if named else None
    if param is None or param.annotation is None:
        return None
    return _declared(ctx, cls, param.annotation.annotation)


def _channel_item(ctx: FileContext, site: Site[cst.Call]) -> Iterator[Finding]:
    """``ch.send(item)`` / ``await ch.put(item)`` on a name evidently bound to a channel."""
    method = channel_method(ctx, site)
    if method is None:
        return
    item = site.node.args[0].value
    if _is_self(ctx, item, site):
        return
    shape = expr_shape(ctx, item, site, typed=False)  # the channel's item type decides
    found = _unsendable(shape, located(item), f"The item of {method}")
    if found is not None:
        yield found


def check(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        b = boundary(ctx, site.node, site.scope.function)
        if b is None:
            yield from _channel_item(ctx, site)
            continue
        yield from _payload(ctx, b, site)
        yield from _reply(ctx, b)
