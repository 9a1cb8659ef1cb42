"""The thread-safe entry points of one event loop, for asyncio and for trio.

The scheduler itself is backend-neutral; everything it needs from a loop is here: wake it
from another thread (``call_soon_threadsafe`` / ``TrioToken.run_sync_soon``), a reply slot
an ``ask`` awaits, a parking spot for an idle worker, tasks for async behaviours and a
cheap yield. These are native calls, not anyio's portable wrappers, because they sit on
the message path (an anyio memory stream hop costs ~20 µs against ~5 µs for the native
primitives on this machine). Nothing here polls.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

__all__ = ["Loop", "current_loop", "Reply", "Parker"]

_get_ident = threading.get_ident


class _Outbox(threading.local):
    # On a worker thread: answers for other threads' loops, batched per loop and sent
    # with one thread-safe call at the end of the worker's turn (``flush_replies``).
    # A fan-in server answering 100 askers spread over two workers otherwise pays one
    # cross-thread wake-up per answer. None elsewhere: answers go out at once.
    pending: (
        dict[Callable[..., object], list[tuple[Callable[..., object], tuple[Any, ...]]]] | None
    ) = None


_outbox = _Outbox()


def _run_all(items: list[tuple[Callable[..., object], tuple[Any, ...]]]) -> None:
    for fn, args in items:
        fn(*args)


def start_reply_batching() -> dict[Any, Any]:
    """Make this (worker) thread batch its cross-thread answers; returns the batch."""
    pending: dict[Any, Any] = {}
    _outbox.pending = pending
    return pending


def flush_replies() -> None:
    """Send the batched answers: one thread-safe call per destination loop."""
    pending = _outbox.pending
    if not pending:
        return
    batches = list(pending.items())
    pending.clear()
    for call_threadsafe, items in batches:
        # RuntimeError (asyncio) / RunFinishedError (trio): that loop is gone and
        # nobody is waiting for these answers any more.
        with contextlib.suppress(Exception):
            call_threadsafe(_run_all, items)


def _send_soon(
    call_threadsafe: Callable[..., object], fn: Callable[..., object], *args: Any
) -> None:
    pending = _outbox.pending
    if pending is None:
        with contextlib.suppress(Exception):
            call_threadsafe(fn, *args)
        return
    batch = pending.get(call_threadsafe)
    if batch is None:
        pending[call_threadsafe] = [(fn, args)]
    else:
        batch.append((fn, args))


def _nothing() -> None:
    return None


class Reply(Protocol):
    """Where the answer of one ``ask`` lands; resolved from any thread, awaited on its
    own loop. If the asker went away (cancelled, timed out) the answer is dropped."""

    def resolve(self, ok: bool, value: Any) -> None: ...

    def wait(self) -> Awaitable[Any]: ...


class Loop(abc.ABC):
    """One running event loop and the thread that runs it (asyncio or trio)."""

    backend: str
    thread_id: int

    @abc.abstractmethod
    def call_threadsafe(self, fn: Callable[..., object], *args: Any) -> bool:
        """Run ``fn(*args)`` soon on this loop; False if the loop has finished."""
        raise NotImplementedError

    @abc.abstractmethod
    def new_reply(self) -> Reply:
        raise NotImplementedError

    @abc.abstractmethod
    def new_event(self) -> Any:
        raise NotImplementedError

    @abc.abstractmethod
    def start(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Start a task on this loop (called on the loop's own thread)."""
        raise NotImplementedError

    @abc.abstractmethod
    def cancel_tasks(self) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def checkpoint(self) -> Awaitable[None]:
        raise NotImplementedError

    def wake_on_signals(self) -> Callable[[], None]:
        """Make a signal wake this loop even when another thread catches it; returns
        the undo. Trio always arranges this itself, so by default there is nothing to do."""
        return _nothing


# ----------------------------------------------------------------------------- asyncio


