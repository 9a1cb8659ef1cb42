"""Where agent state leaks out of its agent: shared globals (CAP009) and state handed to
concurrently running code (CAP010).

Both analyses read one agent class at a time and only syntax: which names a function
binds (so a local shadowing a global is fine), which calls start concurrent work, and
what is passed to them. Nothing is imported or executed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from capsys.lint.flow import assigned_names, bound_names, code_of, load_names, walk

__all__ = [
    "GlobalAccess",
    "SharedGlobalUse",
    "StateEscape",
    "mutable_global_kinds",
    "shared_global_uses",
    "call_escapes",
    "state_escapes",
]

GlobalAccess = Literal["reads", "mutates", "writes", "rebinds", "declares"]

# Methods of list/dict/set/deque/bytearray that change the object.
_MUTATORS = frozenset(
    {
        "append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "add",
        "discard", "setdefault", "sort", "reverse", "appendleft", "extendleft", "popleft",
        "rotate", "difference_update", "intersection_update", "symmetric_difference_update",
        "__setitem__", "__delitem__",
    }
)  # fmt: skip

_CONTAINER_CALLS = {
    "list": "list",
    "dict": "dict",
    "set": "set",
    "bytearray": "bytearray",
    "deque": "deque",
    "defaultdict": "dict",
    "OrderedDict": "dict",
    "Counter": "dict",
    "ChainMap": "dict",
    "array": "array",
}


@dataclass(frozen=True, eq=False)
class SharedGlobalUse:
    """A behaviour's access to a mutable module-level name."""

    node: cst.Name | cst.Attribute
    name: str
    access: GlobalAccess
    function: cst.FunctionDef


def _container_kind(value: cst.BaseExpression) -> str | None:
    if isinstance(value, (cst.List, cst.ListComp)):
        return "list"
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return "dict"
    if isinstance(value, (cst.Set, cst.SetComp)):
        return "set"
    if isinstance(value, cst.Call):
        func = value.func.value if isinstance(value.func, cst.Subscript) else value.func
        name = func.attr.value if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Name):
            name = func.value
        return _CONTAINER_CALLS.get(name or "")
    return None


def mutable_global_kinds(module: cst.Module) -> dict[str, str]:
    """Module-level names bound to a mutable container ("list", "dict", ...), and names
    some function rebinds with ``global`` ("global")."""
    kinds: dict[str, str] = {}
    for node in walk(module):
        if isinstance(node, cst.Global):
            for item in node.names:
                kinds.setdefault(item.name.value, "global")
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            targets: list[cst.BaseExpression] = []
            value: cst.BaseExpression | None = None
            if isinstance(small, cst.Assign):
                targets, value = [t.target for t in small.targets], small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets, value = [small.target], small.value
            kind = _container_kind(value) if value is not None else None
            for target in targets:
                if isinstance(target, cst.Name) and kind is not None:
                    kinds[target.value] = kind
    return kinds


def _writes(body: cst.CSTNode) -> dict[int, GlobalAccess]:
    """Names whose object a statement changes: ``X.append(..)``, ``X[k] = ..``, ``del X[k]``."""
    marks: dict[int, GlobalAccess] = {}

    def target(expr: cst.BaseExpression) -> None:
        if isinstance(expr, (cst.Subscript, cst.Attribute)) and isinstance(
            expr.value, (cst.Name, cst.Attribute)
        ):
            marks[id(expr.value)] = "writes"  # X[k] = .., also mod.X[k] = ..
            if isinstance(expr, cst.Attribute):
                marks[id(expr)] = "writes"  # mod.X = ..
        elif isinstance(expr, (cst.Tuple, cst.List)):
            for elem in expr.elements:
                target(elem.value)

    for node in walk(body):
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and isinstance(node.func.value, (cst.Name, cst.Attribute))
            and node.func.attr.value in _MUTATORS
        ):
            marks[id(node.func.value)] = "mutates"
        elif isinstance(node, cst.Assign):
            for t in node.targets:
                target(t.target)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.Del)):
            target(node.target)
    return marks


def _nested_bindings(function: cst.FunctionDef) -> set[str]:
    """Names bound by scopes nested in ``function`` (their loads may not be globals)."""
    names: set[str] = set()
    for node in walk(function.body):
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            names |= bound_names(node)
        elif isinstance(node, cst.CompFor):
            for sub in walk(node.target):
                if isinstance(sub, cst.Name):
                    names.add(sub.value)
    return names


