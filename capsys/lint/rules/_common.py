"""Helpers shared by the rule modules (not a rule: the registry skips this module)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from capsys.lint.context import AgentClass, FileContext, Site, function_params

__all__ = [
    "BOUNDARY_METHODS",
    "agent_method",
    "call_name",
    "call_values",
    "self_name",
]

# Tag methods that deliver to another agent, and the runtime's spawn/quorum/broadcast.
BOUNDARY_METHODS = frozenset({"send", "ask", "send_wait", "spawn", "quorum", "broadcast"})


def call_name(call: cst.Call) -> str | None:
    """``send`` for ``x.send(...)``, ``f`` for ``f(...)``."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def call_values(call: cst.Call) -> Iterator[tuple[int | str, cst.Arg]]:
    """(position or keyword, argument) of a call's plain arguments (no ``*``/``**``)."""
    position = 0
    for arg in call.args:
        if arg.star:
            continue
        if arg.keyword is not None:
            yield arg.keyword.value, arg
        else:
            yield position, arg
            position += 1


def self_name(method: cst.FunctionDef) -> str | None:
    """The name of a method's instance parameter (None for static/class methods)."""
    for deco in method.decorators:
        d = deco.decorator
        if isinstance(d, cst.Name) and d.value in ("staticmethod", "classmethod"):
            return None
    params = [*method.params.posonly_params, *method.params.params]
    return params[0].name.value if params else None


def agent_method(ctx: FileContext, site: Site) -> tuple[AgentClass, cst.FunctionDef] | None:
    """The agent class and method whose body (maybe a nested def/lambda) holds ``site``."""
    found = site.scope.method()
    if found is None:
        return None
    cls, method = found
    agent = ctx.agent_of(cls)
    if agent is None:
        return None
    return agent, method


def rebinds(site: Site, method: cst.FunctionDef, name: str) -> bool:
    """Whether a def or lambda nested in ``method`` around ``site`` rebinds ``name``."""
    chain = site.scope.chain
    inner = chain[chain.index(method) + 1 :] if method in chain else ()
    return any(
        isinstance(node, (cst.FunctionDef, cst.Lambda))
        and any(p.name.value == name for p in function_params(node))
        for node in inner
    )
