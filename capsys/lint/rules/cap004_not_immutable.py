"""CAP004 not-immutable: ``Val[T]`` or ``val(x)`` where ``T`` is not deeply immutable.

## What it does
Finds ``Val[...]`` in annotations whose type argument is not deeply immutable (per the
sendability table), and ``val(x)`` where ``x`` is evidently mutable: a list/dict/set
display, a ``list(...)``-style call, a name annotated or assigned as one, or an
``iso(...)`` of a value of evident type (a handle is never immutable).

## Why is this bad?
``Val`` promises that nothing can change the value, so any number of agents may share
it. A ``Val`` of a mutable type breaks the promise the moment someone mutates it.

## Example
```python
settings: Val[dict[str, int]] = {"retries": 3}
```

## Use instead
```python
settings: Val[tuple[tuple[str, int], ...]] = (("retries", 3),)
```
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext, Site
from capsys.lint.model import Finding
from capsys.lint.rules._common import expr_shape, located
from capsys.lint.shapes import parse_annotation, string_value
from capsys.lint.walk import walk
from capsys.sendable import ANY_SHAPE, Shape, ShapeKind, static_problem

CODE = "CAP004"


def _vals(
    ctx: FileContext, annotation: cst.BaseExpression
) -> Iterator[tuple[cst.CSTNode, cst.Subscript]]:
    """(node to report, Val[...] subscript) in an annotation, looking into strings."""
    text = string_value(annotation)
    if text is not None:
        parsed = parse_annotation(text)
        if parsed is not None:
            for _, sub in _vals(ctx, parsed):
                yield annotation, sub
        return
    for node in walk(annotation):
        if isinstance(node, cst.Subscript) and ctx.names.capsys_name(node.value) == "Val":
            yield node, node
        elif isinstance(node, cst.SimpleString) and node is not annotation:
            # a string nested in a subscript, e.g. Iso["Val[list[int]]"]
            for _, sub in _vals(ctx, node):
                yield node, sub


def check(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.annotations:
        for node, sub in _vals(ctx, site.node.annotation):
            shape = ctx.shape(sub)
            if shape.kind is not ShapeKind.VAL:
                continue
            inner_shape = shape.args[0] if shape.args else ANY_SHAPE
            if inner_shape.kind is ShapeKind.TYPEVAR and not inner_shape.args:
                continue  # generic: judged where T is known, as the mypy plugin does
            problem = static_problem(inner_shape, immutable=True)
            if problem is None or problem.is_any:
                continue
            inner = shape.args[0].display() if shape.args else "Any"
            message = format_message(CODE, what=shape.display(), detail=problem.describe(inner))
            yield Finding(CODE, node, message)
    for call_site in ctx.calls:
        call = call_site.node
        if ctx.names.capsys_name(call.func) != "val" or not call.args:
            continue
        arg = call.args[0]
        if arg.star or arg.keyword is not None:
            continue
        # val(x) infers its type from x, unless the call's own context decides it
        typed = any(isinstance(a, cst.Assign) and a.value is call for a in ctx.assigns)
        evident = expr_shape(ctx, arg.value, call_site, typed=typed)
        if evident is None:
            evident = _iso_of_any(ctx, arg.value, call_site)
        if evident is None:
            continue
        problem = static_problem(evident, immutable=True)
        if problem is None or problem.is_any:
            continue
        text = evident.display()
        what = f"The argument of val() ({text})"
        detail = problem.describe(text)
        yield Finding(CODE, located(arg.value), format_message(CODE, what=what, detail=detail))


def _iso_of_any(ctx: FileContext, value: cst.BaseExpression, site: Site[cst.Call]) -> Shape | None:
    """``iso(x)`` of an ``x`` declared ``Any``: an ``Iso[Any]``, as mypy names it (a
    handle, whatever it holds). None for anything else."""
    if not (
        isinstance(value, cst.Call)
        and ctx.names.capsys_name(value.func) == "iso"
        and len(value.args) == 1
        and not value.args[0].star
        and value.args[0].keyword is None
    ):
        return None
    inner = expr_shape(ctx, value.args[0].value, site, typed=False)
    if inner is None or inner.kind is not ShapeKind.ANY:
        return None
    return Shape(ShapeKind.ISO, "Iso", (inner,))
