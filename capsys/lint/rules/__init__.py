"""The rule registry: every module ``capNNN_<what>.py`` in this package is one rule.

Each rule module defines ``CODE = "CAPNNN"`` and ``check(ctx: FileContext) ->
Iterable[Finding]``, with a module docstring in ruff's style (What it does / Why is this
bad / Example / Use instead). Modules are discovered with ``pkgutil`` so a rule is added
by adding its file, without editing any list.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from capsys.lint.context import FileContext
from capsys.lint.model import Finding

__all__ = ["LintRule", "all_rules", "implemented_codes"]

_RULE_MODULE = re.compile(r"^cap[0-9]{3}_\w+$")


@dataclass(frozen=True)
class LintRule:
    code: str
    module: str
    check: Callable[[FileContext], Iterable[Finding]]
    doc: str


def _load(module: ModuleType) -> LintRule:
    code = getattr(module, "CODE", None)
    check = getattr(module, "check", None)
    if not isinstance(code, str) or not callable(check):
        raise TypeError(f"{module.__name__}: a rule module defines CODE and check(ctx)")
    return LintRule(code, module.__name__, check, module.__doc__ or "")


@cache
def all_rules() -> tuple[LintRule, ...]:
    """Every rule of the package, sorted by code then module name."""
    rules = [
        _load(importlib.import_module(f"{__name__}.{info.name}"))
        for info in pkgutil.iter_modules(__path__)
        if _RULE_MODULE.match(info.name)
    ]
    return tuple(sorted(rules, key=lambda r: (r.code, r.module)))


def implemented_codes() -> frozenset[str]:
    """The codes the linter reports (CAP000 is the engine's own)."""
    return frozenset({"CAP000", *(r.code for r in all_rules())})
