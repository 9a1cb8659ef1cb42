"""CAP009 shared-global: a behaviour reads or writes mutable module-level state.

## What it does
In the behaviours and the ``on_start``/``on_stop`` hooks of an agent class, reports each
``global`` statement, and each read, mutation (``X.append(...)``, ``X[k] = v``, ``del
X[k]``...) of a module-level name bound to a mutable container (list, dict, set,
bytearray, deque, ``deque[int]()``, array, ...) or rebound elsewhere with ``global``,
including such names imported from other files of the project; and each write of an
attribute (or item) of a module-level object of a project class that is not frozen
(``STATE.count += 1``). Constants, frozen records, messages, enums, reading a module-level
object or calling its methods, and names shadowed by a local are fine.

## Why is this bad?
Module-level state is shared by every agent in the process, with no mailbox in between:
two agents on two workers mutate it at the same time.

## Example
```python
SEEN: list[str] = []

class Tracker(Agent):
    @behaviour
    def see(self, name: str) -> None:
        SEEN.append(name)
```

## Use instead
```python
class Tracker(Agent):
    def __init__(self) -> None:
        self.seen: list[str] = []

    @behaviour
    def see(self, name: str) -> None:
        self.seen.append(name)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext
from capsys.lint.escape import (
    SharedGlobalUse,
    mutable_global_kinds,
    shared_global_uses,
    shared_module_attribute_uses,
)
from capsys.lint.model import Finding

CODE = "CAP009"
_HOOKS = frozenset({"on_start", "on_stop"})


def _detail(use: SharedGlobalUse, owner: str, role: str, kind: str) -> str:
    if use.access == "declares":
        return (
            f"{role} {owner} declares {use.name!r} global, a module-level name that every "
            f"agent in the process shares; keep the value in agent state (self.{use.name}) "
            f"and reach it through the agent's Tag"
        )
    if use.access == "rebinds":
        return (
            f"{role} {owner} rebinds the module-level name {use.name!r} with a global "
            f"statement: every agent in the process shares it; keep the value in agent "
            f"state (self.{use.name}) and reach it through the agent's Tag"
        )
    what = f"the module-level {kind} {use.name!r}"
    if use.access == "reads":
        return (
            f"{role} {owner} reads {what}, which other agents may change at the same time; "
            f"keep it in agent state, or make it immutable (a tuple or frozenset)"
        )
    return (
        f"{role} {owner} {use.access} {what}, which every agent in the process shares; keep "
        f"it in agent state and reach it through the agent's Tag"
    )


def check(ctx: FileContext) -> Iterator[Finding]:
    if not ctx.agent_classes:
        return
    # Mutable module-level names of this file (and names rebound with `global`: a file
    # without any has no global statement either), plus those imported from project files.
    mutable = set(ctx.mutable_globals)
    mutable.update(
        local
        for local, qualified in ctx.summary.imports.items()
        if local not in mutable and ctx.index.mutable_global(qualified)
    )
    # Instances of project classes with writable attributes: only writing them counts
    # (reading a module-level object, or calling its methods, is not evidently shared
    # state).
    own = f"{ctx.module_name}." if ctx.module_name else ""
    instances = {
        name
        for name in ctx.summary.instance_globals
        if name not in mutable and ctx.index.mutable_instance(own + name)
    }
    instances.update(
        local
        for local, qualified in ctx.summary.imports.items()
        if local not in mutable and ctx.index.mutable_instance(qualified)
    )
    imports = ctx.summary.imports
    attribute_instances: set[str] = set()

    def module_global(module: str, attribute: str) -> bool:
        """``module.attribute``: a mutable global of a project module imported here."""
        qualified = imports.get(module)
        if qualified is None or ctx.index.module(qualified) is None:
            return False
        if ctx.index.mutable_global(f"{qualified}.{attribute}"):
            return True
        if ctx.index.mutable_instance(f"{qualified}.{attribute}"):
            attribute_instances.add(f"{module}.{attribute}")
            return True
        return False

    modules = any(ctx.index.module(q) is not None for q in imports.values())
    if not mutable and not instances and not modules:
        return
    kinds = mutable_global_kinds(ctx.module)
    for name, made in ctx.summary.instance_globals.items():
        if name in instances:
            kinds.setdefault(name, f"{made.rpartition('.')[2]} object")
    shared = mutable | instances

    for agent in ctx.agent_classes:
        behaviours = {id(b.node) for b in agent.behaviours}
        for method in agent.methods:
            if id(method) in behaviours:
                role = "behaviour"
            elif method.name.value in _HOOKS:
                role = "lifecycle hook"
            else:
                continue
            owner = f"{agent.name}.{method.name.value}"
            uses = shared_global_uses(method, shared.__contains__) if shared else []
            if modules:
                uses += shared_module_attribute_uses(method, module_global)  # sorted later
            for use in uses:
                if use.access != "writes" and (
                    use.name in instances or use.name in attribute_instances
                ):
                    continue
                kind = kinds.get(use.name, "mutable value")
                if kind == "global":
                    kind = "variable"
                message = format_message(CODE, detail=_detail(use, owner, role, kind))
                yield Finding(CODE, use.node, message)
