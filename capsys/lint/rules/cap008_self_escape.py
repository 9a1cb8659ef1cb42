"""CAP008 self-escape: ``self`` (the agent object) leaves the agent.

## What it does
Inside an agent class, finds ``self`` passed as an argument to ``send``, ``ask``,
``send_wait``, ``spawn``, ``quorum`` or ``broadcast``, in the ``args=`` of a topology
builder (``mesh``, ``ring``, ``star``, ``hierarchical``: spawn arguments), to a channel's
``send``/``put``, into ``iso()`` or ``val()``, into a ``@message`` constructor, or
returned by a behaviour (the reply of an ``ask``) - directly, or through a local bound
only to ``self`` (``o = self``). A
bound method ``self.<method>`` carries ``self`` too, but it is a callable, reported as
CAP001 (callables are not sendable), the code the mypy plugin gives it.

## Why is this bad?
``self`` is the agent's state. Whoever receives it can call into the agent outside its
mailbox, concurrently with its behaviours. ``self.me`` is the agent's ``Tag``: the
sendable address of the same agent.

## Example
```python
class Worker(Agent):
    @behaviour
    def hello(self, boss: Tag[Boss]) -> None:
        boss.send(Boss.register, self)
```

## Use instead
```python
        boss.send(Boss.register, self.me)
```

Fix (safe): ``self`` -> ``self.me``.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext, Site
from capsys.lint.model import Finding, Fix
from capsys.lint.rules._common import (
    BOUNDARY_METHODS,
    SPAWN_GROUPS,
    agent_method,
    boundary,
    call_values,
    channel_method,
    rebinds,
    self_name,
    spawn_group_target,
)
from capsys.lint.walk import walk

CODE = "CAP008"
_FUNCTIONS = frozenset({"spawn", "quorum", "broadcast"})


def _detail(
    ctx: FileContext,
    site: Site[cst.Call],
    arg: cst.Arg,
    node: cst.BaseExpression,
    label: str,
    what: str,
) -> str | None:
    """How passing ``what`` (self, described; ``node`` in ``arg``) to the call at ``site``
    lets the agent escape, or None if it does not."""
    call = site.node
    func = call.func
    b = boundary(ctx, call, site.scope.function)
    if b is not None:
        for payload_label, value in b.payload:
            if value is arg.value or _holds(value, node):
                return f"{what} is passed as argument {payload_label} of {b.where}"
        return None
    channel = channel_method(ctx, site)
    if channel is not None:
        return f"{what} is passed as argument 1 of {channel}"
    method = func.attr.value if isinstance(func, cst.Attribute) else None
    capsys = ctx.names.capsys_name(func)
    if capsys in SPAWN_GROUPS:
        return _spawn_group_detail(ctx, call, capsys, arg, node, what)
    if method in BOUNDARY_METHODS or capsys in _FUNCTIONS:
        return f"{what} is passed as argument {label} of {method or capsys}"
    if capsys == "iso":
        return f"{what} is wrapped by iso()"
    if capsys == "val":
        return f"{what} is passed to val()"
    if ctx.is_message_class(func):
        name = ctx.module.code_for_node(func)
        return f"{what} is stored in message {name}"
    return None


def _spawn_group_detail(
    ctx: FileContext, call: cst.Call, verb: str, arg: cst.Arg, node: cst.BaseExpression, what: str
) -> str | None:
    """``mesh(rt, C, n, args=(self,))`` where ``C`` is not a known agent class: self is
    still spawn argument 1 of every agent it makes."""
    items = arg.value
    if arg.keyword is None or arg.keyword.value != "args" or not isinstance(items, cst.Tuple):
        return None
    target = spawn_group_target(call, verb)
    name = (
        ctx.module.code_for_node(target)
        if isinstance(target, (cst.Name, cst.Attribute))
        else "the agent"
    )
    for position, element in enumerate(items.elements, start=1):
        if isinstance(element, cst.StarredElement):
            return None
        if _holds(element.value, node):
            return f"{what} is passed as argument {position} of {verb} of {name}"
    return None


def _holds(value: cst.BaseExpression, node: cst.BaseExpression) -> bool:
    """``value`` is ``node`` or a tuple/list/set display holding it."""
    if value is node:
        return True
    return isinstance(value, _DISPLAYS) and any(_holds(e.value, node) for e in value.elements)


def _returned(ctx: FileContext) -> Iterator[Finding]:
    """``return self`` (or a display holding it) in a behaviour: the reply of an ``ask``
    hands the agent object to the caller. The fix is unsafe: the reply's type changes."""
    for agent in ctx.agent_classes:
        for behaviour in agent.behaviours:
            me = self_name(behaviour.node)
            if me is None:
                continue
            view = _SelfView(me, _self_aliases(ctx, behaviour.node, me))
            for node in walk(behaviour.node.body, into_scopes=False):
                if not isinstance(node, cst.Return) or node.value is None:
                    continue
                for found, what in view.selves(node.value):
                    detail = f"{what} is returned by behaviour {agent.name}.{behaviour.name}"
                    fix = Fix.replace(
                        found,
                        cst.Attribute(value=cst.Name(me), attr=cst.Name("me")),
                        f"return {me}.me",
                        unsafe=True,
                    )
                    yield Finding(CODE, found, format_message(CODE, detail=detail), fix)


