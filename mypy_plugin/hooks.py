"""Which fullnames get which hook.

Registration is by exact fullname (and, for the few boundary methods, by the class that
defines them): a plugin that answers for every call costs mypy about 14% on a large
corpus, one that answers ``None`` almost everywhere about 3%. Every hook is guarded so
that a bug in a check can never turn into an INTERNAL ERROR of the user's mypy run;
``CAPSYS_PLUGIN_STRICT=1`` re-raises instead (the tests set it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TypeVar

from mypy.checker import TypeChecker
from mypy.nodes import SymbolTableNode, TypeAlias, TypeInfo
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
)
from mypy.semanal import SemanticAnalyzer
from mypy.semanal_shared import has_placeholder
from mypy.typeanal import TypeAnalyser, instantiate_type_alias
from mypy.types import AnyType, FunctionLike, Type, TypeAliasType, TypeOfAny

from capsys.config import Config
from capsys.sendable import CAPSYS_NAMES
from mypy_plugin import checks
from mypy_plugin.checks import Boundary, Reporter
from mypy_plugin.shapes import is_agent, is_message_class

__all__ = ["Hooks", "STRICT_ENV"]

STRICT_ENV = "CAPSYS_PLUGIN_STRICT"

_TAG = CAPSYS_NAMES["Tag"]
_AGENT = CAPSYS_NAMES["Agent"]
_TAG_WRITE = "capsys.tag.AgentStateWrite"  # the value type of Tag.__setattr__
_RUNTIME = "runtime.core.Runtime"
_CHANNEL = "runtime.primitives.channel.Channel"

# Methods whose arguments cross to another agent, by the class that defines them.
_METHOD_BOUNDARIES: dict[str, dict[str, Boundary]] = {
    _TAG: {
        "send": Boundary("send", target=0),
        "send_wait": Boundary("send_wait", target=0),
        "ask": Boundary("ask", target=0, reply=True, skip=frozenset({"timeout"})),
    },
    _RUNTIME: {"spawn": Boundary("spawn", target=0, target_is_class=True)},
    "runtime.ray.RayRuntime": {"spawn": Boundary("spawn", target=0, target_is_class=True)},
    _CHANNEL: {
        "send": Boundary("Channel.send", target=None),
        "put": Boundary("Channel.put", target=None),
    },
}
_METHOD_HOOKS: dict[str, Boundary] = {
    f"{cls}.{name}": b for cls, methods in _METHOD_BOUNDARIES.items() for name, b in methods.items()
}
_BOUNDARY_METHOD_NAMES = frozenset(n for methods in _METHOD_BOUNDARIES.values() for n in methods)

_FUNCTION_BOUNDARIES: dict[str, Boundary] = {
    "runtime.primitives.quorum.quorum": Boundary(
        "quorum", target=2, reply=True, skip=frozenset({"timeout", "accept"})
    ),
    "runtime.primitives.broadcast.broadcast": Boundary(
        "broadcast", target=1, skip=frozenset({"fanout"})
    ),
}

# The topology builders: each spawns its agents with the same args= / kwargs=.
_SPAWN_GROUPS: dict[str, str] = {
    f"runtime.topology.{verb}": verb for verb in ("mesh", "ring", "star", "hierarchical")
}

# The calls whose payload is typed by the behaviour's ParamSpec (see checks.specialise_signature).
_SIGNATURE_BOUNDARIES: dict[str, Boundary] = {
    **{f"{_TAG}.{name}": b for name, b in _METHOD_BOUNDARIES[_TAG].items()},
    **_FUNCTION_BOUNDARIES,
}

_Ctx = TypeVar("_Ctx", FunctionContext, MethodContext)
_SigCtx = TypeVar("_SigCtx", FunctionSigContext, MethodSigContext)


def _strict() -> bool:
    return bool(os.environ.get(STRICT_ENV))


class Hooks:
    """The plugin's answers to mypy's ``get_*_hook`` questions.

    Built on the first question, so a fully cached mypy run (which asks none) never
    imports the checks or the sendability table.
    """

    def __init__(
        self,
        config: Config,
        lookup: Callable[[str], SymbolTableNode | None],
        memo: bool = False,
    ) -> None:
        self.reporter = Reporter(config, memo)
        self.lookup_fully_qualified = lookup
        self._fixed_function_hooks = self._function_hooks()
        self._class_call_hook = functools.partial(
            _guard, functools.partial(checks.check_class_call, self.reporter)
        )

    # ---- lookups -------------------------------------------------------------------

    def _type_info(self, fullname: str) -> TypeInfo | None:
        sym = self.lookup_fully_qualified(fullname)
        node = sym.node if sym is not None else None
        return node if isinstance(node, TypeInfo) else None

    def _boundary_of_method(self, fullname: str) -> Boundary | None:
        boundary = _METHOD_HOOKS.get(fullname)
        if boundary is not None:
            return boundary
        owner, _, name = fullname.rpartition(".")
        if name not in _BOUNDARY_METHOD_NAMES:
            return None
        # A subclass (of Runtime, of Channel) keeps its base's boundary.
        info = self._type_info(owner)
        if info is None:
            return None
        for base, methods in _METHOD_BOUNDARIES.items():
            if name in methods and info.has_base(base):
                return methods[name]
        return None

    def _boundary_hook(self, boundary: Boundary) -> Callable[[_Ctx], Type]:
        reporter = self.reporter

        def hook(ctx: _Ctx) -> Type:
            return _guard(lambda c: checks.check_boundary(reporter, boundary, c), ctx)

        return hook

    def _function_hooks(self) -> dict[str, Callable[[FunctionContext], Type]]:
        """The hooks of the fixed fullnames, built once."""
        reporter = self.reporter
        hooks: dict[str, Callable[[FunctionContext], Type]] = {
            name: self._boundary_hook(b) for name, b in _FUNCTION_BOUNDARIES.items()
        }
        by_name: dict[str, Callable[[Reporter, FunctionContext], None]] = {
            CAPSYS_NAMES["behaviour"]: checks.check_behaviour,
            CAPSYS_NAMES["message"]: checks.check_message,
            CAPSYS_NAMES["val"]: checks.check_val_call,
            CAPSYS_NAMES["iso"]: checks.check_iso_call,
        }
        for name, check in by_name.items():
            hooks[name] = functools.partial(_guard, functools.partial(check, reporter))
        for name, verb in _SPAWN_GROUPS.items():
            group = functools.partial(checks.check_spawn_group, reporter, verb)
            hooks[name] = functools.partial(_guard, group)
        return hooks

    # ---- registration (memoised per fullname by the plugin class) ------------------

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        boundary = self._boundary_of_method(fullname)
        return self._boundary_hook(boundary) if boundary is not None else None

    def get_signature_hook(self, fullname: str) -> Callable[[_SigCtx], FunctionLike] | None:
        """For the calls typed with ``ParamSpec`` against a behaviour: its parameters."""
        if fullname not in _SIGNATURE_BOUNDARIES:
            return None
        boundary = _SIGNATURE_BOUNDARIES[fullname]

        def hook(ctx: _SigCtx) -> FunctionLike:
            try:
                if not _internal(ctx.api):
                    return checks.specialise_signature(boundary, ctx)
            except Exception:
                if _strict():
                    raise
            return ctx.default_signature

        return hook

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        hook = self._fixed_function_hooks.get(fullname)
        if hook is not None:
            return hook
        # A constructor call: only agent classes (CAP007) and @message classes (CAP008
        # for self stored in one) are of interest.
        info = self._type_info(fullname)
        if info is not None and (is_agent(info) or is_message_class(info)):
            return self._class_call_hook
        return None

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        # Tag declares __getattr__ for type checkers (see capsys.tag), so mypy accepts
        # any attribute of a Tag and asks this hook with "capsys.tag.Tag.<name>".
        if not fullname.startswith(_TAG + "."):
            return None
        name = fullname[len(_TAG) + 1 :]
        if name.startswith("__") and name.endswith("__"):
            # Protocol members and the data model (mypy asks for __await__, __len__, ...
            # when it matches a Tag against a protocol): never a user's `tag.<field>`.
            return None
        reporter = self.reporter

        def hook(ctx: AttributeContext) -> Type:
            try:
                if not _internal(ctx.api) and checks.check_tag_attribute(reporter, name, ctx):
                    # Reported: no second error for what the expression is used as.
                    return AnyType(TypeOfAny.from_error)
            except Exception:
                if _strict():
                    raise
            return ctx.default_attr_type

        return hook

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        if fullname != _AGENT:
            info = self._type_info(fullname)
            if info is None or not is_agent(info):
                return None
        reporter = self.reporter

        def hook(ctx: ClassDefContext) -> None:
            try:
                if not _internal(ctx.api):
                    checks.check_agent_class(reporter, ctx)
            except Exception:
                if _strict():
                    raise

        return hook

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        if fullname == _TAG_WRITE:
            return self._tag_write_hook
        if fullname != CAPSYS_NAMES["Val"]:
            return None
        sym = self.lookup_fully_qualified(fullname)
        alias = sym.node if sym is not None else None
        if not isinstance(alias, TypeAlias):
            return None
        reporter = self.reporter

        def hook(ctx: AnalyzeTypeContext) -> Type:
            # mypy drops Annotated metadata, so this is the one place Val[T] is seen.
            # The result is what mypy itself builds for the alias: Val[T] stays a T.
            args = [ctx.api.analyze_type(arg) for arg in ctx.type.args]
            if len(args) != 1:
                return _wrong_arity(alias, args, ctx)
            if not has_placeholder(args[0]):
                try:
                    checks.check_val_type(reporter, ctx.api, ctx.context, args[0])
                except Exception:
                    if _strict():
                        raise
            return TypeAliasType(alias, args, ctx.type.line, ctx.type.column)

        return hook

    @staticmethod
    def _tag_write_hook(ctx: AnalyzeTypeContext) -> Type:
        """The value type of ``Tag.__setattr__``: Any.

        mypy types ``tag.<name> = value`` by that parameter and asks the attribute hook
        only to read the old value, which reports CAP007; an AgentStateWrite there would
        add an ``assignment`` error to the same mistake (and to ``# type: ignore[CAP007]``).
        Not keyed on the config: capsys.tag, once cached, is not analysed again when
        ``[tool.capsys]`` changes (installed packages are not keyed at all).
        """
        return AnyType(TypeOfAny.special_form)


def _wrong_arity(alias: TypeAlias, args: list[Type], ctx: AnalyzeTypeContext) -> Type:
    """``Val`` bare or with several arguments, as mypy itself instantiates the alias: its
    ``type-arg`` errors (the bare form only under ``disallow_any_generics``) and Any
    arguments marked as an error, so no CAP012 is added for the same mistake."""
    api = ctx.api
    if not isinstance(api, TypeAnalyser):
        return TypeAliasType(alias, [AnyType(TypeOfAny.from_error)], ctx.type.line, ctx.type.column)
    typ, _ = instantiate_type_alias(
        alias,
        args,
        api.fail,
        api.note,
        alias.no_args,
        ctx.type,
        api.options,
        unexpanded_type=ctx.type,
        disallow_any=api.options.disallow_any_generics and not api.is_typeshed_stub,
        empty_tuple_index=ctx.type.empty_tuple_index,
    )
    return typ


# capsys' own packages: their internals forward values the user's call site checked.
_INTERNAL = ("capsys", "runtime", "mypy_plugin")


def _internal(api: object) -> bool:
    if isinstance(api, TypeChecker):
        module = api.tree.fullname
    elif isinstance(api, SemanticAnalyzer):
        module = api.cur_mod_id
    else:
        return False
    return module.split(".", 1)[0] in _INTERNAL


def _guard(check: Callable[[_Ctx], None], ctx: _Ctx) -> Type:
    """Run a check; an unexpected error in it must not break the user's mypy run."""
    try:
        if not _internal(ctx.api):
            check(ctx)
    except Exception:
        if _strict():
            raise
    return ctx.default_return_type
