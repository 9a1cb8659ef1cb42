"""CAP003 unsendable-message: a ``@message`` field is not sendable, or a message class is
not frozen.

## What it does
For every ``@message`` class, checks each annotated field against the sendability
table (a field holding an agent object is CAP007's), and reports a message class that cannot be immutable: one that is also a
non-frozen ``@dataclass``, defines ``__setattr__``/``__delattr__``, or derives from a
class that is not a frozen dataclass or ``@message``.

## Why is this bad?
A message is shared between agents without copying, which is only safe when it is
deeply immutable. A list field could be mutated by its sender after the send.

## Example
```python
@message
class Batch:
    ids: list[int]
```

## Use instead
```python
@message
class Batch:
    ids: tuple[int, ...]
```
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import FileContext, MessageClass
from capsys.lint.index import ClassKind
from capsys.lint.model import Finding
from capsys.lint.rules._common import held_agent
from capsys.lint.shapes import problem_of

CODE = "CAP003"
_NOT_FROZEN_BASES = frozenset(
    {
        ClassKind.AGENT,
        ClassKind.ENUM,
        ClassKind.MUTABLE_RECORD,
        ClassKind.TYPED_DICT,
        ClassKind.PLAIN,
    }
)


def _body(node: cst.ClassDef) -> list[cst.CSTNode]:
    if not isinstance(node.body, cst.IndentedBlock):
        return []
    out: list[cst.CSTNode] = []
    for stmt in node.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.extend(stmt.body)
        else:
            out.append(stmt)
    return out


def _frozen_problems(ctx: FileContext, cls: MessageClass) -> Iterator[str]:
    node = cls.node
    for deco in node.decorators:
        expr = deco.decorator
        call = expr if isinstance(expr, cst.Call) else None
        if ctx.names.qualified(call.func if call else expr) != "dataclasses.dataclass":
            continue
        frozen = call is not None and any(
            a.keyword is not None
            and a.keyword.value == "frozen"
            and isinstance(a.value, cst.Name)
            and a.value.value == "True"
            for a in call.args
        )
        if not frozen:
            yield (
                "it is also a @dataclass that is not frozen; drop the @dataclass "
                "(@message makes a frozen dataclass)"
            )
    for stmt in _body(node):
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in ("__setattr__", "__delattr__"):
            yield (f"it defines {stmt.name.value}, so its instances are not immutable; remove it")
    for arg in node.bases:
        if arg.keyword is not None:
            continue
        if ctx.base_kind(arg.value) in _NOT_FROZEN_BASES:
            head = arg.value.value if isinstance(arg.value, cst.Subscript) else arg.value
            base = ctx.module.code_for_node(head).rpartition(".")[2]  # the plugin's name
            yield (
                f"its base class {base} is not a frozen dataclass or @message, so its "
                "instances would not be immutable; make the base a @message too"
            )


def check(ctx: FileContext) -> Iterator[Finding]:
    for cls in ctx.message_classes:
        what = f"Message class {cls.name}"
        for detail in _frozen_problems(ctx, cls):  # at the ``class`` keyword, as the plugin
            yield Finding(CODE, cls.node, format_message(CODE, what=what, detail=detail))
        for stmt in _body(cls.node):
            if not isinstance(stmt, cst.AnnAssign) or not isinstance(stmt.target, cst.Name):
                continue
            annotation = stmt.annotation.annotation
            head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
            if ctx.names.qualified(head) == "typing.ClassVar":
                continue
            shape = ctx.shape(annotation)
            problem = problem_of(shape)
            if problem is None or held_agent(shape) is not None:
                continue  # an agent object is CAP007, as in the mypy plugin
            text = shape.display()
            field_what = f'Field "{stmt.target.value}" of message {cls.name}'
            detail = f"its type {text} is not sendable: {problem.describe(text)}"
            yield Finding(CODE, stmt.target, format_message(CODE, what=field_what, detail=detail))
