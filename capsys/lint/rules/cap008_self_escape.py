"""CAP008 self-escape: ``self`` (the agent object) leaves the agent.

## What it does
Inside an agent class, finds ``self`` passed as an argument to ``send``, ``ask``,
``send_wait``, ``spawn``, ``quorum`` or ``broadcast``, or into a ``@message``
constructor.

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
from capsys.lint.context import FileContext
from capsys.lint.model import Finding, Fix
from capsys.lint.rules._common import (
    BOUNDARY_METHODS,
    agent_method,
    boundary,
    call_values,
    rebinds,
    self_name,
)

CODE = "CAP008"
_FUNCTIONS = frozenset({"spawn", "quorum", "broadcast"})


def _detail(ctx: FileContext, call: cst.Call, arg: cst.Arg, label: str, me: str) -> str | None:
    """How passing ``self`` to ``call`` lets the agent escape, or None if it does not."""
    func = call.func
    b = boundary(ctx, call)
    if b is not None:
        for payload_label, payload_arg in b.payload:
            if payload_arg is arg:
                return f"{me} (the agent object) is passed as argument {payload_label} of {b.where}"
        return None
    method = func.attr.value if isinstance(func, cst.Attribute) else None
    capsys = ctx.names.capsys_name(func)
    if method in BOUNDARY_METHODS or capsys in _FUNCTIONS:
        return f"{me} (the agent object) is passed as argument {label} of {method or capsys}"
    if capsys == "iso":
        return f"{me} (the agent object) is wrapped by iso()"
    if ctx.is_message_class(func):
        name = ctx.module.code_for_node(func)
        return f"{me} (the agent object) is stored in message {name}"
    return None


def check(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        found = agent_method(ctx, site)
        if found is None:
            continue
        _, method = found
        me = self_name(method)
        if me is None or rebinds(site, method, me):
            continue
        call = site.node
        for label, arg in _labelled(call):
            selves = list(_selves(arg.value, me))
            if not selves:
                continue
            detail = _detail(ctx, call, arg, label, me)
            if detail is None:
                continue
            for node in selves:
                fix = Fix.replace(
                    node,
                    cst.Attribute(value=cst.Name(me), attr=cst.Name("me")),
                    f"replace {me} by {me}.me",
                )
                yield Finding(CODE, node, format_message(CODE, detail=detail), fix)


_DISPLAYS = (cst.Tuple, cst.List, cst.Set)


def _selves(value: cst.BaseExpression, me: str) -> Iterator[cst.Name]:
    """``self`` as the argument itself or as an item of a tuple/list/set display in it."""
    if isinstance(value, cst.Name):
        if value.value == me:
            yield value
    elif isinstance(value, _DISPLAYS):
        for element in value.elements:
            yield from _selves(element.value, me)


def _labelled(call: cst.Call) -> Iterator[tuple[str, cst.Arg]]:
    """(label, argument): positions count from 1 after a boundary's target, as in mypy."""
    for key, arg in call_values(call):
        yield (f'"{key}"' if isinstance(key, str) else str(key + 1)), arg
