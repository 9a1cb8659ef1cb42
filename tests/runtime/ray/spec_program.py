"""The SPEC §3 example, verbatim apart from a ``Desk`` (which the SPEC leaves out) and
``main`` returning what it computed: the Ray tests run this same source on both runtimes."""

from __future__ import annotations

from capsys import Agent, Iso, Tag, behaviour, iso, message
from runtime import Runtime


@message  # frozen, slotted dataclass; every field must be sendable
class Order:
    symbol: str
    qty: int


class Desk(Agent):
    def __init__(self) -> None:
        self.notified: list[Order] = []

    @behaviour
    def notify(self, order: Order) -> None:
        self.notified.append(order)


class Book(Agent):  # agent state is private: any types, never shared
    def __init__(self, owner: Tag[Desk]) -> None:  # __init__ params are a boundary
        self.owner = owner
        self.orders: list[Order] = []

    @behaviour  # an entry point: params must be sendable
    def add(self, order: Order) -> None:
        self.orders.append(order)
        self.owner.send(Desk.notify, order)

    @behaviour
    async def bulk(self, batch: Iso[list[Order]]) -> int:  # async behaviours may await I/O
        items = batch.take()  # the receiver now owns the list
        self.orders.extend(items)
        return len(self.orders)  # the reply of an ask must be sendable too


async def main() -> int:
    async with Runtime() as rt:
        desk = rt.spawn(Desk)
        book = rt.spawn(Book, desk)  # -> Tag[Book]
        book.send(Book.add, Order("AAPL", 10))  # fire-and-forget
        n = await book.ask(Book.bulk, iso([Order("MSFT", 5)]))  # request-reply
        return n
