"""CAP002 unsendable-signature: a behaviour's or agent ``__init__``'s parameter, or a
behaviour's return type, is not sendable or not annotated.

## What it does
For every agent class, checks the parameters of each ``@behaviour`` and of ``__init__``
(everything but ``self``) and each behaviour's return annotation against the
sendability table (``capsys.sendable``); an agent class there is CAP007's. Names the linter cannot identify for sure
(external classes, aliases, type variables) are left to the mypy plugin: no guessing.

## Why is this bad?
These signatures are the agent's boundary: every caller must send values of these
types. A non-sendable type there means some caller will share mutable state; a missing
annotation means nobody can check the callers.

## Example
```python
class Cache(Agent):
    @behaviour
    def put(self, items: list[int]) -> None: ...
```

## Use instead
```python
    @behaviour
    def put(self, items: tuple[int, ...]) -> None: ...
```
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.diagnostics import format_message
from capsys.lint.context import AgentClass, FileContext, function_params
from capsys.lint.index import ClassKind, ClassSummary, ProjectIndex, capsys_public_name
from capsys.lint.model import Finding
from capsys.lint.rules._common import held_agent, self_name
from capsys.lint.shapes import problem_of
from capsys.sendable import Shape

CODE = "CAP002"
_UNANNOTATED = "is not annotated; annotate it with a sendable type"


def _params(ctx: FileContext, function: cst.FunctionDef, owner: str) -> Iterator[Finding]:
    me = self_name(function)
    for param in function_params(function):
        name = param.name.value
        if name == me and param is function_params(function)[0]:
            continue
        what = f'Parameter "{name}"'
        # ``*args``/``**kwargs`` at the star, a parameter at its name, as the plugin does.
        where: cst.CSTNode = param if isinstance(param.star, str) and param.star else param.name
        if param.annotation is None:
            message = format_message(CODE, what=what, owner=owner, detail=_UNANNOTATED)
            yield Finding(CODE, where, message)
            continue
        annotation = param.annotation.annotation
        keys = _unpacked_keys(ctx, annotation) if param.star == "**" else None
        if keys is None:
            yield from _declared(ctx, where, annotation, what, owner)
            continue
        for key, shape in keys:  # ``**kw: Unpack[TD]``: each key is a parameter
            yield from _unsendable(where, shape, f'Keyword "{key}" of parameter "**{name}"', owner)


def _unpacked_keys(
    ctx: FileContext, annotation: cst.BaseExpression
) -> list[tuple[str, Shape]] | None:
    """The keys of ``TD`` in ``Unpack[TD]`` (a TypedDict of the project), else None."""
    if not (
        isinstance(annotation, cst.Subscript)
        and ctx.qualified(annotation.value) in _UNPACK
        and len(annotation.slice) == 1
        and isinstance(annotation.slice[0].slice, cst.Index)
    ):
        return None
    inner = annotation.slice[0].slice.value
    if ctx.class_kind(inner) is not ClassKind.TYPED_DICT:
        return None
    qualified = ctx.qualified(inner)
    assert qualified is not None  # a known class kind has a name
    return list(ctx.shapes.typed_dict_keys(qualified))


_UNPACK = frozenset({"typing.Unpack", "typing_extensions.Unpack"})


def _declared(
    ctx: FileContext, where: cst.CSTNode, annotation: cst.BaseExpression, what: str, owner: str
) -> Iterator[Finding]:
    """A declared type that is not sendable, reported at ``where`` (as the mypy plugin
    does: a parameter at its name or star, a return type at its annotation)."""
    yield from _unsendable(where, ctx.shape(annotation), what, owner)


def _unsendable(where: cst.CSTNode, shape: Shape, what: str, owner: str) -> Iterator[Finding]:
    problem = problem_of(shape)
    if problem is None or held_agent(shape) is not None:
        return  # an agent object is CAP007, as in the mypy plugin
    text = shape.display()
    detail = f"is not sendable: {problem.describe(text)}"
    yield Finding(
        CODE, where, format_message(CODE, what=f"{what} ({text})", owner=owner, detail=detail)
    )


def _returns(ctx: FileContext, function: cst.FunctionDef, owner: str) -> Iterator[Finding]:
    what = "The return type"
    if function.returns is None:  # at the ``def`` (``async``) keyword, as the plugin
        yield Finding(
            CODE, function, format_message(CODE, what=what, owner=owner, detail=_UNANNOTATED)
        )
        return
    returns = function.returns.annotation
    yield from _declared(ctx, returns, returns, what, owner)


def _dataclass_fields(ctx: FileContext, cls: cst.ClassDef, owner: str) -> Iterator[Finding]:
    """A dataclass agent's fields: the parameters of the ``__init__`` it is given, each
    reported at its field (as the mypy plugin does)."""
    for line in cls.body.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for stmt in line.body:
            if not isinstance(stmt, cst.AnnAssign) or not isinstance(stmt.target, cst.Name):
                continue
            annotation = stmt.annotation.annotation
            head = annotation.value if isinstance(annotation, cst.Subscript) else annotation
            kind = ctx.qualified(head)
            if kind in _NOT_PARAMETERS or _not_in_init(ctx, stmt.value):
                continue
            if kind == "dataclasses.InitVar" and isinstance(annotation, cst.Subscript):
                inner = annotation.slice[0].slice
                if not isinstance(inner, cst.Index):
                    continue
                annotation = inner.value
            what = f'Parameter "{stmt.target.value}"'
            yield from _declared(ctx, stmt.target, annotation, what, owner)


_NOT_PARAMETERS = frozenset(
    {"typing.ClassVar", "typing_extensions.ClassVar", "dataclasses.KW_ONLY"}
)


def _makes_init(ctx: FileContext, cls: cst.ClassDef) -> bool:
    """Whether a ``@dataclass`` decorator (without ``init=False``) writes ``__init__``."""
    for dec in cls.decorators:
        made = dec.decorator
        call = made if isinstance(made, cst.Call) else None
        if ctx.qualified(call.func if call is not None else made) != "dataclasses.dataclass":
            continue
        return call is None or not any(_is_false(a, "init") for a in call.args)
    return False


def _not_in_init(ctx: FileContext, value: cst.BaseExpression | None) -> bool:
    """``field(init=False)``."""
    return (
        isinstance(value, cst.Call)
        and ctx.qualified(value.func) == "dataclasses.field"
        and any(_is_false(a, "init") for a in value.args)
    )


def _is_false(arg: cst.Arg, keyword: str) -> bool:
    return (
        arg.keyword is not None
        and arg.keyword.value == keyword
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "False"
    )


def _inherited(ctx: FileContext, agent: AgentClass) -> Iterator[Finding]:
    """The ``__init__`` an agent without its own inherits from a class that is not an
    agent (a mixin), reported at the agent's class, as the mypy plugin does."""
    qualified = ctx.qualified(agent.node.name)
    mixin = _init_mixin(ctx.index, qualified) if qualified is not None else None
    if mixin is None:
        return
    cls, init = mixin
    owner = f"{cls.name}.__init__ (inherited by agent {agent.name})"
    me = self_name(init)
    for param in function_params(init)[1 if me is not None else 0 :]:
        what = f'Parameter "{param.name.value}"'
        if param.annotation is None:
            message = format_message(CODE, what=what, owner=owner, detail=_UNANNOTATED)
            yield Finding(CODE, agent.node, message)
            continue
        shape = ctx.shapes.shape_in(cls.module, param.annotation.annotation)
        yield from _unsendable(agent.node, shape, what, owner)


