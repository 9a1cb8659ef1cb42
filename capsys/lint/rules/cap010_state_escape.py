"""CAP010 state-escapes-to-concurrency: agent state handed to code that runs concurrently
with the agent.

## What it does
In the methods of an agent class (and the functions and lambdas nested in them), reports
each argument of a call that starts concurrent work - ``asyncio.create_task``,
``loop.create_task``, ``ensure_future``, ``tg.start_soon``/``nursery.start_soon``,
``tg.create_task``, ``anyio.to_thread.run_sync``, ``asyncio.to_thread``,
``loop.run_in_executor``, ``threading.Thread``/``Timer``, ``executor.submit``/``map``,
``loop.call_soon``... - that hands over agent state: ``self``, a bound method of ``self``,
a field ``self.<name>``, a coroutine made from them, or a lambda or nested function that
uses ``self`` (other than ``self.me``).

## Why is this bad?
A task, thread or executor job runs at the same time as the agent's next behaviours.
With a reference to the agent's state it mutates that state concurrently, outside the
mailbox that makes agents safe without locks.

## Example
```python
class Saver(Agent):
    @behaviour
    def save(self) -> None:
        threading.Thread(target=self.flush).start()
```

## Use instead
```python
class Saver(Agent):
    @behaviour
    def save(self) -> None:
        snapshot = tuple(self.rows)
        self.rows.clear()
        threading.Thread(target=write, args=(snapshot,)).start()
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import AgentClass, FileContext
from capsys.lint.escape import call_escapes
from capsys.lint.model import Finding
from capsys.lint.rules._common import agent_method, field_shape, self_name
from capsys.sendable import static_problem

CODE = "CAP010"


def _immutable_fields(ctx: FileContext, agent: AgentClass) -> Callable[[str], bool]:
    """Whether a field's evident type (annotation or assigned values) is deeply
    immutable: another thread can read such a value without racing the agent."""

    def immutable(name: str) -> bool:
        shape = field_shape(ctx, agent, name)
        return shape is not None and static_problem(shape, immutable=True) is None

    return immutable


def check(ctx: FileContext) -> Iterator[Finding]:
    # The file's one walk already listed every call with its scope: group the calls by
    # the agent method holding them instead of walking the methods again.
    by_method: dict[int, tuple[AgentClass, cst.FunctionDef, list[cst.Call]]] = {}
    for site in ctx.calls:
        found = agent_method(ctx, site)
        if found is None:
            continue
        agent, method = found
        assert isinstance(site.node, cst.Call)
        by_method.setdefault(id(method), (agent, method, []))[2].append(site.node)
    for agent, method, calls in by_method.values():
        for escape in call_escapes(agent.node, method, calls, _immutable_fields(ctx, agent)):
            me = self_name(method) or "self"
            detail = (
                f"the state of agent {agent.name} escapes: {escape.what} is handed to "
                f"{escape.api}(), which runs concurrently with the agent's behaviours; give it "
                f"immutable copies or an Iso, and report back by sending to {me}.me"
            )
            yield Finding(CODE, escape.node, format_message(CODE, detail=detail))
