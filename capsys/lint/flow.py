"""The move/alias dataflow behind CAP005 (use after move) and CAP006 (Iso aliasing).

Each scope (the module, every function, every class body) is interpreted once over an
abstract state: which names are bound to an ``Iso`` here, which are moved (definitely, or
only on some paths: "maybe"), and which may share their object with another reference.
Branches join, loops iterate to a fixpoint, ``return``/``raise``/``break``/``continue``
end a path, so a move followed by ``return`` never poisons the code after the ``if``.

Only syntax is read: the resolver (``NameResolver``) says which expressions mean
``capsys.iso`` / ``capsys.consume`` / ``capsys.Iso``; nothing is imported or executed.
The tree is read through the nodes' dataclass fields (``children``/``walk``), never
libcst's visitors or metadata, which cost more than the whole analysis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

import libcst as cst

from capsys.lint.positions import positions_of

__all__ = [
    "AliasedIso",
    "FlowResult",
    "MoveSite",
    "NameResolver",
    "NonFreshIso",
    "RecordTest",
    "UseAfterMove",
    "analyze_module",
    "assigned_names",
    "bound_names",
    "children",
    "code_of",
    "consume_expression",
    "line_of",
    "load_names",
    "may_move",
    "module_flow",
    "no_records",
    "walk",
]


class NameResolver(Protocol):
    """What the analysis needs from the import resolver of a file."""

    def capsys_name(self, expr: cst.BaseExpression) -> str | None: ...

    def qualified(self, expr: cst.BaseExpression) -> str | None: ...


# Whether a callee (as written) is a record class whose instances the runtime sends with
# the Iso handles inside them moved: a ``@message``, a frozen dataclass, a NamedTuple.
RecordTest = Callable[[cst.BaseExpression], bool]


def no_records(func: cst.BaseExpression) -> bool:
    """The ``RecordTest`` of an analysis that knows no classes."""
    return False


# Calls that move an Iso passed to them (as a bare name, positional or keyword).
_MOVING_METHODS = frozenset({"send", "ask", "send_wait", "signal", "spawn", "put", "put_nowait"})
_MOVING_FUNCTIONS = frozenset({"quorum", "broadcast"})
_LITERALS = frozenset({cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis})
# Builtins that inspect a handle without using it (they work on a moved handle).
_INSPECTORS = frozenset({"type", "isinstance", "id"})
# Builtins whose result holds the items of the display given to them (``frozenset({h})``).
_DISPLAY_COPIES = frozenset({"builtins.frozenset", "builtins.tuple"})
# Methods that make their argument reachable from the receiver (for CAP006 aliasing).
_STORING_METHODS = frozenset({"append", "add", "insert", "appendleft", "setdefault"})
# What a send that is refused raises: the runtime refuses it before the move, so the
# handle given to it stays usable in a handler catching only these.
_REFUSALS = frozenset({"MailboxFull", "ChannelFull", "ChannelClosed"})
# Functions that never return (typeshed's NoReturn), and the annotations saying so.
_NO_RETURN_CALLS = frozenset(
    {
        "sys.exit",
        "os._exit",
        "os.abort",
        "builtins.exit",
        "builtins.quit",
        "typing.assert_never",
        "typing_extensions.assert_never",
    }
)
_NO_RETURN = frozenset(
    {"typing.NoReturn", "typing.Never", "typing_extensions.NoReturn", "typing_extensions.Never"}
)


@dataclass(frozen=True, eq=False)
class MoveSite:
    """Where a name was moved: the moved ``Name`` (or ``self.<field>``) and what moved it."""

    node: cst.BaseExpression
    how: str


@dataclass(frozen=True, eq=False)
class UseAfterMove:
    """A load of ``name`` (a local, or ``self.<field>`` holding an Iso) after a definite
    (or, if not ``definite``, a possible) move."""

    node: cst.BaseExpression
    name: str
    definite: bool
    sites: tuple[MoveSite, ...]
    repeated_move: bool  # the use is itself a move that already happened (loop-carried)
    # The call of a nested function that reads the name (``later()``), reported at its
    # callee, rather than a load of the name itself.
    via: str | None = None


AliasKind = Literal["assign", "chained", "stored", "displayed", "twice", "default"]


@dataclass(frozen=True, eq=False)
class AliasedIso:
    """``target = name`` where ``name`` is an Iso (a local or ``self.<field>``): two owners
    of one object graph. Also ``name = target = <Iso>``: one Iso bound to two names at
    once (``chained``); ``keep.append(name)``: stored in a container (``stored``, target is
    the call); ``hs = [name]``: put in a display that is stored (``displayed``, target is
    the display); ``(name, name)``: put twice in one display (``twice``, target is it);
    ``def f(x=name)`` or ``lambda x=name: ...``: kept as a parameter's default
    (``default``, target is the parameter)."""

    node: cst.BaseExpression  # the aliased name (chained: the later target)
    name: str
    target: str  # the assignment target, the storing call or the display, as written
    fix_is_safe: bool  # replacing it by consume(name) introduces no use after move
    kind: AliasKind = "assign"
    # The value of a chained assignment (``a = b = h``): ``a = b = consume(h)`` would
    # still bind one Iso to two names.
    in_chain: bool = False

    @property
    def fixable(self) -> bool:
        """``consume(name)`` in place of the node transfers ownership (not for a chained
        assignment, which must be split, nor for one handle put twice)."""
        return self.kind in ("assign", "stored", "displayed") and not self.in_chain


@dataclass(frozen=True, eq=False)
class NonFreshIso:
    """``iso(x)`` where ``x`` is still reachable from elsewhere."""

    node: cst.BaseExpression  # the argument of iso()
    kind: Literal["field", "parameter", "global", "aliased local", "element"]
    text: str  # the argument as written
    via: str | None  # aliased local: the aliasing statement; an element: its container
    # The argument is a slice (``iso(self.items[:])``): a new object when the sliced
    # value is a builtin sequence, which only its type can tell (the rule decides).
    sliced: bool = False


@dataclass
class FlowResult:
    uses_after_move: list[UseAfterMove] = field(default_factory=list)
    aliases: list[AliasedIso] = field(default_factory=list)
    non_fresh: list[NonFreshIso] = field(default_factory=list)


# --------------------------------------------------------------------------- names


# libcst's ``children`` and visitors rebuild nodes as they go, which costs more than the
# whole analysis; reading the dataclass fields directly is many times faster. Fields that
# only hold whitespace, punctuation or parentheses are skipped.
_SKIPPED_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "header", "footer",
        "lines_after_decorators", "newline", "colon", "equal", "dot", "lbracket",
        "rbracket", "lbrace", "rbrace", "asynchronous", "star_tok", "posonly_ind",
        "operator", "first_line", "trailing_whitespace", "whitespace",
    }
)  # fmt: skip
_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}


def _fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(kind)
            if f.name not in _SKIPPED_FIELDS
            and "whitespace" not in f.name
            and f.type not in (str, bool, "str", "bool")
        )
        _FIELDS[kind] = names
    return names


_IS_NODE: dict[type, bool] = {}


def _node_type(kind: type) -> bool:
    # isinstance() against libcst's abstract classes goes through ABCMeta: cache per type.
    known = _IS_NODE.get(kind)
    if known is None:
        known = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return known


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The syntactic children of ``node`` in field order (no whitespace nodes)."""
    out: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            out.extend(item for item in value if _node_type(type(item)))
        elif value is not None and _node_type(kind):
            out.append(value)
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, pre-order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def _loads(root: cst.CSTNode, out: list[cst.Name], globals_: list[cst.Global] | None) -> None:
    """Append every ``Name`` read in ``root`` (skipping attribute names, keywords,
    parameters, store targets, imports, ``global`` and annotations). Iterative."""
    stack = [root]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is cst.Name:
            out.append(node)  # type: ignore[arg-type]
        elif kind not in _LOAD_SPECIAL:
            stack.extend(reversed(children(node)))
        else:
            if globals_ is not None and kind is cst.Global:
                globals_.append(node)  # type: ignore[arg-type]
            stack.extend(reversed(_load_parts(node)))


