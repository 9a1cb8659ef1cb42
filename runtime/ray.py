"""``RayRuntime``: the same capsys programs with each agent a Ray actor (SPEC §6 "Ray").

A program written for ``runtime.Runtime`` runs unmodified: ``async with RayRuntime() as
rt``, ``rt.spawn``, ``tag.send`` / ``ask`` / ``send_wait``, ``rt.stop``,
``rt.dead_letters``, and inside agents ``self.me`` and ``self.runtime``.

How it maps onto Ray:

* **One actor per agent.** A generic host actor (``_Host``) builds the agent object in
  its own worker process and calls behaviours *by name*. Messages run in the actor's
  default concurrency group, one at a time (``max_concurrency=1``), so agent state needs
  no locks; an ``async`` behaviour runs to completion on the host's own event loop
  before the next message starts. Stop, counters and dead letters use a separate
  ``control`` group, so ``rt.stop`` takes effect after the message in progress (queued
  messages go to the dead letters), as on the local runtime.
* **Ordering.** Ray executes the calls one caller submits to one actor in submission
  order: with ``max_concurrency=1`` (not async, no retries) it gives the actor its
  ordered per-caller queue, and every message goes through the one-thread default group
  (the control group never runs behaviours). So messages from one sender to one
  receiver are handled in the order sent (``tests/runtime/ray`` checks it).
* **The boundary.** Arguments pass ``capsys.sendable.prepare_payload`` on the sending
  side, so a non-sendable value raises ``NotSendableError`` before anything is
  serialized and an ``Iso`` is moved (the sender's handle dies). Each moved ``Iso``,
  as an argument or inside a tuple, frozenset or record (a ``@message`` field), travels
  as its content and is re-wrapped as a fresh ``Iso`` for the receiver; so do replies;
  immutable values are serialized as they are; a ``Tag`` travels as its actor handle and
  is interned per process, so tags of one agent compare equal everywhere. An ask's reply
  is checked with ``check_value`` inside the actor.
* **Names.** Agents spawned by the program are ``Book#1``, ``Book#2``...; an agent
  spawned by an agent carries its parent's name (``Pong#1@Ping#1``), so names stay
  unique without a central counter.
* **Shutdown.** Leaving ``async with`` waits until every message sent so far was handled
  (termination detection over per-process sent/handled counters, polled in two
  consecutive equal rounds), then stops every agent (``on_stop``), the latest spawned
  first as locally, lets the dead letters in flight arrive, and kills the actors.
  ``ray.init`` is called only if Ray was not initialised yet, and only then is Ray shut
  down on exit.

Differences from the local runtime: mailboxes are unbounded unless
``mailbox_capacity`` is given (it becomes Ray's per-caller ``max_pending_calls``; past it
``send`` raises ``MailboxFull``, from an agent too, and ``send_wait`` waits);
``__init__`` exceptions of an agent surface on its first ``ask`` (``spawn`` does not wait
for the actor to start); the ``escalate`` supervision policy stops the agent and raises
its error when the runtime exits; scheduling options of the local executor (workers, priorities, deterministic
mode) and the metrics built on its internals do not apply (``broadcast`` asks every
agent from the caller: the relays are local agents' behaviour). Agent classes must be
importable in Ray's worker processes (Ray gives them the driver's working and script
directories; classes of ``__main__`` are pickled by value; for others use
``ray.cloudpickle.register_pickle_by_value(module)``).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import inspect
import itertools
import logging
import threading
import time
import types
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple, TypeVar, cast

import anyio
import ray
from ray import cloudpickle
from ray.exceptions import PendingCallsLimitExceeded, RayActorError
from typing_extensions import ParamSpec

from capsys.agent import BEHAVIOUR_ATTR, Agent
from capsys.capabilities import Iso
from capsys.errors import CapabilityUsageError, NotSendableError
from capsys.sendable import check_value, prepare_payload, replace_inside
from capsys.tag import Tag
from runtime.backends import running_backend
from runtime.cell import ClassInfo, class_info
from runtime.deadletters import DeadLetter, DeadLetters
from runtime.errors import AgentStopped, AskTimeout, MailboxFull, check_timeout, room_within
from runtime.primitives.channel import Channel

__all__ = ["RayAddress", "RayDeadLetters", "RayRuntime", "RayStopHandle"]

log = logging.getLogger("runtime.ray")

A = TypeVar("A", bound=Agent)
P = ParamSpec("P")

_OK, _ERROR, _STOPPED = 0, 1, 2
_CONTROL = "control"


# ----------------------------------------------------------------------------- boundary


class _IsoBox:
    """How a moved ``Iso`` crosses the process boundary: its content, re-wrapped as a
    fresh ``Iso`` on arrival (``Iso`` itself refuses pickling on purpose)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def _box(
    what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Replace the (already moved) ``Iso`` handles, as arguments or inside immutable
    containers and records (a ``@message`` with an ``Iso`` field), by their transport
    form. A ``Channel`` is refused: it connects the tasks of one process, and a copy in
    another process would be a second, unconnected channel."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, Channel):
            raise NotSendableError(
                f"a Channel given to {what} cannot reach an agent on RayRuntime: it "
                "connects agents of one process, and the actor's copy would be another, "
                "unconnected channel; have an agent own the queue and send to its Tag "
                "(CAP001)"
            )
    args = tuple(replace_inside(a, Iso, _boxed) for a in args)
    if kwargs:
        kwargs = {k: replace_inside(v, Iso, _boxed) for k, v in kwargs.items()}
    return args, kwargs


def _boxed(handle: Iso[Any]) -> _IsoBox:
    return _IsoBox(handle.take())


def _unbox(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any], bool]:
    """The receiving side of ``_box``; also says whether an ``Iso`` arrived."""
    new_args = tuple(replace_inside(a, _IsoBox, _unboxed) for a in args)
    new_kwargs = {k: replace_inside(v, _IsoBox, _unboxed) for k, v in kwargs.items()}
    moved = any(a is not b for a, b in zip(args, new_args, strict=True)) or any(
        new_kwargs[k] is not v for k, v in kwargs.items()
    )
    return new_args, new_kwargs, moved


