"""The work-stealing executor: workers, run queues, stealing, parking, the monitor.

Each worker is an OS thread running an event loop of the caller's backend. A worker's
turn takes one runnable cell and calls its sync behaviours directly, up to ``BATCH``
messages, then moves on; an async behaviour becomes a task on the worker's loop and the
cell stays busy until it finishes. Where work comes from, in order:

1. every ``INJECT_EVERY`` turns, the shared injection queues, then the worker's LOW queue
   (fairness: outside sends and low-priority agents are never starved);
2. the worker's CRITICAL queue, then its HIGH queue;
3. the LIFO slot: the cell this worker's last send woke, so a request/reply pair runs
   back to back on one thread with hot caches and no hand-off; at most ``LIFO_STREAK``
   times in a row so a ping-pong pair cannot starve the rest;
4. the local run queue (FIFO, bounded ``LOCAL_CAP``; overflow goes to the injection queue);
5. the injection queues, then the worker's LOW queue, then stealing half of one queue of
   a random victim, highest priority first (at most ``workers/2`` workers search at once);
6. nothing: park until a sender or the monitor wakes this worker.

Thread safety: run queues are ``collections.deque``s whose ``append``/``popleft``/``pop``
are single atomic operations under the GIL (and take the deque's own lock on
free-threaded builds); the LIFO slot is a list touched only by atomic ``append``/``pop``.
Counters are per worker, written only by their own thread and summed when read.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import random
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from capsys.sendable import SHARED_TYPES, check_value
from runtime.backends import Loop, Parker, current_loop, flush_replies, start_reply_batching
from runtime.cell import (
    STAMP_EVERY,
    Answer,
    Cell,
    Entry,
    Message,
    Priority,
    claim,
    current_async,
    message,
    message_args,
    refuse,
    tls,
)

if TYPE_CHECKING:
    from capsys.agent import Agent
    from runtime.core import Runtime

__all__ = ["Worker", "DeterministicWorker", "Monitor"]

log = logging.getLogger("runtime")

BATCH = 64  # messages per cell turn: amortises the scheduling cost, bounds latency
LOCAL_CAP = 256
INJECT_EVERY = 61  # as Go: a prime, so it does not resonate with other periods
LIFO_STREAK = 16  # Tokio uses 3 polls; a turn here is one message, so allow more
YIELD_EVERY = 32  # turns between loop yields while async behaviours are in flight
IDLE_SPINS = 2  # loop yields, with async behaviours in flight, before parking
EMA_ALPHA = 0.2
_SHARED = SHARED_TYPES


class Worker:
    """One scheduler thread (see the module docstring).

    Slotted: a Worker's fields are read on every send and every turn, and a slot read is
    CPython's fastest attribute access at any field count (a plain instance past 29
    attributes falls back to a dict lookup on 3.11: measured 3.5% more instructions per
    pingpong message).
    """

    __slots__ = (
        "busy",
        "cpu_clock",
        "crit",
        "current",
        "depth_watch",
        "handled",
        "hi",
        "index",
        "inflight",
        "inline_asks",
        "label",
        "lifo",
        "lifo_streak",
        "local",
        "loop",
        "low",
        "max_depth",
        "mutes",
        "open_rt",
        "outbox",
        "parker",
        "restarts",
        "rt",
        "sent",
        "sleeping",
        "stamp_at",
        "steals",
        "stops_done",
        "stops_started",
        "thread",
        "tick",
        "trace",
        "turns",
    )

    def __init__(self, rt: Runtime, index: int) -> None:
        self.rt = rt
        # The runtime whose sends take CellTag.send's fast path on this thread: rt until
        # it starts closing (one compare there, instead of also reading rt.closing).
        self.open_rt: Runtime | None = rt
        self.index = index
        self.local: collections.deque[Cell] = collections.deque()
        # run queues of the other priorities (see Priority and run_queues)
        self.crit: collections.deque[Cell] = collections.deque()
        self.hi: collections.deque[Cell] = collections.deque()
        self.low: collections.deque[Cell] = collections.deque()
        self.lifo: list[Cell] = []
        self.lifo_streak = 0
        self.current: Cell | None = None
        self.label: str | None = None  # current's label, for the sends it makes
        self.loop: Loop | None = None
        self.parker: Parker | None = None
        self.sleeping = False
        self.tick = 0
        self.inflight = 0  # async behaviours (and hooks) running as tasks on this loop
        # counters, written by this thread only
        self.sent = 0
        self.stamp_at = 0  # the value of sent at which the next send carries a stamp
        self.handled = 0
        self.steals = 0
        self.mutes = 0
        self.restarts = 0
        self.stops_started = 0
        self.stops_done = 0
        self.max_depth = 0
        # the mailbox depth from which CellTag.send looks further: a new deepest
        # mailbox or high water, whichever comes first (its common case tests one number)
        self.depth_watch = 1
        # read by the monitor
        self.turns = 0
        self.busy = False
        self.thread: threading.Thread | None = None
        self.cpu_clock: int | None = None  # this thread's CPU-time clock (see Monitor)
        self.trace: list[tuple[str, str]] | None = None
        self.outbox: dict[Any, Any] = {}  # batched cross-thread answers (backends)
        self.inline_asks = 0  # asks answered by ask_inline, for the yield every 16th

    def run_queues(self) -> tuple[collections.deque[Cell], ...]:
        """All the run queues, best first."""
        return (self.crit, self.hi, self.local, self.low)

    def count_send(self) -> bool:
        """Count a send made on this worker; True if it should carry a latency stamp
        (one in STAMP_EVERY, see runtime.metrics). A countdown, not ``sent & mask``:
        CPython 3.11 specialises an int compare, not an int ``&``. CellTag.send inlines
        this."""
        sent = self.sent = self.sent + 1
        if sent < self.stamp_at:
            return False
        self.stamp_at = sent + STAMP_EVERY
        return True

    # ------------------------------------------------------------------- queues

    def ranked_queue(self, cell: Cell) -> collections.deque[Cell]:
        """The run queue of a cell that is not NORMAL."""
        p = cell.info.priority
        return self.crit if p is Priority.CRITICAL else self.hi if p is Priority.HIGH else self.low

    def push(self, cell: Cell) -> None:
        """Queue a runnable cell on this worker (called on this worker's thread)."""
        if cell.info.prioritised:
            self.ranked_queue(cell).append(cell)
        else:
            local = self.local
            local.append(cell)
            if len(local) > LOCAL_CAP:
                rt = self.rt
                for _ in range(LOCAL_CAP // 2):  # overflow half to the shared queue
                    try:
                        rt.inject.append(local.popleft())
                    except IndexError:
                        break
        if self.sleeping:  # an async task on this loop made work while we are parked
            self.parker.unpark()  # type: ignore[union-attr]
        self.rt.notify()

    def requeue(self, cell: Cell) -> None:
        """Put back a cell this worker just ran that still has messages.

        Other workers are woken only if there is something besides this cell to steal:
        waking one to take the very cell we are about to run again would just bounce
        the cell between threads (a GIL hand-off and a wake-up per batch).
        """
        if cell.info.prioritised:
            self.ranked_queue(cell).append(cell)
        else:
            self.local.append(cell)
        if self.sleeping:  # an async behaviour ended while this worker is parked
            self.parker.unpark()  # type: ignore[union-attr]
        if len(self.local) + len(self.hi) + len(self.crit) + len(self.low) > 1:
            self.rt.notify()

    def push_lifo(self, cell: Cell) -> None:
        """The cell this worker just woke by a send: run it next (see LIFO_STREAK)."""
        if cell.info.prioritised:
            self.push(cell)
            return
        lifo = self.lifo
        if lifo:
            try:
                prev = lifo.pop()
            except IndexError:  # the monitor took it meanwhile
                pass
            else:
                lifo.append(cell)
                self.push(prev)
                return
        lifo.append(cell)
        if self.sleeping:
            self.parker.unpark()  # type: ignore[union-attr]

    def next_cell(self) -> Cell | None:
        rt = self.rt
        if self.tick % INJECT_EVERY == 0:
            cell = rt.take_injected() or pop_first(self.low)
            if cell is not None:
                return cell
        if self.crit or self.hi:  # (tested first: the common case calls nothing)
            cell = pop_first(self.crit) or pop_first(self.hi)
            if cell is not None:
                return cell
        if self.lifo and self.lifo_streak < LIFO_STREAK:
            try:
                cell = self.lifo.pop()
            except IndexError:
                pass
            else:
                self.lifo_streak += 1
                return cell
        self.lifo_streak = 0
        if self.local:
            try:
                return self.local.popleft()
            except IndexError:
                pass
        if self.lifo:
            try:
                return self.lifo.pop()
            except IndexError:
                pass
        cell = rt.take_injected()
        if cell is None and self.low:
            cell = pop_first(self.low)
        if cell is not None:
            return cell
        return self.steal()

    def steal(self) -> Cell | None:
        rt = self.rt
        workers = rt.workers
        if len(workers) < 2 or not rt.begin_search():
            return None
        try:
            victims = [w for w in workers if w is not self and any(w.run_queues())]
            random.shuffle(victims)
            for victim in victims:
                # queue by queue, best first; what is taken stays at its own level here
                for theirs, ours in zip(victim.run_queues(), self.run_queues(), strict=True):
                    got = _take_half(theirs)
                    if got:
                        self.steals += 1
                        ours.extend(got[1:])
                        return got[0]
            return None
        finally:
            rt.end_search()

    def has_work(self) -> bool:
        rt = self.rt
        return bool(
            any(self.run_queues())
            or self.lifo
            or any(rt.injected)
            or (
                len(rt.workers) > 1
                and any(any(w.run_queues()) for w in rt.workers if w is not self)
            )
        )

    # --------------------------------------------------------------------- turn

    def run_cell(self, cell: Cell) -> None:
        """Turns of runnable cells, starting with ``cell``. HOT PATH.

        Runs up to ``batch`` sync behaviours of the cell inline, then, while the LIFO
        slot holds the cell this turn woke (a request/reply pair) and its streak allows,
        goes straight on with that one without returning to the scheduler loop. Every
        function call avoided here is a measurable share of a message's cost, so the
        message tuple is unpacked in place, a behaviour without keyword arguments is
        called without ``**{}``, handling time is sampled (``perf_counter`` is not
        free) and the common end of a turn is inlined.
        """
        rt = self.rt
        trace = self.trace
        batch = rt.batch
        lifo = self.lifo
        outbox = self.outbox
        while True:
            if cell.stopping or rt.closing:
                self.stop_cell(cell)
                return
            mb = cell.mailbox
            assert mb is not None
            agent = cell.agent
            entries = cell.info.entries
            n = 0  # messages handled this turn
            flushed = 0  # of which already added to the counters
            self.current = cell
            self.label = cell.label or cell.make_label()
            if self.turns & 31 and cell.ema:  # the first turn of every cell is timed too
                t0 = c0 = 0.0
            else:  # one turn in 32: wall and CPU time (runtime.metrics)
                t0 = time.perf_counter()
                c0 = time.thread_time()
            # The messages queued now, up to a batch: a counted loop costs two bytecodes
            # a message against ten for testing the count and the mailbox each time.
            # Messages arriving meanwhile wait for the next turn (requeued below).
            k = len(mb)
            if k > batch:
                k = batch
            try:
                # n: messages handled this turn, this one too (the monitor reads it off
                # this frame: see turn_progress)
                for n in range(1, k + 1):
                    try:
                        msg = mb.popleft()
                    except IndexError:  # a stop's drain emptied it (another thread)
                        n -= 1
                        break
                    key, args, kw, reply, _ = msg
                    entry = entries[key]
                    if trace is not None:
                        trace.append((cell.name, entry.name))
                    if entry.is_async:
                        self.current = None
                        self.label = None
                        self.inflight += 1
                        self.loop.start(self.run_async, cell, msg)  # type: ignore[union-attr]
                        n -= 1  # run_async counts this one
                        return  # the cell stays scheduled until the task finishes
                    impl = entry.impl  # (3.11 cannot specialise entry.impl(...) itself)
                    try:
                        if kw is None:  # one bare argument (see runtime.cell.Message)
                            result = impl(agent, args)
                        elif kw:
                            result = impl(agent, *args, **kw)
                        else:
                            result = impl(agent, *args)
                    except Exception as exc:
                        self.handled += n - flushed
                        cell.handled += n - flushed
                        flushed = n
                        if not self.failed(cell, msg, exc):
                            return  # stopped
                        agent = cell.agent  # restarted: a new object
                        continue
                    if reply is not None:
                        # Count before answering, so an asker that reads the stats next
                        # sees its own message counted.
                        self.handled += n - flushed
                        cell.handled += n - flushed
                        flushed = n
                        # answer(), with its common cases inlined
                        if isinstance(reply, int):  # a latency stamp (see STAMP_EVERY)
                            rt.probe.handled(reply)
                        elif type(result) in _SHARED:  # an immutable atom
                            reply.resolve(True, result)
                        else:
                            self.answer(reply, result, entry.what)
                    if cell.mute_on is not None or cell.stopping:
                        break
            finally:
                self.current = None
                self.label = None
                if n - flushed:
                    self.handled += n - flushed
                    cell.handled += n - flushed
                if t0 and n:
                    wall = time.perf_counter() - t0
                    cpu = time.thread_time() - c0
                    timed(cell, wall / n, min(cpu / wall, 1.0) if wall > 0 else None)
            if cell.stopping or rt.closing or cell.x is not None or cell.mute_on is not None:
                self.finish(cell)
            elif mb:
                self.requeue(cell)
            else:
                # Inlined finish(): release, then re-check for a racing send (see finish).
                token = cell.lock
                token.append(True)  # type: ignore[union-attr]  # release
                if mb and claim(token):
                    self.requeue(cell)
            if outbox:
                flush_replies()  # this turn's answers for other threads: one wake-up each
            if not lifo or self.lifo_streak >= LIFO_STREAK or self.hi or self.crit:
                return
            try:
                cell = lifo.pop()
            except IndexError:
                return
            self.lifo_streak += 1
            self.turns += 1

    def ask_inline(
        self, cell: Cell, entry: Entry, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """One turn of ``cell``, whose token the caller holds, for an ask made by an async
        behaviour on this worker: call the sync behaviour now and return its reply.

        This is what a queued ask would do, minus the queue: the cell's mailbox was
        empty, so no earlier message is overtaken, and holding the token means nobody
        else runs the cell meanwhile. The asker's task is suspended in a plain call, as
        if this worker were running the cell's turn (``current``, ``busy`` and ``turns``
        say so, for senders and for the monitor). Failures go through supervision and
        then to the asker, as a queued ask's would. Measured on the fan-in benchmark: a
        queued ask costs two task switches and a parked worker's wake-up.
        """
        self.sent += 1
        self.current = cell
        self.label = cell.label or cell.make_label()
        self.busy = True
        self.turns += 1
        try:
            if kwargs:
                result = entry.impl(cell.agent, *args, **kwargs)
            else:
                result = entry.impl(cell.agent, *args)
        except Exception as exc:
            self.handled += 1
            cell.handled += 1
            if self.failed(cell, message(entry, args, kwargs, None, None), exc):
                self.finish(cell)
            raise
        finally:
            self.current = None
            self.label = None
            self.busy = False
        self.handled += 1
        cell.handled += 1
        self.finish(cell)
        return self.reply_value(result, entry.what)

    def reply_value(self, result: Any, what: str) -> Any:
        """An ask's reply as it may cross: an immutable atom as it is, anything else
        through the sendability check (``NotSendableError``; an ``Iso`` is moved)."""
        if type(result) in _SHARED:  # the common case
            return result
        return check_value(result, f"the reply of {what}", self.rt.debug)

    def answer(self, reply: Answer | int, result: Any, what: str) -> None:
        """A queued message was handled: resolve its ask with the reply, or with why the
        reply cannot cross; or record the latency of a sampled send (its int stamp)."""
        if isinstance(reply, int):
            self.rt.probe.handled(reply)
            return
        try:
            value = self.reply_value(result, what)
        except Exception as exc:
            reply.resolve(False, exc)
        else:
            reply.resolve(True, value)

    async def run_async(self, cell: Cell, msg: Message) -> None:
        """An async behaviour (or hook) as a task; the cell is busy until it ends."""
        try:
            await self._run_async(cell, msg)
        finally:
            flush_replies()  # answers this task gave to other threads' loops

    async def _run_async(self, cell: Cell, msg: Message) -> None:
        current_async.set(cell)
        entry = cell.info.entries[msg[0]]
        reply = msg[3]
        ok = True
        t0 = time.perf_counter()
        try:
            result = await entry.impl(cell.agent, *message_args(msg), **(msg[2] or {}))
        except anyio.get_cancelled_exc_class():
            # Only the runtime cancels these tasks (shutdown past its timeout).
            self.inflight -= 1
            self.rt.dead_letter(msg, cell)  # also answers an ask with AgentStopped
            self.stop_cell(cell)  # the runtime is closing: stop it now (on_stop runs)
            self.rt.check_quiet()
            raise
        except Exception as exc:
            timed(cell, time.perf_counter() - t0, None)
            self.handled += 1
            cell.handled += 1
            ok = self.failed(cell, msg, exc)
            self.inflight -= 1
            if ok:
                self.finish(cell)
            self.rt.check_quiet()  # this worker may be parked: nobody else would look
            return
        except BaseException as exc:
            # KeyboardInterrupt, SystemExit, a BaseException of the program's own: it
            # ends the runtime, as from a sync behaviour (there it unwinds the worker).
            # Raised on, it would end only this task, leaving the agent busy for ever
            # (asyncio) or crashing the worker's task group (trio).
            self.handled += 1
            cell.handled += 1
            self.inflight -= 1
            refuse(reply, exc)
            self.rt.escalate(exc)
            self.finish(cell)  # the runtime is closing: this stops the cell
            self.rt.check_quiet()
            return
        timed(cell, time.perf_counter() - t0, None)
        self.handled += 1
        cell.handled += 1
        self.inflight -= 1
        if reply is not None:
            self.answer(reply, result, entry.what)
        self.finish(cell)
        self.rt.check_quiet()  # this worker may be parked: nobody else would look

    def finish(self, cell: Cell) -> None:
        """End of a turn: requeue, mute, stop or release the cell."""
        rt = self.rt
        if cell.stopping or rt.closing:
            self.stop_cell(cell)
            return
        mb = cell.mailbox
        assert mb is not None
        x = cell.x
        if x is not None and (x.muted or x.waiters) and len(mb) <= rt.low_water:
            cell.release_muted()
        if cell.mute_on is not None and cell.try_mute(self):
            return  # parked on the receiver until it drains below low water
        if mb:
            self.requeue(cell)
            return
        token = cell.lock
        token.append(True)  # type: ignore[union-attr]  # release the scheduling token
        # A send may have appended after our emptiness check and failed to take the
        # token we still held: take it back if so (its append precedes its claim).
        if mb and claim(token):
            self.requeue(cell)

    def failed(self, cell: Cell, msg: Message, exc: Exception) -> bool:
        """Apply the agent's supervision policy; True if the cell keeps running."""
        entry = cell.info.entries[msg[0]]
        refuse(msg[3], exc)
        tb = exc.__traceback__
        if isinstance(exc, TypeError) and tb is not None and tb.tb_next is None:
            # Raised by the call itself, before the behaviour ran: the message has the
            # wrong arguments for it (a sender that skipped the type checker). The
            # message is at fault, not the agent: no restart, its state is kept.
            log.error("%s refused a message to %s: %s", cell.name, entry.what, exc)
            return True
        rt = self.rt
        info = cell.info
        sup = info.supervision
        log.error("%s raised in %s (policy %s)", entry.what, cell.name, sup.policy, exc_info=exc)
        # An object whose on_start raised never started: no on_stop for it (hooks pair).
        unstarted = info.on_start is not None and msg[0] == info.on_start.slot
        if sup.policy == "restart" and not (cell.stopping or rt.closing):  # else: stop
            replaced = cell.agent
            try:
                if cell.restart():
                    self.restarts += 1
                    if info.on_start is not None:
                        cell.post_control(info.on_start, self, first=True)
                    if info.on_stop_replaced is not None and not unstarted:
                        # before on_start (appendleft)
                        cell.post_control(info.on_stop_replaced, self, True, (replaced,))
                    return True
            except Exception as again:
                log.error("restarting %s failed", cell.name, exc_info=again)
            log.error("%s stopped: restart limit reached or not restartable", cell.name)
        elif sup.policy == "escalate":
            rt.escalate(exc)
        self.stop_cell(cell, unstarted)
        return False

    def stop_cell(self, cell: Cell, unstarted: bool = False) -> None:
        """Stop a cell whose scheduling lock we hold: dead-letter its queue, on_stop
        (not for the current object when ``unstarted``: its on_start raised)."""
        if cell.stopped:
            return
        rt = self.rt
        cell.stopping = True
        cell.stopped = True  # from now on senders dead-letter (and re-drain, see deliver)
        self.stops_started += 1
        rt.live.pop(cell, None)
        on_stop = cell.info.on_stop
        owed = owed_on_stops(cell, unstarted) if on_stop is not None else []
        cell.drain_dead()
        cell.release_muted()
        if on_stop is not None and owed:
            if on_stop.is_async:
                self.inflight += 1
                self.loop.start(self.run_on_stop, cell, owed)  # type: ignore[union-attr]
                return
            self.current = cell
            self.label = cell.label or cell.make_label()
            try:
                for agent in owed:
                    try:
                        on_stop.impl(agent)
                    except Exception as exc:
                        log.error("%s.on_stop raised", cell.name, exc_info=exc)
            finally:
                self.current = None
                self.label = None
        self.stopped_done(cell)

    async def run_on_stop(self, cell: Cell, owed: list[Agent]) -> None:
        current_async.set(cell)
        try:
            for agent in owed:
                try:
                    await cell.info.on_stop.impl(agent)  # type: ignore[union-attr]
                except Exception as exc:
                    log.error("%s.on_stop raised", cell.name, exc_info=exc)
        finally:
            self.inflight -= 1
            self.stopped_done(cell)
            flush_replies()
            self.rt.check_quiet()

    def stopped_done(self, cell: Cell) -> None:
        cell.drain_dead()  # messages on_stop sent to itself
        cell.stop_waiter_done()
        self.stops_done += 1

    # --------------------------------------------------------------------- loop

    async def main(self) -> None:
        """The worker's life: run turns, park when idle, until the runtime exits."""
        loop = self.loop = current_loop()
        self.parker = Parker(loop)
        tls.w = self
        self.cpu_clock = own_cpu_clock()
        self.outbox = start_reply_batching()
        try:
            if loop.backend == "trio":
                import trio

                async with trio.open_nursery() as nursery:
                    loop.nursery = nursery  # type: ignore[attr-defined]
                    await self.run()
                    nursery.cancel_scope.cancel()
            else:
                try:
                    await self.run()
                finally:
                    loop.cancel_tasks()
                    tasks = list(loop.tasks)  # type: ignore[attr-defined]
                    for task in tasks:
                        with contextlib.suppress(BaseException):  # cancelled at shutdown
                            await task
        finally:
            flush_replies()
            tls.w = None

    async def run(self) -> None:
        rt = self.rt
        since_yield = 0
        spins = 0
        lifo = self.lifo
        run_cell = self.run_cell
        outbox = self.outbox
        while True:
            # HOT: the LIFO slot first (a request/reply pair stays on this thread),
            # unless its streak is used up, high-priority work waits, or it is time to
            # look at the injection queue.
            self.tick += 1
            if (
                lifo
                and self.lifo_streak < LIFO_STREAK
                and not self.hi
                and not self.crit
                and self.tick % INJECT_EVERY
            ):
                try:
                    cell: Cell | None = lifo.pop()
                except IndexError:
                    cell = self.next_cell()
                else:
                    self.lifo_streak += 1
            else:
                cell = self.next_cell()
            if cell is None:
                if rt.exiting:
                    return
                if self.inflight and spins < IDLE_SPINS:
                    # Async behaviours are running on this loop: most likely they are
                    # ready (an answer just arrived) and will send again at once. Let
                    # them run with a plain loop yield instead of parking: parking and
                    # being woken costs more than the ask itself (fan-in benchmark).
                    spins += 1
                    await self.loop.checkpoint()  # type: ignore[union-attr]
                    continue
                spins = 0
                await self.idle()
                since_yield = 0
                continue
            spins = 0
            self.turns += 1
            self.busy = True
            run_cell(cell)
            self.busy = False
            if outbox:  # answers left by a turn that ended early (async start, a stop)
                flush_replies()
            if self.inflight:
                since_yield += 1
                if since_yield >= YIELD_EVERY:
                    since_yield = 0
                    await self.loop.checkpoint()  # type: ignore[union-attr]
                if rt.cancel_async:
                    self.loop.cancel_tasks()  # type: ignore[union-attr]

    async def idle(self) -> None:
        rt = self.rt
        flush_replies()
        rt.park(self)
        if self.has_work() or rt.exiting:
            rt.unpark(self)
            return
        if rt.cancel_async and self.inflight:
            self.loop.cancel_tasks()  # type: ignore[union-attr]
        rt.check_quiet()
        self.sleeping = True
        try:
            await self.parker.park()  # type: ignore[union-attr]
        finally:
            self.sleeping = False
            rt.unpark(self)

    def start_thread(self, backend: str) -> None:
        def body() -> None:
            try:
                anyio.run(self.main, backend=backend)
            except BaseException as exc:  # a worker must never die silently
                cause = sole_exception(exc)
                if isinstance(cause, Exception):
                    log.critical("worker %d crashed", self.index, exc_info=cause)
                self.rt.escalate(cause)  # (a sync behaviour's KeyboardInterrupt, say)
            finally:
                self.rt.worker_exited(self)

        self.thread = threading.Thread(target=body, name=f"capsys-worker-{self.index}", daemon=True)
        self.thread.start()


def owed_on_stops(cell: Cell, unstarted: bool = False) -> list[Agent]:
    """The objects a stop must call ``on_stop`` on, so that hooks stay paired when the
    stop overtakes a restart's queued hooks: an object a restart replaced (its on_stop
    still queued), then the current one unless its ``on_start`` is still queued or
    raised (``unstarted``): it never started. Read before the queue is dead-lettered;
    only the runtime queues hooks."""
    info = cell.info
    start = info.on_start.slot if info.on_start is not None else -1
    replaced = info.on_stop_replaced.slot if info.on_stop_replaced is not None else -1
    owed: list[Agent] = []
    started = not unstarted
    for msg in list(cell.mailbox or ()):
        if msg[0] == replaced:
            owed.append(msg[1][0])  # (the replaced object: see post_control's args)
        elif msg[0] == start:
            started = False
    if started:
        owed.append(cell.agent)
    return owed


def sole_exception(exc: BaseException) -> BaseException:
    """``exc`` out of the exception groups that hold only it: trio's nurseries wrap what
    crosses them (anyio's task groups do on asyncio too), so the same program raises the
    same exception from ``async with Runtime()`` on both backends."""
    while isinstance(exc, _GROUPS) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


if sys.version_info >= (3, 11):
    _GROUPS: tuple[type[Any], ...] = (BaseExceptionGroup,)  # noqa: F821 - a 3.11 builtin
else:  # the backport that anyio depends on there
    _GROUPS = (importlib.import_module("exceptiongroup").BaseExceptionGroup,)


def pop_first(queue: collections.deque[Cell]) -> Cell | None:
    """The first cell of a run queue that other threads may empty meanwhile, or None."""
    if queue:
        try:
            return queue.popleft()
        except IndexError:
            pass
    return None


def _take_half(queue: collections.deque[Cell]) -> list[Cell]:
    got: list[Cell] = []
    for _ in range((len(queue) + 1) // 2):
        try:
            got.append(queue.popleft())
        except IndexError:
            break
    return got


def _working(w: Worker) -> bool:
    """In a turn, or (not parked) running the async behaviours' tasks, one of which may
    block the thread just as well as a turn can (``time.sleep`` in an async behaviour):
    what the blocked-worker monitor watches."""
    return w.busy or (bool(w.inflight) and not w.sleeping)


def timed(cell: Cell, seconds: float, cpu: float | None) -> None:
    """Add one sample to the cell's EMAs of handling time and CPU intensity (the
    first sample is taken as is: starting from 0 would read low for many turns).
    An async behaviour has no CPU sample: its thread also runs other tasks while it
    awaits."""
    if cell.ema:
        cell.ema += EMA_ALPHA * (seconds - cell.ema)
        if cpu is not None:
            cell.cpu += EMA_ALPHA * (cpu - cell.cpu)
    else:
        cell.ema = seconds
        if cpu is not None:
            cell.cpu = cpu


_RUN_CELL = Worker.run_cell.__code__  # (see turn_progress)


class DeterministicWorker(Worker):
    """The only worker of ``Runtime(deterministic=True)``: a task on the caller's loop
    that picks the next runnable cell with a seeded PRNG, one message per turn, and
    records the handling order in ``trace``.

    It runs on the caller's thread, so sends from the ``async with`` body cannot race
    with it: the body runs only while this worker is parked.
    """

    __slots__ = ("backend_rng", "rng", "runnable")

    def __init__(self, rt: Runtime, seed: int | None) -> None:
        super().__init__(rt, 0)
        self.rng = random.Random(seed)
        # The seed for trio's scheduler comes from a generator of its own, so that the
        # picks above are drawn alike on both backends (one seed, one order).
        self.backend_rng = random.Random(None if seed is None else f"backend {seed}")
        self.runnable: list[Cell] = []
        self.trace = []

    def push(self, cell: Cell) -> None:
        self.runnable.append(cell)
        if self.sleeping:
            self.parker.unpark()  # type: ignore[union-attr]

    def push_lifo(self, cell: Cell) -> None:
        self.push(cell)

    def requeue(self, cell: Cell) -> None:
        self.push(cell)

    def next_cell(self) -> Cell | None:
        rt = self.rt
        for queue in rt.injected:
            while queue:
                self.runnable.append(queue.popleft())
        runnable = self.runnable
        if not runnable:
            return None
        top = max(c.info.priority for c in runnable)
        choices = [i for i, c in enumerate(runnable) if c.info.priority == top]
        i = choices[self.rng.randrange(len(choices))]
        runnable[i], runnable[-1] = runnable[-1], runnable[i]
        return runnable.pop()

    def has_work(self) -> bool:
        return bool(self.runnable or any(self.rt.injected))

    def run_cell(self, cell: Cell) -> None:
        tls.w = self  # only during turns: the body's sends are outside sends
        try:
            super().run_cell(cell)
        finally:
            tls.w = None

    def seed_backend(self, backend: str) -> Callable[[], None]:
        """Seed trio's scheduler for the run; returns what restores it.

        Trio runs the tasks that became ready together in an order drawn from its own
        unseeded generator, so async behaviours that await, and the tasks of the
        caller's own task groups (quorum's and broadcast's asks), would resume in a
        different order each run. Seeded from our seed when the runtime is entered,
        before any of them exists (a private attribute: without it only the sync turns
        are reproducible)."""
        if backend != "trio":
            return lambda: None
        import trio

        trio_rng = getattr(getattr(getattr(trio, "_core", None), "_run", None), "_r", None)
        if not isinstance(trio_rng, random.Random):
            return lambda: None
        saved = trio_rng.getstate()
        trio_rng.seed(self.backend_rng.getrandbits(64))
        return lambda: trio_rng.setstate(saved)

    async def main(self) -> None:
        self.loop = loop = current_loop()
        self.parker = Parker(loop)
        if loop.backend == "trio":
            import trio

            async with trio.open_nursery() as nursery:
                loop.nursery = nursery  # type: ignore[attr-defined]
                await self.run()
                nursery.cancel_scope.cancel()
        else:
            try:
                await self.run()
            finally:
                loop.cancel_tasks()


def turn_progress(frame: types.FrameType | None) -> int:
    """How many messages the turn running in ``frame``'s thread has reached: ``n`` in the
    ``run_cell`` frame below it, read by the monitor (under the GIL, while that thread is
    in a C call), so that the hot loop keeps no counter of its own; -1 outside a turn."""
    while frame is not None:
        if frame.f_code is _RUN_CELL:
            n = frame.f_locals.get("n", 0)
            return n if isinstance(n, int) else 0
        frame = frame.f_back
    return -1


def own_cpu_clock() -> int | None:
    """The calling thread's CPU-time clock, where the platform has one. Taken by the
    thread itself: asking for another thread's is unsafe once that thread has ended."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


def cpu_time(clock: int | None) -> float:
    """CPU seconds a clock from own_cpu_clock has counted (0 when unknown or gone)."""
    if clock is None:
        return 0.0
    try:
        return time.clock_gettime(clock)
    except OSError:  # the thread has ended
        return 0.0


def _computing(cpu: float, wall: float, process: float) -> bool:
    """Whether a worker seen on one instruction for ``wall`` seconds was computing all
    along: it used most of that time as CPU, or, on a machine too busy to give it that
    much, most of the CPU its process got (``process``: all threads). A thread running
    Python hands the GIL over at the same few instructions (a loop's backward jump, a
    call), so a long loop of sends looked stuck at every look and got a spare worker
    beside it, which only adds GIL hand-offs. A long computation in C with the GIL
    released (hashing a huge buffer) is judged the same way: the other workers steal
    around it; its queue is not moved. A blocked thread uses next to no CPU."""
    return cpu >= wall / 2 or (cpu >= process / 2 and cpu >= wall / 20)


class Monitor:
    """Hands the run queues of a worker stuck in one behaviour to the others.

    A behaviour that blocks its thread (``time.sleep``, blocking I/O, a long C call)
    would strand the cells queued behind it. Every ``interval`` the monitor looks at
    each worker's turn counter; a worker busy in the same turn for ``threshold`` seconds
    gets its queues moved to the injection queue, a parked worker is woken, and if work
    waits there with no other worker to take it, a spare worker thread is started (as
    Go's sysmon retakes a P blocked in a syscall). Ticking costs nothing measurable (one
    GIL acquisition per interval).
    """

    def __init__(self, rt: Runtime, threshold: float, max_spares: int) -> None:
        self.rt = rt
        self.threshold = threshold
        self.interval = threshold / 4
        self.max_spares = max_spares
        self.spares = 0
        self.warned = False  # that max_spares stopped a spare
        self.stop_event = threading.Event()
        # worker -> (turns, seen at, where, its CPU seconds, the process's CPU seconds)
        self.seen: dict[int, tuple[int, float, tuple[int, int, int] | None, float, float]] = {}
        self.turn_began: dict[int, tuple[int, float]] = {}  # (turns, first seen at)
        self.gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        self.handoffs = 0
        self.thread = threading.Thread(target=self.body, name="capsys-monitor", daemon=True)

    def body(self) -> None:
        rt = self.rt
        # On a GIL build a worker that is busy running Python (a long loop of sends) is
        # not blocked: another thread could not run Python meanwhile anyway, and moving
        # its queue or starting a spare only adds GIL hand-offs (measured: counting fell
        # to half). So it counts as blocked only while its innermost frame stays on the
        # same instruction: one C call (time.sleep, blocking I/O, hashing) that released
        # the GIL, and, where the thread's CPU time can be read, that leaves the CPU idle
        # (see _computing). Free-threaded builds hand off any long turn.
        gil = self.gil
        while not self.stop_event.wait(self.interval):
            now = time.monotonic()
            process = time.process_time()
            frames = sys._current_frames() if gil else {}
            for w in list(rt.workers):
                turns = w.turns
                began = self.turn_began.get(w.index)
                if began is None or began[0] != turns:
                    self.turn_began[w.index] = (turns, now)
                thread = w.thread
                frame = frames.get(thread.ident) if thread is not None else None  # type: ignore[arg-type]
                # Where it is, and how far its turn has got: a batch of short calls of
                # one behaviour shows the same instruction at every look.
                where = (
                    (id(frame.f_code), frame.f_lasti, turn_progress(frame))
                    if frame is not None
                    else None
                )
                last = self.seen.get(w.index)
                cpu = cpu_time(w.cpu_clock)
                if not _working(w) or last is None or last[0] != turns or last[2] != where:
                    self.seen[w.index] = (turns, now, where, cpu, process)
                    continue
                if now - last[1] < self.threshold:
                    continue
                # each stall once per threshold
                self.seen[w.index] = (turns, now, where, cpu, process)
                if gil and _computing(cpu - last[3], now - last[1], process - last[4]):
                    continue
                if self.hand_off(w, now):
                    self.handoffs += 1

    def available(self, w: Worker, now: float) -> bool:
        """Will ``w`` get to the injection queue soon? Idle, or (GIL builds) in a turn
        younger than the threshold: a spare thread beside a worker that is running
        Python only adds GIL hand-offs. Free-threaded builds count only idle workers,
        since a spare runs in parallel there."""
        if not _working(w):
            return True
        began = self.turn_began.get(w.index)
        return self.gil and began is not None and now - began[1] < self.threshold

    def hand_off(self, w: Worker, now: float) -> bool:
        rt = self.rt
        moved: list[Cell] = []
        while True:
            try:
                moved.append(w.lifo.pop())
            except IndexError:
                break
        for queue in w.run_queues():
            while True:
                try:
                    moved.append(queue.popleft())
                except IndexError:
                    break
        for cell in moved:
            rt.inject_cell(cell)
        if (
            (moved or any(rt.injected))  # work waiting that the stuck one would take
            and not any(self.available(o, now) for o in rt.workers if o is not w)
            and not rt.exiting
        ):
            if self.spares < self.max_spares:
                self.spares += 1
                rt.add_worker()
            elif not self.warned:  # once: the stall lasts until a blocked call returns
                self.warned = True
                log.warning(
                    "every worker is blocked in a behaviour and the %d spare workers "
                    "allowed are running: runnable agents wait until a blocking call "
                    "returns; raise Runtime(max_spare_workers=...) or move the blocking "
                    "calls to anyio.to_thread.run_sync in an async behaviour",
                    self.max_spares,
                )
        rt.notify(force=True)
        return bool(moved)