def _load_parts(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The parts of a special node whose names are read."""
    if isinstance(node, (cst.Attribute, cst.Arg)):
        return [node.value]
    if isinstance(node, cst.Param):
        return [node.default] if node.default is not None else []
    if isinstance(node, cst.FunctionDef):
        return [*node.decorators, node.params, node.body]
    if isinstance(node, cst.ClassDef):
        return [*node.decorators, *node.bases, *node.keywords, node.body]
    if isinstance(node, cst.AssignTarget):
        return _target_parts(node.target)
    if isinstance(node, cst.AnnAssign):
        value = [node.value] if node.value is not None else []
        return [*_target_parts(node.target), *value]
    if isinstance(node, (cst.For, cst.CompFor)):
        rest = [child for child in children(node) if child is not node.target]
        return [*_target_parts(node.target), *rest]
    if isinstance(node, cst.NamedExpr):
        return [node.value]
    if isinstance(node, cst.Del):
        return _target_parts(node.target)
    if isinstance(node, cst.AsName):
        return _target_parts(node.name)
    if isinstance(node, cst.MatchAs):
        return [node.pattern] if node.pattern is not None else []
    if isinstance(node, cst.MatchMapping):
        return [part for elem in node.elements for part in (elem.key, elem.pattern)]
    if isinstance(node, cst.MatchKeywordElement):
        return [node.pattern]
    return []  # annotations, imports, global/nonlocal, star patterns


def _target_parts(target: cst.BaseExpression) -> list[cst.CSTNode]:
    """The read parts of a store target: ``a.b = ...`` reads ``a``, ``x = ...`` nothing."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [part for elem in target.elements for part in _target_parts(elem.value)]
    if isinstance(target, cst.StarredElement):
        return _target_parts(target.value)
    if isinstance(target, cst.Name):
        return []
    return [target]


_LOAD_SPECIAL = frozenset(
    {
        cst.Attribute, cst.Arg, cst.Param, cst.Annotation, cst.Import, cst.ImportFrom,
        cst.Global, cst.Nonlocal, cst.MatchStar, cst.FunctionDef, cst.ClassDef,
        cst.AssignTarget, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr, cst.Del,
        cst.AsName, cst.MatchAs, cst.MatchMapping, cst.MatchKeywordElement,
    }
)  # fmt: skip


def load_names(node: cst.CSTNode, globals_: list[cst.Global] | None = None) -> list[cst.Name]:
    """The ``Name`` nodes read in ``node`` (any depth, nested scopes included); the
    ``global`` statements met on the way are appended to ``globals_`` if given."""
    out: list[cst.Name] = []
    _loads(node, out, globals_)
    return out


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for elem in target.elements:
            yield from _target_names(elem.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _pattern_names(pattern: cst.CSTNode) -> Iterator[str]:
    for node in walk(pattern):
        if isinstance(node, (cst.MatchAs, cst.MatchStar)) and node.name is not None:
            yield node.name.value
        elif isinstance(node, cst.MatchMapping) and node.rest is not None:
            yield node.rest.value


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


@dataclass
class _Bindings:
    bound: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    iso_annotated: list[cst.AnnAssign] = field(default_factory=list)


_BINDING_SPECIAL = frozenset(
    {
        cst.FunctionDef, cst.ClassDef, cst.Lambda, *_COMPREHENSIONS, cst.AssignTarget,
        cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.For, cst.Del, cst.AsName,
        cst.ImportAlias, cst.MatchCase, cst.Global, cst.Nonlocal,
    }
)  # fmt: skip


def _collect_bindings(root: cst.CSTNode, out: _Bindings) -> None:
    """Names bound directly in one scope: nested functions, classes, lambdas and
    comprehensions are other scopes (only their own name, or a walrus, binds here).
    Iterative, so long chains (``"a" "b" ...``, ``x + y + ...``) cannot overflow."""
    stack = [root]
    while stack:
        node = stack.pop()
        if type(node) in _BINDING_SPECIAL and not _bind(node, out):
            continue
        stack.extend(children(node))


def _bind(node: cst.CSTNode, out: _Bindings) -> bool:
    """Record what ``node`` binds; whether its children may bind names here too."""
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        out.bound.add(node.name.value)
        return False
    if isinstance(node, cst.Lambda):
        return False
    if isinstance(node, _COMPREHENSIONS):
        for sub in walk(node):
            if isinstance(sub, cst.NamedExpr):
                out.bound.update(_target_names(sub.target))
        return False
    if isinstance(node, cst.AssignTarget):
        out.bound.update(_target_names(node.target))
    elif isinstance(node, cst.AnnAssign):
        out.bound.update(_target_names(node.target))
        out.iso_annotated.append(node)
    elif isinstance(node, (cst.AugAssign, cst.NamedExpr, cst.For, cst.Del)):
        out.bound.update(_target_names(node.target))
    elif isinstance(node, cst.AsName):
        out.bound.update(_target_names(node.name))
        return False
    elif isinstance(node, cst.ImportAlias):
        if node.asname is not None:
            out.bound.update(_target_names(node.asname.name))
        else:
            root: cst.BaseExpression = node.name
            while isinstance(root, cst.Attribute):
                root = root.value
            if isinstance(root, cst.Name):
                out.bound.add(root.value)
        return False
    elif isinstance(node, cst.MatchCase):
        out.bound.update(_pattern_names(node.pattern))
    elif isinstance(node, cst.Global):
        out.globals.update(item.name.value for item in node.names)
        return False
    elif isinstance(node, cst.Nonlocal):
        out.nonlocals.update(item.name.value for item in node.names)
        return False
    return True


_N = TypeVar("_N", bound=cst.CSTNode)
_R = TypeVar("_R")


class _NodeMemo(Generic[_N, _R]):
    """``compute(node)`` remembered per node (the analysis asks again for the same
    function); keyed by identity, holding the node so that its id is not reused, and
    emptied past 1024 nodes."""

    def __init__(self, compute: Callable[[_N], _R]) -> None:
        self.compute = compute
        self.seen: dict[int, tuple[_N, _R]] = {}

    def __call__(self, node: _N) -> _R:
        cached = self.seen.get(id(node))
        if cached is not None and cached[0] is node:
            return cached[1]
        if len(self.seen) > 1024:
            self.seen.clear()
        found = self.compute(node)
        self.seen[id(node)] = (node, found)
        return found


def _compute_bindings(
    scope: cst.FunctionDef | cst.Lambda | cst.Module | cst.ClassDef,
) -> _Bindings:
    out = _Bindings()
    if isinstance(scope, cst.Lambda):
        out.bound.update(p.name.value for p in _param_list(scope.params))
        return out
    if isinstance(scope, cst.FunctionDef):
        out.bound.update(p.name.value for p in _param_list(scope.params))
    if isinstance(scope, cst.Module):
        for stmt in scope.body:
            _collect_bindings(stmt, out)
    else:
        _collect_bindings(scope.body, out)
    return out


_Scope = cst.FunctionDef | cst.Lambda | cst.Module | cst.ClassDef
_scope_bindings: _NodeMemo[_Scope, _Bindings] = _NodeMemo(_compute_bindings)


def _param_list(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params, *params.kwonly_params]
    if isinstance(params.star_arg, cst.Param):
        out.append(params.star_arg)
    if params.star_kwarg is not None:
        out.append(params.star_kwarg)
    return out


def bound_names(scope: cst.FunctionDef | cst.Lambda | cst.Module | cst.ClassDef) -> set[str]:
    """The local names of a scope: parameters and names bound in its body, minus the
    names it declares ``global``/``nonlocal``."""
    found = _scope_bindings(scope)
    return found.bound - found.globals - found.nonlocals


def assigned_names(scope: cst.FunctionDef) -> set[str]:
    """Every name a function's own body binds, including those it declares ``global``."""
    return set(_scope_bindings(scope).bound)


def _compute_captured(function: cst.FunctionDef) -> frozenset[str]:
    """The names a nested function reads from the scopes around it when it runs: its
    loads, minus every name that it, or a scope inside it, binds (a name some inner
    scope shadows is left out rather than guessed)."""
    shadowed = assigned_names(function)
    for node in walk(function.body):
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            shadowed |= _scope_bindings(node).bound
        elif isinstance(node, cst.CompFor):
            shadowed.update(_target_names(node.target))
    return frozenset(n.value for n in load_names(function.body) if n.value not in shadowed)


_captured = _NodeMemo(_compute_captured)


def code_of(node: cst.CSTNode) -> str:
    """The source text of a node (for messages)."""
    return cst.Module(body=[]).code_for_node(node)


def _last_name(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _Moved:
    definite: bool
    sites: tuple[MoveSite, ...]


def _merge_sites(a: tuple[MoveSite, ...], b: tuple[MoveSite, ...]) -> tuple[MoveSite, ...]:
    """The union of two site lists; a site is its moved node (one per node: a loop
    evaluating the same move again adds nothing, so the fixpoint is reached)."""
    if a == b:
        return a
    seen = {id(site.node) for site in a}
    extra = tuple(site for site in b if id(site.node) not in seen)
    return a + extra if extra else a


@dataclass
class _State:
    moved: dict[str, _Moved] = field(default_factory=dict)
    isos: set[str] = field(default_factory=set)  # names (maybe) bound to an Iso here
    aliased: dict[str, str] = field(default_factory=dict)  # name -> the aliasing statement
    # Parameters that (maybe) still hold the caller's object: a rebinding on every path
    # makes a parameter an ordinary local for iso() freshness.
    params: set[str] = field(default_factory=set)
    # Locals bound to a container display on every path: their items are reachable
    # from them (``for r in rows: iso(r)`` is not fresh).
    containers: set[str] = field(default_factory=set)
    # For an aliased name: the other references (locals, ``self.<field>``, ``a.b``) that
    # share its object. Rebinding them all drops the alias (``items = self.items;
    # self.items = []``). A name aliased without an entry here stays aliased.
    partners: dict[str, frozenset[str]] = field(default_factory=dict)
    # Names bound to a function defined in this scope (on every path), with the names
    # moved when it was defined (its body's reads of those are reported already): calling
    # one runs its body, which reads this scope's names as they are then.
    closures: dict[str, tuple[cst.FunctionDef, frozenset[str]]] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            dict(self.moved),
            set(self.isos),
            dict(self.aliased),
            set(self.params),
            set(self.containers),
            dict(self.partners),
            dict(self.closures),
        )

    def same(self, other: _State) -> bool:
        if self.isos != other.isos or self.aliased.keys() != other.aliased.keys():
            return False
        if self.partners != other.partners:
            return False
        if self.params != other.params or self.containers != other.containers:
            return False
        if self.closures != other.closures:
            return False
        if self.moved.keys() != other.moved.keys():
            return False
        for name, mine in self.moved.items():
            theirs = other.moved[name]
            if mine.definite != theirs.definite or len(mine.sites) != len(theirs.sites):
                return False
        return True


_Flow = _State | None  # None: no path reaches this point


def _join(a: _Flow, b: _Flow) -> _Flow:
    if a is None:
        return b.copy() if b is not None else None
    if b is None:
        return a.copy()
    moved: dict[str, _Moved] = {}
    for name in a.moved.keys() | b.moved.keys():
        ma, mb = a.moved.get(name), b.moved.get(name)
        if ma is not None and mb is not None:
            moved[name] = _Moved(ma.definite and mb.definite, _merge_sites(ma.sites, mb.sites))
        else:
            only = ma or mb
            assert only is not None
            moved[name] = _Moved(False, only.sites)
    aliased = dict(b.aliased)
    aliased.update(a.aliased)
    partners: dict[str, frozenset[str]] = {}
    for name in aliased:  # tracked only while every path that aliases it tracks it
        in_a, in_b = name in a.aliased, name in b.aliased
        pa, pb = a.partners.get(name), b.partners.get(name)
        if (in_a and pa is None) or (in_b and pb is None):
            continue
        partners[name] = (pa or frozenset()) | (pb or frozenset())
    return _State(
        moved,
        a.isos | b.isos,
        aliased,
        a.params | b.params,
        a.containers & b.containers,
        partners,
        {name: c for name, c in a.closures.items() if b.closures.get(name) == c},
    )


def _join_all(states: Iterable[_Flow]) -> _Flow:
    out: _Flow = None
    for state in states:
        out = _join(out, state)
    return out


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class _ModuleFacts:
    resolver: NameResolver
    module_names: frozenset[str]
    iso_functions: frozenset[str]  # module-level functions annotated to return an Iso
    iso_methods: frozenset[str]  # methods of the module's classes annotated to return one
    no_return: frozenset[str]  # module-level functions annotated to return NoReturn/Never
    records: RecordTest
    # id(class) -> its fields holding an Iso (memoised by ``iso_fields``).
    fields: dict[int, frozenset[str]] = field(default_factory=dict)

    def iso_fields(self, cls: cst.ClassDef) -> frozenset[str]:
        """Fields of ``cls`` evidently holding an ``Iso``: annotated ``Iso[...]`` in the
        class body or on ``self.<field>``, or assigned ``iso(...)``/``consume(...)``."""
        found = self.fields.get(id(cls))
        if found is None:
            found = self.fields[id(cls)] = frozenset(_iso_fields(cls, self.resolver))
        return found


def _is_iso_annotation(annotation: cst.BaseExpression, resolver: NameResolver) -> bool:
    """``Iso[...]``, a string ``"Iso[...]"``, or a union with ``None`` around one."""
    if isinstance(annotation, cst.SimpleString):
        try:
            annotation = cst.parse_expression(annotation.evaluated_value)  # type: ignore[arg-type]
        except (cst.ParserSyntaxError, TypeError, ValueError):
            return False
    if isinstance(annotation, cst.Subscript):
        if resolver.capsys_name(annotation.value) == "Iso":
            return True
        if _last_name(annotation.value) == "Optional" and annotation.slice:
            inner = annotation.slice[0].slice
            return isinstance(inner, cst.Index) and _is_iso_annotation(inner.value, resolver)
        return False
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        return _is_iso_annotation(annotation.left, resolver) or _is_iso_annotation(
            annotation.right, resolver
        )
    return resolver.capsys_name(annotation) == "Iso"


def _iso_fields(cls: cst.ClassDef, resolver: NameResolver) -> Iterator[str]:
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.AnnAssign)
                    and isinstance(small.target, cst.Name)
                    and _is_iso_annotation(small.annotation.annotation, resolver)
                ):
                    yield small.target.value
        if not isinstance(stmt, cst.FunctionDef):
            continue
        params = [*stmt.params.posonly_params, *stmt.params.params]
        if not params:
            continue
        me = params[0].name.value
        for node in walk(stmt.body):
            if isinstance(node, cst.AnnAssign):
                pairs = [(node.target, node.value)]
                declared = _is_iso_annotation(node.annotation.annotation, resolver)
            elif isinstance(node, cst.Assign):
                pairs = [(t.target, node.value) for t in node.targets]
                declared = False
            else:
                continue
            for target, value in pairs:
                if not (
                    isinstance(target, cst.Attribute)
                    and isinstance(target.value, cst.Name)
                    and target.value.value == me
                ):
                    continue
                made = isinstance(value, cst.Call) and resolver.capsys_name(value.func) in (
                    "iso",
                    "consume",
                )
                if declared or made:
                    yield target.attr.value


