"""The capability checks: each turns mypy's view of a boundary into ``Shape``s, asks
``capsys.sendable.static_problem`` and words the finding from ``capsys.diagnostics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from mypy.checker import TypeChecker
from mypy.errorcodes import ErrorCode
from mypy.expandtype import expand_type
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    ARG_NAMED,
    ARG_OPT,
    ARG_POS,
    ARG_STAR,
    ARG_STAR2,
    ArgKind,
    Argument,
    AssignmentExpr,
    AssignmentStmt,
    Block,
    CallExpr,
    ClassDef,
    Context,
    Decorator,
    DelStmt,
    DictionaryComprehension,
    Expression,
    FakeInfo,
    ForStmt,
    FuncDef,
    GeneratorExpr,
    IfStmt,
    ListExpr,
    MatchStmt,
    MemberExpr,
    NameExpr,
    OperatorAssignmentStmt,
    OverloadedFuncDef,
    RefExpr,
    ReturnStmt,
    SetExpr,
    StarExpr,
    TryStmt,
    TupleExpr,
    TypeInfo,
    Var,
    WithStmt,
)
from mypy.patterns import Pattern
from mypy.plugin import (
    AttributeContext,
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
)
from mypy.semanal import SemanticAnalyzer
from mypy.semanal_shared import has_placeholder
from mypy.server.subexpr import get_subexpressions
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    Overloaded,
    Parameters,
    ProperType,
    TupleType,
    Type,
    TypedDictType,
    TypeOfAny,
    TypeType,
    TypeVarType,
    UnpackType,
    get_proper_type,
)
from mypy.typevars import fill_typevars

from capsys.config import Config
from capsys.diagnostics import get_rule, held_agent_detail, passed_agent_detail
from capsys.names import CAPSYS_NAMES
from capsys.sendable import Problem, Shape, ShapeKind, held_agent, static_problem
from mypy_plugin.codes import ERROR_CODES
from mypy_plugin.deps import consulted, consulting, member_triggers
from mypy_plugin.shapes import (
    AGENT,
    Translator,
    decorator_fullname,
    is_agent,
    is_message_class,
    pending_fields,
    record_state,
    says_frozen,
    shape_of,
)


class _Api(Protocol):
    """What every plugin API (checker, semantic analyser, type analyser) offers."""

    def fail(self, msg: str, ctx: Context, /, *, code: ErrorCode | None = None) -> object: ...


_MemoKey = TypeInfo | tuple["_MemoKey", ...]
# A remembered verdict: the shape, its problem, and the modules whose classes it read.
_Verdict = tuple[Shape, "Problem | None", frozenset[str]]


def _memo_key(typ: Type) -> _MemoKey | None:
    """The classes ``typ`` is made of, if it is a class or a generic of classes all the
    way down (``float``, ``Reading``, ``Iso[list[float]]``, ``Tag[Sensor]``); else None.
    Every other type is translated each time: mypy's equality of those ignores what
    matters here (for one, all Any types are equal whatever their origin)."""
    if type(typ) is not Instance:
        return None
    if not typ.args:
        return typ.type
    parts: list[_MemoKey] = [typ.type]
    for arg in typ.args:
        part = _memo_key(arg)
        if part is None:
            return None
        parts.append(part)
    return tuple(parts)


class Reporter:
    """Formats catalogue messages and drops codes the project's config turns off.

    With ``memo`` it also remembers, for the rest of the run, the verdict on each class
    (or generic of classes) met at a call site or in a signature while mypy type-checks,
    and which agent ``__init__`` (and fields) it has checked again. By then semantic analysis of
    every class a module can see is over, so neither changes (mypy checks a module only
    after its imports).
    The daemon (fine-grained mode) reuses the plugin across edits: no memo there.
    """

    def __init__(self, config: Config, memo: bool = False) -> None:
        self.config = config
        self._verdicts: dict[_MemoKey, _Verdict] | None = {} if memo else None
        self._checked: set[FuncDef | ClassDef] | None = set() if memo else None

    def verdict(self, typ: Type, api: object) -> tuple[Shape, Problem | None]:
        """``typ``'s shape and why it is not sendable (None: it is; a mutable ``Val[T]``
        is CAP004 where it is written, not a sendability problem on top)."""
        memo = self._verdicts
        key = _memo_key(typ) if memo is not None and isinstance(api, TypeChecker) else None
        if key is None:
            shape = shape_of(typ)
            return shape, static_problem(shape, vals_reported=True)
        assert memo is not None
        found = memo.get(key)
        if found is None:
            with consulting() as read:
                shape = shape_of(typ)
                problem = static_problem(shape, vals_reported=True)
            found = memo[key] = (shape, problem, frozenset(read))
        else:
            consulted(found[2])  # the module reusing it depends on the same files
        return found[0], found[1]

    def first_check_of(self, node: FuncDef | ClassDef) -> bool:
        """False when this ``__init__`` (or this agent class's fields) was checked again
        already (memo only)."""
        seen = self._checked
        if seen is None:
            return True
        if node in seen:
            return False
        seen.add(node)
        return True

    def report(self, api: _Api, code: str, ctx: Context, **fields: object) -> bool:
        """Report ``code`` unless the config turns it off; True when reported."""
        rule = get_rule(code)
        if rule is None or not self.config.enabled(code):
            return False
        message = rule.format(**fields)
        with _past_watchers(api):
            api.fail(message, ctx, code=ERROR_CODES[code])
        return True

    def problem(
        self, api: _Api, ctx: Context, problem: Problem, shape: Shape, code: str, what: str
    ) -> None:
        """Report ``problem`` as ``code`` (CAP012 when the type is Any/unknown)."""
        text = shape.display()
        if problem.is_any:
            self.report(api, "CAP012", ctx, what=what, type=text)
        elif code == "CAP001":
            self.report(api, code, ctx, what=f"{what} ({text})", detail=problem.describe(text))
        elif code == "CAP003":
            detail = f"its type {text} is not sendable: {problem.describe(text)}"
            self.report(api, code, ctx, what=what, detail=detail)
        elif code == "CAP004":
            self.report(api, code, ctx, what=what, detail=problem.describe(text))


@contextmanager
def _past_watchers(api: object) -> Iterator[None]:
    """Report errors past mypy's error watchers.

    mypy tries a call speculatively (an overload of ask/quorum/broadcast, or the call
    inside another one being inferred). Its watchers would swallow a finding and, worse,
    take it as a reason to reject the overload; the winning overload is not checked
    again, so findings are reported past them. Each try reports the same text for the
    same cause, and mypy merges identical messages on a line.
    """
    errors: Any = getattr(getattr(api, "msg", None), "errors", None)
    watchers = getattr(errors, "_watchers", None)
    if not watchers:
        yield
        return
    errors._watchers = []  # a private attribute of mypy's Errors
    try:
        yield
    finally:
        errors._watchers = watchers


# --------------------------------------------------------------------------------------
# Call-site boundaries: send / ask / send_wait / spawn and the runtime's primitives.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    """One call whose arguments cross to another agent.

    ``target``: index of the positional argument naming what is called (a behaviour,
    or the agent class for ``spawn``); ``None`` when every argument is a payload (a
    channel item). Arguments after the target are payloads, except the keywords in
    ``skip`` that configure the call itself. ``reply``: the behaviour's result crosses
    back to the caller.
    """

    verb: str
    target: int | None
    target_is_class: bool = False
    reply: bool = False
    skip: frozenset[str] = frozenset()


def _callable_label(typ: ProperType | None, expr: Expression) -> str:
    if isinstance(typ, CallableType):
        if typ.is_type_obj():
            return typ.type_object().name
        definition = typ.definition
        if isinstance(definition, FuncDef) and not isinstance(definition.info, FakeInfo):
            return f"{definition.info.name}.{definition.name}"
    if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr):
        return f"{expr.expr.name}.{expr.name}"
    if isinstance(expr, NameExpr):
        return expr.name
    return "the behaviour"


def _supertype_args(typ: Instance, fullname: str) -> list[Type] | None:
    for base in typ.type.mro:
        if base.fullname == fullname:
            return list(map_instance_to_supertype(typ, base).args)
    return None


def _star_items(typ: Type, kind: ArgKind) -> list[Type]:
    """The values that actually cross for ``*xs`` / ``**kw`` (not the container)."""
    proper = get_proper_type(typ)
    if kind == ARG_STAR:
        if isinstance(proper, TupleType):
            return list(proper.items)
        if isinstance(proper, Instance):
            args = _supertype_args(proper, "typing.Iterable")
            if args:
                return args[:1]
    else:
        if isinstance(proper, TypedDictType):
            return list(proper.items.values())
        if isinstance(proper, Instance):
            args = _supertype_args(proper, "typing.Mapping")
            if args and len(args) == 2:
                return args[1:]
    return [typ]


def _agent_type(typ: Type | None) -> TypeInfo | None:
    """The agent class when ``typ`` is an agent object (not a ``Tag`` of one)."""
    proper = get_proper_type(typ) if typ is not None else None
    if isinstance(proper, Instance) and is_agent(proper.type):
        return proper.type
    return None


def _own_agent(expr: Expression, typ: Type | None, api: CheckerPluginInterface) -> str | None:
    """How a finding names ``self`` of an agent method, or a local name bound to it
    (``me = self``), as the linter does: ``self (the agent object)``, ``me (the agent
    object self)``; None for anything else. Another object of the same agent class is
    not self: holding it is CAP007, not CAP008."""
    if not isinstance(expr, NameExpr) or not isinstance(expr.node, Var):
        return None
    var = expr.node
    if _agent_type(typ if typ is not None else var.type) is None:
        return None
    if var.is_self:
        return f"{var.name} (the agent object)"
    method = api.scope.top_level_function() if isinstance(api, TypeChecker) else None
    if not isinstance(method, FuncDef) or var not in _self_aliases(method):
        return None
    me = method.arguments[0].variable.name if method.arguments else "self"
    return f"{expr.name} (the agent object {me})"


# Where a statement keeps the blocks nested in it (if/while/for/with/try/match, nested
# functions): mypy's traversers are compiled and cannot be subclassed by a plugin.
_NESTED_BLOCKS = ("body", "else_body", "finally_body", "handlers", "bodies", "func")


def _self_aliases(method: FuncDef) -> set[Var]:
    """The local names ``method`` binds to ``self`` (or to such a name)."""
    found: set[Var] = set()
    pending: list[object] = [method]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(reversed(node))
            continue
        if isinstance(node, Block):
            pending.extend(reversed(node.body))
            continue
        if isinstance(node, AssignmentStmt):
            value = node.rvalue
            if (
                isinstance(value, NameExpr)
                and isinstance(value.node, Var)
                and (value.node.is_self or value.node in found)
            ):
                found.update(
                    t.node
                    for t in node.lvalues
                    if isinstance(t, NameExpr) and isinstance(t.node, Var)
                )
            continue
        for name in _NESTED_BLOCKS:
            child = getattr(node, name, None)
            if child is not None and not isinstance(child, Expression):
                pending.append(child)
    return found


# The displays whose items ``self`` is looked for in, as the linter does.
_DISPLAYS = (TupleExpr, ListExpr, SetExpr)


def _selves_inside(
    expr: Expression, typ: Type | None, api: CheckerPluginInterface
) -> list[tuple[Expression, str]]:
    """Each ``self`` (or alias) that is ``expr`` or an item of a tuple, list or set
    display in it, at any depth: that expression, where the linter reports it too, and
    ``_own_agent``'s wording of it."""
    text = _own_agent(expr, typ, api)
    if text is not None:
        return [(expr, text)]
    if isinstance(expr, _DISPLAYS):
        return [found for item in expr.items for found in _selves_inside(item, None, api)]
    return []


def _only_selves(expr: Expression, selves: list[tuple[Expression, str]]) -> bool:
    """The CAP008 for ``selves`` is the whole finding on ``expr``: it is ``self`` or a
    tuple display with self among its items (or theirs, tuples in turn). A list or set
    display is a mistake of its own (CAP001, CAP004) besides the self in it, as the
    linter reports it."""
    return bool(selves) and _hides_the_rest(expr, selves)


def _hides_the_rest(expr: Expression, selves: list[tuple[Expression, str]]) -> bool:
    if any(expr is node for node, _ in selves):
        return True
    return isinstance(expr, TupleExpr) and any(_hides_the_rest(e, selves) for e in expr.items)


def _arguments(ctx: FunctionContext | MethodContext) -> tuple[CallExpr, dict[int, Type]] | None:
    """The call and the type mypy inferred for each actual argument expression."""
    call = ctx.context
    if not isinstance(call, CallExpr):
        return None
    types: dict[int, Type] = {}
    for exprs, typs in zip(ctx.args, ctx.arg_types, strict=False):
        for expr, typ in zip(exprs, typs, strict=False):
            types[id(expr)] = typ
    return call, types


def _through_the_class(receiver: Type) -> bool:
    """Whether a method is called on its class (a type object), not on an instance."""
    return isinstance(get_proper_type(receiver), (CallableType, Overloaded, TypeType))


def check_boundary(
    reporter: Reporter, boundary: Boundary, ctx: FunctionContext | MethodContext
) -> None:
    """CAP001/CAP012 for each payload, CAP008/CAP007 for agent objects, and the reply."""
    found = _arguments(ctx)
    if found is None:
        return
    call, types = found
    actuals = list(zip(call.args, call.arg_kinds, call.arg_names, strict=True))
    if isinstance(ctx, MethodContext) and _through_the_class(ctx.type) and actuals:
        actuals = actuals[1:]  # ``Tag.send(t, ...)``, ``type(t).send(t, ...)``: t is self
    if boundary.target is None:
        where = boundary.verb
    else:
        if len(actuals) <= boundary.target or actuals[boundary.target][1] != ARG_POS:
            return
        first = actuals[boundary.target][0]
        first_type = types.get(id(first))
        target = _callable_label(get_proper_type(first_type) if first_type else None, first)
        if boundary.reply and first_type is not None:
            _check_reply(reporter, ctx, call, target, first_type, boundary)
        joiner = "of" if boundary.target_is_class else "to"
        where = f"{boundary.verb} {joiner} {target}"
        actuals = actuals[boundary.target + 1 :]
        if boundary.skip.intersection(n for n in ctx.callee_arg_names if n):
            behaviour = _behaviour_signature(first_type)
            if behaviour is not None:
                payload = [(e, k, n) for e, k, n in actuals if n not in boundary.skip]
                types.update(_check_payload_call(ctx.api, call, behaviour, payload))
    position = 0
    for expr, kind, name in actuals:
        if kind == ARG_NAMED and name in boundary.skip:
            continue
        if kind not in (ARG_NAMED, ARG_STAR2):
            position += 1
        label = f'"{name}"' if name else str(position)
        what = (
            f"Argument {label} of {where}"
            if boundary.target is not None
            else f"The item of {where}"
        )
        if kind == ARG_STAR:
            what = f"An item of *argument {label} of {where}"
        elif kind == ARG_STAR2:  # (not counted as a position: name what was spread)
            spread = expr.name if isinstance(expr, NameExpr) else "..."
            what = f"A keyword value in **{spread} of {where}"
        _check_argument(reporter, ctx.api, expr, types.get(id(expr)), kind, label, where, what)


def _check_argument(
    reporter: Reporter,
    api: CheckerPluginInterface,
    expr: Expression,
    typ: Type | None,
    kind: ArgKind,
    label: str,
    where: str,
    what: str,
) -> None:
    """CAP008 for ``self``, CAP007 for another agent object, else CAP001/CAP012 for the
    value (for ``*xs`` / ``**kw``: for the items that cross); nothing for a ``val(x)``
    that is reported itself."""
    selves = _selves_inside(expr, typ, api)
    for node, text in selves:
        detail = f"{text} is passed as argument {label} of {where}"
        reporter.report(api, "CAP008", node, detail=detail)
    if selves and (kind in (ARG_STAR, ARG_STAR2) or _only_selves(expr, selves)):
        return  # what crosses is self (for *xs: the items, self among them)
    if typ is None or _reported_val(expr, api):
        return
    other = _agent_type(typ)
    if other is not None:
        detail = passed_agent_detail(f"Argument {label} of {where}", other.name)
        reporter.report(api, "CAP007", expr, detail=detail)
        return
    for item in _star_items(typ, kind) if kind in (ARG_STAR, ARG_STAR2) else [typ]:
        shape, problem = reporter.verdict(item, api)
        if problem is not None:
            reporter.problem(api, expr, problem, shape, "CAP001", what)
            break


def check_spawn_group(reporter: Reporter, verb: str, ctx: FunctionContext) -> None:
    """The topology builders (``ring(rt, Node, 3, args=(x,))``) spawn ``cls(*args)``
    for every agent: ``args=`` (and ``kwargs=``, should a builder take one) is checked
    as the arguments of ``rt.spawn`` are."""
    found = _arguments(ctx)
    if found is None:
        return
    call, types = found
    target = "the agent"
    positions = [i for i, k in enumerate(call.arg_kinds) if k == ARG_POS]
    if len(positions) > 1:
        cls = call.args[positions[1]]
        cls_type = types.get(id(cls))
        target = _callable_label(get_proper_type(cls_type) if cls_type else None, cls)
    where = f"{verb} of {target}"
    for expr, kind, name in zip(call.args, call.arg_kinds, call.arg_names, strict=True):
        if kind != ARG_NAMED or name not in ("args", "kwargs"):
            continue
        typ = types.get(id(expr))
        proper = get_proper_type(typ) if typ is not None else None
        if (
            name == "args"
            and isinstance(expr, TupleExpr)
            and isinstance(proper, TupleType)
            and len(proper.items) == len(expr.items)
            and not any(isinstance(item, StarExpr) for item in expr.items)
        ):
            # args=(a, b): spawn's arguments 1 and 2, each judged at its own expression.
            for position, (item, item_type) in enumerate(
                zip(expr.items, proper.items, strict=True), start=1
            ):
                what = f"Argument {position} of {where}"
                _check_argument(
                    reporter, ctx.api, item, item_type, ARG_POS, str(position), where, what
                )
            continue
        star = ARG_STAR if name == "args" else ARG_STAR2
        what = f'An item of argument "{name}" of {where}'
        _check_argument(reporter, ctx.api, expr, typ, star, f'"{name}"', where, what)


def _behaviour_signature(typ: Type | None) -> CallableType | None:
    """A behaviour's signature (``self`` first) when it can stand in for ``P``: not
    generic (mypy solves those through the ParamSpec itself), not overloaded."""
    proper = get_proper_type(typ) if typ is not None else None
    if (
        isinstance(proper, CallableType)
        and not proper.variables
        and proper.arg_kinds[:1] == [ARG_POS]
        and proper.param_spec() is None
    ):
        return proper
    return None


def _check_payload_call(
    api: CheckerPluginInterface,
    call: CallExpr,
    behaviour: CallableType,
    payload: list[tuple[Expression, ArgKind, str | None]],
) -> dict[int, Type]:
    """Check the payload against the behaviour's own parameters, as mypy checks a call
    (``arg-type``, ``call-arg``), and return the types inferred in that context.

    For the overloads with keyword options (``timeout=``, ``fanout=``, ``accept=``)
    mypy cannot: PEP 612 allows no keyword between ``*args: P.args`` and ``**kwargs:
    P.kwargs``, so those overloads take any payload, inferred without context.
    """
    if not isinstance(api, TypeChecker):
        return {}
    callee = behaviour.copy_modified(
        arg_types=behaviour.arg_types[1:],
        arg_kinds=behaviour.arg_kinds[1:],
        arg_names=behaviour.arg_names[1:],
    )
    exprs = [e for e, _, _ in payload]
    with _past_watchers(api):
        api.expr_checker.check_call(
            callee, exprs, [k for _, k, _ in payload], call, [n for _, _, n in payload]
        )
    found = {id(e): api.lookup_type_or_none(e) for e in exprs}
    return {key: typ for key, typ in found.items() if typ is not None}


def specialise_signature(
    boundary: Boundary, ctx: MethodSigContext | FunctionSigContext
) -> CallableType:
    """The boundary's signature with the behaviour's own parameters in place of ``P``.

    mypy's ParamSpec matching rejects a behaviour with ``**kwargs`` against
    ``Callable[Concatenate[A, P], ...]`` (the prefix is positional-only, the
    behaviour's ``self`` is not); with the parameters spelt out, and ``self`` named as
    the behaviour names it, the call is checked as pyright checks it.
    """
    sig = ctx.default_signature
    at = boundary.target
    if at is None or at >= len(ctx.args) or len(ctx.args[at]) != 1:
        return sig
    formal = get_proper_type(sig.arg_types[at])
    spec = formal.param_spec() if isinstance(formal, CallableType) else None
    if spec is None:
        return sig
    behaviour = _behaviour_signature(ctx.api.get_expression_type(ctx.args[at][0]))
    if behaviour is None:
        return sig
    if behaviour.unpack_kwargs:  # **kw: Unpack[TD]: its keys as keyword parameters
        behaviour = behaviour.with_unpacked_kwargs()
    params = Parameters(behaviour.arg_types[1:], behaviour.arg_kinds[1:], behaviour.arg_names[1:])
    expanded = get_proper_type(expand_type(sig, {spec.id: params}))
    if not isinstance(expanded, CallableType):
        return sig
    target = get_proper_type(expanded.arg_types[at])
    if isinstance(target, CallableType) and target.arg_kinds[:1] == [ARG_POS]:
        target = target.copy_modified(arg_names=[behaviour.arg_names[0], *target.arg_names[1:]])
        expanded = expanded.copy_modified(
            arg_types=[*expanded.arg_types[:at], target, *expanded.arg_types[at + 1 :]]
        )
    return expanded.copy_modified(variables=[v for v in sig.variables if v.id != spec.id])


def _check_reply(
    reporter: Reporter,
    ctx: FunctionContext | MethodContext,
    call: CallExpr,
    target: str,
    behaviour_type: Type,
    boundary: Boundary,
) -> None:
    callee = get_proper_type(behaviour_type)
    if not isinstance(callee, CallableType):
        return
    reply = _awaited(callee.ret_type)
    proper = get_proper_type(reply)
    if isinstance(proper, AnyType) and proper.type_of_any == TypeOfAny.unannotated:
        return  # the definition is reported (CAP002): one finding per cause
    if isinstance(proper, TypeVarType) and all(v.id != proper.id for v in callee.variables):
        # A type variable of the caller's own signature (a generic forwarding helper's
        # Callable[..., R]): the behaviour is not known here, and every behaviour's
        # result is checked at its definition (CAP002).
        return
    shape, problem = reporter.verdict(reply, ctx.api)
    if problem is not None:
        what = f"The reply of {boundary.verb} to {target}"
        reporter.problem(ctx.api, call, problem, shape, "CAP001", what)


def _awaited(typ: Type) -> Type:
    """``R`` for an ``Awaitable[R]`` (what an async behaviour's caller gets), else ``typ``."""
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        args = _supertype_args(proper, "typing.Awaitable")
        if args:
            return args[0]
    return typ


# --------------------------------------------------------------------------------------
# Definitions: behaviours, agent __init__, @message classes, Val[T] / val(x).
# --------------------------------------------------------------------------------------


def check_signature(
    reporter: Reporter,
    api: _Api,
    func: FuncDef,
    owner: str,
    with_return: bool,
    arg_types: list[Type | None] | None = None,
    partial: frozenset[int] | set[int] = frozenset(),
    at: Context | None = None,
) -> None:
    """CAP002 for every parameter but ``self`` (and the result of a behaviour).

    ``arg_types`` replaces the declared parameter types when the caller analysed them;
    for the indexes in ``partial`` an unknown (Any) part is a name not defined yet, not
    a finding. ``at``: where to report parameters defined elsewhere (an inherited
    ``__init__``), instead of at each parameter.
    """
    typ = func.type if isinstance(func.type, CallableType) else None
    declared_types: list[Type | None] = list(typ.arg_types) if typ is not None else []
    if arg_types is not None:
        declared_types = arg_types
    start = 0 if func.is_static else 1
    for index in range(start, len(func.arguments)):
        argument = func.arguments[index]
        name = argument.variable.name
        declared = declared_types[index] if index < len(declared_types) else None
        what = f'Parameter "{name}"'
        where = argument if at is None else at
        items = _unpacked_keywords(typ, argument, declared)
        if items is not None:  # **kw: Unpack[TD]: each keyword is a parameter of its own
            for key, item in items:
                what = f'Keyword "{key}" of parameter "**{name}"'
                _check_declared(reporter, api, where, what, owner, item, index in partial)
            continue
        _check_declared(reporter, api, where, what, owner, declared, index in partial)
    if with_return:
        declared = typ.ret_type if typ is not None else None
        if declared is not None and func.is_coroutine:
            declared = _awaited(declared)
        _check_declared(reporter, api, _return_annotation(func), "The return type", owner, declared)


def _unpacked_keywords(
    typ: CallableType | None, argument: Argument, declared: Type | None
) -> list[tuple[str, Type]] | None:
    """The keywords of ``**kw: Unpack[TD]`` with their types; None for any other
    parameter (the TypedDict is how the keywords are spelt, not a value passed)."""
    if typ is None or not typ.unpack_kwargs or argument.kind != ARG_STAR2 or declared is None:
        return None
    proper = get_proper_type(declared)
    if isinstance(proper, UnpackType):
        proper = get_proper_type(proper.type)
    if not isinstance(proper, TypedDictType):
        return None
    return list(proper.items.items())


def _return_annotation(func: FuncDef) -> Context:
    """Where ``func``'s return type is written (the linter reports it there, on the last
    line of a signature over several), else the ``def``."""
    written = func.unanalyzed_type
    if isinstance(written, CallableType):
        ret = written.ret_type
        unannotated = isinstance(ret, AnyType) and ret.type_of_any == TypeOfAny.unannotated
        if not unannotated and ret.line >= 0:
            return ret
    return func


def _check_declared(
    reporter: Reporter,
    api: _Api,
    ctx: Context,
    what: str,
    owner: str,
    declared: Type | None,
    partial: bool = False,
) -> None:
    if declared is None and partial:
        return  # it names something not defined yet: judged once it is
    proper = get_proper_type(declared) if declared is not None else None
    if proper is None or (
        isinstance(proper, AnyType) and proper.type_of_any == TypeOfAny.unannotated
    ):
        detail = "is not annotated; annotate it with a sendable type"
        reporter.report(api, "CAP002", ctx, what=what, owner=owner, detail=detail)
        return
    assert declared is not None
    shape, problem = reporter.verdict(declared, api)
    if problem is None or (partial and problem.is_any):
        return
    if problem.is_any:
        reporter.report(api, "CAP012", ctx, what=f"{what} of {owner}", type=shape.display())
        return
    text = shape.display()
    agent = held_agent(shape)
    if agent is not None:
        reporter.report(api, "CAP007", ctx, detail=passed_agent_detail(f"{what} of {owner}", agent))
        return
    detail = f"is not sendable: {problem.describe(text)}"
    reporter.report(api, "CAP002", ctx, what=f"{what} ({text})", owner=owner, detail=detail)


def check_behaviour(reporter: Reporter, ctx: FunctionContext) -> None:
    """CAP002 (CAP007, CAP012) for a ``@behaviour``'s parameters and result."""
    deco = ctx.context
    if not isinstance(deco, Decorator):
        return
    func = deco.func
    if isinstance(func.info, FakeInfo):
        return  # a module-level function: the runtime rejects it, nothing to type here
    owner = f"behaviour {func.info.name}.{func.name}"
    check_signature(reporter, ctx.api, func, owner, with_return=True)
    if is_agent(func.info):
        _check_returned_self(reporter, ctx.api, func, owner)
    # The agent's __init__ again, now that mypy has analysed its signature: whatever
    # semantic analysis judged only in part (a name still not defined on its final
    # pass) is judged whole here (mypy merges the findings both passes make).
    init = _own_init(func.info)
    if (
        init is not None
        and not func.info.names["__init__"].plugin_generated  # a dataclass's: its fields
        and is_agent(func.info)
        and reporter.first_check_of(init)
    ):
        owner = f"{func.info.name}.__init__"
        check_signature(reporter, ctx.api, init, owner, with_return=False)
    # Its fields too, whose annotations in method bodies are analysed by now.
    cls = func.info.defn
    if is_agent(func.info) and reporter.first_check_of(cls):
        for name, stmt in _agent_field_annotations(cls):
            _check_field(reporter, ctx.api, func.info, name, stmt, stmt.type)


def _check_returned_self(
    reporter: Reporter, api: CheckerPluginInterface, func: FuncDef, owner: str
) -> None:
    """CAP008 for ``return self`` (or an alias of it, or either in a display returned)
    in a behaviour: the result is the reply of an ask, so self would leave the agent in
    it. Reported at ``self``, whatever the return annotation says (that one is CAP002
    on its own).

    mypy checks a behaviour's body after its decorator, so the local names' types are
    not known here: an alias is a local whose every binding is ``name = self`` (or
    ``= another such alias``), as the linter reads it.
    """
    returned = [stmt.expr for stmt in _returns(func.body) if stmt.expr is not None]
    if not returned or not func.arguments:
        return
    me = func.arguments[0].variable
    if not me.is_self or _agent_type(me.type) is None:
        return
    aliases: set[Var] | None = None
    for expr in returned:
        for node in _names_in_displays(expr):
            var = node.node
            if not isinstance(var, Var):
                continue
            if var is me:
                text = f"{me.name} (the agent object)"
            else:
                if aliases is None:
                    aliases = _bound_only_to(me, func)
                if var not in aliases:
                    continue
                text = f"{node.name} (the agent object {me.name})"
            reporter.report(api, "CAP008", node, detail=f"{text} is returned by {owner}")


def _names_in_displays(expr: Expression) -> Iterator[NameExpr]:
    """``expr`` if it is a name, or the names that are items of tuple, list or set
    displays in it, at any depth."""
    if isinstance(expr, NameExpr):
        yield expr
    elif isinstance(expr, _DISPLAYS):
        for item in expr.items:
            yield from _names_in_displays(item)


# Where a statement binds names (besides ``name = value``): for, with, except, del.
_TARGETS: dict[type[object], str] = {
    ForStmt: "index",
    WithStmt: "target",
    TryStmt: "vars",
    DelStmt: "expr",
}
# Where a match pattern nests patterns, and where it captures a name.
_SUBPATTERNS = ("pattern", "patterns", "values", "positionals", "keyword_values")
_CAPTURES = ("name", "capture", "rest")


def _bound_only_to(me: Var, func: FuncDef) -> set[Var]:
    """The locals of ``func`` whose every binding is ``name = me`` or ``name = alias``
    (an alias being such a local too). Every way Python binds a name is looked at, in
    ``func`` and the functions nested in it (``nonlocal`` binds the same variable)."""
    found: dict[Var, list[Expression | None]] = {}

    def bind(target: object, value: Expression | None = None) -> None:
        if isinstance(target, list):
            for item in target:
                bind(item)
        elif isinstance(target, NameExpr):
            if isinstance(target.node, Var):
                found.setdefault(target.node, []).append(value)
        elif isinstance(target, (TupleExpr, ListExpr)):
            bind(target.items)
        elif isinstance(target, StarExpr):
            bind(target.expr)

    def patterns(pattern: object) -> None:
        if isinstance(pattern, list):
            for item in pattern:
                patterns(item)
        elif isinstance(pattern, Pattern):
            for name in _CAPTURES:
                bind(getattr(pattern, name, None))
            for name in _SUBPATTERNS:
                patterns(getattr(pattern, name, None))

    for stmt in _all_statements(func.body):
        if isinstance(stmt, AssignmentStmt):
            for target in stmt.lvalues:
                bind(target, stmt.rvalue)
        elif isinstance(stmt, OperatorAssignmentStmt):
            bind(stmt.lvalue)
        elif type(stmt) in _TARGETS:
            bind(getattr(stmt, _TARGETS[type(stmt)]))
        elif isinstance(stmt, MatchStmt):
            patterns(stmt.patterns)
    for expr in get_subexpressions(func.body):
        if isinstance(expr, AssignmentExpr):
            bind(expr.target)
        elif isinstance(expr, (GeneratorExpr, DictionaryComprehension)):
            bind(expr.indices)
    aliases: set[Var] = set()
    grown = True
    while grown:
        grown = False
        for var, values in found.items():
            if var in aliases or var is me:
                continue
            if all(isinstance(v, NameExpr) and (v.node is me or v.node in aliases) for v in values):
                aliases.add(var)
                grown = True
    return aliases


def _all_statements(root: Block, *, into_definitions: bool = True) -> Iterator[object]:
    """Every statement in ``root`` and the blocks nested in it; those of the functions
    and classes defined in it too unless ``into_definitions`` is False."""
    pending: list[object] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(reversed(node))
        elif isinstance(node, Block):
            pending.extend(reversed(node.body))
        else:
            yield node
            if not into_definitions and isinstance(
                node, (FuncDef, Decorator, OverloadedFuncDef, ClassDef)
            ):
                continue  # they return from themselves, not from ``root``'s function
            for name in _NESTED_BLOCKS:
                child = getattr(node, name, None)
                if child is not None and not isinstance(child, Expression):
                    pending.append(child)


def _returns(root: Block) -> Iterator[ReturnStmt]:
    """The return statements of the function whose body is ``root``."""
    for stmt in _all_statements(root, into_definitions=False):
        if isinstance(stmt, ReturnStmt):
            yield stmt


def _own_init(info: TypeInfo) -> FuncDef | None:
    sym = info.names.get("__init__")
    node = sym.node if sym is not None else None
    if isinstance(node, Decorator):
        node = node.func
    return node if isinstance(node, FuncDef) else None


def check_message(reporter: Reporter, ctx: FunctionContext) -> None:
    """CAP003 for a ``@message`` class that is not frozen or has a field that is not
    sendable (CAP007 for a field holding an agent object)."""
    cls = ctx.context
    if not isinstance(cls, ClassDef):
        return
    info = cls.info
    what = f"Message class {info.name}"
    # Remembered in metadata, which mypy caches: other modules see it in later runs.
    info.metadata.setdefault("capsys", {})["message"] = True
    if info.is_named_tuple:
        # Immutable by itself (mypy reports that a NamedTuple cannot be a dataclass):
        # only its fields are judged, as wherever a NamedTuple is sent.
        fields = _named_tuple_fields(cls)
    else:
        _check_message_frame(reporter, ctx, cls, what)
        fields = _dataclass_fields(cls)
    with consulting() as read:
        for name, declared, where in fields:
            shape, problem = reporter.verdict(declared, ctx.api)
            if problem is None:
                continue
            field = f'Field "{name}" of message {info.name}'
            agent = held_agent(shape)
            if agent is not None and not problem.is_any:
                reporter.report(ctx.api, "CAP007", where, detail=passed_agent_detail(field, agent))
            else:
                reporter.problem(ctx.api, where, problem, shape, "CAP003", field)
    member_triggers(ctx.api, read, info.fullname)


def _check_message_frame(
    reporter: Reporter, ctx: FunctionContext, cls: ClassDef, what: str
) -> None:
    """CAP003 for what makes a message class mutable: its bases, __setattr__, a
    non-frozen @dataclass on top."""
    info = cls.info
    for base in info.mro[1:]:
        if base.fullname in ("builtins.object", "typing.Generic"):
            continue
        is_record, frozen = record_state(base)
        if not (is_record and frozen):
            detail = (
                f"its base class {base.name} is not a frozen dataclass or @message, so its "
                "instances would not be immutable; make the base a @message too"
            )
            reporter.report(ctx.api, "CAP003", cls, what=what, detail=detail)
    if "__setattr__" in info.names:
        detail = "it defines __setattr__, so its instances are not immutable; remove it"
        reporter.report(ctx.api, "CAP003", cls, what=what, detail=detail)
    for dec in cls.decorators:
        if decorator_fullname(dec) == "dataclasses.dataclass" and not says_frozen(dec):
            detail = (
                "it is also a @dataclass that is not frozen; drop the @dataclass "
                "(@message makes a frozen dataclass)"
            )
            reporter.report(ctx.api, "CAP003", cls, what=what, detail=detail)


def _dataclass_fields(cls: ClassDef) -> list[tuple[str, Type, Context]]:
    """The class's own fields (inherited ones are checked at the base, a message too)."""
    info = cls.info
    own = _own_field_lines(cls)
    self_type = fill_typevars(info)
    if not isinstance(self_type, Instance):
        return []
    return [
        (name, declared, own[name])
        for name, declared in Translator().dataclass_fields(self_type)
        if name in own
    ]


def _named_tuple_fields(cls: ClassDef) -> list[tuple[str, Type, Context]]:
    names = cls.info.metadata.get("namedtuple", {}).get("fields", [])
    items = cls.info.tuple_type.items if cls.info.tuple_type is not None else []
    lines: dict[str, Context] = {
        target.name: stmt
        for stmt in cls.defs.body
        if isinstance(stmt, AssignmentStmt)
        for target in stmt.lvalues
        if isinstance(target, NameExpr)
    }
    return [
        (name, declared, lines.get(name, cls)) for name, declared in zip(names, items, strict=False)
    ]


def _own_field_lines(cls: ClassDef) -> dict[str, Context]:
    """Where each field the class itself annotates is declared. Not ``info.names``: a
    frozen dataclass copies its inherited fields in there (as properties)."""
    info = cls.info
    own = _annotated_names(cls.defs)
    out: dict[str, Context] = {}
    data = info.metadata.get("dataclass")
    if not isinstance(data, dict):
        return out
    for attr in data.get("attributes", ()):
        name = attr.get("name") if isinstance(attr, dict) else None
        if isinstance(name, str) and name in own:
            out[name] = Context(
                line=int(attr.get("line", info.line)), column=int(attr.get("column", 0))
            )
    return out


def _annotated_names(block: Block) -> set[str]:
    """The names annotated in a class body, as the dataclass transform collects fields
    (top-level statements and those under ``if``)."""
    out: set[str] = set()
    for stmt in block.body:
        if isinstance(stmt, AssignmentStmt):
            if stmt.unanalyzed_type is not None:
                out.update(t.name for t in stmt.lvalues if isinstance(t, NameExpr))
        elif isinstance(stmt, IfStmt):
            for body in (*stmt.body, stmt.else_body):
                if body is not None:
                    out |= _annotated_names(body)
    return out


def check_val_type(reporter: Reporter, api: _Api, ctx: Context, inner: Type) -> None:
    """CAP004 for a ``Val[T]`` annotation (a generic ``Val[T]`` of an unbounded type
    variable is left to the places where ``T`` is known)."""
    inner_shape = shape_of(inner)
    if inner_shape.kind is ShapeKind.TYPEVAR and not inner_shape.args:
        return
    shape = Shape(ShapeKind.VAL, "Val", (inner_shape,))
    problem = static_problem(inner_shape, immutable=True)
    if problem is not None and not problem.is_any:
        reporter.report(
            api,
            "CAP004",
            ctx,
            what=shape.display(),
            detail=problem.describe(shape.args[0].display()),
        )


def check_val_call(reporter: Reporter, ctx: FunctionContext) -> None:
    """CAP004 for ``val(x)`` where ``x``'s type is not deeply immutable; CAP008 for
    ``val(self)`` (or self in a display in it): the agent object never becomes a shared
    value."""
    if not ctx.arg_types or not ctx.arg_types[0]:
        return
    expr, typ = ctx.args[0][0], ctx.arg_types[0][0]
    selves = _selves_inside(expr, typ, ctx.api)
    for node, text in selves:
        reporter.report(ctx.api, "CAP008", node, detail=f"{text} is passed to val()")
    if _only_selves(expr, selves):
        return
    found = _val_problem(typ)
    if found is not None:
        shape, problem = found
        what = f"The argument of val() ({shape.display()})"
        reporter.problem(ctx.api, expr, problem, shape, "CAP004", what)


def _val_problem(typ: Type) -> tuple[Shape, Problem] | None:
    """Why ``val()`` of a ``typ`` is CAP004 (None: it is not; ``val()`` of an Any is
    checked at run time, and nothing crosses a boundary there: no CAP012)."""
    shape = shape_of(typ)
    problem = static_problem(shape, immutable=True)
    if problem is None or problem.is_any:
        return None
    return shape, problem


def _reported_val(expr: Expression, api: CheckerPluginInterface) -> bool:
    """``expr`` is a ``val(x)`` call that ``check_val_call`` reports (CAP004, or CAP008
    for ``val(self)``): one mistake, one finding, not another for the argument it is."""
    if not (
        isinstance(expr, CallExpr)
        and isinstance(expr.callee, RefExpr)
        and expr.callee.fullname == CAPSYS_NAMES["val"]
        and len(expr.args) == 1
        and expr.arg_kinds[0] == ARG_POS
        and isinstance(api, TypeChecker)
    ):
        return False
    inner = expr.args[0]
    typ = api.lookup_type_or_none(inner)
    if typ is None:
        return False
    return bool(_selves_inside(inner, typ, api)) or _val_problem(typ) is not None


def check_iso_call(reporter: Reporter, ctx: FunctionContext) -> None:
    """CAP008 for ``iso(self)`` (or self in a display in it): the agent object never
    becomes a movable value."""
    for exprs, typs in zip(ctx.args, ctx.arg_types, strict=False):
        for expr, typ in zip(exprs, typs, strict=False):
            for node, text in _selves_inside(expr, typ, ctx.api):
                detail = f"{text} is wrapped by iso()"
                reporter.report(ctx.api, "CAP008", node, detail=detail)


def check_class_call(reporter: Reporter, ctx: FunctionContext) -> None:
    """CAP007 for ``AgentClass(...)``; CAP008 for ``self`` stored in a message."""
    made = get_proper_type(ctx.default_return_type)
    if not isinstance(made, Instance):
        return
    info = made.type
    if is_agent(info):
        detail = (
            f"agent {info.name} is instantiated directly, so its state would be reachable "
            f"around its mailbox; create it with rt.spawn({info.name}, ...) and use the Tag"
        )
        reporter.report(ctx.api, "CAP007", ctx.context, detail=detail)
        return
    if not is_message_class(info):
        return
    for exprs, typs in zip(ctx.args, ctx.arg_types, strict=False):
        for expr, typ in zip(exprs, typs, strict=False):
            for node, text in _selves_inside(expr, typ, ctx.api):
                detail = f"{text} is stored in message {info.name}"
                reporter.report(ctx.api, "CAP008", node, detail=detail)


# Tag's own public surface; anything else reached through a Tag is agent state.
_TAG_SURFACE = frozenset({"send", "send_wait", "ask"})


def check_tag_attribute(reporter: Reporter, name: str, ctx: AttributeContext) -> bool:
    """CAP007 for ``tag.<name>`` that only exists on the agent behind the Tag; True when
    reported."""
    typ = ctx.type
    if not isinstance(typ, Instance) or name in _TAG_SURFACE or typ.type.get(name) is not None:
        return False
    if ctx.context.line < 0:
        return False  # mypy matching a Tag against a protocol: no expression of the user's
    agent = "Agent"
    if typ.args:
        arg = get_proper_type(typ.args[0])
        if isinstance(arg, Instance):
            agent = arg.type.name
    detail = (
        f'"{name}" is reached through a Tag[{agent}], but a Tag is only the address of '
        f"the agent and its state is private; call a behaviour instead: "
        f"tag.send({agent}.<behaviour>, ...) or await tag.ask({agent}.<behaviour>, ...)"
    )
    return reporter.report(ctx.api, "CAP007", ctx.context, detail=detail)


def check_agent_class(reporter: Reporter, ctx: ClassDefContext) -> None:
    """CAP002 for the ``__init__`` parameters of an agent class, CAP007 for its fields
    annotated to hold another agent's object.

    This runs during semantic analysis of the module's top level, before mypy analyses
    method signatures, so the parameter and field types are analysed here, in the
    class's scope, without side effects (mypy's own analysis reports their errors).
    A type naming something not defined yet (a class later in the module, in a quoted
    or postponed annotation) defers the top level once, as mypy does for such a name in
    a class body: on the next pass the name is defined and every type is judged whole.
    Only the final pass, where nothing may defer, judges what is left on the rest of
    its type (a name that is never defined: mypy reports it).
    """
    api = ctx.api
    if not isinstance(api, SemanticAnalyzer):
        return
    info = ctx.cls.info
    fields = [
        (name, stmt, *_analyse_quietly(api, stmt.unanalyzed_type))
        for name, stmt in _agent_field_annotations(ctx.cls)
        if stmt.unanalyzed_type is not None
    ]
    node = _own_init(info)
    owner, at = f"{info.name}.__init__", None
    if node is None:
        mixin = _init_mixin(info)
        node = _own_init(mixin) if mixin is not None else None
        if mixin is not None:
            owner = f"{mixin.name}.__init__ (inherited by agent {info.name})"
            at = ctx.cls
    analysed: list[Type | None] = []
    partial: set[int] = set()
    if node is not None and isinstance(node.type, CallableType):
        for index, raw in enumerate(node.type.arg_types):
            typ: Type | None = raw
            complete = True
            if not isinstance(raw, AnyType):
                typ, complete = _analyse_quietly(api, raw)
            analysed.append(typ)
            if not complete:
                partial.add(index)
    if (partial or not all(complete for *_, complete in fields)) and not api.final_iteration:
        api.defer()  # judged on the next pass, all at once (no finding twice)
        return
    for name, stmt, typ, _ in fields:
        _check_field(reporter, api, info, name, stmt, typ)
    if node is None and _makes_init(ctx.cls):
        # A dataclass agent: its fields are the parameters of the __init__ that the
        # dataclass transform writes later; each is reported at its field.
        owner = f"{info.name}.__init__"
        for name, stmt, typ, complete in fields:
            if _init_parameter(stmt, typ):
                what = f'Parameter "{name}"'
                _check_declared(reporter, api, stmt, what, owner, _unwrapped(typ), not complete)
    if node is not None:
        check_signature(
            reporter,
            api,
            node,
            owner,
            with_return=False,
            arg_types=analysed,
            partial=partial,
            at=at,
        )


def _check_field(
    reporter: Reporter,
    api: _Api,
    info: TypeInfo,
    name: str,
    stmt: AssignmentStmt,
    typ: Type | None,
) -> None:
    if typ is None or stmt.unanalyzed_type is None:
        return
    agent = held_agent(reporter.verdict(typ, api)[0], deep=True)
    if agent is not None:
        detail = held_agent_detail(f'Field "{name}" of agent {info.name}', agent)
        # At the annotation, as the linter reports it (the same line in both passes).
        reporter.report(api, "CAP007", stmt.unanalyzed_type, detail=detail)


def _makes_init(cls: ClassDef) -> bool:
    """Whether a ``@dataclass`` decorator (without ``init=False``) will write the
    class's ``__init__``."""
    for dec in cls.decorators:
        if decorator_fullname(dec) != "dataclasses.dataclass":
            continue
        if isinstance(dec, CallExpr):
            for name, value in zip(dec.arg_names, dec.args, strict=True):
                if (
                    name == "init"
                    and isinstance(value, NameExpr)
                    and value.fullname == "builtins.False"
                ):
                    return False
        return True
    return False


def _init_parameter(stmt: AssignmentStmt, typ: Type | None) -> bool:
    """Whether a field declared in a dataclass's body is a parameter of its
    ``__init__``: not a ``ClassVar``, the ``KW_ONLY`` marker or ``field(init=False)``."""
    target = stmt.lvalues[0]
    if not isinstance(target, NameExpr) or stmt.lvalues[1:]:
        return False
    if isinstance(target.node, Var) and target.node.is_classvar:
        return False
    proper = get_proper_type(typ) if typ is not None else None
    if isinstance(proper, Instance) and proper.type.fullname == "dataclasses.KW_ONLY":
        return False
    value = stmt.rvalue
    if isinstance(value, CallExpr) and decorator_fullname(value) == "dataclasses.field":
        for name, arg in zip(value.arg_names, value.args, strict=True):
            if name == "init" and isinstance(arg, NameExpr) and arg.fullname == "builtins.False":
                return False
    return True


def _unwrapped(typ: Type | None) -> Type | None:
    """``T`` for an ``InitVar[T]`` field, the field's type otherwise."""
    proper = get_proper_type(typ) if typ is not None else None
    if isinstance(proper, Instance) and proper.type.fullname == "dataclasses.InitVar":
        return proper.args[0] if proper.args else typ
    return typ


def _agent_field_annotations(cls: ClassDef) -> Iterator[tuple[str, AssignmentStmt]]:
    """(field, statement) of the class's annotated fields: ``peer: A`` in its body and
    ``self.peer: A = ...`` in its methods (not static or class methods)."""
    for stmt in cls.defs.body:
        if isinstance(stmt, AssignmentStmt):
            target = stmt.lvalues[0] if len(stmt.lvalues) == 1 else None
            if stmt.unanalyzed_type is not None and isinstance(target, NameExpr):
                yield target.name, stmt
            continue
        func = stmt.func if isinstance(stmt, Decorator) else stmt
        if not isinstance(func, FuncDef) or func.is_static or func.is_class:
            continue
        if not func.arguments or func.arg_kinds[0] not in (ARG_POS, ARG_OPT):
            continue
        me = func.arguments[0].variable.name
        for node in _statements(func.body):
            if node.unanalyzed_type is None or len(node.lvalues) != 1:
                continue
            target = node.lvalues[0]
            if (
                isinstance(target, MemberExpr)
                and isinstance(target.expr, NameExpr)
                and target.expr.name == me
            ):
                yield target.name, node


def _statements(root: Block) -> Iterator[AssignmentStmt]:
    """The assignments in ``root`` and the blocks nested in it."""
    for stmt in _all_statements(root):
        if isinstance(stmt, AssignmentStmt):
            yield stmt


def _init_mixin(info: TypeInfo) -> TypeInfo | None:
    """The non-agent base whose ``__init__`` an agent without its own inherits, unless
    an agent base in between inherits it too (and reports it)."""
    for base in info.mro[1:]:
        if base.fullname in (AGENT, "builtins.object"):
            return None
        if is_agent(base):
            if "__init__" in base.names:
                return None  # the base agent's own, checked with it
            if _init_mixin(base) is not None:
                return None  # reported at that agent already
            continue
        if "__init__" in base.names:
            return base
    return None


def _analyse_quietly(api: SemanticAnalyzer, raw: Type) -> tuple[Type | None, bool]:
    """``raw`` analysed, and whether every name in it was defined already."""
    state = (api.deferred, api.progress, api.num_incomplete_refs)
    debug_len = len(api.deferral_debug_context)
    try:
        with api.msg.filter_errors():
            typ = api.anal_type(
                raw, allow_unbound_tvars=True, allow_placeholder=True, report_invalid_types=False
            )
        complete = api.num_incomplete_refs == state[2] and typ is not None
        return typ, (
            complete and typ is not None and not has_placeholder(typ) and not pending_fields(typ)
        )
    finally:
        api.deferred, api.progress, api.num_incomplete_refs = state
        del api.deferral_debug_context[debug_len:]
