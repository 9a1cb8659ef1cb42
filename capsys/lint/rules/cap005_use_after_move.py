"""CAP005 use-after-move: an ``Iso`` (or a local given to ``iso()``) used after it was moved.

## What it does
Follows every name bound to an ``Iso`` (an ``Iso[...]`` parameter or variable, the result
of ``iso(...)``/``consume(...)`` or of a function annotated to return an ``Iso``) and
every plain local passed to ``iso(name)``, through branches, loops, ``try``, ``with``,
``match``, comprehensions and closures (calling a nested function that reads the name,
defined before the move, reads it then). Passing it to ``send``, ``ask``, ``send_wait``,
``spawn``, ``quorum``, ``broadcast``, a channel's ``put``, ``iso()`` or ``consume()``, or
unwrapping it with ``take()``, moves it; any later read of the name is reported. A move on
only some paths (one branch of an ``if``, an earlier loop iteration) is reported as a
possible move. Binding the name again makes it live; a move followed by ``return``,
``raise``, ``assert False`` or a call that never returns (``sys.exit()``, a function
annotated ``-> NoReturn``) ends that path. A send refused with ``MailboxFull``,
``ChannelFull`` or ``ChannelClosed`` moved nothing: a handler catching only those sees
each handle as it was before the call that raised (a send that completed before it did
move). A field of an agent holding an ``Iso`` (``self.h``) is followed the same way within
one method; a call of a method of ``self``, or ``self`` itself passed on, may assign it
unseen, so it makes the field live again.

## Why is this bad?
A move hands the only reference to the receiver. The old name is dead: using it would
read or write an object another agent now owns. At run time it raises ``MovedError``.

## Example
```python
data = iso([1, 2])
sink.send(Sink.put, data)
print(data.take())
```

## Use instead
```python
data = iso([1, 2])
items = list(data.take())
sink.send(Sink.put, iso(items))
```
"""

from __future__ import annotations

from collections.abc import Iterator

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext
from capsys.lint.flow import UseAfterMove, line_of, may_move, module_flow
from capsys.lint.model import Finding

CODE = "CAP005"


def _where(ctx: FileContext, use: UseAfterMove) -> str:
    sites = sorted({(line_of(ctx.module, s.node), s.how) for s in use.sites}, key=lambda site: site)
    how = " or ".join(
        f"by {kind if kind.endswith(')') else kind + '()'} at line {line}" for line, kind in sites
    )
    through = f", by the call of {use.via}, which reads it" if use.via is not None else ""
    if use.repeated_move:
        return f" on an earlier loop iteration (possibly moved {how}){through}"
    if use.definite:
        return f" (moved {how}){through}"
    return f" on some paths (possibly moved {how}){through}"


def _hint(use: UseAfterMove) -> str:
    if use.repeated_move:
        return "make a fresh iso(...) for each iteration instead of moving one handle repeatedly"
    return "take what you need before the move, or bind the name to a fresh iso(...) first"


def check(ctx: FileContext) -> Iterator[Finding]:
    if not may_move(ctx.summary.imports.values()):
        return
    for use in module_flow(ctx.module, ctx.names, ctx.is_record_class).uses_after_move:
        message = format_message(CODE, name=use.name, where=_where(ctx, use), hint=_hint(use))
        yield Finding(CODE, use.node, message)