# A scope still to analyze: the node, the free names bound to an Iso where it is defined,
# and the scope it is defined in (a function directly in a class is a method).
_Nested = tuple[cst.Module | cst.FunctionDef | cst.ClassDef, set[str], cst.CSTNode | None]


class _Loop:
    def __init__(self) -> None:
        self.breaks: list[_Flow] = []
        self.continues: list[_Flow] = []


_MAX_ROUNDS = 12


class _ScopeAnalysis:
    """One pass of the abstract interpreter over one scope's statements."""

    def __init__(
        self,
        facts: _ModuleFacts,
        scope: cst.Module | cst.FunctionDef | cst.ClassDef,
        result: FlowResult,
        reports: dict[int, UseAfterMove],
        nested: list[_Nested],
        extra_moves: frozenset[int],
        parent: cst.CSTNode | None,
    ) -> None:
        self.facts = facts
        self.resolver = facts.resolver
        self.scope = scope
        self.result = result
        self.reports = reports
        self.nested = nested
        self.extra_moves = extra_moves
        bindings = _scope_bindings(scope)
        self.locals = bindings.bound - bindings.globals - bindings.nonlocals
        self.params: set[str] = set()
        self.globals: set[str] = bindings.globals
        self.declared_iso: set[str] = set()
        self.loops: list[_Loop] = []
        self.try_frames: list[list[_Flow]] = []
        # The states where a call may raise, for each enclosing ``try`` that has a
        # handler of refused sends only (``except MailboxFull``).
        self.refusal_frames: list[list[_Flow]] = []
        self.non_fresh_seen: set[int] = set()
        self.sites: dict[int, MoveSite] = {}  # one MoveSite per moved node
        self.alias_seen: set[int] = set()
        # (name, partner) aliases made by the statement being interpreted: its own
        # target rebinding does not undo them (``b = a`` aliases a with b)
        self.fresh_pairs: set[tuple[str, str]] = set()
        self.fields: frozenset[str] = frozenset()  # a method's Iso fields (self.<field>)
        if isinstance(scope, cst.FunctionDef):
            params = _param_list(scope.params)
            self.params = {p.name.value for p in params}
            method = isinstance(parent, cst.ClassDef) and not any(
                _last_name(dec.decorator) == "staticmethod" for dec in scope.decorators
            )
            self.self_name = params[0].name.value if params and method else None
            if self.self_name is not None and isinstance(parent, cst.ClassDef):
                self.fields = facts.iso_fields(parent)
                self.declared_iso.update(f"{self.self_name}.{f}" for f in self.fields)
            for p in params:
                if p.annotation is not None and _is_iso_annotation(
                    p.annotation.annotation, self.resolver
                ):
                    self.declared_iso.add(p.name.value)
        else:
            self.self_name = None
        for node in bindings.iso_annotated:
            if isinstance(node.target, cst.Name) and _is_iso_annotation(
                node.annotation.annotation, self.resolver
            ):
                self.declared_iso.add(node.target.value)

    # ---------------------------------------------------------------- entry

    def run(self, initial_isos: set[str]) -> None:
        fields = {f"{self.self_name}.{f}" for f in self.fields}
        state = _State(
            isos=(initial_isos | fields | (self.declared_iso & self.params)),
            params=set(self.params),
        )
        if isinstance(self.scope, cst.Module):
            self.block(self.scope.body, state)
        else:
            self.suite(self.scope.body, state)

    # ---------------------------------------------------------------- statements

    def suite(self, suite: cst.BaseSuite, state: _Flow) -> _Flow:
        if isinstance(suite, cst.IndentedBlock):
            return self.block(suite.body, state)
        assert isinstance(suite, cst.SimpleStatementSuite)
        for small in suite.body:
            if state is None:
                return None
            state = self.small(small, state)
            self._note_boundary(state)
        return state

    def block(self, body: Sequence[cst.BaseStatement], state: _Flow) -> _Flow:
        for stmt in body:
            if state is None:
                return None
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if state is None:
                        return None
                    state = self.small(small, state)
                    self._note_boundary(state)
            else:
                assert isinstance(stmt, cst.BaseCompoundStatement)
                state = self.compound(stmt, state)
                self._note_boundary(state)
        return state

    def _note_boundary(self, state: _Flow) -> None:
        if self.try_frames and state is not None:
            self.try_frames[-1].append(state.copy())

    def _note_refusal(self, state: _State) -> None:
        """A call may raise here, before it has any effect (a refused send moves
        nothing): the state for the refusal handlers of the enclosing ``try``s."""
        for frame in self.refusal_frames:
            frame.append(state.copy())

    def _refusal_handler(self, handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
        """``except MailboxFull`` / ``except (ChannelFull, ChannelClosed)``: a handler
        catching only sends refused before the move (the runtime's exceptions)."""
        caught = handler.type
        if caught is None:
            return False
        names = [e.value for e in caught.elements] if isinstance(caught, cst.Tuple) else [caught]
        return bool(names) and all(self.resolver.capsys_name(n) in _REFUSALS for n in names)

    def small(self, node: cst.BaseSmallStatement, state: _State) -> _Flow:
        self.fresh_pairs.clear()
        if isinstance(node, cst.Expr):
            flow = self.expr(node.value, state)
            if isinstance(node.value, cst.Call) and self.never_returns(node.value):
                self._note_boundary(flow)  # sys.exit(): the path ends, as for mypy
                return None
            return flow
        if isinstance(node, cst.Assign):
            flow = self.expr(node.value, state)
            if flow is None:
                return None
            iso = self.produces_iso(node.value, flow)
            reported = len(self.result.aliases)
            for target in node.targets:
                self.alias_check(target.target, node.value, flow)
            if iso and len(node.targets) > 1:
                aliases = self.result.aliases
                aliases[reported:] = [
                    dataclasses.replace(a, in_chain=True) if a.node is node.value else a
                    for a in aliases[reported:]
                ]
            self.extra_move(node.value, flow)
            chained = [t.target.value for t in node.targets if isinstance(t.target, cst.Name)]
            if iso:
                self.chained_iso(node.targets)
            after: _Flow = flow
            for target in node.targets:
                if after is not None:
                    after = self.assign(target.target, node.value, after)
            if len(chained) > 1 and after is not None and not iso:
                for name in chained:
                    self.note_alias(after, name, f"{' = '.join(chained)} = ...", None)
            return after
        if isinstance(node, cst.AnnAssign):
            if node.value is None:
                return state
            flow = self.expr(node.value, state)
            if flow is None:
                return None
            self.alias_check(node.target, node.value, flow)
            self.extra_move(node.value, flow)
            return self.assign(node.target, node.value, flow)
        if isinstance(node, cst.AugAssign):
            flow = self.load_target(node.target, state, aug=True)
            flow = None if flow is None else self.expr(node.value, flow)
            if flow is not None:
                self.displayed(node.value, flow)  # hs += [h]
            return flow
        if isinstance(node, cst.Return):
            if node.value is not None:
                flow = self.expr(node.value, state)
                if flow is None:
                    return None
                state = flow
            self._note_boundary(state)
            return None
        if isinstance(node, cst.Raise):
            raised: _Flow = state
            for part in (node.exc, node.cause.item if node.cause else None):
                if part is not None and raised is not None:
                    raised = self.expr(part, raised)
            self._note_boundary(raised)
            return None
        if isinstance(node, cst.Assert):
            flow = self.expr(node.test, state)
            if node.msg is not None and flow is not None:
                flow = self.expr(node.msg, flow)
            if _always_false(node.test):  # assert False: the path ends, as for mypy
                self._note_boundary(flow)
                return None
            return flow
        if isinstance(node, cst.Break):
            if self.loops:
                self.loops[-1].breaks.append(state.copy())
            return None
        if isinstance(node, cst.Continue):
            if self.loops:
                self.loops[-1].continues.append(state.copy())
            return None
        if isinstance(node, cst.Del):
            return self.delete(node.target, state)
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            imported = _Bindings()
            _collect_bindings(node, imported)
            for bound in imported.bound:
                self.rebind(bound, state, iso=False, aliased=None)
            return state
        return state  # pass, global, nonlocal, type aliases

    def compound(self, node: cst.BaseCompoundStatement, state: _State) -> _Flow:
        if isinstance(node, cst.If):
            return self.if_(node, state)
        if isinstance(node, cst.While):
            return self.while_(node, state)
        if isinstance(node, cst.For):
            return self.for_(node, state)
        if isinstance(node, (cst.Try, cst.TryStar)):
            return self.try_(node, state)
        if isinstance(node, cst.With):
            flow: _Flow = state
            for item in node.items:
                if flow is None:
                    return None
                flow = self.expr(item.item, flow)
                if flow is not None and item.asname is not None:
                    flow = self.assign(item.asname.name, None, flow)
            return self.suite(node.body, flow)
        if isinstance(node, cst.Match):
            return self.match(node, state)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return self.definition(node, state)
        return state

    def if_(self, node: cst.If, state: _State) -> _Flow:
        after_test = self.expr(node.test, state)
        if after_test is None:
            return None
        then = self.suite(node.body, after_test.copy())
        orelse: _Flow
        if isinstance(node.orelse, cst.If):
            orelse = self.if_(node.orelse, after_test)
        elif isinstance(node.orelse, cst.Else):
            orelse = self.suite(node.orelse.body, after_test)
        else:
            orelse = after_test
        return _join(then, orelse)

    def _loop(
        self, entry: _State, body: Callable[[_State], tuple[_Flow, _Flow]]
    ) -> tuple[_Flow, _Loop]:
        """Iterate ``body`` (head state -> (exit state, end-of-body state)) to a fixpoint;
        returns the joined loop-exit state and the loop's break states."""
        head = entry.copy()
        for _ in range(_MAX_ROUNDS):
            loop = _Loop()
            self.loops.append(loop)
            try:
                exit_state, end = body(head.copy())
            finally:
                self.loops.pop()
            new_head = _join_all([entry, end, *loop.continues])
            assert new_head is not None
            if new_head.same(head):
                return exit_state, loop
            head = new_head
        return exit_state, loop

    def while_(self, node: cst.While, state: _State) -> _Flow:
        forever = isinstance(node.test, cst.Name) and node.test.value == "True"

        def body(head: _State) -> tuple[_Flow, _Flow]:
            after_test = self.expr(node.test, head)
            if after_test is None:
                return None, None
            end = self.suite(node.body, after_test.copy())
            return (None if forever else after_test), end

        exit_state, loop = self._loop(state, body)
        if node.orelse is not None and exit_state is not None:
            exit_state = self.suite(node.orelse.body, exit_state)
        return _join_all([exit_state, *loop.breaks])

    def for_(self, node: cst.For, state: _State) -> _Flow:
        entry = self.expr(node.iter, state)
        if entry is None:
            return None
        self.displayed(node.iter, entry)  # for x in [h]: x and the list own h too
        within = self.iterated(node.iter, entry)

        def body(head: _State) -> tuple[_Flow, _Flow]:
            exit_state = head.copy()
            bound = self.assign(node.target, None, head)
            if within is not None and bound is not None and isinstance(node.target, cst.Name):
                text = f"for {node.target.value} in {within}"
                self.note_alias(bound, node.target.value, text, None)
            return exit_state, self.suite(node.body, bound)

        exit_state, loop = self._loop(entry, body)
        if node.orelse is not None and exit_state is not None:
            exit_state = self.suite(node.orelse.body, exit_state)
        return _join_all([exit_state, *loop.breaks])

    def try_(self, node: cst.Try | cst.TryStar, state: _State) -> _Flow:
        frame: list[_Flow] = [state.copy()]
        refusals: list[_Flow] = [state.copy()]
        refusing = any(self._refusal_handler(h) for h in node.handlers)
        self.try_frames.append(frame)
        if refusing:
            self.refusal_frames.append(refusals)
        try:
            end = self.suite(node.body, state)
        finally:
            self.try_frames.pop()
            if refusing:
                self.refusal_frames.pop()
        raised = _join_all(frame)  # an exception may leave the body at any boundary
        # A refused send raises before it moves anything: the state before each call.
        refused = _join_all(refusals) if refusing else None
        ends: list[_Flow] = []
        for handler in node.handlers:
            entry = refused if self._refusal_handler(handler) else raised
            flow = entry.copy() if entry is not None else None
            if flow is not None and handler.type is not None:
                flow = self.expr(handler.type, flow)
            if flow is not None and handler.name is not None:
                flow = self.assign(handler.name.name, None, flow)
            ends.append(self.suite(handler.body, flow))
        if node.orelse is not None:
            end = self.suite(node.orelse.body, end)
        normal = _join_all([end, *ends])
        if node.finalbody is None:
            return normal
        # First the finally block on every way out (reports only), then on the normal
        # exit, whose state carries on after the statement.
        abrupt = _join(normal, raised)
        if abrupt is not None:
            self.suite(node.finalbody.body, abrupt)
        if normal is None:
            return None
        return self.suite(node.finalbody.body, normal)

    def match(self, node: cst.Match, state: _State) -> _Flow:
        subject = self.expr(node.subject, state)
        if subject is None:
            return None
        ends: list[_Flow] = []
        exhaustive = False
        for case in node.cases:
            flow: _Flow = subject.copy()
            for sub in walk(case.pattern):
                if isinstance(sub, cst.MatchValue) and flow is not None:
                    flow = self.expr(sub.value, flow)
            if flow is not None:
                for name in _pattern_names(case.pattern):
                    self.rebind(name, flow, iso=False, aliased=None)
            if case.guard is not None and flow is not None:
                flow = self.expr(case.guard, flow)
            ends.append(self.suite(case.body, flow))
            if (
                case.guard is None
                and isinstance(case.pattern, cst.MatchAs)
                and case.pattern.pattern is None
            ):
                exhaustive = True
        if not exhaustive:
            ends.append(subject)
        return _join_all(ends)

    def definition(self, node: cst.FunctionDef | cst.ClassDef, state: _State) -> _Flow:
        flow: _Flow = state
        for dec in node.decorators:
            if flow is not None:
                flow = self.expr(dec.decorator, flow)
        if flow is None:
            return None
        if isinstance(node, cst.FunctionDef):
            for param in _param_list(node.params):
                if param.default is not None and flow is not None:
                    flow = self.expr(param.default, flow)
            if flow is None:
                return None
            self.defaults_kept(node.params, flow)
            self.closure_check(node, flow)
            self.closure_fields(node, flow)
        else:
            for arg in (*node.bases, *node.keywords):
                if flow is not None:
                    flow = self.expr(arg.value, flow)
            if flow is None:
                return None
        inner_locals = bound_names(node)
        self.nested.append((node, {n for n in flow.isos if n not in inner_locals}, self.scope))
        self.rebind(node.name.value, flow, iso=False, aliased=None)
        if isinstance(node, cst.FunctionDef) and isinstance(self.scope, cst.FunctionDef):
            flow.closures[node.name.value] = (node, frozenset(flow.moved))
        return flow

    def never_returns(self, call: cst.Call) -> bool:
        """A call of a function that never returns (``sys.exit``, ``assert_never``, a
        function of the module annotated ``-> NoReturn``)."""
        func = call.func
        if isinstance(func, cst.Name) and func.value in self.facts.no_return:
            return isinstance(self.scope, cst.Module) or func.value not in self.locals
        return self.resolver.qualified(func) in _NO_RETURN_CALLS

    def closure_call(
        self, func: cst.Name, closure: cst.FunctionDef, known: frozenset[str], state: _State
    ) -> None:
        """``later()`` of a function defined here that reads a name moved since it was
        defined (not ``known`` moved then): its body uses the moved name now (reported at
        the callee, once)."""
        for name in sorted(_captured(closure) - known):
            moved = state.moved.get(name)
            if moved is not None:
                self.reports[id(func)] = UseAfterMove(
                    func, name, moved.definite, moved.sites, False, f"{func.value}()"
                )
                return

    def closure_check(self, node: cst.FunctionDef | cst.Lambda, state: _State) -> None:
        """A function or lambda defined after a move that reads the moved name."""
        if not state.moved:
            return
        inner = bound_names(node)
        body = node.body
        for name in load_names(body):
            if name.value not in inner:
                self.use(name, state)

    # ---------------------------------------------------------------- targets

    def assign(
        self, target: cst.BaseExpression, value: cst.BaseExpression | None, state: _State
    ) -> _Flow:
        if isinstance(target, cst.Name):
            iso = value is not None and self.produces_iso(value, state)
            self.rebind(
                target.value,
                state,
                iso=iso,
                aliased=self.alias_source(target, value),
                partner=_reference(value),
            )
            if isinstance(value, _CONTAINER_DISPLAYS):
                state.containers.add(target.value)
            return state
        key = self.field_key(target)
        if key is not None:  # self.h = iso(...) makes the field live again
            iso = value is not None and self.produces_iso(value, state)
            self.rebind(key, state, iso=iso, aliased=None)
            return state
        reference = _reference(target)
        if reference is not None:  # self.items = []: no longer shares the old object
            self.forget(state, reference)
        if isinstance(target, (cst.Tuple, cst.List)):
            pairs = _unpacked_pairs(target, value)
            if pairs is not None:  # b, c = a, 2: each name gets its own value
                isos = [self.produces_iso(v, state) for _, v in pairs]
                rebound = {r for t, _ in pairs if (r := _reference(t)) is not None}
                for (t, v), iso in zip(pairs, isos, strict=True):
                    if isinstance(t, cst.Name):
                        swapped = _reference(v) in rebound
                        aliased = None if swapped else self.alias_source(t, v)
                        partner = None if swapped else _reference(v)
                        self.rebind(t.value, state, iso=iso, aliased=aliased, partner=partner)
                flow: _Flow = state
                for t, _ in pairs:
                    if flow is not None and not isinstance(t, cst.Name):
                        flow = self.assign(t, None, flow)
                return flow
            flow = state
            for elem in target.elements:
                if flow is not None:
                    flow = self.assign(elem.value, None, flow)
            return flow
        if isinstance(target, cst.StarredElement):
            return self.assign(target.value, None, state)
        return self.load_target(target, state, aug=False)

    def load_target(self, target: cst.BaseExpression, state: _State, aug: bool) -> _Flow:
        """The loads inside a store target (``a.b = ...`` reads ``a``)."""
        if isinstance(target, cst.Name):
            if aug:
                self.use(target, state)
            return state
        if isinstance(target, cst.Attribute):
            return state if self.is_self(target.value) else self.expr(target.value, state)
        if isinstance(target, cst.Subscript):
            flow = self.expr(target.value, state)
            for elem in target.slice:
                if flow is not None:
                    flow = self.expr_slice(elem, flow)
            return flow
        return self.expr(target, state)

    def delete(self, target: cst.BaseExpression, state: _State) -> _Flow:
        if isinstance(target, cst.Name):
            state.moved.pop(target.value, None)
            state.closures.pop(target.value, None)
            state.isos.discard(target.value)
            state.aliased.pop(target.value, None)
            state.partners.pop(target.value, None)
            self.forget(state, target.value)
            return state
        if isinstance(target, (cst.Tuple, cst.List)):
            flow: _Flow = state
            for elem in target.elements:
                if flow is not None:
                    flow = self.delete(elem.value, flow)
            return flow
        return self.load_target(target, state, aug=False)

    def rebind(
        self,
        name: str,
        state: _State,
        iso: bool,
        aliased: str | None,
        partner: str | None = None,
    ) -> None:
        state.moved.pop(name, None)
        state.params.discard(name)
        state.containers.discard(name)
        state.closures.pop(name, None)
        self.forget(state, name)
        if iso or name in self.declared_iso:
            state.isos.add(name)
        else:
            state.isos.discard(name)
        state.aliased.pop(name, None)
        state.partners.pop(name, None)
        if aliased is not None:
            self.note_alias(state, name, aliased, partner)

    def note_alias(self, state: _State, name: str, text: str, partner: str | None) -> None:
        """``name`` now shares its object with ``partner`` (None: with something the
        analysis does not follow, so the alias is never undone)."""
        if partner is None:
            state.aliased[name] = text
            state.partners.pop(name, None)
            return
        if name in state.aliased and name not in state.partners:
            return  # already aliased for good
        state.aliased.setdefault(name, text)
        state.partners[name] = state.partners.get(name, frozenset()) | {partner}
        self.fresh_pairs.add((name, partner))

    def forget(self, state: _State, reference: str) -> None:
        """``reference`` is rebound: it no longer shares the object of the names it
        aliased; a name left with no partner is no longer aliased."""
        for name, partners in list(state.partners.items()):
            if reference not in partners or (name, reference) in self.fresh_pairs:
                continue
            left = partners - {reference}
            if left:
                state.partners[name] = left
            else:
                del state.partners[name]
                state.aliased.pop(name, None)

    def produces_iso(self, value: cst.BaseExpression, state: _State) -> bool:
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Name):
            return value.value in state.isos
        if isinstance(value, cst.Attribute):
            return self.field_key(value) in state.isos
        if isinstance(value, cst.Call):
            if self.resolver.capsys_name(value.func) in ("iso", "consume"):
                return True
            func = value.func
            if isinstance(func, cst.Name):
                return func.value in self.facts.iso_functions
            return (  # self.make() where the class's make() returns an Iso
                isinstance(func, cst.Attribute)
                and isinstance(func.value, cst.Name)
                and func.value.value == self.self_name
                and func.attr.value in self.facts.iso_methods
            )
        return False

    def alias_source(self, target: cst.Name, value: cst.BaseExpression | None) -> str | None:
        """The statement text if binding ``target`` to ``value`` shares an object."""
        if isinstance(value, (cst.Name, cst.Attribute)):
            return f"{target.value} = {code_of(value)}"
        return None

    # ---------------------------------------------------------------- CAP006

    def chained_iso(self, targets: Sequence[cst.AssignTarget]) -> None:
        """``a = b = <Iso>``: every target after the first aliases the first."""
        first = targets[0].target
        if not isinstance(first, cst.Name):
            return
        for later in targets[1:]:
            node = later.target
            if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)) and (
                id(node) not in self.alias_seen
            ):
                self.alias_seen.add(id(node))
                self.result.aliases.append(
                    AliasedIso(node, first.value, code_of(node), False, "chained")
                )

    def alias_check(
        self, target: cst.BaseExpression, value: cst.BaseExpression, state: _State
    ) -> None:
        """``b = a`` of an Iso (``b = [a]`` too), and (for iso() freshness) which names now
        share objects."""
        if not isinstance(target, (cst.Tuple, cst.List)):  # not an unpacking
            self.displayed(value, state)
        pairs = _unpacked_pairs(target, value)
        if pairs is not None:  # b, c = a, 2 aliases like b = a (a swap a, b = b, a does not)
            rebound = {t.value for t, _ in pairs if isinstance(t, cst.Name)}
            for t, v in pairs:
                if not (isinstance(v, cst.Name) and v.value in rebound):
                    self.alias_check(t, v, state)
            return
        if (
            isinstance(target, cst.Name)
            and isinstance(value, cst.Name)
            and target.value == value.value
        ):
            return
        key = self.field_key(value)
        if key is not None and key in state.isos and code_of(target) != key:
            # h = self.h: the field still holds the handle
            moved = state.moved.get(key)
            if (moved is None or not moved.definite) and id(value) not in self.alias_seen:
                self.alias_seen.add(id(value))
                self.result.aliases.append(AliasedIso(value, key, code_of(target), True))
            return
        if isinstance(value, cst.Name) and value.value in state.isos:
            moved = state.moved.get(value.value)
            if (
                (moved is None or not moved.definite)
                and isinstance(target, (cst.Name, cst.Attribute, cst.Subscript))
                and id(value) not in self.alias_seen
            ):
                self.alias_seen.add(id(value))
                self.result.aliases.append(
                    AliasedIso(value, value.value, code_of(target), fix_is_safe=True)
                )
            return
        partner = _reference(target)
        if isinstance(value, cst.Name):
            self.note_alias(state, value.value, f"{code_of(target)} = {value.value}", partner)
        for elem in _display_names(value):
            self.note_alias(state, elem, f"{code_of(target)} = {code_of(value)}", partner)

    def iso_freshness(self, arg: cst.BaseExpression, state: _State) -> None:
        if id(arg) in self.non_fresh_seen:
            return
        finding: NonFreshIso | None = None
        base = arg
        while isinstance(base, cst.Subscript):  # an element is reachable like its container
            base = base.value
        container = None if base is arg else code_of(base)
        if isinstance(base, cst.Attribute):
            finding = NonFreshIso(arg, "field", code_of(arg), container)
        elif isinstance(base, cst.Name):
            if base.value in state.isos or base.value == self.self_name:
                return
            kind = self.outside_kind(base.value, state)
            if kind is not None:
                finding = NonFreshIso(arg, kind, code_of(arg), container)
            elif base is arg and base.value in state.aliased:
                finding = NonFreshIso(arg, "aliased local", base.value, state.aliased[base.value])
            elif container is not None and not _slices(arg):
                # iso(rows[0]): the local container still holds the element (a slice
                # rows[1:] is a new list)
                finding = NonFreshIso(arg, "element", code_of(arg), container)
        if finding is not None:
            self.non_fresh_seen.add(id(arg))
            sliced = isinstance(arg, cst.Subscript) and _slices(arg, outer=True)
            self.result.non_fresh.append(dataclasses.replace(finding, sliced=sliced))

    def outside_kind(self, name: str, state: _State) -> Literal["parameter", "global"] | None:
        """Whether ``name`` is a parameter not yet rebound or a global (its object lives
        elsewhere)."""
        if name in state.params:
            return "parameter"
        if name in self.globals or (
            isinstance(self.scope, cst.FunctionDef)
            and name not in self.locals
            and name in self.facts.module_names
        ):
            return "global"
        return None

    # ---------------------------------------------------------------- expressions

    def use(self, name: cst.Name, state: _State) -> None:
        moved = state.moved.get(name.value)
        if moved is not None:
            self.reports[id(name)] = UseAfterMove(
                name, name.value, moved.definite, moved.sites, repeated_move=False
            )

    def extra_move(self, value: cst.BaseExpression, state: _State) -> None:
        """Treat an aliasing ``a`` as ``consume(a)`` (used to judge the CAP006 fix), also
        an item of ``b, c = a, 2``."""
        items = value.elements if isinstance(value, (cst.Tuple, cst.List)) else ()
        for item in (value, *(e.value for e in items)):
            if id(item) not in self.extra_moves:
                continue
            if isinstance(item, cst.Name):
                self.move(item, "consume()", state)
            elif (key := self.field_key(item)) is not None:
                self.move_key(item, key, "consume()", state)

    def move(self, name: cst.Name, how: str, state: _State) -> None:
        self.move_key(name, name.value, how, state)

    def move_key(self, node: cst.BaseExpression, key: str, how: str, state: _State) -> None:
        """Mark ``key`` (a local, or ``self.<field>``) moved at ``node``."""
        site = self.sites.get(id(node))
        if site is None:
            site = self.sites[id(node)] = MoveSite(node, how)
        state.moved[key] = _Moved(True, (site,))

    def use_key(self, node: cst.BaseExpression, key: str, state: _State) -> None:
        moved = state.moved.get(key)
        if moved is not None:
            self.reports[id(node)] = UseAfterMove(
                node, key, moved.definite, moved.sites, repeated_move=False
            )

    def is_self(self, expr: cst.BaseExpression) -> bool:
        return (
            self.self_name is not None
            and isinstance(expr, cst.Name)
            and expr.value == self.self_name
        )

    def field_key(self, expr: cst.BaseExpression) -> str | None:
        """``"self.h"`` for ``self.h`` when the field ``h`` holds an Iso; else None."""
        if (
            isinstance(expr, cst.Attribute)
            and self.is_self(expr.value)
            and expr.attr.value in self.fields
        ):
            return f"{self.self_name}.{expr.attr.value}"
        return None

    def revive_fields(self, state: _State) -> None:
        """``self`` itself is used (passed on, a method called): any code may have
        assigned its fields since, so a moved field is no longer known to be dead."""
        if self.fields and state.moved:
            prefix = f"{self.self_name}."
            for key in [k for k in state.moved if k.startswith(prefix)]:
                del state.moved[key]

    def expr(self, node: cst.BaseExpression, state: _State) -> _Flow:
        """Evaluate ``node`` in order: report loads of moved names, then apply moves."""
        kind = type(node)
        if kind is cst.Name:
            self.use(node, state)  # type: ignore[arg-type]
            if self.is_self(node):
                self.revive_fields(state)
            return state
        if kind in _LITERALS:
            return state
        if kind is cst.ConcatenatedString or kind is cst.BinaryOperation:
            return self.chain(node, state)
        if isinstance(node, cst.Attribute):
            if self.is_self(node.value):  # reading a field is no use of self itself
                key = self.field_key(node)
                if key is not None:
                    self.use_key(node, key, state)
                return state
            return self.expr(node.value, state)
        if kind is cst.Tuple or kind is cst.List or kind is cst.Set:
            self.put_twice(node, state)  # type: ignore[arg-type]
        if isinstance(node, cst.Call):
            return self.call(node, state)
        if isinstance(node, cst.Lambda):
            for param in _param_list(node.params):
                if param.default is not None:
                    self.expr(param.default, state)
            self.defaults_kept(node.params, state)
            self.closure_check(node, state)
            self.closure_fields(node, state)
            return state
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return self.comprehension(node, state)
        if isinstance(node, cst.NamedExpr):
            flow = self.expr(node.value, state)
            if flow is None:
                return None
            self.alias_check(node.target, node.value, flow)
            self.extra_move(node.value, flow)
            return self.assign(node.target, node.value, flow)
        if isinstance(node, cst.IfExp):
            flow = self.expr(node.test, state)
            if flow is None:
                return None
            return _join(self.expr(node.body, flow.copy()), self.expr(node.orelse, flow))
        if isinstance(node, cst.BooleanOperation):
            flow = self.expr(node.left, state)
            if flow is None:
                return None
            return _join(flow.copy(), self.expr(node.right, flow))
        if isinstance(node, cst.Comparison) and all(
            isinstance(t.operator, (cst.Is, cst.IsNot)) for t in node.comparisons
        ):  # identity tests work on a moved handle too
            flow = state
            for part in (node.left, *(t.comparator for t in node.comparisons)):
                handle = isinstance(part, cst.Name) or self.field_key(part) is not None
                if flow is not None and not handle:
                    flow = self.expr(part, flow)
            return flow
        if isinstance(node, cst.Subscript):
            flow = self.expr(node.value, state)
            for elem in node.slice:
                if flow is not None:
                    flow = self.expr_slice(elem, flow)
            return flow
        flow = state
        for child in children(node):
            if flow is None:
                return None
            flow = self.generic(child, flow)
        return flow

    def chain(self, node: cst.BaseExpression, state: _State) -> _Flow:
        """``"a" "b" ...`` and ``x + y + ...`` without one Python frame per link."""
        parts: list[cst.BaseExpression] = []
        pending: list[cst.BaseExpression] = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, (cst.ConcatenatedString, cst.BinaryOperation)):
                pending.extend((current.right, current.left))
            else:
                parts.append(current)
        flow: _Flow = state
        for part in parts:
            if flow is None:
                return None
            flow = self.expr(part, flow)
        return flow

    def generic(self, node: cst.CSTNode, state: _State) -> _Flow:
        if isinstance(node, cst.BaseExpression):
            return self.expr(node, state)
        flow: _Flow = state
        for child in children(node):
            if flow is None:
                return None
            flow = self.generic(child, flow)
        return flow

    def expr_slice(self, elem: cst.SubscriptElement, state: _State) -> _Flow:
        return self.generic(elem.slice, state)

    def call(self, node: cst.Call, state: _State) -> _Flow:
        flow = self.expr(node.func, state)
        # type(h), isinstance(h, ...) and id(h) work on a moved handle: not uses.
        inspects = isinstance(node.func, cst.Name) and node.func.value in _INSPECTORS
        for arg in node.args:
            if flow is None:
                return None
            handle = isinstance(arg.value, cst.Name) or self.field_key(arg.value) is not None
            if not (inspects and handle):
                flow = self.expr(arg.value, flow)
        if flow is None:
            return None
        if self.refusal_frames:
            self._note_refusal(flow)
        func = node.func
        if isinstance(func, cst.Name) and func.value in flow.closures and flow.moved:
            self.closure_call(func, *flow.closures[func.value], flow)
        capsys = self.resolver.capsys_name(func)
        if capsys in ("iso", "consume") and node.args:
            first = node.args[0]
            if capsys == "iso" and not first.star:
                self.iso_freshness(first.value, flow)
            value = first.value
            key = self.field_key(value)
            if isinstance(value, cst.Name) and not first.star and value.value != self.self_name:
                self.move(value, f"{capsys}()", flow)
            elif key is not None and not first.star and key in flow.isos:
                self.move_key(value, key, f"{capsys}()", flow)
            return flow
        if isinstance(func, cst.Attribute) and func.attr.value == "take" and not node.args:
            key = self.field_key(func.value)
            if isinstance(func.value, cst.Name) and func.value.value in flow.isos:
                self.move(func.value, "take()", flow)
            elif key is not None and key in flow.isos:
                self.move_key(func.value, key, "take()", flow)
            return flow
        if isinstance(func, cst.Attribute) and self.is_self(func.value):
            self.revive_fields(flow)  # self.method(...) may assign the fields
        how = _last_name(func)
        moving = (isinstance(func, cst.Attribute) and how in _MOVING_METHODS) or (
            how in _MOVING_FUNCTIONS
        )
        storing = how in _STORING_METHODS and isinstance(func, cst.Attribute)
        for arg in node.args:
            if arg.star:
                continue
            if moving and how:
                flow = self.move_argument(arg.value, how, flow)
                continue
            value = arg.value
            key = value.value if isinstance(value, cst.Name) else self.field_key(value)
            if key is None:
                continue
            if storing and key in flow.isos:
                self.stored(value, key, node, flow)
            elif storing and isinstance(value, cst.Name):
                self.note_alias(flow, key, code_of(node), None)
        return flow

    def move_argument(self, value: cst.BaseExpression, how: str, state: _State) -> _State:
        """Move the handles an argument of a send carries: the runtime moves every Iso it
        finds in a tuple or a record (``@message``, frozen dataclass, NamedTuple), so one
        written inside such a display or constructor call is moved with it. A handle in
        one arm of ``a if c else b`` is moved on that arm's path only."""
        if isinstance(value, cst.NamedExpr):  # send(A.b, (h := iso(...))) moves h
            value = value.target
        if isinstance(value, cst.IfExp):
            then = self.move_argument(value.body, how, state.copy())
            joined = _join(then, self.move_argument(value.orelse, how, state))
            assert joined is not None  # both arms reach the call
            return joined
        key = value.value if isinstance(value, cst.Name) else self.field_key(value)
        if key is not None:
            if key in state.isos:
                if id(value) not in self.alias_seen:  # (h, h) is CAP006's put-twice
                    self.use_key(value, key, state)  # send(A.b, h, h): moved already
                self.move_key(value, key, how, state)
            return state
        for part in self.carried(value):
            state = self.move_argument(part, how, state)
        return state

    def carried(self, value: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
        """The parts of a sent value that end up inside it: the items of a tuple display
        (also of a display unpacked into it), the arguments of a record's constructor,
        the items of a display given to ``frozenset``/``tuple``. A call of anything else
        may return something that holds none of its arguments."""
        if isinstance(value, cst.Tuple):
            for element in value.elements:
                inner = element.value
                if isinstance(element, cst.Element):
                    yield inner
                elif isinstance(inner, (cst.Tuple, cst.List, cst.Set)):
                    yield from (e.value for e in inner.elements if isinstance(e, cst.Element))
        elif isinstance(value, cst.Call):
            if self.facts.records(value.func):
                yield from (arg.value for arg in value.args if not arg.star)
            elif (
                self.resolver.qualified(value.func) in _DISPLAY_COPIES
                and len(value.args) == 1
                and not value.args[0].star
                and isinstance(value.args[0].value, (cst.Tuple, cst.List, cst.Set))
            ):
                display = value.args[0].value
                yield from (e.value for e in display.elements if isinstance(e, cst.Element))

    def stored(
        self,
        value: cst.BaseExpression,
        key: str,
        into: cst.CSTNode,
        state: _State,
        kind: AliasKind = "stored",
    ) -> None:
        """``keep.append(h)`` of an Iso (or ``hs = [h]``, ``into`` the display): the
        container and ``h`` now both own it."""
        moved = state.moved.get(key)
        if id(value) in self.extra_moves:
            self.move_key(value, key, "consume()", state)
        elif (moved is None or not moved.definite) and id(value) not in self.alias_seen:
            self.alias_seen.add(id(value))
            self.result.aliases.append(AliasedIso(value, key, code_of(into), True, kind))

    def defaults_kept(self, params: cst.Parameters, state: _State) -> None:
        """``def f(x=h)`` / ``lambda x=h: ...`` of an Iso: the function keeps the default
        for every later call, so it and ``h`` both own the object graph."""
        for param in _param_list(params):
            value = param.default
            if value is None:
                continue
            key = value.value if isinstance(value, cst.Name) else self.field_key(value)
            if key is not None and key in state.isos:
                self.stored(value, key, param.name, state, "default")

    def displayed(self, display: cst.BaseExpression, state: _State) -> None:
        """``hs = [h]``, ``pair = (1, h)``, ``d = {"k": h}``, ``b = Box(h)``: an Iso put in
        a display or a record's constructor that is kept (assigned, added with ``+=``, or
        walked by a ``for``, whose target then names the Iso too), also inside a nested
        one. Given to a call, it is used (or sent) only. One put twice in the same
        display is ``put_twice``'s finding."""
        if isinstance(display, cst.Dict):
            values = [e.value for e in display.elements if isinstance(e, cst.DictElement)]
        elif isinstance(display, (cst.List, cst.Tuple, cst.Set)):
            values = [e.value for e in display.elements if isinstance(e, cst.Element)]
        elif isinstance(display, cst.Call) and self.facts.records(display.func):
            values = [a.value for a in display.args if not a.star]
        else:
            return
        keys = [v.value if isinstance(v, cst.Name) else self.field_key(v) for v in values]
        for value, key in zip(values, keys, strict=True):
            if key is None:
                self.displayed(value, state)
            elif key in state.isos and keys.count(key) == 1:
                self.stored(value, key, display, state, "displayed")

    def put_twice(self, display: cst.Tuple | cst.List | cst.Set, state: _State) -> None:
        """``(h, h)``: one Iso put twice in one display, so two places own it."""
        seen: set[str] = set()
        for element in display.elements:
            value = element.value
            key = value.value if isinstance(value, cst.Name) else self.field_key(value)
            if key is None or key not in state.isos or isinstance(element, cst.StarredElement):
                continue
            if key in seen and id(value) not in self.alias_seen:
                self.alias_seen.add(id(value))
                text = code_of(display)
                self.result.aliases.append(AliasedIso(value, key, text, False, "twice"))
            seen.add(key)

    def closure_fields(self, node: cst.FunctionDef | cst.Lambda, state: _State) -> None:
        """A function or lambda defined here that uses ``self`` may run later and assign
        the fields."""
        if self.fields and state.moved and self.self_name in {n.value for n in load_names(node)}:
            self.revive_fields(state)

    def iterated(self, iterable: cst.BaseExpression, state: _State) -> str | None:
        """The container a ``for`` loop walks, when its items stay reachable from it: a
        field, a parameter, a module-level name or a local bound to a display (a call
        such as a generator may make fresh items). None otherwise."""
        if isinstance(iterable, cst.Attribute) and self.is_self(iterable.value):
            return code_of(iterable)
        if not isinstance(iterable, cst.Name) or iterable.value in state.isos:
            return None
        name = iterable.value
        if name in state.containers or self.outside_kind(name, state) is not None:
            return name
        return None

    def comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp, state: _State
    ) -> _Flow:
        """A comprehension is a loop in its own scope: its targets shadow outer names."""
        first = node.for_in
        entry = self.expr(first.iter, state)
        if entry is None:
            return None
        shadowed: set[str] = set()
        comp_for: cst.CompFor | None = first
        while comp_for is not None:
            shadowed.update(_target_names(comp_for.target))
            comp_for = comp_for.inner_for_in
        saved = {
            name: (entry.moved.get(name), name in entry.isos, entry.aliased.get(name))
            for name in shadowed
        }
        saved_partners = {name: entry.partners.get(name) for name in shadowed}

        def body(head: _State) -> tuple[_Flow, _Flow]:
            exit_state = head.copy()
            flow: _Flow = head
            comp: cst.CompFor | None = first
            while comp is not None and flow is not None:
                if comp is not first:
                    flow = self.expr(comp.iter, flow)
                if flow is not None:
                    flow = self.assign(comp.target, None, flow)
                for cond in comp.ifs:
                    if flow is not None:
                        flow = self.expr(cond.test, flow)
                comp = comp.inner_for_in
            if flow is None:
                return exit_state, None
            if isinstance(node, cst.DictComp):
                flow = self.expr(node.key, flow)
                return exit_state, None if flow is None else self.expr(node.value, flow)
            return exit_state, self.expr(node.elt, flow)

        exit_state, _ = self._loop(entry, body)
        if exit_state is None:
            return None
        for name, (moved, iso, aliased) in saved.items():
            exit_state.moved.pop(name, None)
            if moved is not None:
                exit_state.moved[name] = moved
            exit_state.isos.discard(name)
            if iso:
                exit_state.isos.add(name)
            exit_state.aliased.pop(name, None)
            exit_state.partners.pop(name, None)
            if aliased is not None:
                exit_state.aliased[name] = aliased
                partners = saved_partners[name]
                if partners is not None:
                    exit_state.partners[name] = partners
        return exit_state


