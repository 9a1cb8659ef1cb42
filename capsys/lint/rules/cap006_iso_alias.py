"""CAP006 iso-alias: an ``Iso`` aliased without ``consume``, or ``iso()`` of a value that is
not fresh.

## What it does
Reports ``b = a`` (or ``self.b = a``) where ``a`` is bound to an ``Iso`` (a local, or a
field ``self.a`` holding one): the handle is copied instead of moved; also an ``Iso``
stored in a container (``keep.append(a)``) or kept as a parameter's default
(``def f(x=a)``, ``lambda x=a: ...``), put in a display or a record's constructor
that is kept (``hs = [a]``, ``pair = (1, a)``, ``box = Box(a)``, ``for x in [a]``; one
passed on as an argument is moved or used) or put twice in one display (``(a, a)``).
Reports ``iso(x)`` when ``x`` is still reachable from elsewhere: a field
(``iso(self.items)``), a parameter, a module-level name, a local that another name, field
or container also refers to (``alias = items; iso(items)``), or an element of any of
those, a local container included (``iso(rows[0])``, ``for r in rows: iso(r)``). A slice
(``iso(self.items[:])``) is a new object, unless the sliced value is evidently of a type
whose slices may be views (``memoryview``).

## Why is this bad?
An ``Iso`` must be the only reference to its object graph. Two names owning one handle,
or an ``iso()`` that leaves another reference behind, let the old owner mutate an object
after it was sent to another agent.

## Example
```python
def make(items: list[int]) -> Iso[list[int]]:
    handle = iso(items)
    copy = handle
    return copy
```

## Use instead
```python
def make(items: list[int]) -> Iso[list[int]]:
    handle = iso(list(items))
    copy = consume(handle)
    return copy
```

Fix (safe when the old name is not used afterwards): ``b = a`` -> ``b = consume(a)``,
offered when ``consume`` is importable in the file.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext, Site
from capsys.lint.flow import (
    AliasedIso,
    NonFreshIso,
    consume_expression,
    may_move,
    module_flow,
)
from capsys.lint.model import Finding, Fix
from capsys.lint.rules._common import expr_shape
from capsys.sendable import ShapeKind

CODE = "CAP006"


def _alias_detail(alias: AliasedIso) -> str:
    if alias.kind == "stored":
        return (
            f"the Iso {alias.name!r} is stored by '{alias.target}' without consume(): the "
            f"container and {alias.name!r} now both own one object graph; pass "
            f"consume({alias.name}) to transfer ownership"
        )
    if alias.kind == "displayed":
        return (
            f"the Iso {alias.name!r} is put in '{alias.target}' without consume(): the "
            f"container and {alias.name!r} now both own one object graph; put "
            f"consume({alias.name}) in it to transfer ownership"
        )
    if alias.kind == "twice":
        return (
            f"the Iso {alias.name!r} is put twice in '{alias.target}': two places now own "
            f"one object graph; put it in once, or make a second iso(...)"
        )
    if alias.kind == "default":
        return (
            f"the Iso {alias.name!r} is the default of the parameter {alias.target!r} "
            f"without consume(): the function keeps it for every call, so it and "
            f"{alias.name!r} now both own one object graph; pass the Iso as an argument "
            f"when calling, or write '{alias.target}=consume({alias.name})' if the function "
            f"is to own it"
        )
    if alias.kind == "chained":
        return (
            f"one Iso is bound to both {alias.name!r} and {alias.target!r} by a chained "
            f"assignment: two names now own one object graph; bind it to {alias.name!r} "
            f"only, then write '{alias.target} = consume({alias.name})' if you need to "
            f"transfer ownership"
        )
    return (
        f"the Iso {alias.name!r} is copied by '{alias.target} = {alias.name}' without "
        f"consume(): two names now own one object graph; write "
        f"'{alias.target} = consume({alias.name})' to transfer ownership"
    )


def _fresh_detail(found: NonFreshIso) -> str:
    text = found.text
    if found.kind == "element":
        return (
            f"iso() of {text}, an element of the local container {found.via}, which still "
            f"references it; iso() a fresh copy (iso(list({text})) or similar) or a newly "
            f"built object"
        )
    if found.kind == "aliased local":
        return (
            f"iso() of {text!r}, which is aliased ('{found.via}'): the alias still reaches "
            f"the object after the move; iso() a fresh object or drop the alias"
        )
    owner = {
        "field": "its object",
        "parameter": "the caller",
        "global": "the rest of the module",
    }[found.kind]
    what = {"field": "the field", "parameter": "the parameter", "global": "the module-level name"}
    if found.sliced:  # kept only when the slice may be a view (a memoryview's)
        subject = f"{text}, a slice of {what[found.kind]} {found.via} that may be a view,"
    elif found.via is not None:  # an element of a container
        subject = f"{text}, an element of {what[found.kind]} {found.via},"
    elif found.kind == "field":
        subject = f"the field {text},"
    else:
        subject = f"{what[found.kind]} {text!r},"
    return (
        f"iso() of {subject} which {owner} still references; iso() a fresh copy "
        f"(iso(list({text})) or similar) or a newly built object"
    )


def _fix(module: cst.Module, alias: AliasedIso) -> Fix | None:
    consume = consume_expression(module)
    if consume is None or not alias.fixable:
        return None
    new = cst.Call(func=consume, args=[cst.Arg(value=cst.parse_expression(alias.name))])
    return Fix.replace(
        alias.node,
        new,
        f"move the Iso with consume({alias.name})",
        unsafe=not alias.fix_is_safe,
    )


def check(ctx: FileContext) -> Iterator[Finding]:
    if not may_move(ctx.summary.imports.values()):
        return
    result = module_flow(ctx.module, ctx.names, ctx.is_record_class)
    for alias in result.aliases:
        yield Finding(
            CODE,
            alias.node,
            format_message(CODE, detail=_alias_detail(alias)),
            _fix(ctx.module, alias),
        )
    sites = {
        id(site.node.args[0].value): site
        for site in ctx.calls
        if site.node.args and ctx.names.capsys_name(site.node.func) == "iso"
    }
    for found in result.non_fresh:
        site = sites.get(id(found.node))
        if found.sliced and site is not None and _copied(ctx, found.node, site):
            continue
        yield Finding(CODE, found.node, format_message(CODE, detail=_fresh_detail(found)))


# Sequences whose slice is a new object (a shallow copy, like list(x)); a memoryview's
# is a view of the same memory, and a class of the project may do either.
_COPIED_BY_SLICING = frozenset(
    {
        "builtins.list",
        "builtins.tuple",
        "builtins.str",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.range",
        "array.array",
    }
)


def _copied(ctx: FileContext, node: cst.BaseExpression, site: Site[cst.Call]) -> bool:
    """Whether the slice ``node`` is a fresh object: the sliced value is evidently a
    builtin sequence, or its type is not evident (only an evident type whose slices may
    be views, like ``memoryview``, keeps the finding)."""
    if not isinstance(node, cst.Subscript):
        return False
    shape = expr_shape(ctx, node.value, site, typed=False)
    if shape is None or shape.kind is ShapeKind.ANY:
        return True
    return shape.kind is ShapeKind.CLASS and shape.name in _COPIED_BY_SLICING
