"""Checked by mypy --strict and pyright with no plugin: the DSL's types carry the rules."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import capsys
from capsys import Agent, Iso, Ref, Tag, Val, behaviour, consume, iso, message, val


@message
class Order:
    symbol: str
    qty: int


class Book(Agent):
    def __init__(self, owner: Tag[Book] | None) -> None:
        self.owner = owner
        self.orders: list[Order] = []

    @behaviour
    def add(self, order: Order) -> None:
        self.orders.append(order)

    @behaviour
    async def bulk(self, batch: Iso[list[Order]]) -> int:
        self.orders.extend(batch.take())
        return len(self.orders)

    @behaviour
    def size(self, *, extra: int = 0) -> int:
        return len(self.orders) + extra

    @behaviour
    def peer(self) -> Tag[Book]:
        return self.me

    @behaviour
    def ping(self) -> None:
        me: Tag[Book] = self.me  # Tag[Self] is a Tag[Book]
        me.send(Book.add, Order("X", 1))


async def use(book: Tag[Book]) -> None:
    book.send(Book.add, Order("AAPL", 10))
    n = await book.ask(Book.bulk, iso([Order("MSFT", 5)]))
    reveal_type(n)  # E: int
    size = await book.ask(Book.size, extra=1, timeout=2.0)
    reveal_type(size)  # E: int
    await book.send_wait(Book.add, Order("X", 1))
    book.send(Book.add, "AAPL")  # E: [arg-type]
    book.send(Book.add)  # E: [call-arg]
    await book.ask(Book.bulk, [Order("X", 1)])  # E: [call-overload]
    # A Tag is not awaitable (the async overload of ask does not match a sync behaviour
    # returning a Tag), nor sized or ordered: it has only its declared methods.
    peer = await book.ask(Book.peer)
    reveal_type(peer)  # E: Tag[Book]
    await book  # E: [misc]
    sized: Sized = book  # E: [assignment]
    sorted([book])  # E: [type-var]
    print(book == peer, hash(book))


def capabilities() -> None:
    h: Iso[list[int]] = iso([1, 2])
    moved = consume(h)
    reveal_type(moved)  # E: Iso[list[int]]
    rewrapped = iso(moved)  # moves the handle into a new one (SPEC 2)
    reveal_type(rewrapped)  # E: Iso[list[int]]
    items = rewrapped.take()
    reveal_type(items)  # E: list[int]
    frozen: Val[tuple[int, ...]] = val((1, 2))
    as_tuple: tuple[int, ...] = frozen  # a Val[T] is a T
    local: Ref[list[int]] = [1]
    local.append(len(as_tuple))
    order = Order("A", 1)
    order.qty = 3  # E: [misc]
    Order("A", "1")  # E: [arg-type]


def anything(x: Any) -> None:
    del x


def misspelt() -> object:
    # capsys loads its names lazily at run time; type checkers must still know them all.
    return capsys.Agnet  # E: [attr-defined]