def _reference(expr: cst.BaseExpression | None) -> str | None:
    """The text of a name or attribute chain (``items``, ``self.items``, ``a.b.c``): a
    reference that a later assignment to the same text rebinds. None for anything else."""
    node = expr
    while isinstance(node, cst.Attribute):
        node = node.value
    if expr is None or not isinstance(node, cst.Name):
        return None
    return code_of(expr)


def _always_false(test: cst.BaseExpression) -> bool:
    """A literal that is always false (``False``, ``None``, ``0``, ``""``): ``assert`` of
    it always raises."""
    if isinstance(test, cst.Name):
        return test.value in ("False", "None")
    if isinstance(test, (cst.Integer, cst.Float)):
        return not test.evaluated_value
    if isinstance(test, cst.SimpleString):
        try:
            return not test.evaluated_value
        except (ValueError, SyntaxError):
            return False
    return False


def _unpacked_pairs(
    target: cst.BaseExpression, value: cst.BaseExpression | None
) -> list[tuple[cst.BaseExpression, cst.BaseExpression]] | None:
    """(target, value) items of ``b, c = a, 2`` (same length, nothing starred)."""
    if not (
        isinstance(target, (cst.Tuple, cst.List))
        and isinstance(value, (cst.Tuple, cst.List))
        and len(target.elements) == len(value.elements)
    ):
        return None
    elements = (*target.elements, *value.elements)
    if any(isinstance(e, cst.StarredElement) for e in elements):
        return None
    return [(t.value, v.value) for t, v in zip(target.elements, value.elements, strict=True)]