def _unboxed(box: _IsoBox) -> Iso[Any]:
    return Iso(box.value)


def _caused_by_iso(exc: BaseException) -> bool:
    """Whether a serialization error comes from an ``Iso`` refusing to be pickled."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, CapabilityUsageError) or "an Iso handle cannot be pickled" in str(
            cause
        ):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives serialization, else a ``RuntimeError`` that
    names it (an exception class with a custom ``__init__`` may not unpickle)."""
    try:
        cloudpickle.loads(cloudpickle.dumps(exc))  # type: ignore[no-untyped-call]  # ray's vendored cloudpickle is untyped
    except Exception:
        return RuntimeError(f"{type(exc).__qualname__}: {exc}")
    return exc


async def _await_ref(ref: Any) -> Any:
    """Await a Ray ``ObjectRef`` on asyncio or trio without cancelling the Ray task when
    the waiter is cancelled (the message is still handled, its reply dropped)."""
    fut: concurrent.futures.Future[Any] = ref.future()
    if running_backend() != "asyncio":
        return await anyio.to_thread.run_sync(fut.result, abandon_on_cancel=True)
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()

    def settle(done: concurrent.futures.Future[Any]) -> None:
        if waiter.done():
            return
        exc = done.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(done.result())

    def on_done(done: concurrent.futures.Future[Any]) -> None:
        # RuntimeError: the loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, done)

    fut.add_done_callback(on_done)
    return await waiter


def _actor_id(handle: Any) -> str:
    # ActorHandle has no public accessor for its id; `_actor_id` is stable across releases.
    return cast(str, handle._actor_id.hex())


# ------------------------------------------------------------------------ process state


class _Context:
    """What one process (the driver, or one agent's actor) knows: its own message
    counters, the agents it spawned and stopped, and the dead letters it recorded."""

    def __init__(self, sender: str, deep: bool, keep: int) -> None:
        self.sender = sender  # "outside" for the driver, else the agent's name
        self.deep = deep  # deep sendability checks
        self.lock = threading.Lock()
        self.sent = 0  # messages (and spawns) this process submitted to an agent
        self.done = 0  # messages (and its own spawn) this agent's host completed
        self.stopped: set[str] = set()  # actor ids this process stopped
        self.dead = DeadLetters(keep)
        self.closed = False
        # The actors spawned here, with their class names (keeps them alive; the names
        # group a pool for the stop on exit)
        self.owned: list[_Member] = []
        self.numbers: dict[str, itertools.count[int]] = {}  # per class, for agent names

    def count_sent(self) -> None:
        with self.lock:
            self.sent += 1

    def uncount_sent(self) -> None:
        with self.lock:
            self.sent -= 1

    def is_stopped(self, actor_id: str) -> bool:
        return self.closed or actor_id in self.stopped


