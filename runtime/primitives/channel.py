"""``channel(capacity)``: a bounded many-producer, many-consumer queue of sendable items.

Agents run on several worker threads, each with its own event loop, and outside code
runs on yet another; a channel is shared by all of them. So the buffer is guarded by a
``threading.Lock`` and a waiting task is woken through its own loop's thread-safe entry
point (``runtime.backends.Loop.call_threadsafe``).

An item put while getters wait is handed to the one that has waited longest (FIFO), so
consumers take turns: a consumer that loops over the channel cannot take every item
before the getters it woke get to run. A getter cancelled after an item was handed to it
gives it back at the front of the queue (or to the next getter), so nothing is lost. A
putter's wake-up only says "look again". Items pass the same sendability check as a
``send``; an ``Iso`` put into a channel is moved.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, NoReturn, TypeVar

from capsys.errors import CapabilityError, CapabilityUsageError
from capsys.sendable import move_payload, payload_moves
from runtime.arguments import is_count
from runtime.backends import current_loop
from runtime.cell import debug_checks

__all__ = ["Channel", "ChannelClosed", "ChannelEmpty", "ChannelFull", "channel"]

T = TypeVar("T")


class ChannelFull(CapabilityError):
    """``send`` on a full channel: ``await put(...)`` waits for room instead."""


class ChannelEmpty(CapabilityError):
    """``get_nowait`` on an empty channel: ``await get()`` waits for an item instead."""


class ChannelClosed(CapabilityError):
    """The channel was closed: no more puts; gets fail once it is drained."""


class _Wakeup:
    """A one-shot, thread-safe wake-up for the task that created it: an event of the
    task's own loop, set through that loop's thread-safe entry point."""

    __slots__ = ("_event", "_loop", "fired", "handed", "item")

    def __init__(self) -> None:
        self.fired = False
        self.handed = False  # a getter's: ``item`` was handed to it (see Channel._offer)
        self.item: Any = None
        self._loop = current_loop()
        self._event = self._loop.new_event()

    def fire(self) -> None:
        """Wake the waiter (called with the channel lock held; never blocks). A loop that
        has already finished has nobody left to wake."""
        self.fired = True
        self._loop.call_threadsafe(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()


class Channel(Generic[T]):
    """A bounded FIFO shared by agents and outside code; see the module docstring."""

    def __init__(self, capacity: int) -> None:
        if not is_count(capacity) or capacity < 1:
            raise CapabilityUsageError(
                f"channel capacity must be an int of at least 1, got {capacity!r}"
            )
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._getters: deque[_Wakeup] = deque()
        self._putters: deque[_Wakeup] = deque()
        self._lock = threading.Lock()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def __reduce__(self) -> NoReturn:
        # Shared by reference, never copied: a copy (a pickled channel sent to a Ray
        # actor, say) would be a second channel that nobody else reads or writes.
        raise CapabilityUsageError(
            "a Channel is shared by reference between the agents of one process and "
            "cannot be pickled or copied (a Ray actor cannot use it); send its items instead"
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @staticmethod
    def _wake_one(waiters: deque[_Wakeup]) -> None:
        while waiters:
            waiter = waiters.popleft()
            if not waiter.fired:
                waiter.fire()
                return

    def _offer(self, item: T, moving: str | None) -> bool:
        """Append under the lock if there is room; wake one getter. ``moving`` names the
        call when ``item`` carries an ``Iso``: it moves only here, once the item is
        taken, so a full or closed channel (or a cancelled put) keeps the caller's
        handle."""
        with self._lock:
            if self._closed:
                raise ChannelClosed("put on a closed channel")
            getter = self._waiting(self._getters)
            if getter is None and len(self._items) >= self.capacity:
                return False
            if moving is not None:
                (item,), _ = move_payload(moving, (item,), {})
            if getter is None:
                self._items.append(item)
            else:  # getters wait only while the buffer is empty: hand it over
                self._hand(getter, item)
                # The item took no room, so pass the room on: a putter parked while the
                # buffer was full would otherwise wait for a get_nowait that never comes
                # (the getters all wait for hand-overs).
                self._wake_one(self._putters)
            return True

    @staticmethod
    def _waiting(waiters: deque[_Wakeup]) -> _Wakeup | None:
        """The longest-waiting live waiter, taken off the queue (called with the lock)."""
        while waiters:
            waiter = waiters.popleft()
            if not waiter.fired:
                return waiter
        return None

    @staticmethod
    def _hand(getter: _Wakeup, item: T) -> None:
        getter.item = item
        getter.handed = True
        getter.fire()

    def _give_back(self, item: T) -> None:
        """An item handed to a getter that was cancelled: to the next getter, else to the
        front of the queue, where it was the oldest (called with the lock)."""
        getter = self._waiting(self._getters)
        if getter is not None:
            self._hand(getter, item)
        else:
            self._items.appendleft(item)

    def send(self, item: T) -> None:
        """Put ``item`` now; raise ``ChannelFull`` when there is no room."""
        deep = debug_checks()
        moving = "Channel.send" if payload_moves("Channel.send", (item,), {}, deep) else None
        if not self._offer(item, moving):
            raise ChannelFull(
                f"channel is full ({self.capacity} items): use 'await channel.put(item)' "
                "to wait for room, or give it a larger capacity"
            )

    async def put(self, item: T) -> None:
        """Put ``item``, waiting while the channel is full."""
        deep = debug_checks()
        moving = "Channel.put" if payload_moves("Channel.put", (item,), {}, deep) else None
        while not self._offer(item, moving):
            await self._park(self._putters, lambda: len(self._items) >= self.capacity)

    def get_nowait(self) -> T:
        """Take the oldest item now; ``ChannelEmpty`` if there is none."""
        with self._lock:
            if not self._items:
                if self._closed:
                    raise ChannelClosed("channel is closed and drained")
                raise ChannelEmpty("channel is empty: use 'await channel.get()' to wait")
            item = self._items.popleft()
            self._wake_one(self._putters)
            return item

    async def get(self) -> T:
        """Take the oldest item, waiting while the channel is empty."""
        while True:
            try:
                return self.get_nowait()
            except ChannelEmpty:
                pass
            getter = _Wakeup()
            with self._lock:
                queued = not self._items and not self._closed
                if queued:  # (else the state changed meanwhile: look again)
                    self._getters.append(getter)
            if not queued:
                continue
            try:
                await getter.wait()
            except BaseException:
                with self._lock:
                    if getter.handed:
                        self._give_back(getter.item)
                    getter.fired = True  # dead: nobody hands it anything now
                raise
            if getter.handed:
                return getter.item  # type: ignore[no-any-return]
            # woken by close(): take what is left, or learn that the channel is closed

    async def _park(self, waiters: deque[_Wakeup], still_blocked: Callable[[], bool]) -> None:
        waiter = _Wakeup()
        with self._lock:
            if not still_blocked():  # the state changed before we queued: retry at once
                return
            waiters.append(waiter)
        try:
            await waiter.wait()
        except BaseException:
            with self._lock:
                if waiter.fired:  # woken, but leaving: hand the wake-up to the next one
                    self._wake_one(waiters)
                else:
                    waiter.fired = True  # mark dead so nobody wakes it
            raise

    def close(self) -> None:
        """No more puts; waiting getters drain what is left, then get ``ChannelClosed``."""
        with self._lock:
            self._closed = True
            for waiters in (self._getters, self._putters):
                while waiters:
                    waiter = waiters.popleft()
                    if not waiter.fired:
                        waiter.fire()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._drain()

    async def _drain(self) -> AsyncIterator[T]:
        while True:
            try:
                yield await self.get()
            except ChannelClosed:
                return


def channel(capacity: int) -> Channel[Any]:
    """A new bounded channel; annotate the variable for a typed one:
    ``jobs: Channel[Job] = channel(100)``."""
    return Channel(capacity)