def shared_global_uses(
    function: cst.FunctionDef, is_mutable: Callable[[str], bool]
) -> list[SharedGlobalUse]:
    """Every access of ``function`` (a behaviour or lifecycle hook) to mutable
    module-level state: ``global`` statements, then loads of mutable globals that are
    not shadowed by a local. A name declared ``global`` is reported once, there: as
    rebound when the function assigns it, else as only declared."""
    found: list[SharedGlobalUse] = []
    declared: set[str] = set()
    statements: list[cst.Global] = []
    loads = load_names(function.body, statements)
    assigned = assigned_names(function) if statements else set()
    for node in statements:
        for item in node.names:
            global_name = item.name.value
            declared.add(global_name)
            access: GlobalAccess = "rebinds" if global_name in assigned else "declares"
            found.append(SharedGlobalUse(item.name, global_name, access, function))
    candidates = [name for name in loads if name.value not in declared and is_mutable(name.value)]
    if not candidates:
        return found
    local = bound_names(function) | _nested_bindings(function)
    marks = _writes(function.body)
    owners = _statement_of(function.body)
    # One finding per (statement, global): `X[k] = X.get(k, 0) + 1` is one write, not
    # a write and a read. The first strongest access of the statement stands for it.
    chosen: dict[tuple[int, str], SharedGlobalUse] = {}
    for name in candidates:
        if name.value not in local:
            access = marks.get(id(name), "reads")
            key = (owners.get(id(name), id(name)), name.value)
            use = SharedGlobalUse(name, name.value, access, function)
            if key not in chosen or (chosen[key].access == "reads" and access != "reads"):
                chosen[key] = use
    by_node = {id(use.node): use for use in chosen.values()}
    found.extend(by_node[id(name)] for name in candidates if id(name) in by_node)  # in order
    return found


def shared_module_attribute_uses(
    function: cst.FunctionDef, is_mutable: Callable[[str, str], bool]
) -> list[SharedGlobalUse]:
    """Every access of ``function`` to mutable module-level state of another module
    reached through the module (``import state as st; st.SEEN.append(1)``):
    ``is_mutable(module_name, attribute)`` says which. One per statement and name, the
    strongest access standing for it, as ``shared_global_uses``."""
    candidates = [
        node
        for node in walk(function.body)
        if isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and is_mutable(node.value.value, node.attr.value)
    ]
    if not candidates:
        return []
    local = bound_names(function) | _nested_bindings(function)
    marks = _writes(function.body)
    owners = _statement_of(function.body)
    chosen: dict[tuple[int, str], SharedGlobalUse] = {}
    order: list[cst.Attribute] = []
    for node in candidates:
        assert isinstance(node.value, cst.Name)
        if node.value.value in local:
            continue
        name = f"{node.value.value}.{node.attr.value}"
        access = marks.get(id(node), "reads")
        key = (owners.get(id(node), id(node)), name)
        use = SharedGlobalUse(node, name, access, function)
        order.append(node)
        if key not in chosen or (chosen[key].access == "reads" and access != "reads"):
            chosen[key] = use
    by_node = {id(use.node): use for use in chosen.values()}
    return [by_node[id(node)] for node in order if id(node) in by_node]


