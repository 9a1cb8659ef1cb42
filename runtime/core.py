"""``Runtime``: spawn agents, run them on the work-stealing executor, shut down cleanly.

Lifecycle of ``async with Runtime() as rt``:

* enter: start the worker threads (each runs an event loop of the caller's backend)
  and the blocked-worker monitor; in deterministic mode, one worker task on the
  caller's own loop instead;
* body: ``rt.spawn``, ``tag.send`` / ``ask`` / ``send_wait``, ``rt.stop``;
* normal exit: wait until every message sent so far (including those sent while
  draining) is handled, within ``shutdown_timeout``; then stop the agents that have an
  ``on_stop`` hook one by one, latest spawned first, handling what each hook sends (see
  ``_stop_hooked``); then stop the rest, let the workers exit and join their threads:
  nothing is left running;
* exit by exception (or escalation, or a drain that timed out): stop at once; queued
  messages go to the dead letters, async behaviours still running are cancelled; the
  error propagates (an escalated error is raised from ``async with``).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import dataclasses
import itertools
import logging
import signal
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, TypeVar

import anyio
from typing_extensions import ParamSpec

from capsys.agent import Agent
from capsys.errors import CapabilityUsageError
from capsys.sendable import prepare_payload
from capsys.tag import Tag
from runtime.arguments import is_count, is_seconds
from runtime.backends import Loop, current_loop
from runtime.cell import (
    Cell,
    CellTag,
    Message,
    Priority,
    claim,
    class_info,
    class_infos,
    current,
    debug_open,
    refuse,
)
from runtime.deadletters import DeadLetters
from runtime.errors import AgentStopped, MailboxFull
from runtime.metrics import SAMPLE_EVERY, Metrics, Probe
from runtime.scheduler import BATCH, DeterministicWorker, Monitor, Worker, pop_first

__all__ = ["Runtime", "RuntimeStats", "AgentStats", "run", "default_workers"]

_new_tag = object.__new__  # spawn builds a CellTag without running Tag.__init__
log = logging.getLogger("runtime")

A = TypeVar("A", bound=Agent)
P = ParamSpec("P")
T = TypeVar("T")

_defaults: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "capsys_runtime_defaults", default=None
)
_UNSET: Any = object()


def default_workers() -> int:
    """The default worker count.

    Free-threaded builds: the core count. GIL builds: 2 (at most the core count), by
    measurement (benchmarks/runtime, test_default_worker_count_inputs; Python 3.11, a
    shared 2-core machine, best of 9, three runs on 2026-12-04):

    ==========  ==================  ==================  ==================  ===============
    workers     pingpong (us)       counting (k/s)      fanout (k/s)        fan-in (k/s)
    ==========  ==================  ==================  ==================  ===============
    1           2.63 / 2.81 / 2.61  2014 / 1890 / 2064  1718 / 1591 / 1780  922 / 914 / 925
    2           2.63 / 2.74 / 2.70  1834 / 1760 / 1776  2064 / 1676 / 1837  928 / 864 / 829
    ==========  ==================  ==================  ==================  ===============

    On pure-Python message passing neither wins: one worker counts about 10% faster (a
    second one takes the GIL in turns), two fan out 5-20% faster, ping-pong and fan-in
    are even within this machine's noise (a sync ping-pong stays on one thread through
    the LIFO slot either way). Two keep the other agents running while a behaviour
    blocks its thread or releases the GIL (1.9x on hashing), which decides it.
    """
    import os

    cores = os.cpu_count() or 1
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None and not is_gil_enabled():
        return cores
    return max(1, min(2, cores))


@dataclasses.dataclass(frozen=True)
class RuntimeStats:
    """A snapshot of the runtime's counters (``rt.stats()``); cheap to take.

    ``sent`` counts every message accepted by a send/ask (and the lifecycle calls such as
    ``on_start`` that ran: one that a stop overtook never happened and is not counted);
    each ends up either ``handled`` or in ``dead_letters``, so once the runtime is quiet
    ``sent == handled + dead_letters``.
    """

    workers: int  # worker threads, including spares started by the monitor
    agents: int  # spawned and not stopped
    spawned: int
    stopped: int
    sent: int
    handled: int
    dead_letters: int
    restarts: int  # supervision restarts
    steals: int  # cells taken from another worker's queue
    mutes: int  # times a sender was muted by backpressure
    handoffs: int  # run queues moved away from a blocked worker by the monitor
    max_mailbox_depth: int


@dataclasses.dataclass(frozen=True)
class AgentStats:
    """Per-agent counters (``rt.agent_stats(tag)``)."""

    name: str
    handled: int
    mean_handling_seconds: float  # EMA over turns of (turn time / messages in the turn)
    mailbox_depth: int
    priority: Priority
    stopped: bool


class StopHandle:
    """Returned by ``rt.stop(tag)``: the stop is already requested; awaiting this waits
    until the agent has stopped (its ``on_stop`` has run)."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        cell = self._cell
        rt = cell.rt
        x = cell.extra()
        w, me = current(rt)
        if me is cell:
            return  # an agent awaiting its own stop: it happens when this message ends
        loop = w.loop if w is not None and w.loop is not None else current_loop()
        reply = loop.new_reply()
        with rt.mute_lock:
            if x.finished:
                return
            x.stop_waiters.append(reply)
        await reply.wait()


