"""The dead-letter log: messages that reached a stopped agent are counted and kept
(the most recent ones) so nothing is ever dropped silently."""

from __future__ import annotations

import collections
import threading
from typing import NamedTuple

__all__ = ["DeadLetter", "DeadLetters"]


class DeadLetter(NamedTuple):
    """One undelivered message: who sent it (``"outside"`` for a non-agent caller), to
    whom, and which behaviour."""

    sender: str
    receiver: str
    behaviour: str


class DeadLetters:
    """Count of all dead letters plus a bounded list of the most recent ones."""

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()  # written from any worker thread
        self._recent: collections.deque[DeadLetter] = collections.deque(maxlen=keep)
        self._count = 0
        self.hooks = 0  # lifecycle hooks queued by the runtime and not run: not letters

    def drop_hook(self) -> None:
        """Count a queued lifecycle hook that its agent's stop overtook (see
        Runtime.dead_letter): done, like a letter, but nobody sent it."""
        with self._lock:
            self.hooks += 1

    def add(self, sender: str, receiver: str, behaviour: str) -> None:
        letter = DeadLetter(sender, receiver, behaviour)
        with self._lock:
            self._count += 1
            self._recent.append(letter)

    @property
    def count(self) -> int:
        """How many messages went to the dead letters since the runtime started."""
        return self._count

    @property
    def recent(self) -> list[DeadLetter]:
        """The most recent dead letters, oldest first (bounded)."""
        with self._lock:
            return list(self._recent)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"<DeadLetters count={self._count}>"
