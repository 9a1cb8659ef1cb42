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
    call_values,
    rebinds,
    self_name,
)

CODE = "CAP008"
_FUNCTIONS = frozenset({"spawn", "quorum", "broadcast"})


def _target(ctx: FileContext, call: cst.Call) -> str | None:
    """What the call is, when passing ``self`` to it lets the agent escape."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in BOUNDARY_METHODS:
        return f"{func.attr.value}()"
    if ctx.names.capsys_name(func) in _FUNCTIONS:
        return f"{ctx.names.capsys_name(func)}()"
    if ctx.is_message_class(func):
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        return f"the @message {name}(...)"
    return None


def check(ctx: FileContext) -> Iterator[Finding]:
    for site in ctx.calls:
        found = agent_method(ctx, site)
        if found is None:
            continue
        agent, method = found
        me = self_name(method)
        if me is None or rebinds(site, method, me):
            continue
        assert isinstance(site.node, cst.Call)
        call = site.node
        selfs = [
            arg.value
            for _, arg in call_values(call)
            if isinstance(arg.value, cst.Name) and arg.value.value == me
        ]
        if not selfs:
            continue
        target = _target(ctx, call)
        if target is None:
            continue
        for node in selfs:
            detail = f"{me} (the {agent.name} agent object) is passed to {target}"
            fix = Fix.replace(
                node,
                cst.Attribute(value=cst.Name(me), attr=cst.Name("me")),
                f"replace {me} by {me}.me",
            )
            yield Finding(CODE, node, format_message(CODE, detail=detail), fix)
