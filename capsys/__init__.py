"""capsys: Pony-style reference capabilities for Python agents (SPEC §2-3).

The public names are exactly those of the specification; everything else lives in
submodules (``capsys.sendable`` for the table, ``capsys.diagnostics`` for the rules).

The names load on first use (PEP 562): the mypy plugin and the linter import
``capsys.config`` and friends on every run and need none of the DSL, which costs a few
milliseconds of a fully cached mypy run otherwise. Type checkers read the imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capsys.agent import Agent, behaviour, message
    from capsys.capabilities import Iso, Ref, Val, consume, iso, val
    from capsys.errors import CapabilityError, MovedError, NotSendableError
    from capsys.tag import Tag

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "CapabilityError",
    "Iso",
    "MovedError",
    "NotSendableError",
    "Ref",
    "Tag",
    "Val",
    "behaviour",
    "consume",
    "iso",
    "message",
    "val",
]

_HOME = {
    "Agent": "capsys.agent",
    "behaviour": "capsys.agent",
    "message": "capsys.agent",
    "Iso": "capsys.capabilities",
    "Ref": "capsys.capabilities",
    "Val": "capsys.capabilities",
    "consume": "capsys.capabilities",
    "iso": "capsys.capabilities",
    "val": "capsys.capabilities",
    "CapabilityError": "capsys.errors",
    "MovedError": "capsys.errors",
    "NotSendableError": "capsys.errors",
    "Tag": "capsys.tag",
}

if not TYPE_CHECKING:  # at run time only: a type checker must not see a catch-all

    def __getattr__(name: str) -> object:
        home = _HOME.get(name)
        if home is None:
            raise AttributeError(f"module 'capsys' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
