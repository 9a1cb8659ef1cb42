"""``quorum(tags, threshold, behaviour, *args, timeout=...)``: ask many agents at once
and return as soon as enough of them have answered.

Every agent gets the same ``ask`` concurrently. The call returns when ``threshold``
replies were *accepted* (every reply by default; with ``accept=`` only the replies the
predicate approves, which is how a vote is counted), when the quorum can no longer be
reached (too many agents failed or refused), or when ``timeout`` seconds passed. Asks
still in flight are then cancelled, which never harms their targets (their replies are
dropped). The result says who answered what, who failed and who never answered.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, TypeVar, overload

import anyio
from typing_extensions import ParamSpec

from capsys.agent import Agent
from capsys.errors import CapabilityUsageError
from capsys.sendable import prepare_payload, refuse_iso_for_many
from capsys.tag import Tag
from runtime.arguments import is_count, is_seconds
from runtime.cell import Cell

__all__ = ["QuorumResult", "majority", "quorum", "supermajority"]

A = TypeVar("A", bound=Agent)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class QuorumResult(Generic[R]):
    """What a quorum saw: accepted and rejected replies (arrival order), failures and
    agents that had not answered when it was decided."""

    threshold: int
    accepted: tuple[tuple[Tag[Any], R], ...]
    rejected: tuple[tuple[Tag[Any], R], ...] = ()
    failures: tuple[tuple[Tag[Any], BaseException], ...] = ()
    missing: tuple[Tag[Any], ...] = ()
    timed_out: bool = False

    @property
    def reached(self) -> bool:
        """True when at least ``threshold`` replies were accepted."""
        return len(self.accepted) >= self.threshold

    @property
    def values(self) -> tuple[R, ...]:
        """The accepted reply values, in arrival order."""
        return tuple(value for _, value in self.accepted)

    def __bool__(self) -> bool:
        return self.reached


def prepare_fan_out(
    what: str,
    members: Sequence[Tag[Any]],
    behaviour: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Check once, before anything is sent, the call that every agent of ``members`` will
    get: the behaviour must resolve on each agent and the arguments must pass the check a
    send makes (deep in debug mode). These are the caller's errors, raised here, so they
    are never mistaken for a failure of some agent. Returns the arguments to send.
    """
    deep = False
    for tag in members:
        if not isinstance(tag, Tag):
            raise TypeError(f"{what} takes Tags of agents, got {tag!r}")
        address = tag._address
        if isinstance(address, Cell):
            if behaviour not in address.info.dispatch:
                address.info.resolve(behaviour)  # CapabilityUsageError, as a send raises
            deep = deep or address.rt.debug
        else:  # another backend (Ray) resolves on ask; check deeply, as it does by default
            deep = True
    refuse_iso_for_many(what, len(members), (*args, *kwargs.values()))
    return prepare_payload(what, args, kwargs, deep)


def _group_size(what: str, n: object) -> int:
    if not is_count(n):
        raise TypeError(f"{what} takes the number of agents (an int), got {n!r}")
    if n < 1:
        raise ValueError(f"{what} needs at least one agent, got {n}")
    return n


def majority(n: int) -> int:
    """The smallest number of votes that is more than half of ``n``."""
    return _group_size("majority", n) // 2 + 1


def supermajority(n: int, fraction: float = 2 / 3) -> int:
    """The smallest number of votes that is at least ``fraction`` of ``n``."""
    _group_size("supermajority", n)
    if not 0 < fraction <= 1:
        raise ValueError(f"supermajority needs 0 < fraction <= 1, got {fraction!r}")
    return max(1, math.ceil(n * fraction - 1e-9))