_context: _Context | None = None  # this process's context (set on enter / in a host)
_addresses: weakref.WeakValueDictionary[str, RayAddress] = weakref.WeakValueDictionary()
_addresses_lock = threading.Lock()


def _current_context() -> _Context:
    ctx = _context
    if ctx is None:
        raise CapabilityUsageError(
            "no RayRuntime is running in this process: use tags inside "
            "`async with RayRuntime() as rt:` or from an agent"
        )
    return ctx


def _address_of(handle: Any, cls: type[Agent], name: str, capacity: int | None) -> RayAddress:
    """The one address object of an actor in this process (so equal tags are identical)."""
    key = _actor_id(handle)
    with _addresses_lock:
        address = _addresses.get(key)
        if address is None:
            address = RayAddress(handle, key, cls, name, capacity, _context)
            _addresses[key] = address
    return address


class RayAddress:
    """``capsys.tag.Address`` of an agent that is a Ray actor: what a ``Tag`` wraps."""

    __slots__ = ("__weakref__", "_ctx", "actor_id", "capacity", "cls", "handle", "info", "name")

    def __init__(
        self,
        handle: Any,
        actor_id: str,
        cls: type[Agent],
        name: str,
        capacity: int | None,
        ctx: _Context | None,
    ) -> None:
        self.handle = handle
        self.actor_id = actor_id
        self.cls = cls
        self.info: ClassInfo = class_info(cls)
        self.name = name
        self.capacity = capacity
        self._ctx = ctx

    @property
    def ctx(self) -> _Context:
        """The context of the process this address lives in (an address unpickled as a
        spawn argument exists before its host has made the context)."""
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = _current_context()
        return ctx

    def __reduce__(self) -> tuple[Any, ...]:
        return (_address_of, (self.handle, self.cls, self.name, self.capacity))

    def __repr__(self) -> str:
        return f"<ray agent {self.name}>"

    def _prepare(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, str, tuple[Any, ...], dict[str, Any]]:
        """Resolve the behaviour, check the arguments and put moved ``Iso``s in transport
        form (once: a retried submission sends the same boxes)."""
        entry = self.info.dispatch.get(behaviour) or self.info.resolve(behaviour)
        if args or kwargs:
            args, kwargs = _box(
                entry.what, *prepare_payload(entry.what, args, kwargs, self.ctx.deep)
            )
        return entry.name, entry.what, args, kwargs

    def _submit(
        self, method: str, name: str, what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Count the message and hand it to Ray; ``MailboxFull`` past the pending limit."""
        ctx = self.ctx
        ctx.count_sent()
        try:
            return getattr(self.handle, method).remote(name, what, ctx.sender, args, kwargs)
        except PendingCallsLimitExceeded:
            ctx.uncount_sent()
            raise MailboxFull(self.name, self.capacity or 0) from None
        except TypeError as exc:  # Ray could not serialize an argument
            ctx.uncount_sent()
            if _caused_by_iso(exc):
                raise NotSendableError(
                    f"an argument of {what} holds an Iso where its type does not declare "
                    "one (a field typed object or Any): only Isos in declared places are "
                    "moved to another process; declare the field as Iso[...], or take() "
                    "the value and send an immutable copy (CAP001)"
                ) from None
            cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise NotSendableError(
                f"an argument of {what} cannot be serialized to reach its Ray actor "
                f"({cause}): whatever crosses to another process must pickle, the "
                "content of a moved Iso too (CAP001)"
            ) from exc
        except BaseException:
            ctx.uncount_sent()
            raise

    def post(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        name, what, args, kwargs = self._prepare(behaviour, args, kwargs)
        ctx = self.ctx
        if ctx.is_stopped(self.actor_id):
            ctx.dead.add(ctx.sender, self.name, what)
            return
        self._submit("tell", name, what, args, kwargs)

    async def post_wait(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        name, what, args, kwargs = self._prepare(behaviour, args, kwargs)
        await self._submit_when_room("tell", name, what, args, kwargs)

    async def _submit_when_room(
        self, method: str, name: str, what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """``_submit``, waiting while this caller has ``capacity`` calls pending; a stop
        meanwhile makes it a dead letter (``None``)."""
        ctx = self.ctx
        delay = 0.001
        while True:
            if ctx.is_stopped(self.actor_id):
                ctx.dead.add(ctx.sender, self.name, what)
                return None
            try:
                return self._submit(method, name, what, args, kwargs)
            except MailboxFull:
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.05)

    async def request(
        self,
        behaviour: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        name, what, args, kwargs = self._prepare(behaviour, args, kwargs)

        def submit() -> Awaitable[Any]:
            return self._submit_when_room("ask", name, what, args, kwargs)

        left = 0.0
        if timeout is None:
            ref = await submit()
        else:  # the timeout covers the wait for room too; the reply gets the rest
            check_timeout(timeout, self.name, what)
            ref, left = await room_within(timeout, self.name, what, submit)
        if ref is None:
            raise AgentStopped(self.name, what)
        try:
            if timeout is None:
                status, value = await _await_ref(ref)
            else:
                with anyio.move_on_after(left):
                    status, value = await _await_ref(ref)
                    return _reply(status, value, self.name, what)
                raise AskTimeout(self.name, what, timeout)
        except RayActorError as exc:
            raise AgentStopped(self.name, what) from exc
        return _reply(status, value, self.name, what)


def _reply(status: int, value: Any, name: str, what: str) -> Any:
    if status == _OK:
        return replace_inside(value, _IsoBox, _unboxed)
    if status == _STOPPED:
        raise AgentStopped(name, what) from value
    raise value


# ------------------------------------------------------------------------------ actors


# An agent actor as the driver finds it: (actor handle, agent class name).
_Member = tuple[Any, str]


class _Counters(NamedTuple):
    sent: int
    done: int
    spawned: list[_Member]  # the agents this one spawned: how the driver finds them


class _Final(NamedTuple):
    dead_count: int
    dead_recent: list[DeadLetter]
    escalated: BaseException | None


class _Host:
    """The Ray actor that hosts one agent object (see the module docstring)."""

    def __init__(
        self,
        cls: type[Agent],
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        settings: _Settings,
    ) -> None:
        global _context
        ctx = _context = _Context(name, settings.deep, settings.dead_letters_kept)
        self.ctx = ctx
        self.cls = cls
        self.name = name
        self.info = class_info(cls)
        self.lock = threading.Lock()  # held while the agent runs a message or a hook
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False
        self.finished = False
        self.failure: BaseException | None = None  # __init__ failed: why asks fail
        self.escalated: BaseException | None = None
        self.restarts: collections.deque[float] = collections.deque()
        self.agent: Agent | None = None
        address = _address_of(
            ray.get_runtime_context().current_actor, cls, name, settings.mailbox_capacity
        )
        self.tag: Tag[Any] = Tag(address)
        self.runtime = RayRuntime._attached(ctx, settings)
        args, kwargs, moved = _unbox(args, kwargs)
        # An Iso given to spawn was moved into the first object: not restartable.
        self.spawn_args = None if moved else (args, kwargs)
        with self.lock:
            try:
                self.agent = self._create(args, kwargs)
            except Exception as exc:
                log.error("%s: __init__ failed; the agent is stopped", name, exc_info=True)
                self.failure = _portable(exc)
                self.stopping = self.finished = True
            else:
                if self.info.on_start is not None:
                    self._run_hook("on_start")
            finally:
                ctx.done += 1  # the spawn counted as a message by the spawner

    def _create(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Agent:
        agent = self.cls.__new__(self.cls)
        agent._capsys_tag = self.tag
        agent._capsys_runtime = cast(Any, self.runtime)
        cast(Any, agent).__init__(*args, **kwargs)
        return agent

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not inspect.iscoroutinefunction(fn):
            return fn(self.agent, *args, **kwargs)
        if self.loop is None:
            loop = self.loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="capsys-agent-loop", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(fn(self.agent, *args, **kwargs), self.loop).result()

    def _run_hook(self, name: str) -> None:
        hook = getattr(self.cls, name)
        try:
            self._call(hook, (), {})
        except Exception as exc:
            log.error("%s.%s raised", self.name, name, exc_info=True)
            if name == "on_start":
                self._supervise(exc)

    # -- messages (default concurrency group: one at a time, in order per caller)

    def tell(
        self, name: str, what: str, sender: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        try:
            self._handle(name, what, sender, args, kwargs, reply=False)
        finally:
            self.ctx.done += 1

    def ask(
        self, name: str, what: str, sender: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[int, Any]:
        try:
            return self._handle(name, what, sender, args, kwargs, reply=True)
        finally:
            self.ctx.done += 1

    def _handle(
        self,
        name: str,
        what: str,
        sender: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        reply: bool,
    ) -> tuple[int, Any]:
        with self.lock:
            if self.stopping:
                self.ctx.dead.add(sender, self.name, what)
                return (_ERROR, self.failure) if self.failure is not None else (_STOPPED, None)
            fn = getattr(self.cls, name, None)
            if fn is None or getattr(fn, BEHAVIOUR_ATTR, None) is None:
                return _ERROR, CapabilityUsageError(f"{what} is not a behaviour of {self.name}")
            args, kwargs, _ = _unbox(args, kwargs)
            try:
                result = self._call(fn, args, kwargs)
            except Exception as exc:
                if _wrong_arguments(exc):
                    # The message is at fault, not the agent (a sender that skipped the
                    # type checker): refused without a restart, as locally.
                    log.error("%s refused a message to %s: %s", self.name, what, exc)
                    return _ERROR, _portable(exc)
                if not reply:  # nobody gets the exception: say so
                    log.error("%s raised (sent by %s)", what, sender, exc_info=True)
                self._supervise(exc)
                return _ERROR, _portable(exc)
        if not reply:
            return _OK, None
        try:
            value = check_value(result, f"the reply of {what}", self.ctx.deep)
        except Exception as exc:
            return _ERROR, _portable(exc)
        return _OK, replace_inside(value, Iso, _boxed)

    def _supervise(self, exc: Exception) -> None:
        """The agent class's supervision policy, as on the local runtime."""
        policy = self.info.supervision
        if policy.policy == "restart" and self.spawn_args is not None:
            now = time.monotonic()
            while self.restarts and now - self.restarts[0] > policy.within:
                self.restarts.popleft()
            if len(self.restarts) < policy.max_restarts:
                self.restarts.append(now)
                # As locally: on_stop of the replaced object, on_start of the new one.
                if self.info.on_stop is not None:
                    self._run_hook("on_stop")
                try:
                    self.agent = self._create(*self.spawn_args)
                except Exception:
                    log.error("%s: restart failed; stopping it", self.name, exc_info=True)
                    self.finished = True  # its on_stop has run
                else:
                    if self.info.on_start is not None:
                        self._run_hook("on_start")
                    return
        elif policy.policy == "escalate":
            self.escalated = _portable(exc)
        self.stopping = True
        self._finish()

    def _finish(self) -> None:
        """Run ``on_stop`` once (the caller holds the lock)."""
        if self.finished:
            return
        self.finished = True
        if self.info.on_stop is not None:
            self._run_hook("on_stop")

    # -- control (own concurrency group: not queued behind messages)

    @ray.method(concurrency_group=_CONTROL)
    def stop(self) -> int:
        """Stop after the message in progress; how many messages ``on_stop`` sent (the
        runtime's exit then lets the agents still running handle them)."""
        self.stopping = True
        with self.lock:
            before = self.ctx.sent
            self._finish()
            return self.ctx.sent - before

    @ray.method(concurrency_group=_CONTROL)
    def counters(self) -> _Counters:
        return _Counters(self.ctx.sent, self.ctx.done, list(self.ctx.owned))

    @ray.method(concurrency_group=_CONTROL)
    def dead_letters(self) -> tuple[int, list[DeadLetter]]:
        return self.ctx.dead.count, self.ctx.dead.recent

    @ray.method(concurrency_group=_CONTROL)
    def final(self) -> _Final:
        return _Final(self.ctx.dead.count, self.ctx.dead.recent, self.escalated)


def _wrong_arguments(exc: Exception) -> bool:
    """A ``TypeError`` raised by the call of the behaviour in ``_Host._call`` itself
    (its innermost frame), before the behaviour ran: arguments that do not fit it."""
    if not isinstance(exc, TypeError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is _Host._call.__code__


# ray.remote's overloads omit concurrency_groups, which it accepts for actor classes.
_HostActor: Any = ray.remote(concurrency_groups={_CONTROL: 1})(_Host)  # type: ignore[call-overload]


# ----------------------------------------------------------------------------- runtime


class _Settings(NamedTuple):
    """What every process of one runtime must agree on (sent to each host)."""

    deep: bool
    dead_letters_kept: int
    mailbox_capacity: int | None
    actor_options: dict[str, Any]


def _new_children(polled: list[_Counters], seen: set[str]) -> list[_Member]:
    """The agents spawned by the polled ones that were not known yet."""
    found = []
    for counters in polled:
        for member in counters.spawned:
            key = _actor_id(member[0])
            if key not in seen:
                seen.add(key)
                found.append(member)
    return found


def _control(handle: Any, method: str) -> Any:
    """``handle.<method>.remote()`` for the runtime's own calls (counters, stop, final
    tallies). Ray's per-caller pending limit, which ``mailbox_capacity`` sets, counts
    them with the messages; past it, wait for room (briefly: a message completes) rather
    than fail the exit or a look at the dead letters."""
    delay = 0.001
    while True:
        try:
            return getattr(handle, method).remote()
        except PendingCallsLimitExceeded:
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


async def _control_soon(handle: Any, method: str) -> Any:
    """``_control`` from async code: the event loop runs on while it waits for room."""
    delay = 0.001
    while True:
        try:
            return getattr(handle, method).remote()
        except PendingCallsLimitExceeded:
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)


async def _poll(ctx: _Context) -> tuple[list[_Member], int, int]:
    """Every agent of the runtime (found from the driver's down through the ones agents
    spawned, so parents before their children) and the totals of messages sent and
    completed."""
    hosts = list(ctx.owned)
    seen = {_actor_id(h) for h, _ in hosts}
    sent, done = ctx.sent, 0
    frontier = hosts
    while frontier:
        refs = [await _control_soon(h, "counters") for h, _ in frontier]
        polled = [await _await_ref(ref) for ref in refs]
        sent += sum(c.sent for c in polled)
        done += sum(c.done for c in polled)
        frontier = _new_children(polled, seen)
        hosts.extend(frontier)
    return hosts, sent, done


class RayDeadLetters(DeadLetters):
    """A snapshot of the dead letters of every process of a ``RayRuntime``: the count
    of all of them and the most recent ones each process kept."""

    def __init__(self, keep: int, parts: list[tuple[int, list[DeadLetter]]]) -> None:
        super().__init__(keep)
        for count, recent in parts:
            for letter in recent:
                self.add(*letter)
            self._count += count - len(recent)  # counted there but no longer kept


class RayStopHandle:
    """Returned by ``rt.stop(tag)``: the stop is already requested; awaiting this waits
    until the agent has stopped (its ``on_stop`` has run)."""

    __slots__ = ("_ref",)

    def __init__(self, ref: Any) -> None:
        self._ref = ref

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        if self._ref is None:
            return
        with contextlib.suppress(RayActorError):  # the actor is gone: stopped too
            await _await_ref(self._ref)


class RayRuntime:
    """Run capsys agents as Ray actors (see the module docstring).

    ``address`` / ``namespace`` / ``ray_init_options`` go to ``ray.init`` when Ray is
    not initialised yet. ``mailbox_capacity``: Ray's per-caller pending-call limit
    (``None``: unbounded). ``deep_checks`` (default on, unlike the local runtime's
    shallow default): every argument and reply is walked for sendability, because it is
    serialized anyway (the walk costs far less than the pickling) and a shallow check
    would let a list inside a tuple be silently copied to the agent. ``shutdown_timeout``:
    seconds to wait for pending messages on exit. ``actor_options``: extra
    ``.options(...)`` for every agent actor (e.g. resources); agents default to
    ``num_cpus=0`` so that many fit on a small machine (concurrency, retries and the
    pending-call limit are the runtime's own and cannot be overridden).
    """

    def __init__(
        self,
        address: str | None = None,
        namespace: str | None = None,
        *,
        mailbox_capacity: int | None = None,
        deep_checks: bool = True,
        shutdown_timeout: float = 30.0,
        dead_letters_kept: int = 1000,
        actor_options: dict[str, Any] | None = None,
        **ray_init_options: Any,
    ) -> None:
        if mailbox_capacity is not None and mailbox_capacity < 1:
            raise ValueError(f"RayRuntime(mailbox_capacity={mailbox_capacity}): must be >= 1")
        self.address = address
        self.namespace = namespace
        self.shutdown_timeout = shutdown_timeout
        self.ray_init_options = ray_init_options
        self.settings = _Settings(
            deep_checks, dead_letters_kept, mailbox_capacity, dict(actor_options or {})
        )
        self._ctx: _Context | None = None
        self._entered = False
        self._owns_ray = False
        self._final: list[tuple[int, list[DeadLetter]]] | None = None
        self._attached_to_host = False

    @classmethod
    def _attached(cls, ctx: _Context, settings: _Settings) -> RayRuntime:
        """The ``self.runtime`` of an agent: the same runtime, seen from its actor."""
        rt = cls(
            deep_checks=settings.deep,
            dead_letters_kept=settings.dead_letters_kept,
            mailbox_capacity=settings.mailbox_capacity,
            actor_options=settings.actor_options,
        )
        rt._ctx = ctx
        rt._attached_to_host = True
        return rt

    # ------------------------------------------------------------------ public

    def spawn(self, cls: Callable[P, A], /, *args: P.args, **kwargs: P.kwargs) -> Tag[A]:
        """Create an agent as a new Ray actor and return its ``Tag``.

        The arguments cross a boundary (``NotSendableError`` before anything is
        serialized; an ``Iso`` is moved). ``__init__`` and ``on_start`` run in the
        actor; an ``__init__`` error is raised by the first ``ask``.
        """
        ctx = self._ctx
        if ctx is None or ctx.closed:
            raise CapabilityUsageError(
                "spawn needs a running runtime: call it inside `async with RayRuntime() as "
                "rt:` (or from an agent), not before the block or after it ended"
            )
        info = class_info(cls)  # type: ignore[arg-type]
        given_args: tuple[Any, ...] = args
        given_kwargs: dict[str, Any] = kwargs
        if args or kwargs:
            given_args, given_kwargs = prepare_payload(
                info.spawn_what, args, kwargs, self.settings.deep
            )
        given_args, given_kwargs = _box(info.spawn_what, given_args, given_kwargs)
        number = next(ctx.numbers.setdefault(info.name, itertools.count(1)))
        # Unique without a central counter: an agent's children carry its name.
        name = (
            f"{info.name}#{number}"
            if ctx.sender == "outside"
            else f"{info.name}#{number}@{ctx.sender}"
        )
        options = {
            "num_cpus": 0,
            **self.settings.actor_options,
            # Not overridable: one thread in the default group is what makes Ray pick its
            # ordered per-caller queue; a retry or restart could reorder or replay messages.
            "max_concurrency": 1,
            "max_restarts": 0,
            "max_task_retries": 0,
            "max_pending_calls": self.settings.mailbox_capacity or -1,
        }
        ctx.count_sent()  # the spawn itself: done once __init__ and on_start have run
        try:
            handle = _HostActor.options(**options).remote(
                info.cls, name, given_args, given_kwargs, self.settings
            )
        except BaseException:
            ctx.uncount_sent()
            raise
        ctx.owned.append((handle, info.name))
        address = _address_of(handle, info.cls, name, self.settings.mailbox_capacity)
        return cast(Tag[A], Tag(address))

    def stop(self, tag: Tag[Any]) -> RayStopHandle:
        """Stop the agent after the message in progress; queued and later messages go to
        the dead letters and ``on_stop`` runs. ``await rt.stop(tag)`` waits for it."""
        address = self._address_of_tag(tag)
        ctx = address.ctx
        if ctx.is_stopped(address.actor_id):
            return RayStopHandle(None)
        ctx.stopped.add(address.actor_id)
        return RayStopHandle(_control(address.handle, "stop"))

    @property
    def dead_letters(self) -> DeadLetters:
        """Every message that reached a stopped agent, gathered from all actors (one
        control call per agent; after exit, the final log). Seen from inside an agent
        (``self.runtime``), it covers that agent and the agents it spawned."""
        ctx = self._ctx
        if ctx is None:
            return DeadLetters(self.settings.dead_letters_kept)
        if self._final is not None:
            return self._merge(ctx, self._final)
        hosts = list(ctx.owned)
        seen = {_actor_id(h) for h, _ in hosts}
        frontier = hosts
        while frontier:
            polled = ray.get([_control(h, "counters") for h, _ in frontier])
            frontier = _new_children(polled, seen)
            hosts.extend(frontier)
        parts = ray.get([_control(h, "dead_letters") for h, _ in hosts])
        return self._merge(ctx, [(count, recent) for count, recent in parts])

    # --------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> RayRuntime:
        global _context
        if self._entered or self._attached_to_host:
            raise CapabilityUsageError("a RayRuntime can be entered only once; create a new one")
        self._entered = True
        if not ray.is_initialized():
            options: dict[str, Any] = dict(self.ray_init_options)
            if self.namespace is not None:
                options["namespace"] = self.namespace
            ray.init(address=self.address, **options)
            self._owns_ray = True
        self._ctx = _context = _Context(
            "outside", self.settings.deep, self.settings.dead_letters_kept
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        ctx = self._ctx
        assert ctx is not None
        escalated: BaseException | None = None
        try:
            with anyio.CancelScope(shield=True):
                if exc is None and not await self._wait_quiet(ctx):
                    log.warning(
                        "RayRuntime shutdown: messages still unhandled after %.1f s; "
                        "stopping anyway (they go to the dead letters)",
                        self.shutdown_timeout,
                    )
                escalated = await self._close(ctx, graceful=exc is None)
        finally:
            ctx.closed = True
            if self._owns_ray:
                ray.shutdown()
        if escalated is not None and exc is None:
            raise escalated

    async def _wait_quiet(self, ctx: _Context) -> bool:
        """Termination detection: all counters balanced in two consecutive equal polls."""
        deadline = time.monotonic() + self.shutdown_timeout
        previous: tuple[int, int, int] | None = None
        delay = 0.002
        while True:
            try:
                hosts, sent, done = await _poll(ctx)
            except RayActorError:
                log.warning("RayRuntime shutdown: an agent's actor died", exc_info=True)
                return False
            snapshot = (len(hosts), sent, done)
            if sent == done and snapshot == previous:
                return True
            previous = snapshot if sent == done else None
            if time.monotonic() > deadline:
                return False
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _close(self, ctx: _Context, graceful: bool) -> BaseException | None:
        """Stop every agent (``on_stop``), keep the final dead letters, kill the actors.

        As locally: the latest spawned first (children before their parents), a run of
        one class together, and, on a normal exit, what their hooks sent is handled by
        the agents still running before earlier ones stop (a report to a collector or a
        parent is heard). Then every message still in flight reaches its stopped agent
        and is dead-lettered before the final tallies: a killed actor's queue would be
        lost without a trace.
        """
        hosts = await self._members(ctx)
        finals: list[_Final] = []
        with anyio.move_on_after(max(self.shutdown_timeout, 1.0)):
            stopped: set[str] = set()
            while todo := [m for m in reversed(hosts) if _actor_id(m[0]) not in stopped]:
                for _, run in itertools.groupby(todo, key=lambda member: member[1]):
                    handles = [h for h, _ in run]
                    stopped.update(_actor_id(h) for h in handles)
                    sent = 0
                    for ref in [await _control_soon(h, "stop") for h in handles]:
                        with contextlib.suppress(RayActorError):
                            sent += await _await_ref(ref)
                    if sent and graceful:
                        await self._wait_quiet(ctx)
                hosts = await self._members(ctx)  # with any agent a hook spawned
            await self._wait_quiet(ctx)
            for ref in [await _control_soon(h, "final") for h, _ in hosts]:
                with contextlib.suppress(RayActorError):
                    finals.append(await _await_ref(ref))
        for handle, _ in hosts:
            ray.kill(handle)
        self._final = [(f.dead_count, f.dead_recent) for f in finals]
        return next((f.escalated for f in finals if f.escalated is not None), None)

    @staticmethod
    async def _members(ctx: _Context) -> list[_Member]:
        """Every agent of the runtime; the driver's own when an actor has died."""
        try:
            return (await _poll(ctx))[0]
        except RayActorError:
            return list(ctx.owned)

    def _merge(self, ctx: _Context, parts: list[tuple[int, list[DeadLetter]]]) -> DeadLetters:
        return RayDeadLetters(
            self.settings.dead_letters_kept,
            [(ctx.dead.count, ctx.dead.recent), *parts],
        )

    def _address_of_tag(self, tag: Tag[Any]) -> RayAddress:
        address = getattr(tag, "_address", None)
        if not isinstance(address, RayAddress):
            raise CapabilityUsageError(f"{tag!r} is not an agent of a RayRuntime")
        return address

    def __repr__(self) -> str:
        state = "running" if self._ctx is not None and not self._ctx.closed else "idle"
        return f"<RayRuntime {state}>"
