"""Fully-qualified names of capsys' own capability types, for the checkers.

Kept free of imports so the mypy plugin can learn them without loading the DSL (a
fully cached mypy run imports nothing else of capsys' checking code).
"""

from __future__ import annotations

from typing import Final

__all__ = ["CAPSYS_NAMES"]

CAPSYS_NAMES: Final[dict[str, str]] = {
    "Iso": "capsys.capabilities.Iso",
    "Val": "capsys.capabilities.Val",
    "Ref": "capsys.capabilities.Ref",
    "Tag": "capsys.tag.Tag",
    "Agent": "capsys.agent.Agent",
    "behaviour": "capsys.agent.behaviour",
    "message": "capsys.agent.message",
    "iso": "capsys.capabilities.iso",
    "val": "capsys.capabilities.val",
    "consume": "capsys.capabilities.consume",
}
