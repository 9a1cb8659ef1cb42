"""@message classes naming types imported only for the type checker (``TYPE_CHECKING``),
as a messages module does to break an import cycle with the agents that use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from capsys import Tag, message

if TYPE_CHECKING:
    from tests.capsys.messages_future import Desk, Quote


@message
class Order:
    symbol: str
    reply_to: Optional[Tag[Desk]] = None  # noqa: UP045 - the old spelling must work too
    desks: tuple[Tag[Desk], ...] = ()


@message
class Orders:
    items: tuple[Order, ...]  # checks Order's fields again: still only inside Tag[...]


@message
class Hidden:
    quote: Quote  # a record the run-time check cannot see: refused at first use