def _statement_of(body: cst.CSTNode) -> dict[int, int]:
    """id(node) -> id of the innermost statement holding it (a compound statement holds
    the names of its header)."""
    owners: dict[int, int] = {}
    for node in walk(body):  # outer statements first: inner ones overwrite them
        if isinstance(node, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            for sub in walk(node):
                owners[id(sub)] = id(node)
    return owners


# --------------------------------------------------------------------------- CAP010


@dataclass(frozen=True, eq=False)
class StateEscape:
    """Agent state (``what``) handed to ``api``, which runs concurrently with the agent."""

    node: cst.BaseExpression
    what: str
    api: str
    function: cst.FunctionDef


# Calls whose callee starts concurrent work, by the last name of the callee.
_CONCURRENT = frozenset(
    {
        "create_task", "ensure_future", "start_soon", "run_in_executor",
        "run_coroutine_threadsafe", "call_soon", "call_soon_threadsafe", "call_later",
        "call_at", "submit", "Thread", "Timer", "Process", "to_thread",
    }
)  # fmt: skip
# These take a coroutine object: a call argument is work that runs later.
_TAKES_COROUTINE = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe"})
# Callables that start work only as module functions (threading.Thread), not as methods.
_NEEDS_MODULE = frozenset({"Thread", "Timer", "Process", "to_thread"})
# Keyword arguments that carry the work (others configure the call: name=, daemon=...).
_WORK_KEYWORDS = frozenset({"target", "args", "kwargs", "function", "func", "fn"})


# Attributes of an agent meant to be shared: its Tag and the runtime's primitives.
_SHAREABLE = frozenset({"me", "runtime"})


def _chain(expr: cst.BaseExpression) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None for anything else."""
    parts: list[str] = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if not isinstance(expr, cst.Name):
        return None
    parts.append(expr.value)
    return parts[::-1]


def _concurrent_api(call: cst.Call, executors: set[str]) -> str | None:
    """The concurrent API a call starts (as written), or None. ``executors``: local
    names bound to an executor or pool."""
    chain = _chain(call.func)
    if chain is None:
        return _called_receiver_api(call.func)
    last = chain[-1]
    written = ".".join(chain)
    if last == "run_sync":
        return written if "to_thread" in chain[:-1] else None
    if last == "map":
        receiver = ".".join(chain[:-1])
        lowered = receiver.lower()
        pool = "executor" in lowered or "pool" in lowered or receiver in executors
        return written if pool else None
    if last == "to_thread":
        return written if len(chain) == 1 or chain[-2] == "asyncio" else None
    return written if last in _CONCURRENT else None


def _called_receiver_api(func: cst.BaseExpression) -> str | None:
    """``asyncio.get_running_loop().create_task``: a concurrent method of an object
    returned by a call (any receiver will do, as for ``loop.create_task``)."""
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call)):
        return None
    receiver = _chain(func.value.func)
    last = func.attr.value
    if receiver is None or last not in _CONCURRENT or last in _NEEDS_MODULE:
        return None
    return f"{'.'.join(receiver)}().{last}"


class _AgentView:
    """What CAP010 knows about one agent class and one of its methods."""

    def __init__(
        self, agent: cst.ClassDef, function: cst.FunctionDef, immutable: Callable[[str], bool]
    ) -> None:
        self.immutable = immutable  # field name -> its evident type is deeply immutable
        defs = [
            stmt
            for stmt in (agent.body.body if isinstance(agent.body, cst.IndentedBlock) else ())
            if isinstance(stmt, cst.FunctionDef)
        ]
        self.methods = {d.name.value for d in defs if _has_self(d)}
        # Static and class methods reached through self carry no instance state.
        self.unbound = {d.name.value for d in defs if not _has_self(d)}
        params = [*function.params.posonly_params, *function.params.params]
        self.self_name = params[0].name.value if params else None
        self.function = function
        self.closures: dict[str, cst.CSTNode] = {}  # local name -> def/lambda/bound method
        self.field_aliases: dict[str, str] = {}  # local name -> "self.rows" it is bound to
        self.self_aliases: set[str] = set()  # locals bound only to self (me = self)
        self.values: dict[str, cst.BaseExpression] = {}  # locals bound once: their value
        bindings: dict[str, list[cst.BaseExpression | None]] = {}
        nested: list[cst.FunctionDef] = []
        for node in walk(function.body):
            if isinstance(node, cst.FunctionDef):
                bindings.setdefault(node.name.value, []).append(None)
                nested.append(node)
            elif isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        bindings.setdefault(t.target.value, []).append(node.value)
        given = {p.name.value for p in (*params, *function.params.kwonly_params)}
        self.values = {
            name: value
            for name, values in bindings.items()
            if len(values) == 1 and (value := values[0]) is not None and name not in given
        }
        self.self_aliases = {
            name
            for name, value in self.values.items()
            if isinstance(value, cst.Name) and value.value == self.self_name
        }
        for name, value in self.values.items():
            field = self._field(value)
            if field is not None:
                self.field_aliases[name] = field
        for node in nested:
            if self._uses_self(node):
                self.closures[node.name.value] = node
        for name, value in self.values.items():
            if self._callable_state(value) is not None:
                self.closures[name] = value

    def _field(self, expr: cst.BaseExpression) -> str | None:
        """``self.rows`` for ``self.rows`` (a field, not a method or a shareable)."""
        if not (isinstance(expr, cst.Attribute) and self._is_self(expr.value)):
            return None
        name = expr.attr.value
        if name in _SHAREABLE or name in self.methods or name in self.unbound:
            return None
        if self.immutable(name):
            return None
        return f"{self.self_name}.{name}"

    def _is_self(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Name) and self._self_named(expr.value)

    def _self_named(self, name: str) -> bool:
        """``self``, or a local bound only to it."""
        return name == self.self_name or name in self.self_aliases

    def _uses_self(self, node: cst.FunctionDef | cst.Lambda) -> bool:
        """Whether a nested function reads ``self`` other than for ``self.me``/``.runtime``."""
        if self.self_name is None:
            return False
        harmless = {
            id(n.value)
            for n in walk(node.body)
            if isinstance(n, cst.Attribute)
            and n.attr.value in _SHAREABLE
            and self._is_self(n.value)
        }
        inner = bound_names(node)
        return any(
            (self._is_self(name) and id(name) not in harmless and name.value not in inner)
            or (name.value in self.field_aliases and name.value not in inner)
            for name in load_names(node.body)
        )

    def _callable_state(self, expr: cst.BaseExpression) -> str | None:
        """Describe ``expr`` if it is callable agent state: a bound method, a lambda over
        self, or functools.partial of one."""
        if isinstance(expr, cst.Lambda) and self._uses_self(expr):
            return "a lambda over self"
        if (
            isinstance(expr, cst.Attribute)
            and self._is_self(expr.value)
            and expr.attr.value in self.methods
        ):
            return f"the bound method {code_of(expr)}"
        if isinstance(expr, cst.Call):
            chain = _chain(expr.func)
            if chain is not None and chain[-1] == "partial" and expr.args:
                inner = self.carried(expr.args[0].value, coroutine=False)
                if inner is not None:
                    return f"functools.partial of {inner}"
                for arg in expr.args[1:]:  # partial(work, self): the call gets self later
                    given = None if arg.star else self.carried(arg.value, coroutine=False)
                    if given is not None:
                        return (
                            f"functools.partial({code_of(expr.args[0].value)}, ...) given {given}"
                        )
        return None

    def carried(self, expr: cst.BaseExpression, coroutine: bool) -> str | None:
        """What agent state ``expr`` hands over, or None."""
        if self.self_name is None:
            return None
        if self._is_self(expr):
            return f"the agent object {self.self_name}"
        if isinstance(expr, cst.Attribute):
            chain = _chain(expr)
            alias = self.field_aliases.get(chain[0]) if chain is not None else None
            if alias is not None:  # rows = self.rows; Thread(target=rows.clear)
                return f"{code_of(expr)} (through the field {alias})"
            if chain is not None and self._self_named(chain[0]) and len(chain) > 1:
                if chain[1] in _SHAREABLE or chain[1] in self.unbound:
                    return None
                state = self._callable_state(expr)
                if state is not None:
                    return state
                if chain[1] not in self.methods and self.immutable(chain[1]):
                    return None  # nothing reached through an immutable value can race
                field = f"{self.self_name}.{chain[1]}"
                if len(chain) > 2:
                    return f"{code_of(expr)} (through the field {field})"
                return f"the field {field}"
            return None
        if isinstance(expr, cst.Name):
            closure = self.closures.get(expr.value)
            if isinstance(closure, cst.FunctionDef):
                return f"the nested function {expr.value}, which uses self"
            if closure is not None:
                assert isinstance(closure, cst.BaseExpression)
                return f"{expr.value} ({self._callable_state(closure)})"
            alias = self.field_aliases.get(expr.value)
            if alias is not None:
                return f"{expr.value} (the field {alias})"
            value = self.values.get(expr.value)
            if coroutine and isinstance(value, cst.Call):  # coro = self.work(); create_task(coro)
                inner = self.carried(value, coroutine=True)
                return f"{expr.value} ({inner})" if inner is not None else None
            return None
        if isinstance(expr, (cst.Lambda, cst.Call)) and not (
            coroutine and isinstance(expr, cst.Call)
        ):
            return self._callable_state(expr)
        if isinstance(expr, cst.Call):  # a coroutine object: it holds what it was given
            func = expr.func
            if isinstance(func, cst.Attribute) and self.carried(func.value, False):
                return f"the coroutine {code_of(expr)}"
            if isinstance(func, cst.Name) and isinstance(
                self.closures.get(func.value), cst.FunctionDef
            ):
                return f"the coroutine {code_of(expr)} of a nested function that uses self"
            for arg in expr.args:
                inner = self.carried(arg.value, coroutine=False)
                if inner is not None:
                    return f"the coroutine {code_of(func)}(...) given {inner}"
            return None
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            for elem in expr.elements:
                inner = self.carried(elem.value, coroutine=False)
                if inner is not None:
                    return inner
            return None
        if isinstance(expr, cst.Dict):
            for item in expr.elements:
                inner = self.carried(item.value, coroutine=False)
                if inner is not None:
                    return inner
        return None


def _work_args(call: cst.Call, api: str) -> Iterator[cst.Arg]:
    """The arguments of a concurrent call that carry work (not its configuration)."""
    positional = [a for a in call.args if a.keyword is None]
    if api.rsplit(".", 1)[-1] == "run_in_executor":
        positional = positional[1:]  # the executor
    yield from positional
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in _WORK_KEYWORDS:
            yield arg


def _executor_names(function: cst.FunctionDef) -> set[str]:
    """Names bound to ``...Executor(...)`` / ``...Pool(...)`` (assignment or ``with``)."""
    names: set[str] = set()
    for node in walk(function.body):
        pairs: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
        if isinstance(node, cst.WithItem) and node.asname is not None:
            pairs.append((node.asname.name, node.item))
        elif isinstance(node, cst.Assign):
            pairs.extend((t.target, node.value) for t in node.targets)
        for target, value in pairs:
            if isinstance(target, cst.Name) and isinstance(value, cst.Call):
                chain = _chain(value.func)
                if chain is not None and chain[-1].endswith(("Executor", "Pool")):
                    names.add(target.value)
    return names


def _has_self(function: cst.FunctionDef) -> bool:
    return not any(
        isinstance(d.decorator, cst.Name) and d.decorator.value in ("staticmethod", "classmethod")
        for d in function.decorators
    )


def _no_field_immutable(name: str) -> bool:
    return False


def call_escapes(
    agent: cst.ClassDef,
    function: cst.FunctionDef,
    calls: Sequence[cst.Call],
    immutable: Callable[[str], bool] = _no_field_immutable,
) -> list[StateEscape]:
    """The escapes through ``calls``, which lie in ``function`` (a method of ``agent``,
    maybe inside a nested function or lambda). Cheap when no call starts concurrent work:
    the method is only analysed if one does. ``immutable(field)`` says a field's type is
    evidently deeply immutable: handing it (or a local copy of it) over cannot race."""
    if not _has_self(function):
        return []
    executors: set[str] | None = None
    started: list[tuple[cst.Call, str]] = []
    for call in calls:
        api = _concurrent_api(call, set())
        if api is None and _chain_last(call.func) == "map":
            if executors is None:
                executors = _executor_names(function)
            api = _concurrent_api(call, executors)
        if api is not None:
            started.append((call, api))
    if not started:
        return []
    view = _AgentView(agent, function, immutable)
    found: list[StateEscape] = []
    for call, api in started:
        coroutine = api.rsplit(".", 1)[-1] in _TAKES_COROUTINE
        for arg in _work_args(call, api):
            if not arg.star:
                what = view.carried(arg.value, coroutine)
                if what is not None:
                    found.append(StateEscape(arg.value, what, api, function))
    return found


def _chain_last(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return expr.value if isinstance(expr, cst.Name) else None


def state_escapes(agent: cst.ClassDef, functions: Sequence[cst.FunctionDef]) -> list[StateEscape]:
    """Every argument of a concurrent call in ``functions`` (methods of ``agent``,
    nested code included) that hands over agent state."""
    found: list[StateEscape] = []
    for function in functions:
        calls = [node for node in walk(function.body) if isinstance(node, cst.Call)]
        found.extend(call_escapes(agent, function, calls))
    return found