_CONTAINER_DISPLAYS = (
    cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
)  # fmt: skip


def _slices(subscript: cst.BaseExpression, *, outer: bool = False) -> bool:
    """``rows[1:]``: some subscript of the chain is a slice (a copy, not an element);
    with ``outer``, the last one (``rows[:][0]`` is an element again)."""
    while isinstance(subscript, cst.Subscript):
        if any(isinstance(e.slice, cst.Slice) for e in subscript.slice):
            return True
        if outer:
            return False
        subscript = subscript.value
    return False


def _display_names(value: cst.BaseExpression) -> Iterator[str]:
    """Bare names stored inside a list/tuple/set/dict display."""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        for elem in value.elements:
            if isinstance(elem.value, cst.Name):
                yield elem.value.value
    elif isinstance(value, cst.Dict):
        for item in value.elements:
            if isinstance(item, cst.DictElement) and isinstance(item.value, cst.Name):
                yield item.value.value


def _walk_module(module: cst.Module) -> Iterator[cst.CSTNode]:
    """The module's own statements, not the bodies of its functions and classes."""
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        yield from walk(stmt)


def _module_facts(module: cst.Module, resolver: NameResolver, records: RecordTest) -> _ModuleFacts:
    def returns_iso(node: cst.BaseStatement) -> bool:
        return (
            isinstance(node, cst.FunctionDef)
            and node.returns is not None
            and _is_iso_annotation(node.returns.annotation, resolver)
        )

    functions = {
        s.name.value for s in module.body if isinstance(s, cst.FunctionDef) and returns_iso(s)
    }
    methods = {
        method.name.value
        for cls in module.body
        if isinstance(cls, cst.ClassDef) and isinstance(cls.body, cst.IndentedBlock)
        for method in cls.body.body
        if isinstance(method, cst.FunctionDef) and returns_iso(method)
    }
    no_return = {
        s.name.value
        for s in module.body
        if isinstance(s, cst.FunctionDef)
        and s.returns is not None
        and resolver.qualified(s.returns.annotation) in _NO_RETURN
    }
    return _ModuleFacts(
        resolver,
        frozenset(bound_names(module)),
        frozenset(functions),
        frozenset(methods),
        frozenset(no_return),
        records,
    )