class Runtime:
    """The actor runtime (SPEC §6). See the module docstring for the lifecycle.

    ``workers``: worker threads (default ``default_workers()``); ``mailbox_capacity``,
    ``high_water``, ``low_water``: backpressure; ``deterministic``/``seed``: one worker
    with a seeded scheduling order, recorded in ``rt.trace``; ``debug``: deep
    sendability checks; ``shutdown_timeout``: seconds to drain on exit;
    ``block_threshold``: seconds in one behaviour after which a worker counts as
    blocked; ``max_spare_workers``: how many spare worker threads the monitor may start
    beside blocked ones (each further blocked worker then strands its queue until its
    call returns; a warning is logged); ``batch``: messages per agent turn. Defaults may
    be set for a whole program with ``runtime.run(main, workers=...)``.
    """

    def __init__(
        self,
        workers: int | None = _UNSET,
        mailbox_capacity: int = _UNSET,
        high_water: int = _UNSET,
        low_water: int = _UNSET,
        deterministic: bool = _UNSET,
        seed: int | None = _UNSET,
        debug: bool = _UNSET,
        shutdown_timeout: float = _UNSET,
        block_threshold: float = _UNSET,
        max_spare_workers: int = _UNSET,
        batch: int = _UNSET,
        dead_letters_kept: int = _UNSET,
    ) -> None:
        given = {k: v for k, v in locals().items() if k != "self" and v is not _UNSET}
        opts = {**_BUILTIN_DEFAULTS, **(_defaults.get() or {}), **given}
        _check_options(opts)
        self.deterministic: bool = bool(opts["deterministic"])
        n = opts["workers"]
        if self.deterministic:
            n = 1
        elif n is None:
            n = default_workers()
        self.n_workers: int = n
        self.capacity: int = opts["mailbox_capacity"]
        explicit = {**(_defaults.get() or {}), **given}
        # Watermarks not given follow a smaller capacity (80% / 20% of it), so
        # Runtime(mailbox_capacity=10) works without restating them.
        if "high_water" not in explicit:
            opts["high_water"] = min(opts["high_water"], max(1, self.capacity * 4 // 5))
        if "low_water" not in explicit:
            opts["low_water"] = min(opts["low_water"], opts["high_water"] // 4)
        self.high_water: int = opts["high_water"]
        self.low_water: int = opts["low_water"]
        if not 0 <= self.low_water < self.high_water <= self.capacity:
            raise ValueError(
                "Runtime needs 0 <= low_water < high_water <= mailbox_capacity, got "
                f"{self.low_water}, {self.high_water}, {self.capacity}"
            )
        self.seed: int | None = opts["seed"]
        self.debug: bool = bool(opts["debug"])
        self.shutdown_timeout: float = opts["shutdown_timeout"]
        self.block_threshold: float = opts["block_threshold"]
        self.max_spare_workers: int = opts["max_spare_workers"]
        self.batch: int = 1 if self.deterministic else opts["batch"]
        self.dead_letters = DeadLetters(opts["dead_letters_kept"])
        self.trace: list[tuple[str, str]] = []

        self.workers: list[Worker] = []
        self.inject: collections.deque[Cell] = collections.deque()
        self.inject_hi: collections.deque[Cell] = collections.deque()  # HIGH and CRITICAL
        self.inject_low: collections.deque[Cell] = collections.deque()
        self.injected = (self.inject_hi, self.inject, self.inject_low)  # best first
        # Cells with an on_stop hook that still must run, with their place in spawn
        # order; dict set/pop are atomic under the GIL (and lock the dict on
        # free-threaded builds).
        self.live: dict[Cell, int] = {}
        self._late: list[Cell] | None = None  # see _stop_hooked
        self.mute_lock = threading.Lock()
        # Muted senders and the receiver holding each (under mute_lock).
        self.parked: dict[Cell, Cell] = {}
        self._idle_lock = threading.Lock()
        self._parked: list[Worker] = []
        self._searching = 0
        self._ext_lock = threading.Lock()  # counters of sends from outside any worker
        self._ext_sent = 0
        self._failed_spawns = 0  # spawns whose __init__ raised
        self._ext_depth = 0
        self._counters: dict[type, itertools.count[int]] = {}
        self._monitor: Monitor | None = None
        self._home: Loop | None = None
        self._backend = "asyncio"
        self._scope: anyio.CancelScope | None = None
        self._tg: Any = None
        self._unseed: Callable[[], None] = lambda: None  # see DeterministicWorker.seed_backend
        self._quiet_event: Any = None
        self._waiting_quiet = False
        self._exited_event: Any = None
        self._undo_signal_wakeup: Callable[[], None] = lambda: None
        self._exited = 0
        self._started = False
        self.closing = False  # no more deliveries: every agent is being stopped
        self.exiting = False  # workers leave their loops
        self.cancel_async = False  # forced shutdown: cancel async behaviours
        self.error: BaseException | None = None
        self.probe = Probe()  # sampled latencies, read by runtime.metrics
        self._spawns = itertools.count()  # next() is atomic: counts spawns on any thread

    # ------------------------------------------------------------------ public

    def spawn(self, cls: Callable[P, A], /, *args: P.args, **kwargs: P.kwargs) -> Tag[A]:
        """Create an agent and return its ``Tag``.

        The arguments cross a boundary (shallow sendability check; an ``Iso`` is moved).
        ``__init__`` runs here, with ``self.me`` and ``self.runtime`` already bound;
        its exceptions propagate to the caller. ``on_start`` runs before the first
        message.
        """
        if not self._started or self.closing:
            raise CapabilityUsageError(
                "spawn needs a running runtime: call it inside `async with Runtime() as rt:` "
                "(or from an agent), not before the block or after it ended"
            )
        info = class_infos.get(cls) or class_info(cls)  # type: ignore[call-overload,arg-type]
        seq = next(self._spawns)
        t0 = 0 if seq % SAMPLE_EVERY else time.perf_counter_ns()
        given_args: tuple[Any, ...] = args
        given_kwargs: dict[str, Any] = kwargs
        if args or kwargs:
            try:
                given_args, given_kwargs = prepare_payload(
                    info.spawn_what, args, kwargs, self.debug
                )
            except BaseException:
                with self._ext_lock:
                    self._failed_spawns += 1  # counted by next(self._spawns) above
                raise
        # An Iso was moved into __init__ when prepare_payload returned new objects: it
        # cannot be given again, so such an agent is not restartable.
        restartable = given_args is args and given_kwargs is kwargs
        counter = self._counters.get(info.cls)
        if counter is None:
            counter = self._counters.setdefault(info.cls, itertools.count(1))
        agent = info.cls.__new__(info.cls)
        cell = Cell(
            self,
            info,
            agent,
            next(counter),  # next() on itertools.count is atomic: names stay unique
            given_args if restartable else None,
            (given_kwargs or None) if restartable else None,
        )
        tag = cell.tag = _new_tag(CellTag)  # Tag(cell) without a Python __init__ frame
        tag._address = cell
        agent._capsys_tag = tag
        agent._capsys_runtime = self
        try:
            agent.__init__(*given_args, **given_kwargs)
        except BaseException:
            with self._ext_lock:
                self._failed_spawns += 1
            raise
        if info.on_stop is not None:
            self.live[cell] = seq
            if self._late is not None:  # spawned while _stop_hooked runs: stopped first
                self._late.append(cell)
        if info.on_start is not None:
            cell.post_control(info.on_start, current(self)[0])
        if t0:
            self.probe.spawn.record(time.perf_counter_ns() - t0)
        return tag

    def stop(self, tag: Tag[Any]) -> StopHandle:
        """Stop the agent after the message in progress; queued and later messages go
        to the dead letters and ``on_stop`` runs. ``await rt.stop(tag)`` also waits
        until it has stopped."""
        cell = self._cell_of(tag)
        if not cell.stopping:
            cell.stopping = True
            if cell.mailbox is None:
                cell.ensure_mailbox()
            if claim(cell.lock):
                w, _ = current(self)
                self.schedule(cell, w)
        return StopHandle(cell)

    def is_alive(self, tag: Tag[Any]) -> bool:
        """False once the agent was asked to stop (or stopped by its supervisor), and for
        every agent once the runtime has shut down."""
        return not (self.exiting or self._cell_of(tag).stopping)

    def stats(self) -> RuntimeStats:
        """A snapshot of the counters (see ``RuntimeStats``)."""
        ws = list(self.workers)
        # repr(count(n)) == "count(n)": read the counter without advancing it.
        spawned = int(repr(self._spawns)[6:-1]) - self._failed_spawns
        # After shutdown no agent is left, also those without on_stop (never stopped one
        # by one: they just stop being run).
        stopped = spawned if self.exiting else sum(w.stops_started for w in ws)
        return RuntimeStats(
            workers=len(ws),
            agents=spawned - stopped,
            spawned=spawned,
            stopped=stopped,
            sent=self._ext_sent + sum(w.sent for w in ws) - self.dead_letters.hooks,
            handled=sum(w.handled for w in ws),
            dead_letters=self.dead_letters.count,
            restarts=sum(w.restarts for w in ws),
            steals=sum(w.steals for w in ws),
            mutes=sum(w.mutes for w in ws),
            handoffs=self._monitor.handoffs if self._monitor is not None else 0,
            max_mailbox_depth=max([self._ext_depth, *(w.max_depth for w in ws)]),
        )

    def metrics(self, agents: Iterable[Tag[Any]] = ()) -> Metrics:
        """A metrics snapshot (``runtime.metrics.Metrics``), with per-agent figures for
        the agents named: rates since the previous snapshot, latency percentiles."""
        return Metrics.take(self, agents)

    def cpu_intensity(self, tag: Tag[Any]) -> float:
        """Share of the agent's handling time spent on the CPU (EMA over sampled turns):
        near 1.0 for CPU-bound behaviours, near 0 for ones that sleep or wait."""
        return self._cell_of(tag).cpu

    def agent_stats(self, tag: Tag[Any]) -> AgentStats:
        """Per-agent counters: messages handled, EMA of handling time, mailbox depth."""
        cell = self._cell_of(tag)
        mb = cell.mailbox
        return AgentStats(
            name=cell.name,
            handled=cell.handled,
            mean_handling_seconds=cell.ema,
            mailbox_depth=len(mb) if mb is not None else 0,
            priority=cell.info.priority,
            stopped=cell.stopped or self.exiting,
        )

    # --------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Runtime:
        if self._started:
            raise CapabilityUsageError("a Runtime can be entered only once; create a new one")
        home = self._home = current_loop()
        self._backend = home.backend
        self._exited_event = home.new_event()
        self._started = True
        if self.debug:
            debug_open(+1)
        if self.deterministic:
            worker = DeterministicWorker(self, self.seed)
            assert worker.trace is not None
            self.trace = worker.trace
            self._unseed = worker.seed_backend(home.backend)
            self.workers.append(worker)
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
            self._tg.start_soon(self._run_home_worker, worker)
        else:
            try:
                self._undo_signal_wakeup = home.wake_on_signals()
                for i in range(self.n_workers):
                    self.add_worker(index=i)
                self._monitor = Monitor(
                    self, self.block_threshold, max_spares=self.max_spare_workers
                )
                self._monitor.thread.start()
            except BaseException:
                # Undo what started (worker threads, the signal wakeup socket): a later
                # Runtime would otherwise find a wakeup fd that points at a closed socket.
                with anyio.CancelScope(shield=True):
                    await self._close(True)
                raise
        self._scope = anyio.CancelScope()
        self._scope.__enter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:  # never swallows (so mypy accepts a return inside the block)
        assert self._scope is not None
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        if swallowed:
            exc = None  # the body was cancelled by an escalation: raise that error instead
        forced = exc is not None or self.error is not None
        try:
            with anyio.CancelScope(shield=True):
                if not forced and not await self._wait_quiet():
                    log.warning(
                        "runtime shutdown: messages still unhandled after %.1f s; stopping "
                        "anyway (they go to the dead letters)",
                        self.shutdown_timeout,
                    )
                    forced = True
                if not forced and not await self._stop_hooked():
                    log.warning(
                        "runtime shutdown: on_stop hooks and what they sent still "
                        "unfinished after %.1f s; stopping the rest at once",
                        self.shutdown_timeout,
                    )
                    forced = True
                await self._close(forced)
        except BaseException:
            # Ctrl-C while draining gets past the shield: asyncio's runner cancels the
            # task natively, trio raises KeyboardInterrupt at a checkpoint. Stop at once
            # (on_stop still runs, the worker threads are joined), then raise it.
            with anyio.CancelScope(shield=True):
                await self._close(True)
            raise
        if self._tg is not None:  # deterministic mode: the worker task has returned
            await self._tg.__aexit__(None, None, None)
            self._unseed()
        if self.error is not None and exc is None:
            raise self.error

    async def _stop_hooked(self) -> bool:
        """Normal exit: stop the agents that have an ``on_stop`` hook, the latest spawned
        first, and handle what their hooks sent before stopping earlier ones.

        Every other agent still receives meanwhile, so a final report that ``on_stop``
        sends to an agent spawned earlier (a collector, a parent) is handled rather than
        dead-lettered: the order in which Erlang's supervisors stop their children. A run
        of agents of one class spawned one after another (a pool) stops together: a
        round trip per agent would cost about 0.3 ms each here. False if this took
        longer than ``shutdown_timeout``.
        """
        order = sorted(self.live.copy().items(), key=lambda item: item[1], reverse=True)
        self._late = []
        with anyio.move_on_after(self.shutdown_timeout):
            for _, run in itertools.groupby((cell for cell, _ in order), lambda c: c.info):
                if not await self._stopped_late() or not await self._stopped_quietly(list(run)):
                    return False
            return await self._stopped_late()
        return False

    async def _stopped_late(self) -> bool:
        """Stop the agents that hooks spawned meanwhile (the latest of all), latest first."""
        while self._late:
            late, self._late = self._late, []
            for cell in sorted(late, key=lambda c: self.live.get(c, 0), reverse=True):
                if not await self._stopped_quietly([cell]):
                    return False
        return True

    async def _stopped_quietly(self, cells: list[Cell]) -> bool:
        """Stop ``cells`` and handle what their hooks sent; False past the timeout."""
        handles = [self.stop(cell.tag) for cell in cells]
        for handle in handles:
            await handle
        return self._is_quiet() or await self._wait_quiet()

    async def _close(self, forced: bool) -> None:
        """Stop every agent and join the workers (again, forced, after an interruption)."""
        if self.debug and not self.closing:
            debug_open(-1)
        self.closing = True
        for w in self.workers:  # (add_worker covers a worker added meanwhile)
            w.open_rt = None
        if forced:
            self.cancel_async = True
        for cell in self.live.copy():
            self.stop(cell.tag)
        # Muted senders are held by their receivers, in no run queue: release them, so
        # they are run once more and stopped (their queued messages are dead-lettered).
        with self.mute_lock:
            holders = set(self.parked.values())
        for holder in holders:
            holder.release_muted()
        self.notify(force=True, all_workers=True)
        if not await self._wait_quiet():
            log.warning("runtime shutdown: agents did not stop within the timeout")
        self.exiting = True
        self.notify(force=True, all_workers=True)
        if self._monitor is not None:
            self._monitor.stop_event.set()
        if self._exited < len(self.workers):
            with anyio.move_on_after(max(self.shutdown_timeout, 1.0)):
                await self._exited_event.wait()
        for w in self.workers:
            if w.thread is not None:
                w.thread.join(timeout=1.0)
        if self._monitor is not None:
            self._monitor.thread.join(timeout=1.0)
        self._undo_signal_wakeup()

    async def _run_home_worker(self, worker: Worker) -> None:
        try:
            await worker.main()
        finally:
            self.worker_exited(worker)

    async def _wait_quiet(self) -> bool:
        """Wait until no message is pending (and, when closing, no stop is running)."""
        assert self._home is not None
        self._quiet_event = self._home.new_event()
        self._waiting_quiet = True
        try:
            if self._is_quiet():
                return True
            self.notify(force=True, all_workers=True)
            with anyio.move_on_after(self.shutdown_timeout):
                await self._quiet_event.wait()
                return True
            return self._is_quiet()
        finally:
            self._waiting_quiet = False

    def _is_quiet(self) -> bool:
        ws = list(self.workers)
        # Read the "done" counters before the "started" ones: both only grow and done
        # never exceeds started, so equality means nothing was in flight in between.
        stops_done = sum(w.stops_done for w in ws)
        done = sum(w.handled for w in ws) + self.dead_letters.count + self.dead_letters.hooks
        inflight = sum(w.inflight for w in ws)
        if sum(w.stops_started for w in ws) != stops_done or inflight:
            return False
        if self.closing and self.live:
            return False
        return done == self._ext_sent + sum(w.sent for w in ws)

    def check_quiet(self) -> None:
        """Called by a worker about to park: tell the caller's loop when all is quiet."""
        if self._waiting_quiet and self._is_quiet():
            self._signal_home(self._quiet_event)

    def _signal_home(self, event: Any) -> None:
        home = self._home
        if home is None or event is None:
            return
        if threading.get_ident() == home.thread_id:
            event.set()
        else:
            home.call_threadsafe(event.set)

    def escalate(self, exc: BaseException) -> None:
        """End the runtime with ``exc`` (supervision policy "escalate", a worker crash)."""
        if self.error is not None:
            return
        self.error = exc
        scope = self._scope
        home = self._home
        if scope is not None and home is not None:
            if threading.get_ident() == home.thread_id:
                scope.cancel()
            else:
                home.call_threadsafe(scope.cancel)

    def worker_exited(self, worker: Worker) -> None:
        with self._idle_lock:
            self._exited += 1
            last = self._exited >= len(self.workers)
        if last:
            self._signal_home(self._exited_event)

    # ---------------------------------------------------------- scheduler side

    def add_worker(self, index: int | None = None) -> None:
        worker = Worker(self, len(self.workers) if index is None else index)
        self.workers.append(worker)
        if self.closing:  # _close may have set open_rt on the others before the append
            worker.open_rt = None
        worker.start_thread(self._backend)

    def schedule(self, cell: Cell, w: Worker | None) -> None:
        """Queue a cell whose scheduling lock the caller holds."""
        if w is not None:
            w.push_lifo(cell)
            return
        self.inject_cell(cell)
        self.notify()

    def inject_cell(self, cell: Cell) -> None:
        """Queue a cell on the shared queue of its priority; CRITICAL ahead of HIGH."""
        p = cell.info.priority
        if p is Priority.NORMAL:
            self.inject.append(cell)
        elif p is Priority.CRITICAL:
            self.inject_hi.appendleft(cell)
        elif p is Priority.HIGH:
            self.inject_hi.append(cell)
        else:
            self.inject_low.append(cell)

    def take_injected(self) -> Cell | None:
        for queue in self.injected:
            cell = pop_first(queue)
            if cell is not None:
                return cell
        return None

    def notify(self, force: bool = False, all_workers: bool = False) -> None:
        """Work was queued: wake a parked worker unless one is already searching."""
        if not self._parked:
            return
        with self._idle_lock:
            if not self._parked or (self._searching and not force):
                return
            if all_workers:
                woken, self._parked = self._parked, []
            else:
                woken = [self._parked.pop()]
        for w in woken:
            if w.parker is not None:
                w.parker.unpark()

    def park(self, w: Worker) -> None:
        with self._idle_lock:
            if w not in self._parked:
                self._parked.append(w)

    def unpark(self, w: Worker) -> None:
        with self._idle_lock:
            if w in self._parked:
                self._parked.remove(w)

    def begin_search(self) -> bool:
        with self._idle_lock:
            if self._searching >= max(1, len(self.workers) // 2):
                return False
            self._searching += 1
            return True

    def end_search(self) -> None:
        with self._idle_lock:
            self._searching -= 1

    def count_sent(self, w: Worker | None) -> None:
        if w is not None:
            w.sent += 1
        else:
            with self._ext_lock:
                self._ext_sent += 1

    def count_outside_send(self, depth: int, cell: Cell, wait: bool) -> bool:
        """Count a send from outside the workers; True if it is a sampled one."""
        with self._ext_lock:
            if depth >= self.capacity and not wait:
                raise MailboxFull(cell.name, self.capacity)
            self._ext_sent += 1
            if depth + 1 > self._ext_depth:
                self._ext_depth = depth + 1
            return not self._ext_sent % SAMPLE_EVERY

    def dead_letter(self, msg: Message, cell: Cell) -> None:
        info = cell.info
        entry = info.entries[msg[0]]
        if msg[4] is None and entry in (info.on_start, info.on_stop, info.on_stop_replaced):
            # A lifecycle hook the runtime queued (a restart that the stop overtook):
            # nobody sent it, so it is no letter; it is counted as done, not run.
            self.dead_letters.drop_hook()
            return
        self.dead_letters.add(msg[4] or "outside", cell.name, entry.what)
        refuse(msg[3], AgentStopped(cell.name, entry.what))

    def _cell_of(self, tag: Tag[Any]) -> Cell:
        cell = getattr(tag, "_address", None)
        if not isinstance(cell, Cell) or cell.rt is not self:
            raise CapabilityUsageError(f"{tag!r} is not an agent of this runtime")
        return cell

    @property
    def backend(self) -> str:
        """The caller's async library: "asyncio" or "trio"."""
        return self._backend

    def __repr__(self) -> str:
        return f"<Runtime workers={len(self.workers)} backend={self._backend}>"


_BUILTIN_DEFAULTS: dict[str, Any] = {
    "workers": None,
    "mailbox_capacity": 1000,
    "high_water": 800,
    "low_water": 200,
    "deterministic": False,
    "seed": None,
    "debug": False,
    "shutdown_timeout": 30.0,
    "block_threshold": 0.05,
    # Beside blocked workers: as many as behaviours blocked at once in a program that
    # calls blocking libraries from agents, while bounding the threads a runaway one
    # can start (a thread pool's usual bound: asyncio's executor, anyio's to_thread).
    "max_spare_workers": 32,
    "batch": BATCH,
    "dead_letters_kept": 1000,
}


# Option -> (the smallest value allowed, whether it is a count); None is allowed only for
# workers (the default count). A float where a count belongs, or 0 messages per turn,
# failed far from the call (in __aenter__, or as a runtime that never handles anything).
_NUMERIC_OPTIONS: dict[str, tuple[float, bool]] = {
    "workers": (1, True),
    "mailbox_capacity": (1, True),
    "high_water": (1, True),
    "low_water": (0, True),
    "batch": (1, True),
    "dead_letters_kept": (0, True),
    "shutdown_timeout": (0.0, False),
    "block_threshold": (0.0, False),
    "max_spare_workers": (0, True),
}


def _check_options(opts: dict[str, Any]) -> None:
    """Refuse an option of the wrong type or out of range, naming it."""
    for name, (least, count) in _NUMERIC_OPTIONS.items():
        value = opts[name]
        if value is None and name == "workers":
            continue
        if not (is_count(value) if count else is_seconds(value)):
            kind = "an int" if count else "a number of seconds"
            raise TypeError(f"Runtime({name}={value!r}): {name} must be {kind}")
        if not value >= least or (name == "block_threshold" and value == 0):
            bound = "> 0" if name == "block_threshold" else f">= {least}"
            raise ValueError(f"Runtime({name}={value!r}): {name} must be {bound}")


def run(
    main: Callable[..., Coroutine[Any, Any, T]] | Callable[..., Awaitable[T]],
    *args: Any,
    backend: str = "asyncio",
    backend_options: dict[str, Any] | None = None,
    **runtime_defaults: Any,
) -> T:
    """Run ``main(*args)`` with ``anyio.run`` on ``backend`` and return its result.

    ``runtime_defaults`` (e.g. ``workers=2``) become the defaults of every ``Runtime()``
    created inside. Ctrl-C cancels ``main``; its ``async with Runtime()`` shuts down
    (agents stopped, threads joined) before ``KeyboardInterrupt`` propagates.
    """
    unknown = set(runtime_defaults) - set(_BUILTIN_DEFAULTS)
    if unknown:
        raise TypeError(
            f"runtime.run: unknown Runtime option(s) {sorted(unknown)}; "
            f"known: {sorted(_BUILTIN_DEFAULTS)}"
        )
    token = _defaults.set({**(_defaults.get() or {}), **runtime_defaults})
    try:
        if _needs_sigint_cancel(backend):
            return _run_cancelling_on_sigint(main, args, backend_options)
        if backend == "trio":
            # Trio's default raises KeyboardInterrupt at any unprotected bytecode; in a
            # weakref callback or ``__del__`` that is "ignored" and the Ctrl-C is lost
            # (seen on 3.10: a runtime that never shut down). At a checkpoint it
            # reaches the main task, like a cancellation, and ``async with Runtime()``
            # shuts down. The caller can still choose otherwise.
            backend_options = {
                "restrict_keyboard_interrupt_to_checkpoints": True,
                **(backend_options or {}),
            }
        return anyio.run(main, *args, backend=backend, backend_options=backend_options)
    finally:
        _defaults.reset(token)


def _needs_sigint_cancel(backend: str) -> bool:
    """Python 3.10's asyncio has no ``asyncio.Runner``: Ctrl-C raises KeyboardInterrupt
    at whatever bytecode runs, and inside a weakref callback or ``__del__`` it is
    "ignored" and lost (seen: a runtime that never shut down). Trio, 3.11+ asyncio, a
    handler the program installed itself, or a call from another thread: left alone."""
    return (
        sys.version_info < (3, 11)
        and backend == "asyncio"
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


def _run_cancelling_on_sigint(
    main: Callable[..., Awaitable[T]], args: tuple[Any, ...], options: dict[str, Any] | None
) -> T:
    """What ``asyncio.Runner`` does from 3.11: the first Ctrl-C cancels the main task
    (so ``async with Runtime()`` shuts down) and ``KeyboardInterrupt`` is raised once
    it has finished; a second Ctrl-C raises at once."""
    seen: list[int] = []

    async def guarded() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def on_sigint(signum: int, frame: types.FrameType | None) -> None:
            seen.append(signum)
            if len(seen) == 1 and task is not None and not task.done():
                task.cancel()
                loop.call_soon_threadsafe(lambda: None)  # select() may be asleep
                return
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_sigint)
        try:
            return await main(*args)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        return anyio.run(guarded, backend="asyncio", backend_options=options)
    except asyncio.CancelledError:
        if seen:
            raise KeyboardInterrupt from None
        raise
