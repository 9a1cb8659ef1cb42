"""``broadcast(tags, behaviour, *args, fanout=3)``: deliver one behaviour call to many
agents through a gossip tree, so no single sender does all the work.

The caller reaches at most ``fanout`` agents; each of them, once it has handled the
call, relays it to at most ``fanout`` agents of its own share of the rest, and so on:
depth is about log_fanout(n). Every delivery is an ordinary ``ask`` of the behaviour
through the agent's ``Tag``, so a behaviour that raises goes through that agent's
supervision exactly as any failed ask does (restart, stop or escalate). Only an agent
that has stopped (``AgentStopped``) is unreachable: the next agent of its share takes
its place, so every live agent receives the call exactly once.

The behaviour and the arguments are checked once, up front, as a send checks them
(``CapabilityUsageError``, ``NotSendableError``, ``MovedError`` are raised by
``broadcast`` before anything is delivered). Relays name the behaviour by its
``__name__`` (a function is not sendable, a string is) and look it up on each target's
class, which the up-front check showed resolves to the same behaviour. When the caller is
an agent among ``tags`` (broadcasting to every node of a mesh), it cannot be asked: it is
busy running the caller. It gets the call as a send to itself instead, handled after its
current behaviour, and is counted as delivered (a failure of that call goes through its
supervision without being reported here). On a ``RayRuntime`` the caller asks every
agent itself: relaying is a behaviour of the local runtime's agents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, TypeVar, cast, overload

import anyio
from typing_extensions import ParamSpec

from capsys.agent import Agent, behaviour
from capsys.errors import CapabilityUsageError
from capsys.tag import Tag
from runtime.arguments import is_count
from runtime.cell import Cell, current_async, primitive_behaviour, worker_here
from runtime.errors import AgentStopped
from runtime.primitives.quorum import prepare_fan_out

__all__ = ["BroadcastResult", "broadcast"]

A = TypeVar("A", bound=Agent)
P = ParamSpec("P")

# A relay's reply: (delivered, unreachable, failed with the error text).
_Outcome = tuple[tuple[Tag[Any], ...], tuple[Tag[Any], ...], tuple[tuple[Tag[Any], str], ...]]


@dataclass(frozen=True)
class BroadcastResult:
    """Who got the call, who was stopped, and whose behaviour raised, with the error as
    text (``"ValueError: bad"``): it comes back through relay agents, and an exception
    object is not sendable. ``quorum`` asks every agent itself, so its ``failures`` hold
    the exceptions."""

    delivered: tuple[Tag[Any], ...]
    unreachable: tuple[Tag[Any], ...]
    failed: tuple[tuple[Tag[Any], str], ...]

    @property
    def complete(self) -> bool:
        """True when every agent received the call (whether or not it raised)."""
        return not self.unreachable


def _split(members: Sequence[Tag[Any]], fanout: int) -> list[tuple[Tag[Any], ...]]:
    """Cut ``members`` into at most ``fanout`` near-equal contiguous shares."""
    count = min(fanout, len(members))
    size, extra = divmod(len(members), count) if count else (0, 0)
    shares, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        shares.append(tuple(members[start:end]))
        start = end
    return shares


def _behaviour_of(tag: Tag[Any], name: str) -> Callable[..., Any]:
    """The behaviour ``name`` as the class of ``tag``'s agent defines it. (The address is
    a ``Cell`` here and a ``runtime.ray.RayAddress`` on Ray: both carry ``info`` and
    ``name``, which is all these two helpers read.)"""
    return cast(Callable[..., Any], getattr(cast(Cell, tag._address).info.cls, name))


def _is_stopped(tag: Tag[Any], error: AgentStopped) -> bool:
    """Whether ``tag``'s agent itself stopped (and not some agent its behaviour asked)."""
    return error.agent == cast(Cell, tag._address).name


