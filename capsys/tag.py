"""``Tag[A]``: the address of an agent, and the only way to reach it.

A ``Tag`` carries identity and nothing else: ``send``, ``ask``, ``send_wait``, ``==`` and
``hash``. The methods are typed with ``ParamSpec`` against the behaviour passed in, so a
plain type checker checks the arguments; the runtime (or Ray) supplies the *address*
object that actually delivers, which keeps this module free of any scheduler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Protocol,
    TypeVar,
    final,
    overload,
)

from typing_extensions import ParamSpec

from capsys.errors import CapabilityError

if TYPE_CHECKING:
    from capsys.agent import Agent

__all__ = ["Address", "Tag"]

P = ParamSpec("P")
R = TypeVar("R")
A_co = TypeVar("A_co", bound="Agent", covariant=True)


class Address(Protocol):
    """What a backend gives a ``Tag``: the delivery side of one agent.

    ``args``/``kwargs`` arrive exactly as the caller passed them; the address checks
    sendability and moves ``Iso`` handles (``capsys.sendable.prepare_payload``).
    """

    @property
    def name(self) -> str: ...

    def post(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None: ...

    async def post_wait(
        self, behaviour: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None: ...

    async def request(
        self,
        behaviour: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any: ...


class Tag(Generic[A_co]):
    """Identity-only handle of agent ``A``: send to it, ask it, compare it, hash it."""

    __slots__ = ("_address",)

    _address: Address

    def __init__(self, address: Address) -> None:
        self._address = address

    def send(
        self,
        behaviour: Callable[Concatenate[A_co, P], object],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Fire and forget: queue ``behaviour(*args, **kwargs)`` on the agent.

        Raises ``runtime.MailboxFull`` when the mailbox is full and the caller is not an
        agent (which would be muted instead): use ``await send_wait(...)`` there.
        """
        self._address.post(behaviour, args, kwargs)

    async def send_wait(
        self,
        behaviour: Callable[Concatenate[A_co, P], object],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Like ``send``, but wait for room when the mailbox is above its high-water mark."""
        await self._address.post_wait(behaviour, args, kwargs)

    # Four overloads: async and sync behaviours, without and with `timeout=`. PEP 612
    # does not allow a keyword-only parameter between *args: P.args and **kwargs:
    # P.kwargs, and no other spelling can add a keyword to a ParamSpec's parameters;
    # pyright accepts it and checks everything, while plain mypy flags the definition
    # and stops checking the arguments of that overload (its return type stays exact;
    # the mypy plugin checks them against the behaviour). Putting the timeout-free
    # overloads first keeps mypy's full argument checking for every ask without a
    # timeout. A behaviour's own parameter named `timeout` must therefore be passed
    # positionally.
    @overload
    async def ask(
        self,
        behaviour: Callable[Concatenate[A_co, P], Awaitable[R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R: ...

    @overload
    async def ask(
        self, behaviour: Callable[Concatenate[A_co, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    @overload
    async def ask(  # type: ignore[valid-type]
        self,
        behaviour: Callable[Concatenate[A_co, P], Awaitable[R]],
        /,
        *args: P.args,
        timeout: float | None,
        **kwargs: P.kwargs,
    ) -> R: ...

    @overload
    async def ask(  # type: ignore[valid-type]
        self,
        behaviour: Callable[Concatenate[A_co, P], R],
        /,
        *args: P.args,
        timeout: float | None,
        **kwargs: P.kwargs,
    ) -> R: ...

    def ask(self, behaviour: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Request-reply: run the behaviour on the agent and return its result.

        ``timeout=`` (seconds) raises ``runtime.AskTimeout``; an enclosing anyio cancel
        scope is honoured too. Either way the target agent is not harmed.
        """
        # A plain function handing back the address's coroutine: awaiting it is the
        # same as awaiting an ``async def`` ask, without a second coroutine per ask.
        timeout = kwargs.pop("timeout", None)
        return self._address.request(behaviour, args, kwargs, timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tag) and other._address is self._address

    def __hash__(self) -> int:
        return id(self._address) >> 4

    def __repr__(self) -> str:
        return f"Tag[{self._address.name}]"

    if TYPE_CHECKING:
        # For type checkers only. mypy then hands every attribute of a Tag to the
        # plugin's attribute hook, which reports CAP007 ("agent state reached around a
        # Tag") in the catalogue's words. The result is an opaque, non-callable type, not
        # Any: type checkers also consult __getattr__ for protocol members, and with Any a
        # Tag would look awaitable, sized, orderable... Not defined at run time: a class
        # with ``__getattr__`` gets CPython's slow attribute path for *every* attribute,
        # including ``tag.send``, which measured 8% of a message on the counting
        # benchmark. At run time a wrong name is a plain AttributeError.
        def __getattr__(self, name: str) -> AgentState: ...

        # Writing one is the same mistake: no value is an AgentStateWrite, so a checker
        # rejects ``tag.<name> = value``; the mypy plugin makes it Any and reports the
        # write as CAP007, once, as it reports a read.
        def __setattr__(self, name: str, value: AgentStateWrite, /) -> None: ...

    def __copy__(self) -> Tag[A_co]:
        return self

    def __deepcopy__(self, memo: object) -> Tag[A_co]:
        return self


if TYPE_CHECKING:

    @final
    class AgentState:
        """What ``tag.<name>`` is to a type checker: the agent's private state, which
        matches no protocol (a Tag is not awaitable, sized or ordered) and has no use."""

        __slots__ = ()

    @final
    class AgentStateWrite:
        """What ``tag.<name> = value`` must assign to a type checker: nothing can."""

        __slots__ = ()


def unbound_tag_error(agent_name: str) -> CapabilityError:
    """The error for using ``self.me`` on an agent object that was not spawned."""
    return CapabilityError(
        f"{agent_name} was not spawned by a runtime, so it has no Tag; create agents "
        "with rt.spawn(Class, ...) instead of calling the class (CAP007)"
    )
