"""Supervision: what happens to an agent whose behaviour raised.

An agent class chooses with a class attribute, for example::

    class Book(Agent):
        supervision = Supervision("stop")

``restart`` (the default) re-creates the agent object by running ``__init__`` again with
the original spawn arguments and keeps its mailbox; more than ``max_restarts`` failures
within ``within`` seconds stop it instead. An ``Iso`` given to ``spawn`` was moved into
the first object and cannot be given again, so such an agent is stopped instead of
restarted. ``stop`` stops the agent (queued messages go to the dead letters, ``on_stop``
runs). ``escalate`` ends the runtime: the error is raised from ``async with Runtime()``.
Whatever the policy, an ``ask`` whose behaviour raised gets that exception.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from runtime.arguments import is_count, is_seconds

__all__ = ["Supervision", "PolicyName", "RESTART", "STOP", "ESCALATE"]

PolicyName = Literal["restart", "stop", "escalate"]


@dataclasses.dataclass(frozen=True)
class Supervision:
    """An agent class's supervision policy and restart-intensity limit."""

    policy: PolicyName = "restart"
    max_restarts: int = 3
    within: float = 5.0

    def __post_init__(self) -> None:
        if self.policy not in ("restart", "stop", "escalate"):
            raise ValueError(
                f"Supervision policy {self.policy!r}: use 'restart', 'stop' or 'escalate'"
            )
        if not is_count(self.max_restarts):
            raise TypeError(f"Supervision max_restarts must be an int, got {self.max_restarts!r}")
        if not is_seconds(self.within):
            raise TypeError(f"Supervision within must be seconds, got {self.within!r}")
        if self.max_restarts < 0 or not self.within > 0:
            raise ValueError("Supervision needs max_restarts >= 0 and within > 0 seconds")


RESTART = Supervision("restart")
STOP = Supervision("stop")
ESCALATE = Supervision("escalate")


def supervision_of(cls: type) -> Supervision:
    """The policy declared on an agent class (a ``Supervision`` or a policy name)."""
    declared = getattr(cls, "supervision", RESTART)
    if isinstance(declared, Supervision):
        return declared
    if isinstance(declared, str):
        return Supervision(declared)  # type: ignore[arg-type]  # validated in __post_init__
    raise TypeError(
        f"{cls.__qualname__}.supervision must be a runtime.Supervision or one of "
        f"'restart', 'stop', 'escalate', got {declared!r}"
    )
