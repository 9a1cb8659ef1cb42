"""The runtime's errors (SPEC §3, §6): each names the agent and says what to do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from capsys.errors import CapabilityError
from runtime.arguments import is_seconds

T = TypeVar("T")

__all__ = ["MailboxFull", "AgentStopped", "AskTimeout", "check_timeout", "room_within"]


class _Remade(CapabilityError):
    """Pickles as the call that made it: these errors cross processes on Ray (a
    behaviour's send or ask fails there, the asker here), and the default pickling of
    an exception calls the class with its message alone."""

    _made: tuple[object, ...] = ()

    def __reduce__(self) -> tuple[type[_Remade], tuple[object, ...]]:
        return type(self), self._made


class MailboxFull(_Remade):
    """A plain ``send`` from outside an agent found the receiver's mailbox full."""

    def __init__(self, agent: str, capacity: int) -> None:
        self._made = (agent, capacity)
        self.agent = agent
        super().__init__(
            f"the mailbox of {agent} is full ({capacity} messages): the receiver is slower "
            "than its senders; use `await tag.send_wait(...)` to wait for room, or raise "
            "Runtime(mailbox_capacity=...)"
        )


class AgentStopped(_Remade):
    """An ``ask`` reached an agent that has stopped (or stopped before replying)."""

    def __init__(self, agent: str, behaviour: str) -> None:
        self._made = (agent, behaviour)
        self.agent = agent
        super().__init__(
            f"{agent} has stopped, so {behaviour} was not handled (the message went to "
            "rt.dead_letters); spawn a new agent or check that it is alive before asking"
        )


class AskTimeout(_Remade, TimeoutError):
    """An ``ask`` got no reply within its ``timeout``; the agent itself is not affected."""

    def __init__(
        self, agent: str, behaviour: str, timeout: float, sent: bool = True, full: bool = False
    ) -> None:
        self._made = (agent, behaviour, timeout, sent, full)
        self.agent = agent
        if full:  # an outside caller waited for room in the mailbox all that time
            super().__init__(
                f"{agent} was not asked {behaviour}: its mailbox stayed over high water for "
                f"the whole timeout ({timeout:g} s), so nothing was sent. Raise the timeout, "
                "or check whether the agent is blocked or overloaded (rt.stats())"
            )
            return
        if not sent:
            super().__init__(
                f"{agent} was not asked {behaviour}: the timeout ({timeout:g} s) had run out "
                "before the ask, so nothing was sent"
            )
            return
        super().__init__(
            f"{agent} did not answer {behaviour} within {timeout:g} s; the message is still "
            "handled and its reply discarded. Raise the timeout, or check whether the agent "
            "is blocked or overloaded (rt.stats())"
        )


def check_timeout(timeout: object, agent: str, behaviour: str) -> None:
    """Refuse an ask's ``timeout`` before anything is sent: a wrong type or NaN (an error
    after the send would leave the caller unsure whether it ran), or none left (an
    ``AskTimeout`` on every backend, where waiting zero seconds raced the answer)."""
    if not is_seconds(timeout):
        raise TypeError(
            f"ask of {agent} ({behaviour}): timeout must be a number of seconds or None, "
            f"not {timeout!r}"
        )
    if timeout != timeout:
        raise ValueError(f"ask of {agent} ({behaviour}): timeout must not be NaN")
    if timeout <= 0:
        raise AskTimeout(agent, behaviour, timeout, sent=False)


async def room_within(
    timeout: float, agent: str, behaviour: str, wait: Callable[[], Awaitable[T]]
) -> tuple[T, float]:
    """An outside ask's ``wait`` for room in the receiver's mailbox, within the ask's
    timeout: what the wait returned and the time left for the reply. ``AskTimeout``
    (nothing was sent) when the timeout runs out first."""
    deadline = anyio.current_time() + timeout
    with anyio.move_on_after(timeout) as waited:
        done = await wait()
    if waited.cancelled_caught:
        raise AskTimeout(agent, behaviour, timeout, full=True)
    return done, deadline - anyio.current_time()