def _analyze_scope(
    facts: _ModuleFacts,
    job: _Nested,
    result: FlowResult,
    extra_moves: frozenset[int],
) -> list[_Nested]:
    scope, initial_isos, parent = job
    reports: dict[int, UseAfterMove] = {}
    nested: list[_Nested] = []
    _ScopeAnalysis(facts, scope, result, reports, nested, extra_moves, parent).run(initial_isos)
    for report in reports.values():
        repeated = any(site.node is report.node for site in report.sites)
        result.uses_after_move.append(dataclasses.replace(report, repeated_move=repeated))
    return nested


def _run(facts: _ModuleFacts, module: cst.Module, extra_moves: frozenset[int]) -> FlowResult:
    result = FlowResult()
    pending: list[_Nested] = [(module, set(), None)]
    while pending:
        pending.extend(_analyze_scope(facts, pending.pop(), result, extra_moves))
    seen: set[int] = set()
    unique: list[UseAfterMove] = []
    for use in result.uses_after_move:
        if id(use.node) not in seen:
            seen.add(id(use.node))
            unique.append(use)
    result.uses_after_move = unique
    return result


def analyze_module(
    module: cst.Module, resolver: NameResolver, records: RecordTest = no_records
) -> FlowResult:
    """CAP005/CAP006 facts for every scope of ``module``; ``records`` says which callees
    are record classes (their constructors' arguments move with a sent record)."""
    facts = _module_facts(module, resolver, records)
    result = _run(facts, module, frozenset())
    if result.aliases:
        result.aliases = _with_fix_safety(facts, module, result.aliases)
    return result