# Overloads mirror Tag.ask: async and sync behaviours, then the same with the keyword
# options. PEP 612 forbids keywords between *args: P.args and **kwargs: P.kwargs; mypy
# flags those overloads (hence the ignores) but still uses their return types, and the
# option-free overloads come first so plain calls keep full argument checking.
@overload
async def quorum(
    tags: Iterable[Tag[A]],
    threshold: int,
    behaviour: Callable[Concatenate[A, P], Awaitable[R]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> QuorumResult[R]: ...


@overload
async def quorum(
    tags: Iterable[Tag[A]],
    threshold: int,
    behaviour: Callable[Concatenate[A, P], R],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> QuorumResult[R]: ...


@overload
async def quorum(  # type: ignore[valid-type]
    tags: Iterable[Tag[A]],
    threshold: int,
    behaviour: Callable[Concatenate[A, P], Awaitable[R]],
    /,
    *args: P.args,
    timeout: float | None = None,
    accept: Callable[[R], bool] | None = None,
    **kwargs: P.kwargs,
) -> QuorumResult[R]: ...


@overload
async def quorum(  # type: ignore[valid-type]
    tags: Iterable[Tag[A]],
    threshold: int,
    behaviour: Callable[Concatenate[A, P], R],
    /,
    *args: P.args,
    timeout: float | None = None,
    accept: Callable[[R], bool] | None = None,
    **kwargs: P.kwargs,
) -> QuorumResult[R]: ...


async def quorum(
    tags: Iterable[Tag[Any]],
    threshold: int,
    behaviour: Callable[..., Any],
    /,
    *args: Any,
    **kwargs: Any,
) -> QuorumResult[Any]:
    """Ask every agent in ``tags``; decide once ``threshold`` replies are accepted.

    Options (keywords): ``timeout`` in seconds (``None``: wait for every answer; 0 or
    less: nobody is asked, and the result has timed out with every agent missing) and
    ``accept``, a predicate on a reply (``None``: every reply counts). The behaviour and
    the arguments are checked once, before any ask, as by ``Tag.ask``, and their errors
    (``CapabilityUsageError``, ``NotSendableError``, ``MovedError``) are raised here;
    ``failures`` holds only what an agent's ask raised. Pass ``Val``-like values or
    ``Tag``s: an ``Iso`` can be moved to a single agent only.
    """
    timeout: float | None = kwargs.pop("timeout", None)
    accept: Callable[[Any], bool] | None = kwargs.pop("accept", None)
    members = list(dict.fromkeys(tags))  # one ask per agent, first-seen order
    if not is_count(threshold):
        raise CapabilityUsageError(
            f"quorum threshold must be an int (a number of agents), got {threshold!r}; "
            "majority(n) and supermajority(n) compute one"
        )
    if not 1 <= threshold <= len(members):
        raise CapabilityUsageError(
            f"quorum threshold must be between 1 and the number of agents "
            f"({len(members)}), got {threshold}"
        )
    if timeout is not None:  # the same refusals as Tag.ask's (runtime.errors.check_timeout)
        if not is_seconds(timeout):
            raise TypeError(f"quorum timeout must be a number of seconds or None, got {timeout!r}")
        if timeout != timeout:
            raise ValueError("quorum timeout must not be NaN")
    if accept is not None and not callable(accept):
        raise TypeError(f"quorum accept= must be a predicate on a reply, got {accept!r}")
    what = f"quorum({getattr(behaviour, '__qualname__', behaviour)})"
    args, kwargs = prepare_fan_out(what, members, behaviour, args, kwargs)
    accepted: list[tuple[Tag[Any], Any]] = []
    rejected: list[tuple[Tag[Any], Any]] = []
    failures: list[tuple[Tag[Any], BaseException]] = []
    answered: set[Tag[Any]] = set()
    # Once this many agents refused or failed, the threshold is out of reach.
    give_up_after = len(members) - threshold + 1
    # A raising ``accept`` is the caller's bug: it is raised from quorum() as itself, once
    # (the first one), not as a task group's ExceptionGroup of however many ran.
    predicate_error: list[Exception] = []
    if timeout is not None and timeout <= 0:
        # No time left: ask nobody, as Tag.ask sends nothing then (an ask started here
        # would still reach its agent before the cancellation did).
        return QuorumResult(
            threshold=threshold, accepted=(), missing=tuple(members), timed_out=True
        )

    with anyio.move_on_after(timeout) as deadline:
        async with anyio.create_task_group() as asks:

            async def ask_one(tag: Tag[Any]) -> None:
                try:
                    reply = await tag.ask(behaviour, *args, **kwargs)
                except Exception as error:  # the behaviour raised, or the agent stopped: a "no"
                    failures.append((tag, error))
                else:
                    try:
                        approved = accept is None or accept(reply)
                    except Exception as error:
                        predicate_error.append(error)
                        asks.cancel_scope.cancel()
                        return
                    (accepted if approved else rejected).append((tag, reply))
                answered.add(tag)
                refused = len(rejected) + len(failures)
                if len(accepted) >= threshold or refused >= give_up_after:
                    asks.cancel_scope.cancel()  # decided: drop the asks still waiting

            for tag in members:
                asks.start_soon(ask_one, tag)

    if predicate_error:
        raise predicate_error[0]
    return QuorumResult(
        threshold=threshold,
        accepted=tuple(accepted),
        rejected=tuple(rejected),
        failures=tuple(failures),
        missing=tuple(tag for tag in members if tag not in answered),
        timed_out=deadline.cancelled_caught,
    )
