"""The plugin class mypy instantiates: configuration, cache keys, and delegation.

Kept light on purpose: a mypy run whose modules all come from the cache asks for no hook,
so it should pay for reading ``[tool.capsys]`` and nothing more. The checks and the
sendability table are imported with ``mypy_plugin.hooks`` on the first hook question.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mypy.errors import CompileError
from mypy.options import Options
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
    ReportConfigContext,
)
from mypy.types import FunctionLike, Type

import capsys
from capsys.config import Config, ConfigError, find_pyproject, load_config
from capsys.names import CAPSYS_NAMES
from mypy_plugin import codes  # noqa: F401  (registers the CAP codes with mypy)
from mypy_plugin.deps import Dependencies

if TYPE_CHECKING:
    from mypy_plugin.hooks import Hooks

__all__ = ["CapsysPlugin"]

C = TypeVar("C")  # a hook's context
R = TypeVar("R")  # what a hook returns

# Names the filters below compare with.
_TAG_PREFIX = CAPSYS_NAMES["Tag"] + "."
_VAL = CAPSYS_NAMES["Val"]
_TAG_WRITE = "capsys.tag.AgentStateWrite"  # what tag.<name> = value is typed as
_PRIMITIVES = "runtime.primitives."


def checks_fingerprint() -> str:
    """Changes whenever what the plugin may report does: the source of the sendability
    table, the rule catalogue and the plugin's own modules (mypy keys its cache by the
    plugin's entry module only, so an edit of a check elsewhere kept stale verdicts)."""
    digest = hashlib.sha256(capsys.__version__.encode())
    here = Path(__file__).parent
    sources = [Path(capsys.__file__).parent / n for n in ("sendable.py", "diagnostics.py")]
    for path in [*sources, *sorted(here.glob("*.py"))]:
        # An unusual install (zipped) has no files: the version alone keys the cache.
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _load_config(options: Options) -> Config:
    """``[tool.capsys]`` from the pyproject next to mypy's config file, else from the cwd."""
    start = Path(options.config_file).parent if options.config_file else Path.cwd()
    try:
        return load_config(start)
    except ConfigError as exc:
        # What mypy raises for its own plugin errors: printed, exit status 2, no traceback.
        where = find_pyproject(start) or start
        raise CompileError([f"{where}: error: {exc}"], use_stdout=False) from None


class CapsysPlugin(Plugin):
    """The capability rules as mypy hooks (``mypy_plugin.hooks`` says which, where)."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.config = _load_config(options)
        self._hooks: Hooks | None = None
        # The daemon (fine-grained mode) keeps this plugin across edits, after which a
        # class may have become an agent: it asks afresh every time.
        self._memo = not options.fine_grained_incremental
        self._method_memo: dict[str, Callable[[MethodContext], Type] | None] = {}
        self._function_memo: dict[str, Callable[[FunctionContext], Type] | None] = {}
        self._base_memo: dict[str, Callable[[ClassDefContext], None] | None] = {}
        self._config_data = {
            "checks": checks_fingerprint(),
            "config": self.config.fingerprint(),
        }
        # The daemon keeps its state in memory and asks no freshness question.
        cache_dir = None if options.fine_grained_incremental else options.cache_dir
        self._deps = Dependencies(
            cache_dir, options.python_version, fine_grained=options.fine_grained_incremental
        )

    def report_config_data(self, ctx: ReportConfigContext) -> Any:
        # Asked for every module of every run, typeshed's included. mypy reports nothing
        # in typeshed and installed packages: they are not keyed.
        path = ctx.path if os.sep == "/" else ctx.path.replace(os.sep, "/")
        if "/site-packages/" in path or "/typeshed/" in path or "/dist-packages/" in path:
            return None
        # The files this module's verdicts read beyond its imports (mypy_plugin.deps).
        read = self._deps.cached(ctx.id) if ctx.is_check else self._deps.written(ctx.id)
        if read is None:
            return self._config_data
        return {**self._config_data, "read": read}

    @property
    def hooks(self) -> Hooks:
        if self._hooks is None:
            from mypy_plugin.hooks import Hooks

            self._hooks = Hooks(self.config, self.lookup_fully_qualified, self._memo)
        return self._hooks

    # mypy asks these for every call, class, attribute and annotation it analyses, and
    # almost every answer is None: the cheap filters and per-fullname memos live here,
    # in front of the checks (mypy asks once a class is analysed, and class hierarchies
    # do not change during a run).

    def _remembered(
        self,
        memo: dict[str, Callable[[C], R] | None],
        fullname: str,
        ask: Callable[[str], Callable[[C], R] | None],
    ) -> Callable[[C], R] | None:
        """``ask(fullname)``, tracked and remembered for the run (not in the daemon: see
        __init__)."""
        if fullname in memo:
            return memo[fullname]
        hook = self._tracked(ask(fullname))
        if self._memo:
            memo[fullname] = hook
        return hook

    def _tracked(self, hook: Callable[[C], R] | None) -> Callable[[C], R] | None:
        """``hook``, noting which modules' classes it reads (mypy_plugin.deps)."""
        return None if hook is None else self._deps.track(hook)

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return self._remembered(self._method_memo, fullname, self.hooks.get_method_hook)

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        if not fullname.startswith(_TAG_PREFIX):
            return None
        return self._tracked(self.hooks.get_signature_hook(fullname))

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], FunctionLike] | None:
        if not fullname.startswith(_PRIMITIVES):
            return None
        return self._tracked(self.hooks.get_signature_hook(fullname))

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return self._remembered(self._function_memo, fullname, self.hooks.get_function_hook)

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        if not fullname.startswith(_TAG_PREFIX):
            return None
        return self._tracked(self.hooks.get_attribute_hook(fullname))

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        return self._remembered(self._base_memo, fullname, self.hooks.get_base_class_hook)

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        if fullname not in (_VAL, _TAG_WRITE):
            return None
        return self._tracked(self.hooks.get_type_analyze_hook(fullname))