def _with_fix_safety(
    facts: _ModuleFacts, module: cst.Module, aliases: list[AliasedIso]
) -> list[AliasedIso]:
    """Would ``consume(a)`` in place of each aliased ``a`` make a later use of ``a`` a use
    after move? One more run of the analysis with every alias as a move (the fixes are
    applied together), only for files that have such findings."""
    trial = _run(facts, module, frozenset(id(alias.node) for alias in aliases))
    broken = {id(site.node) for use in trial.uses_after_move for site in use.sites}
    return [
        dataclasses.replace(a, fix_is_safe=id(a.node) not in broken) if a.fixable else a
        for a in aliases
    ]


def consume_expression(module: cst.Module) -> cst.BaseExpression | None:
    """How ``consume`` can be written in ``module`` given its imports, if at all."""
    for node in _walk_module(module):
        if isinstance(node, cst.ImportFrom) and node.relative == ():
            source = code_of(node.module) if node.module is not None else ""
            if source not in ("capsys", "capsys.capabilities"):
                continue
            if isinstance(node.names, cst.ImportStar):
                return cst.Name("consume")
            for alias in node.names:
                if isinstance(alias.name, cst.Name) and alias.name.value == "consume":
                    if alias.asname is None:
                        return cst.Name("consume")
                    if isinstance(alias.asname.name, cst.Name):
                        return cst.Name(alias.asname.name.value)
        if isinstance(node, cst.Import):
            for alias in node.names:
                if code_of(alias.name) != "capsys":
                    continue
                name = "capsys"
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    name = alias.asname.name.value
                return cst.Attribute(cst.Name(name), cst.Name("consume"))
    return None