def _aio_set(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the asker was cancelled or timed out: drop the answer
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _AioReply(asyncio.Future):  # type: ignore[type-arg]
    """The reply slot *is* the future the asker awaits: one object per ask, and no
    coroutine between the asker and the answer (measured on the fan-in benchmark)."""

    __slots__ = ("tid",)

    tid: int

    def resolve(self, ok: bool, value: Any) -> None:
        if _get_ident() == self.tid:  # same loop: resolve in place (the common case)
            if not self.done():
                if ok:
                    self.set_result(value)
                else:
                    self.set_exception(value)
            return
        _send_soon(self.get_loop().call_soon_threadsafe, _aio_set, self, ok, value)

    def wait(self) -> Awaitable[Any]:
        return self


class _FutureEvent:
    """A one-shot event on a bare future: cheaper than ``asyncio.Event`` (no waiter
    list), which matters for a worker that parks and wakes thousands of times."""

    __slots__ = ("fut",)

    def __init__(self, fut: asyncio.Future[None]) -> None:
        self.fut = fut

    def set(self) -> None:
        if not self.fut.done():
            self.fut.set_result(None)

    def is_set(self) -> bool:
        return self.fut.done()

    async def wait(self) -> None:
        await self.fut  # a cancelled waiter cancels the future: a later set() is a no-op


class AsyncioLoop(Loop):
    backend = "asyncio"

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.thread_id = _get_ident()
        self.tasks: set[asyncio.Task[None]] = set()

    def call_threadsafe(self, fn: Callable[..., object], *args: Any) -> bool:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            return False
        return True

    def new_reply(self) -> Reply:
        reply = _AioReply(loop=self.loop)
        reply.tid = self.thread_id
        return reply

    def new_event(self) -> Any:
        return _FutureEvent(self.loop.create_future())

    def start(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        task = self.loop.create_task(fn(*args))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            if inspect.getcoroutinestate(task.get_coro()) == inspect.CORO_CREATED:  # type: ignore[arg-type]
                # Not started: cancelled now, the coroutine would be closed before its
                # body ran, and with it the handler that dead-letters the message and
                # stops the agent (trio delivers a cancel at a checkpoint instead).
                # After its first step, which is already scheduled, it is cancelled
                # where it awaits.
                self.loop.call_soon(task.cancel)
            else:
                task.cancel()

    def checkpoint(self) -> Awaitable[None]:
        return asyncio.sleep(0)

    def wake_on_signals(self) -> Callable[[], None]:
        # asyncio.Runner's Ctrl-C handler is a plain ``signal.signal`` handler, which
        # Python runs only when the main thread next executes bytecode. A signal that
        # lands while the main thread is on its way into ``select``, or on one of our
        # worker threads, leaves a loop with nothing scheduled (say, under
        # ``await anyio.sleep(60)``) asleep with the handler pending: on 3.13 about
        # one Ctrl-C in 20 hung the runtime. Python writes to the wakeup fd from
        # whichever thread catches the signal, so a socket this loop reads closes the
        # window. Only where no wakeup fd is set yet (``loop.add_signal_handler`` sets
        # one) and only on the main thread, as ``set_wakeup_fd`` requires.
        if threading.current_thread() is not threading.main_thread():
            return _nothing
        previous = signal.set_wakeup_fd(-1)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            return _nothing
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)

        def drain() -> None:
            with contextlib.suppress(OSError):
                reader.recv(4096)

        try:
            self.loop.add_reader(reader.fileno(), drain)
        except NotImplementedError:  # a loop without readers (Windows' proactor)
            reader.close()
            writer.close()
            return _nothing
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

        def undo() -> None:
            current = signal.set_wakeup_fd(-1)
            if current != writer.fileno():  # someone replaced ours since: keep theirs
                signal.set_wakeup_fd(current)
            with contextlib.suppress(Exception):
                self.loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()

        return undo


# -------------------------------------------------------------------------------- trio


class _TrioReply:
    """An ask's answer on trio: the waiting task is parked with
    ``wait_task_rescheduled`` and rescheduled with the outcome, which costs less than
    a ``trio.Event`` per ask (measured on the fan-in benchmark). Everything but
    ``resolve`` runs on the asker's thread."""

    __slots__ = ("done", "lowlevel", "outcome", "result", "task", "tid", "token")

    def __init__(self, loop: TrioLoop) -> None:
        self.lowlevel = loop.trio.lowlevel
        self.outcome = loop.outcome
        self.token = loop.token
        self.tid = loop.thread_id
        self.task: Any = None  # the waiting task, once it waits
        self.result: tuple[bool, Any] | None = None  # an answer that came before the wait
        self.done = False  # answered, or the asker went away

    def resolve(self, ok: bool, value: Any) -> None:
        if _get_ident() == self.tid:
            self._deliver(ok, value)
        else:
            _send_soon(self.token.run_sync_soon, self._deliver, ok, value)

    def _deliver(self, ok: bool, value: Any) -> None:
        if self.done:
            return  # the asker was cancelled or timed out: drop the answer
        self.done = True
        task = self.task
        if task is None:
            self.result = (ok, value)
            return
        self.task = None
        result = self.outcome.Value(value) if ok else self.outcome.Error(value)
        self.lowlevel.reschedule(task, result)

    def wait(self) -> Awaitable[Any]:
        return self._wait()

    async def _wait(self) -> Any:
        if self.result is not None:
            # Answered before the wait (an ask refused at once, to a stopped agent):
            # no checkpoint, as awaiting a done future on asyncio yields none, so that
            # deterministic mode interleaves the caller and the agents alike on both.
            ok, value = self.result
            if ok:
                return value
            raise value
        self.task = self.lowlevel.current_task()

        def abort(raise_cancel: Any) -> Any:
            self.done = True  # a later answer is dropped
            self.task = None
            return self.lowlevel.Abort.SUCCEEDED

        return await self.lowlevel.wait_task_rescheduled(abort)


class TrioLoop(Loop):
    backend = "trio"

    def __init__(self) -> None:
        import outcome  # a dependency of trio
        import trio

        self.trio = trio
        self.outcome = outcome
        self.token = trio.lowlevel.current_trio_token()
        self.thread_id = _get_ident()
        self.nursery: Any = None  # set by a worker that runs async behaviours
        self.scopes: set[Any] = set()

    def call_threadsafe(self, fn: Callable[..., object], *args: Any) -> bool:
        try:
            self.token.run_sync_soon(fn, *args)
        except self.trio.RunFinishedError:
            return False
        return True

    def new_reply(self) -> Reply:
        return _TrioReply(self)

    def new_event(self) -> Any:
        return self.trio.Event()

    def start(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        self.nursery.start_soon(self._guarded, fn, args)

    async def _guarded(self, fn: Callable[..., Coroutine[Any, Any, None]], args: Any) -> None:
        # Each task gets its own cancel scope: cancelling the nursery's would also
        # cancel the worker loop that runs inside it.
        with self.trio.CancelScope() as scope:
            self.scopes.add(scope)
            try:
                await fn(*args)
            finally:
                self.scopes.discard(scope)

    def cancel_tasks(self) -> None:
        for scope in list(self.scopes):
            scope.cancel()

    def checkpoint(self) -> Awaitable[None]:
        return self.trio.lowlevel.checkpoint()


def running_backend() -> str:
    """ "asyncio" or "trio": the backend of the loop running in this thread.

    No sniffio (anyio no longer depends on it): a running asyncio loop is asyncio;
    anything else that anyio runs is trio.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "trio"
    return "asyncio"


def current_loop() -> Loop:
    """The loop running in this thread, whichever backend it is."""
    if running_backend() == "trio":
        return TrioLoop()
    return AsyncioLoop()


class Parker:
    """Where an idle worker waits for work. ``unpark`` may come from any thread and may
    come before ``park`` (then ``park`` returns at once), so no wake-up is lost: both
    the flag and the event are only touched on the loop's own thread."""

    __slots__ = ("event", "loop", "pending")

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.pending = False
        self.event: Any = None

    def _wake(self) -> None:
        self.pending = True
        if self.event is not None:
            self.event.set()

    def unpark(self) -> None:
        if _get_ident() == self.loop.thread_id:
            self._wake()
        else:
            self.loop.call_threadsafe(self._wake)

    async def park(self) -> None:
        if not self.pending:
            event = self.event = self.loop.new_event()
            await event.wait()
            self.event = None
        self.pending = False