async def _spread(
    shares: list[tuple[Tag[Any], ...]],
    name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    fanout: int,
) -> _Outcome:
    """Deliver to the head of each share, then have it relay to the rest of its share; a
    stopped head passes its turn (and its share) on to the next member."""
    delivered: list[Tag[Any]] = []
    unreachable: list[Tag[Any]] = []
    failed: list[tuple[Tag[Any], str]] = []

    async def one_share(share: tuple[Tag[Any], ...]) -> None:
        for index, head in enumerate(share):
            try:
                await head.ask(_behaviour_of(head, name), *args, **dict(kwargs))
            except Exception as error:
                if isinstance(error, AgentStopped) and _is_stopped(head, error):
                    unreachable.append(head)
                    continue
                failed.append((head, f"{type(error).__name__}: {error}"))  # it raised
            delivered.append(head)
            rest = share[index + 1 :]
            if not rest:
                return
            try:
                got, lost, bad = await head.ask(_relay, rest, name, args, kwargs, fanout)
            except AgentStopped:  # stopped after the call (its supervisor's choice)
                continue  # the next member relays the rest of the share
            delivered.extend(got)
            unreachable.extend(lost)
            failed.extend(bad)
            return

    async with anyio.create_task_group() as group:
        for share in shares:
            group.start_soon(one_share, share)
    return tuple(delivered), tuple(unreachable), tuple(failed)


@primitive_behaviour
@behaviour
async def _relay(
    agent: Agent,
    rest: tuple[Tag[Any], ...],
    name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    fanout: int,
) -> _Outcome:
    """Run on an agent that has handled the call: pass it on to this agent's share."""
    return await _spread(_split(rest, fanout), name, args, kwargs, fanout)


@overload
async def broadcast(
    tags: Iterable[Tag[A]],
    behaviour: Callable[Concatenate[A, P], object],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> BroadcastResult: ...


@overload
async def broadcast(  # type: ignore[valid-type]
    tags: Iterable[Tag[A]],
    behaviour: Callable[Concatenate[A, P], object],
    /,
    *args: P.args,
    fanout: int = 3,
    **kwargs: P.kwargs,
) -> BroadcastResult: ...


async def broadcast(
    tags: Iterable[Tag[Any]], behaviour: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> BroadcastResult:
    """Deliver ``behaviour(*args, **kwargs)`` once to every live agent of ``tags``.

    ``fanout`` (keyword, default 3) is how many agents each relay forwards to. Waits
    until the whole tree has handled the call. The behaviour and arguments are checked
    first, as ``Tag.send`` checks them, and their errors raised before any delivery;
    arguments must be shareable (``Val``-like values or ``Tag``s: an ``Iso`` can be
    moved to a single agent only). A behaviour whose reply cannot cross is reported in
    ``failed``, as the ask that delivered it saw it.
    """
    fanout: int = kwargs.pop("fanout", 3)
    if not is_count(fanout):
        raise TypeError(f"broadcast fanout must be an int, got {fanout!r}")
    if fanout < 1:
        raise CapabilityUsageError(f"broadcast fanout must be at least 1, got {fanout}")
    members = list(dict.fromkeys(tags))
    what = f"broadcast({getattr(behaviour, '__qualname__', behaviour)})"
    args, kwargs = prepare_fan_out(what, members, behaviour, args, kwargs)
    if not all(isinstance(tag._address, Cell) for tag in members):
        # Agents of a RayRuntime cannot run the local runtime's relay behaviour: the
        # caller asks each of them itself.
        fanout = max(len(members), 1)
    me = _caller(members)
    if me is not None:
        members.remove(me)
        me.send(behaviour, *args, **kwargs)
    got, lost, bad = (
        await _spread(
            _split(members, fanout), behaviour.__name__, args, tuple(kwargs.items()), fanout
        )
        if members
        else ((), (), ())
    )
    return BroadcastResult(got if me is None else (me, *got), lost, bad)


def _caller(members: Sequence[Tag[Any]]) -> Tag[Any] | None:
    """The member whose agent is running this broadcast, if any (local runtime)."""
    w = worker_here()
    cell = (w.current if w is not None else None) or current_async.get()
    if cell is None:
        return None
    return next((tag for tag in members if tag._address is cell), None)