# One file is checked at a time per process and several rules share its analysis, so a
# one-entry cache keyed by the module object (identity) is all that is needed.
_FLOW_CACHE: list[tuple[cst.Module, FlowResult]] = []


_MOVING_NAMES = frozenset({"iso", "consume", "Iso"})
# Lower-case public functions of capsys/runtime (any other lower-case name is a module).
_NOT_MODULES = frozenset(
    {"behaviour", "message", "val", "run", "channel", "quorum", "broadcast", "shard"}
)


def may_move(imported: Iterable[str]) -> bool:
    """Whether a module whose imports resolve to ``imported`` (qualified names) can hold
    an Iso at all: it imports ``iso``, ``consume`` or ``Iso``, or a capsys module whose
    attributes it may use (``import capsys as c``). Lets most agent modules skip the
    dataflow entirely."""
    for name in imported:
        if name.split(".", 1)[0] not in ("capsys", "runtime"):
            continue
        last = name.rsplit(".", 1)[-1]
        if last in _MOVING_NAMES or (last.islower() and last not in _NOT_MODULES):
            return True
    return False


def module_flow(
    module: cst.Module, resolver: NameResolver, records: RecordTest = no_records
) -> FlowResult:
    """``analyze_module``, computed once per module for all the rules that need it."""
    if _FLOW_CACHE and _FLOW_CACHE[0][0] is module:
        return _FLOW_CACHE[0][1]
    result = analyze_module(module, resolver, records)
    _FLOW_CACHE[:] = [(module, result)]
    return result


def line_of(module: cst.Module, node: cst.CSTNode) -> int:
    """The 1-based line of ``node`` (a node of ``module``), for messages; 0 if it is not
    one."""
    span = positions_of(module).span(node)
    return span.line if span is not None else 0