def check(ctx: FileContext) -> Iterator[Finding]:
    yield from _returned(ctx)
    for site in ctx.calls:
        found = agent_method(ctx, site)
        if found is None:
            continue
        _, method = found
        me = self_name(method)
        if me is None or rebinds(site, method, me):
            continue
        call = site.node
        if not call.args:
            continue
        view = _SelfView(
            me,
            frozenset(a for a in _self_aliases(ctx, method, me) if not rebinds(site, method, a)),
        )
        for label, arg in _labelled(call):
            for node, what in view.selves(arg.value):
                detail = _detail(ctx, site, arg, node, label, what)
                if detail is None:
                    break
                fix = None
                if isinstance(node, cst.Name):  # self or an alias: its Tag says the same
                    fix = Fix.replace(
                        node,
                        cst.Attribute(value=cst.Name(me), attr=cst.Name("me")),
                        f"replace {node.value} by {me}.me",
                    )
                yield Finding(CODE, node, format_message(CODE, detail=detail), fix)


_DISPLAYS = (cst.Tuple, cst.List, cst.Set)


def _self_aliases(ctx: FileContext, method: cst.FunctionDef, me: str) -> frozenset[str]:
    """Locals of ``method`` whose every binding is ``name = self`` or ``name = alias``
    (chained ones too: ``a = b = self``), as the mypy plugin reads them (memoised)."""
    key = ("self-aliases", id(method))
    cached = ctx.memo.get(key)
    if isinstance(cached, frozenset):
        return cached
    bindings = ctx.bindings(method)
    found: set[str] = set()
    grew = True
    while grew:  # to a fixed point: an alias of an alias is one
        grew = False
        for name, nodes in bindings.items():
            if (
                name != me
                and name not in found
                and all(_binds_one_of(node, found | {me}) for node in nodes)
            ):
                found.add(name)
                grew = True
    ctx.memo[key] = frozen = frozenset(found)
    return frozen


def _binds_one_of(node: cst.CSTNode, names: set[str]) -> bool:
    """``a = x`` or ``a = b = x`` with ``x`` one of ``names``."""
    return (
        isinstance(node, cst.Assign)
        and all(isinstance(t.target, cst.Name) for t in node.targets)
        and isinstance(node.value, cst.Name)
        and node.value.value in names
    )


class _SelfView:
    """``self`` as one method sees it: its name and its aliases."""

    def __init__(self, me: str, aliases: frozenset[str]) -> None:
        self.me = me
        self.aliases = aliases

    def selves(self, value: cst.BaseExpression) -> Iterator[tuple[cst.BaseExpression, str]]:
        """(node, description) of ``self`` or an alias of it, as the argument itself or
        as an item of a tuple/list/set display in it. (A bound method ``self.<name>`` is
        a callable: CAP001, as in the mypy plugin.)"""
        if isinstance(value, cst.Name):
            if value.value == self.me:
                yield value, f"{self.me} (the agent object)"
            elif value.value in self.aliases:
                yield value, f"{value.value} (the agent object {self.me})"
        elif isinstance(value, _DISPLAYS):
            for element in value.elements:
                yield from self.selves(element.value)


def _labelled(call: cst.Call) -> Iterator[tuple[str, cst.Arg]]:
    """(label, argument): positions count from 1 after a boundary's target, as in mypy."""
    for key, arg in call_values(call):
        yield (f'"{key}"' if isinstance(key, str) else str(key + 1)), arg
