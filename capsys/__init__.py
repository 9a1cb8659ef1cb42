"""capsys: Pony-style reference capabilities for Python agents (SPEC §2-3).

The public names are exactly those of the specification; everything else lives in
submodules (``capsys.sendable`` for the table, ``capsys.diagnostics`` for the rules).
"""

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