def _init_mixin(
    index: ProjectIndex, qualified: str, _depth: int = 0
) -> tuple[ClassSummary, cst.FunctionDef] | None:
    """(class, its ``__init__``) of the first base of ``qualified``, in method
    resolution order (depth first here), that defines ``__init__`` and is no agent;
    None when an agent base defines or inherits it (it is reported there) or a base is
    not known."""
    cls = index.lookup_class(index.resolve_export(qualified))
    if cls is None or _depth > 16:
        return None
    for base in cls.bases:
        if base is None or base == "builtins.object":
            continue
        resolved = index.resolve_export(base)
        kind = index.class_kind(resolved)
        if capsys_public_name(resolved) == "Agent":
            return None
        summary = index.lookup_class(resolved)
        if summary is None:
            return None  # a class the linter cannot read: no guessing
        if kind is ClassKind.AGENT:
            if summary.init is not None or _init_mixin(index, resolved, _depth + 1):
                return None  # checked with that agent
            continue
        if summary.init is not None:
            return summary, summary.init
        found = _init_mixin(index, resolved, _depth + 1)
        if found is not None:
            return found
    return None


def check(ctx: FileContext) -> Iterator[Finding]:
    for agent in ctx.agent_classes:
        if agent.init is not None:
            yield from _params(ctx, agent.init, f"{agent.name}.__init__")
        elif _makes_init(ctx, agent.node):
            yield from _dataclass_fields(ctx, agent.node, f"{agent.name}.__init__")
        else:
            yield from _inherited(ctx, agent)
        for behaviour in agent.behaviours:
            owner = f"behaviour {agent.name}.{behaviour.name}"
            yield from _params(ctx, behaviour.node, owner)
            yield from _returns(ctx, behaviour.node, owner)
