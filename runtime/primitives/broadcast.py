"""``broadcast(tags, behaviour, *args, fanout=3)``: deliver one behaviour call to many
agents through a gossip tree, so no single sender does all the work.

The caller sends to at most ``fanout`` agents; each of them runs the behaviour and then
relays to at most ``fanout`` agents of its own share of the rest, and so on: depth is
about log_fanout(n). Relays are asks, so a relay knows whether its child was alive: when
a child has stopped, the next agent of that child's share takes its place. Every live
agent therefore receives the call exactly once, and the result names the agents that
could not be reached.

The behaviour is named across the boundary by its ``__name__`` (a function is not
sendable, a string is) and looked up on each agent's class, so every agent in ``tags``
must have it. The caller must not be one of ``tags`` (it would wait on itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, TypeVar, overload

import anyio
from typing_extensions import ParamSpec

from capsys.agent import Agent, behaviour
from capsys.errors import CapabilityUsageError
from capsys.tag import Tag
from runtime.cell import primitive_behaviour

__all__ = ["BroadcastResult", "broadcast"]

A = TypeVar("A", bound=Agent)
P = ParamSpec("P")

# A relay's reply: (delivered, unreachable, failed with the error text).
_Outcome = tuple[tuple[Tag[Any], ...], tuple[Tag[Any], ...], tuple[tuple[Tag[Any], str], ...]]


@dataclass(frozen=True)
class BroadcastResult:
    """Who got the call, who was stopped, and whose behaviour raised (with the error)."""

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


async def _spread(
    shares: list[tuple[Tag[Any], ...]],
    name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    fanout: int,
) -> _Outcome:
    """Hand each share to its first live member; a stopped member passes its turn on."""
    delivered: list[Tag[Any]] = []
    unreachable: list[Tag[Any]] = []
    failed: list[tuple[Tag[Any], str]] = []

    async def one_share(share: tuple[Tag[Any], ...]) -> None:
        for index, head in enumerate(share):
            try:
                got, lost, bad = await head.ask(
                    _relay, share[index + 1 :], name, args, kwargs, fanout
                )
            except Exception:  # stopped (or refused): the next member takes over the share
                unreachable.append(head)
                continue
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
    """Run on each member: handle the call, then pass it on to this member's share."""
    failed: list[tuple[Tag[Any], str]] = []
    try:
        result = getattr(type(agent), name)(agent, *args, **dict(kwargs))
        if inspect.isawaitable(result):
            await result
    except Exception as error:  # delivered, but the behaviour raised: report, keep relaying
        failed.append((agent.me, f"{type(error).__name__}: {error}"))
    got, lost, bad = await _spread(_split(rest, fanout), name, args, kwargs, fanout)
    return (agent.me, *got), lost, (*failed, *bad)


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
    until the whole tree has handled the call; arguments must be shareable (``Val``-like
    values or ``Tag``s: an ``Iso`` can be moved to one agent only).
    """
    fanout: int = kwargs.pop("fanout", 3)
    if fanout < 1:
        raise CapabilityUsageError(f"broadcast fanout must be at least 1, got {fanout}")
    name = getattr(behaviour, "__name__", "")
    if not name:
        raise CapabilityUsageError(
            f"broadcast needs a behaviour such as Agent.method, got {behaviour!r}"
        )
    members = list(dict.fromkeys(tags))
    if not members:
        return BroadcastResult((), (), ())
    got, lost, bad = await _spread(
        _split(members, fanout), name, args, tuple(kwargs.items()), fanout
    )
    return BroadcastResult(got, lost, bad)
