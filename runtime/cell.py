"""The agent cell: what an agent costs while it is alive.

A cell is the agent object, its readable number, a mailbox and a scheduling lock that
both exist only from the first message, and a few flags. It is not a task and owns no
coroutine: an idle agent costs a few hundred bytes. A cell is *scheduled* while it holds
its scheduling lock: from the moment a send (or a stop) finds it idle until a worker
finishes a turn with an empty mailbox. The scheduling lock is a one-item list: whoever
pops the token owns the cell, and the owner appends it back to release. ``list.pop`` is
one atomic operation (under the GIL, and under the list's own lock on free-threaded
builds), so this is an atomic test-and-set; it measured 8x cheaper than
``Lock.acquire(blocking=False)``, which matters because every send does it. A cell is
therefore in at most one run queue and runs on one worker at a time (which is also what
keeps one sender's messages to it in order).

The cell implements ``capsys.tag.Address``: ``Tag.send`` lands in ``post``, the hot path.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import enum
import inspect
import logging
import threading
import time
from collections.abc import Callable
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar, cast, get_origin

import anyio

from capsys.agent import BEHAVIOUR_ATTR, Agent
from capsys.errors import CapabilityUsageError
from capsys.sendable import SHARED_TYPES, move_payload, payload_moves
from capsys.tag import Tag
from runtime.errors import AskTimeout, MailboxFull, check_timeout, room_within
from runtime.supervision import Supervision, supervision_of

if TYPE_CHECKING:
    from runtime.backends import Reply
    from runtime.core import Runtime
    from runtime.scheduler import Worker

__all__ = ["Priority", "Cell", "ClassInfo", "Entry", "class_info", "claim", "current"]


class Priority(enum.IntEnum):
    """Scheduling priority of an agent class (class attribute ``priority``).

    Each level has run queues of its own: a worker serves CRITICAL cells first, then
    HIGH, then NORMAL (the LIFO slot and the local queue), and LOW when nothing else is
    runnable, except that every ``INJECT_EVERY`` turns it looks at the shared queues and
    its LOW queue whatever else waits, so low-priority agents are slowed, never starved.
    """

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """A behaviour as the runtime calls it, resolved once per (class, function).

    A slots class, not a NamedTuple: its fields are read for every message, and a slot
    read is about twice as fast as a NamedTuple field's.
    """

    impl: Callable[..., Any]
    is_async: bool
    what: str  # "Book.add": names the boundary in NotSendableError messages
    name: str
    slot: int  # position in ClassInfo.entries: what a message carries (see Message)


_ANY_AGENT = "__capsys_any_agent__"
F = TypeVar("F", bound=Callable[..., Any])


def primitive_behaviour(fn: F) -> F:
    """Mark a module-level ``@behaviour`` of a runtime primitive (broadcast's relay) as
    runnable on any agent. Internal: only the runtime's own primitives use it."""
    setattr(fn, _ANY_AGENT, True)
    return fn


class ClassInfo:
    """Everything the runtime needs from an agent class, computed once per class."""

    __slots__ = (
        "cls",
        "dispatch",
        "entries",
        "name",
        "on_start",
        "on_stop",
        "on_stop_replaced",
        "prioritised",
        "priority",
        "slots",
        "spawn_what",
        "supervision",
    )

    def __init__(self, cls: type[Agent]) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.spawn_what = f"spawn({cls.__qualname__})"
        self.dispatch: dict[Callable[..., Any], Entry] = {}
        # the same, to the entry's slot: what CellTag.send needs (one attribute read less)
        self.slots: dict[Callable[..., Any], int] = {}
        self.entries: list[Entry] = []
        self.supervision: Supervision = supervision_of(cls)
        self.priority = Priority(getattr(cls, "priority", Priority.NORMAL))
        # Not NORMAL: queued by priority (Worker.push), never in the LIFO slot. A bool,
        # read by every send that wakes a cell: an enum compare there costs more.
        self.prioritised = self.priority is not Priority.NORMAL
        self.on_start = self._hook("on_start")
        self.on_stop = self._hook("on_stop")
        # on_stop for the object a restart replaced, run as the new object's first
        # message: start and stop hooks stay paired (as Akka's postStop on restart)
        self.on_stop_replaced = (
            None if self.on_stop is None else self._entry(_replaced(self.on_stop), "on_stop")
        )

    def _hook(self, name: str) -> Entry | None:
        fn = getattr(self.cls, name, None)
        if fn is None:
            return None
        return self._entry(fn, name)

    def _entry(self, impl: Callable[..., Any], name: str) -> Entry:
        with _create_lock:  # once per (class, behaviour): keeps index == position
            slot = len(self.entries)
            entry = Entry(
                impl,
                inspect.iscoroutinefunction(impl),
                f"{self.name}.{name}",
                name,
                slot,
            )
            self.entries.append(entry)
        return entry

    def resolve(self, fn: Callable[..., Any]) -> Entry:
        """Check that ``fn`` is a behaviour of this class and cache how to call it.

        ``tag.send(Base.beh)`` on a subclass that overrides ``beh`` runs the override,
        as a method call would.
        """
        if getattr(fn, BEHAVIOUR_ATTR, None) is None:
            raise CapabilityUsageError(
                f"{getattr(fn, '__qualname__', fn)!r} is not a behaviour: only methods "
                "decorated with @behaviour can be sent to or asked of an agent"
            )
        name = fn.__name__
        if getattr(fn, _ANY_AGENT, False):
            # A primitive's own behaviour (broadcast's relay) runs on any agent; user code
            # sends the agent's own behaviours, so agent state stays behind them.
            entry = self._entry(fn, name)
            self.dispatch[fn] = entry
            self.slots[fn] = entry.slot
            return entry
        impl = getattr(self.cls, name, None)
        owners = [k for k in self.cls.__mro__ if k.__dict__.get(name) is fn]
        if impl is None or not owners or getattr(impl, BEHAVIOUR_ATTR, None) is None:
            raise CapabilityUsageError(
                f"{fn.__qualname__} is not a behaviour of {self.name}: pass one of "
                f"{self.name}'s own behaviours, e.g. tag.send({self.name}.<behaviour>, ...)"
            )
        entry = self._entry(impl, name)
        self.dispatch[fn] = entry  # a dict insert: atomic; a racing duplicate is harmless
        self.slots[fn] = entry.slot
        return entry


def _replaced(on_stop: Entry) -> Callable[..., Any]:
    """``on_stop`` of a replaced object, called as a lifecycle message of its successor
    (``impl(new, old)``). Its failure is logged: it must not restart the new object."""
    stop = on_stop.impl
    what = on_stop.what

    if on_stop.is_async:

        async def stop_replaced(agent: Agent, old: Agent) -> None:
            try:
                await stop(old)
            except Exception as exc:
                log.error("%s raised for the object a restart replaced", what, exc_info=exc)

        return stop_replaced

    def stop_replaced_sync(agent: Agent, old: Agent) -> None:
        try:
            stop(old)
        except Exception as exc:
            log.error("%s raised for the object a restart replaced", what, exc_info=exc)

    return stop_replaced_sync


class_infos: dict[type, ClassInfo] = {}  # read directly by Runtime.spawn: one call less


def class_info(cls: type) -> ClassInfo:
    info = class_infos.get(cls)
    if info is None:
        # A generic agent with its type arguments (``Pool[Job]``, which type-checks as
        # the class) is spawned as its class: the arguments exist for the checker only.
        origin = get_origin(cls) if not isinstance(cls, type) else None
        agent_cls = origin if isinstance(origin, type) else cls
        if not (isinstance(agent_cls, type) and issubclass(agent_cls, Agent)):
            raise CapabilityUsageError(
                f"spawn takes an Agent subclass, got {cls!r}: define `class X(Agent): ...`"
            )
        info = class_infos.get(agent_cls) or ClassInfo(agent_cls)
        class_infos[agent_cls] = class_infos[cls] = info
    return info


# ``tls.w``: the worker running on this thread (None on other threads, and on the
# caller's thread in deterministic mode outside a turn). A plain ``threading.local``,
# not a subclass with a class-level default: CPython reads a subclass's attributes
# through the generic lookup (type MRO, then the thread's dict), the base class's straight
# from the thread's dict. A thread's first read sets it (see worker_here).
tls = threading.local()


def worker_here() -> Worker | None:
    """The worker running on this thread, if any (the hot paths inline this)."""
    try:
        w: Worker | None = tls.w
    except AttributeError:  # this thread's first read
        w = tls.w = None
    return w


# How many Runtime(debug=True) are open in this process. A Channel belongs to no runtime:
# it checks its items deeply on a debug runtime's worker, or, in outside code, while a
# debug runtime is open (see debug_checks).
_debug_open = [0]


def debug_open(delta: int) -> None:
    with _create_lock:
        _debug_open[0] += delta


def debug_checks() -> bool:
    """Whether a check made here (not on behalf of one runtime) should be deep."""
    w = worker_here()
    return w.rt.debug if w is not None else _debug_open[0] > 0


# The agent whose async behaviour is running in this task (sync behaviours use
# ``Worker.current``, which is cheaper than a context variable).
current_async: contextvars.ContextVar[Cell | None] = contextvars.ContextVar(
    "capsys_current_agent", default=None
)

_create_lock = threading.Lock()
log = logging.getLogger("runtime")
_SHARED = SHARED_TYPES
_NO_ARG: Any = object()  # CellTag.send called without positional arguments
# An async behaviour asking idle agents inline yields to its loop every 16th ask, so a
# loop of such asks neither starves the worker's other tasks nor misses cancellation.
_YIELD_MASK = 15
# One send in 64 carries a latency stamp, its enqueue time (an int, perf_counter_ns) in
# the reply slot: runtime.metrics.SAMPLE_EVERY (not imported: runtime.metrics imports
# this module; tests check the two agree).
STAMP_EVERY = 64


# A message is a plain tuple: (slot, body, kw, reply or None, sender's name or None).
# ``slot`` is the behaviour's position in ClassInfo.entries. ``kw`` says how to call it:
# None when the behaviour has exactly one positional argument and ``body`` is that
# argument itself; otherwise ``body`` is the args tuple and ``kw`` the keyword arguments
# (a dict), or ``()`` when there are none (unpack with ``message_args``). Why: the common
# one-argument message is then a flat tuple of atoms, which the cyclic GC untracks at its
# first collection, so a long mailbox costs the GC nothing: a container inside keeps a
# tuple tracked (a nested args tuple for a while, because the collector revisits it after
# the message; any non-tuple container, even an untracked empty dict, for good), and then
# every full collection walks every queued message. Measured on the counting benchmark,
# that was a third of the cost of a send. The bare argument also spares the handler a
# ``*args`` call, and testing ``kw is None`` is cheaper than a flag bit in the slot.
# For the same reason a latency stamp is a plain int: an object there kept one message in
# 64 tracked, and those alone set off a full collection every 200,000 messages or so.
Message = tuple[int, Any, "dict[str, Any] | tuple[()] | None", "Answer | int | None", "str | None"]


class Answer(Protocol):
    """An ask's reply slot (``runtime.backends.Reply``), resolved when the message is
    handled. The reply slot of a sampled send holds an int instead (``STAMP_EVERY``)."""

    def resolve(self, ok: bool, value: Any) -> None: ...


def refuse(reply: Answer | int | None, exc: BaseException) -> None:
    """The reply slot of a message that failed or went to the dead letters: an ask gets
    ``exc``; a latency stamp (an int) records nothing, the message was not handled."""
    if reply is not None and not isinstance(reply, int):
        reply.resolve(False, exc)


def message(
    entry: Entry,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    reply: Any,
    label: str | None,
) -> Message:
    """Build a message (the send's hot path builds it inline, the same way)."""
    if kwargs:
        return (entry.slot, args, kwargs, reply, label)
    if len(args) == 1:
        return (entry.slot, args[0], None, reply, label)
    return (entry.slot, args, (), reply, label)


def message_args(msg: Message) -> tuple[Any, ...]:
    """The positional arguments of a message."""
    return (msg[1],) if msg[2] is None else msg[1]


def claim(token: list[bool] | None) -> bool:
    """Atomic test-and-set of a cell's scheduling token: True if we now own the cell."""
    if token:
        try:
            token.pop()
        except IndexError:  # lost the race to another claimer
            return False
        return True
    return False


def _label(cell: Cell | None) -> str | None:
    return None if cell is None else cell.label or cell.make_label()


def current(rt: Runtime) -> tuple[Worker | None, Cell | None]:
    """The worker of ``rt`` on this thread and the agent on whose behalf code runs."""
    w = worker_here()
    if w is None or w.rt is not rt:
        return None, None
    return w, w.current or current_async.get()


class _Extra:
    """The rarely needed part of a cell, allocated on first use."""

    __slots__ = ("finished", "muted", "restarts", "stop_waiters", "waiters")

    def __init__(self) -> None:
        self.finished = False  # the stop completed (on_stop returned)
        self.muted: list[Cell] = []  # senders muted because this mailbox is over high water
        self.waiters: list[Reply] = []  # outside send_wait callers waiting for room
        self.stop_waiters: list[Reply] = []
        self.restarts: collections.deque[float] = collections.deque()


class Cell:
    """One agent: the unit the scheduler runs (see the module docstring)."""

    tag: CellTag

    __slots__ = (
        "__weakref__",
        "agent",
        "args",
        "cpu",
        "ema",
        "handled",
        "info",
        "kwargs",
        "label",
        "lock",
        "mailbox",
        "mute_on",
        "num",
        "rt",
        "stopped",
        "stopping",
        "tag",
        "x",
    )

    def __init__(
        self,
        rt: Runtime,
        info: ClassInfo,
        agent: Agent,
        num: int,
        args: tuple[Any, ...] | None,
        kwargs: dict[str, Any] | None,
    ) -> None:
        self.rt = rt
        self.info = info
        self.agent = agent
        self.num = num
        self.args = args  # None: not restartable (an Iso was moved into __init__)
        self.kwargs = kwargs
        self.mailbox: collections.deque[Message] | None = None
        self.lock: list[bool] | None = None  # the scheduling token, see claim()
        self.stopping = False
        self.stopped = False
        self.mute_on: Cell | None = None
        self.label: str | None = None  # the name, cached once this agent sends
        self.handled = 0
        self.ema = 0.0  # EMA of handling seconds per message, sampled turns
        self.cpu = 0.0  # EMA of CPU time / wall time on sampled turns
        self.x: _Extra | None = None

    # ------------------------------------------------------------------ Address

    @property
    def name(self) -> str:
        """Readable and unique within the runtime: ``Book#3``."""
        return f"{self.info.name}#{self.num}"

    def make_label(self) -> str:
        label = self.label = self.name
        return label

    def __repr__(self) -> str:
        return f"<agent {self.name}>"

    def post(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """``Address.post``: the send of a plain ``Tag`` (this runtime's tags send
        directly, see ``CellTag.send``)."""
        CellTag.send(self.tag, behaviour, *args, **kwargs)

    async def post_wait(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        entry = self.info.dispatch.get(behaviour) or self.info.resolve(behaviour)
        rt = self.rt
        moving = bool(args or kwargs) and payload_moves(entry.what, args, kwargs, rt.debug)
        await self.wait_for_room(entry.what)
        if moving:  # only now: a wait that is cancelled keeps the caller's handles
            args, kwargs = move_payload(entry.what, args, kwargs)
        w, sender = current(rt)
        self.deliver(message(entry, args, kwargs, None, _label(sender)), w, True, sender)

    async def request(
        self,
        behaviour: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        # HOT PATH for asks between agents (fan-in): the shallow check and the append
        # are inlined as in post(); an ask needs no muting (the asker waits anyway).
        entry = self.info.dispatch.get(behaviour) or self.info.resolve(behaviour)
        if timeout is not None:
            check_timeout(timeout, self.name, entry.what)
        rt = self.rt
        left = timeout  # of the timeout, once the message is delivered
        moving = False  # an Iso moves: at the delivery, after any wait for room
        if kwargs:
            moving = payload_moves(entry.what, args, kwargs, rt.debug)
        else:
            for a in args:
                if type(a) not in _SHARED:
                    moving = payload_moves(entry.what, args, kwargs, rt.debug)
                    break
        try:
            w: Worker | None = tls.w
        except AttributeError:  # this thread's first read (see worker_here)
            w = tls.w = None
        if current_async.get() is self:
            # An agent handles one message at a time: its own ask would wait behind the
            # behaviour that waits for it, for ever.
            raise CapabilityUsageError(
                f"{self.name} asked itself ({entry.what}) from one of its own behaviours: "
                "the ask would wait for the behaviour that is waiting for it; call the "
                "method directly, or send to self.me without waiting"
            )
        inside = w is not None and w.rt is rt and w.loop is not None
        if moving and inside:  # no wait for room on these paths: move now
            args, kwargs = move_payload(entry.what, args, kwargs)
        mb = self.mailbox
        if (
            timeout is None
            and inside
            and w is not None
            and w.trace is None
            and w.current is None
            and not entry.is_async
            and not mb
            and claim(self.lock if mb is not None else self.ensure_lock())
        ):
            # From an async behaviour on a worker, to an idle agent (nothing queued, not
            # scheduled: we now hold its token) and a sync behaviour: run it right here,
            # as that agent's turn, instead of a queue hop and two task switches (see
            # Worker.ask_inline). Only without a timeout: a timed ask keeps its timer.
            mb = self.mailbox
            if mb or self.stopping or rt.closing:  # a send or a stop raced the claim
                w.push_lifo(self)  # we hold the token: schedule the cell as a send would
            else:
                result = w.ask_inline(self, entry, args, kwargs)
                w.inline_asks += 1
                if not w.inline_asks & _YIELD_MASK:
                    await w.loop.checkpoint()  # type: ignore[union-attr]
                return result
        if (
            w is not None
            and w.open_rt is rt
            and w.loop is not None
            and mb is not None
            and not self.stopped
        ):  # from an async behaviour of this runtime, not closing
            reply = w.loop.new_reply()
            w.sent += 1
            mb.append(message(entry, args, kwargs, reply, _label(current_async.get())))
            n = len(mb)
            if n > w.max_depth:
                w.max_depth = n
            if claim(self.lock):
                w.push_lifo(self)
            if self.stopped:
                self.drain_dead()
        elif inside:
            assert w is not None and w.loop is not None
            reply = w.loop.new_reply()
            sender = current_async.get()
            self.deliver(message(entry, args, kwargs, reply, _label(sender)), w, True, sender)
        else:
            from runtime.backends import current_loop

            if timeout is None:
                await self.wait_for_room()
            else:  # the timeout covers the wait for room too; the reply gets the rest
                _, left = await room_within(timeout, self.name, entry.what, self.wait_for_room)
            if moving:  # only now: a wait that is cancelled keeps the caller's handles
                args, kwargs = move_payload(entry.what, args, kwargs)
            reply = current_loop().new_reply()
            self.deliver(message(entry, args, kwargs, reply, None), None, wait=True)
        if rt.parked and self in rt.parked:  # muted by backpressure: it must answer
            self.unmute()
        if timeout is None:
            return await reply.wait()
        with anyio.move_on_after(left):
            return await reply.wait()
        raise AskTimeout(self.name, entry.what, timeout)

    # ----------------------------------------------------------------- delivery

    def post_moving(self, entry: Entry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """A send whose arguments carry an ``Iso`` (off the hot path): an outside
        sender's full mailbox is refused before the move, so ``MailboxFull`` leaves the
        caller's handles usable for a retry with ``send_wait``."""
        rt = self.rt
        w, sender = current(rt)
        mb = self.mailbox
        full = mb is not None and len(mb) >= rt.capacity
        if w is None and full and not (self.stopped or rt.closing):
            raise MailboxFull(self.name, rt.capacity)
        args, kwargs = move_payload(entry.what, args, kwargs)
        self.deliver(message(entry, args, kwargs, None, _label(sender)), w, sender=sender)

    def ensure_mailbox(self) -> collections.deque[Message]:
        """Allocate the mailbox and scheduling lock on first use (once per cell)."""
        with _create_lock:
            if self.mailbox is None:
                self.lock = [True]  # visible before the mailbox is
                self.mailbox = collections.deque()
        return self.mailbox

    def ensure_lock(self) -> list[bool]:
        """The scheduling token, allocated with the mailbox if this cell never had one."""
        self.ensure_mailbox()
        return self.lock  # type: ignore[return-value]  # set by ensure_mailbox

    def deliver(
        self, msg: Message, w: Worker | None, wait: bool = False, sender: Cell | None = None
    ) -> None:
        """Append a message and make the cell runnable if it was idle.

        HOT PATH. Thread safety relies on the GIL (and on per-object locking of deque on
        free-threaded builds): ``deque.append``/``popleft``/``len`` and
        ``Lock.acquire(False)`` are single atomic C calls; counters written here belong
        to the calling worker (``w``) or are guarded by the runtime's outside lock.
        """
        mb = self.mailbox
        if mb is None:
            mb = self.ensure_mailbox()
        rt = self.rt
        if self.stopped or rt.closing:
            rt.count_sent(w)
            rt.dead_letter(msg, self)
            return
        sample = rt.count_outside_send(len(mb), self, wait) if w is None else w.count_send()
        if sample and msg[3] is None:
            msg = (msg[0], msg[1], msg[2], perf_counter_ns(), msg[4])
        mb.append(msg)
        n = len(mb)
        if w is not None:
            if n > w.max_depth:
                w.max_depth = n
            if n >= rt.high_water and sender is not None and sender is not self:
                sender.mute_on = self  # acted on at the end of the sender's turn
        if claim(self.lock):
            rt.schedule(self, w)
        if self.stopped:
            # The stop drained the mailbox between our check and our append: drain it
            # again so this message is dead-lettered, not stranded (popleft is atomic,
            # so each message is taken by exactly one drainer).
            self.drain_dead()

    def post_control(
        self, entry: Entry, w: Worker | None, first: bool = False, args: tuple[Any, ...] = ()
    ) -> None:
        """Queue a lifecycle call (on_start) like a message from the runtime itself."""
        mb = self.mailbox if self.mailbox is not None else self.ensure_mailbox()
        rt = self.rt
        rt.count_sent(w)
        if first:
            mb.appendleft((entry.slot, args, (), None, None))
        else:
            mb.append((entry.slot, args, (), None, None))
        if claim(self.lock):
            rt.schedule(self, w)

    def drain_dead(self) -> None:
        mb = self.mailbox
        if mb is None:
            return
        while True:
            try:
                msg = mb.popleft()
            except IndexError:
                return
            self.rt.dead_letter(msg, self)

    def extra(self) -> _Extra:
        x = self.x
        if x is None:
            with _create_lock:
                if self.x is None:
                    self.x = _Extra()
                x = self.x
        return x

    # -------------------------------------------------------------- backpressure

    async def wait_for_room(self, what: str = "a message") -> None:
        """Wait (outside callers, async behaviours) while the mailbox is over high water."""
        rt = self.rt
        while not self.stopped and not rt.closing:
            mb = self.mailbox
            if mb is None or len(mb) < rt.high_water:
                return
            if current_async.get() is self:
                # Only its own handling makes room, and it handles one message at a
                # time: the wait would never end (as an ask of itself).
                raise CapabilityUsageError(
                    f"{self.name} used send_wait to itself ({what}) with its mailbox above "
                    "high water: it would wait for room that only its own handling makes; "
                    "send to self.me instead (an agent is never muted for its own sends)"
                )
            w, _ = current(rt)
            if w is not None and w.loop is not None:
                reply = w.loop.new_reply()
            else:
                from runtime.backends import current_loop

                reply = current_loop().new_reply()
            x = self.extra()
            with rt.mute_lock:
                x.waiters.append(reply)
            # The receiver may have drained before we registered: check again.
            if len(mb) <= rt.low_water or self.stopped:
                self.release_muted()
            await reply.wait()

    def unmute(self) -> None:
        """Run this muted cell again before its receiver drains: it was asked, and the
        asker may be that receiver itself (an async behaviour awaiting the answer keeps
        its mailbox full, so waiting for the drain would wait for ever). If it floods
        the receiver again, its next turn mutes it again."""
        rt = self.rt
        with rt.mute_lock:
            receiver = rt.parked.pop(self, None)
            if receiver is None:  # released meanwhile
                return
            receiver.x.muted.remove(self)  # type: ignore[union-attr]  # set by try_mute
        w = worker_here()
        rt.schedule(self, w if w is not None and w.rt is rt else None)

    def release_muted(self) -> None:
        """Unmute the senders and wake the waiters held back by this mailbox."""
        x = self.x
        if x is None:
            return
        rt = self.rt
        with rt.mute_lock:
            senders, x.muted = x.muted, []
            waiters, x.waiters = x.waiters, []
            for sender in senders:
                del rt.parked[sender]
        for sender in senders:
            w = worker_here()
            rt.schedule(sender, w if w is not None and w.rt is rt else None)
        for reply in waiters:
            reply.resolve(True, None)

    def try_mute(self, w: Worker) -> bool:
        """At the end of this cell's turn: park it on the receiver that is over high water.

        Returns False when muting is not needed any more (or would stall: the receiver
        is muted itself or about to be, or this cell is overloaded too), and the caller
        reschedules. The receiver's state is read under the runtime's mute lock, so of
        two agents flooding each other at most one is muted: a cycle of muted agents
        would wait for each other forever.
        """
        receiver = self.mute_on
        self.mute_on = None
        rt = self.rt
        if receiver is None or receiver.stopped or receiver.mute_on is not None:
            return False
        rmb = receiver.mailbox
        mb = self.mailbox
        if rmb is None or (mb is not None and len(mb) >= rt.high_water):
            return False
        if mb and _holds_an_ask(mb):
            # Someone waits for its answer, maybe the receiver itself, in an async
            # behaviour that keeps its mailbox full meanwhile: held until that mailbox
            # drains, this cell would never answer. (An ask arriving once it is muted
            # unmutes it: see request.)
            return False
        x = receiver.extra()
        with rt.mute_lock:
            if len(rmb) <= rt.low_water or receiver in rt.parked:
                return False
            x.muted.append(self)
            rt.parked[self] = receiver
        w.mutes += 1
        if len(rmb) <= rt.low_water or receiver.stopped:
            receiver.release_muted()  # it drained meanwhile: whoever empties the list wins
        return True

    # ----------------------------------------------------------------- lifecycle

    def stop_waiter_done(self) -> None:
        x = self.extra()
        with self.rt.mute_lock:
            x.finished = True
            waiters, x.stop_waiters = x.stop_waiters, []
        for reply in waiters:
            reply.resolve(True, None)

    def restart(self) -> bool:
        """Re-create the agent object with the original spawn arguments."""
        if self.args is None:
            return False
        info = self.info
        sup = info.supervision
        x = self.extra()
        now = time.monotonic()
        while x.restarts and now - x.restarts[0] > sup.within:
            x.restarts.popleft()
        if len(x.restarts) >= sup.max_restarts:
            return False
        x.restarts.append(now)
        agent = info.cls.__new__(info.cls)
        agent._capsys_tag = self.tag
        agent._capsys_runtime = self.rt
        cast(Any, agent).__init__(*self.args, **(self.kwargs or {}))
        self.agent = agent
        return True


def _holds_an_ask(mb: collections.deque[Message]) -> bool:
    """Whether a mailbox holds an ask, whose reply someone awaits. (Copied first: other
    threads may append meanwhile, and a deque changed during iteration raises.)"""
    return any(msg[3] is not None and type(msg[3]) is not int for msg in tuple(mb))


class CellTag(Tag[Any]):
    """The ``Tag`` this runtime hands out: a ``Tag`` whose ``send`` delivers by itself,
    without going through ``Address.post`` (one Python call less per send)."""

    __slots__ = ()

    def _moves(self, key: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """The send's rare path: arguments that are not plain atoms. Checks them (raising
        NotSendableError) and, when an ``Iso`` moves, delivers the message itself."""
        cell: Cell = self._address  # type: ignore[assignment]
        entry = cell.info.entries[key]
        if not payload_moves(entry.what, args, kwargs, cell.rt.debug):
            return False
        cell.post_moving(entry, args, kwargs)
        return True

    def __reduce__(self) -> NoReturn:
        raise CapabilityUsageError(
            f"a Tag of {self._address.name} cannot be pickled: it addresses an agent in "
            "this process's Runtime; send it to agents of the same runtime, or run the "
            "program on runtime.ray.RayRuntime to reach agents in other processes"
        )

    def send(
        self, behaviour: Callable[..., Any], arg: Any = _NO_ARG, /, *args: Any, **kwargs: Any
    ) -> None:
        # HOT PATH (every tag.send). Measured on the counting benchmark: each function
        # call here costs as much as the rest of the send, so the common case (a send
        # from a behaviour to a live agent, immutable positional arguments) is inlined:
        # one dict lookup resolves the behaviour, one per argument is the shallow
        # sendability check, then append + test-and-set of the scheduling lock. The
        # first argument has a parameter of its own so that the common one-argument
        # send allocates no ``*args`` tuple (``()`` is a shared constant).
        cell: Cell = self._address  # type: ignore[assignment]  # see Runtime.spawn
        try:  # (a subscript is specialised by CPython 3.11, a .get() call is not)
            key: int | None = cell.info.slots[behaviour]
        except KeyError:
            key = None
        if key is None:  # outside the except block: resolve's errors stand alone
            key = cell.info.resolve(behaviour).slot
        # The message's body and kw (see Message): one bare argument, or the args. The
        # empty **kwargs dict of the call is not kept.
        kw: dict[str, Any] | tuple[()] | None
        if args or kwargs:
            if arg is not _NO_ARG:
                args = (arg, *args)
            if kwargs:
                if self._moves(key, args, kwargs):
                    return
                kw = kwargs
            else:
                for a in args:
                    if type(a) not in _SHARED:
                        if self._moves(key, args, kwargs):
                            return
                        break
                kw = ()
            body = args
        elif arg is _NO_ARG:
            body, kw = (), ()
        else:
            body, kw = arg, None
            if type(arg) not in _SHARED and self._moves(key, (arg,), kwargs):
                return  # not a plain atom: an Iso moved (or the argument was refused)
        try:
            w: Worker | None = tls.w
        except AttributeError:  # this thread's first read (see worker_here)
            w = tls.w = None
        mb = cell.mailbox
        if w is None or w.open_rt is not cell.rt or mb is None or cell.stopped:
            w, sender = current(cell.rt)
            cell.deliver((key, body, kw, None, _label(sender)), w, sender=sender)
            return
        label = w.label  # of the agent whose sync turn this is (set with w.current)
        if label is None:  # an async behaviour's task, or runtime code on this worker
            label = _label(current_async.get())
        # Worker.count_send(), inlined: count, and stamp one send in STAMP_EVERY.
        sent = w.sent = w.sent + 1  # this worker's own counter: only this thread writes it
        if sent < w.stamp_at:
            stamp = None
        else:
            w.stamp_at = sent + STAMP_EVERY
            stamp = perf_counter_ns()
        mb.append((key, body, kw, stamp, label))  # atomic
        n = len(mb)
        if n >= w.depth_watch:  # a new deepest mailbox or high water: one compare for both
            if n > w.max_depth:
                w.max_depth = n
            if n < cell.rt.high_water:
                w.depth_watch = n + 1
            else:  # high water: mute the sender at the end of its turn (never itself)
                sender = w.current or current_async.get()
                if sender is not None and sender is not cell:
                    sender.mute_on = cell
        token = cell.lock
        if token:  # idle: try to take the token (inlined claim())
            try:
                token.pop()
            except IndexError:  # another sender scheduled it first
                pass
            else:
                lifo = w.lifo
                if lifo or w.sleeping or cell.info.prioritised or w.trace is not None:
                    w.push_lifo(cell)  # (trace: the deterministic worker has its own)
                else:  # the common case of push_lifo(), inlined
                    lifo.append(cell)
        if cell.stopped:
            cell.drain_dead()  # see deliver()
