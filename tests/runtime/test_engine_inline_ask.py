"""Asks from async behaviours to idle agents, which the worker answers in place.

An ask made by an async behaviour to an idle agent's sync behaviour runs as that agent's
turn right in the asker's task (``Worker.ask_inline``). These tests hold it to what a
queued ask guarantees: order behind earlier messages, supervision, reply checks, sender
names, and a loop that still lets the rest of the worker run.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from capsys import Agent, NotSendableError, Tag, behaviour
from runtime import AgentStopped, Runtime, Supervision

pytestmark = pytest.mark.anyio


def inline_asks(rt: Runtime) -> int:
    return sum(w.inline_asks for w in rt.workers)


class Store(Agent):
    supervision = Supervision("restart", max_restarts=5, within=60.0)

    def __init__(self) -> None:
        self.items: list[int] = []

    @behaviour
    def put(self, x: int) -> None:
        self.items.append(x)

    @behaviour
    def count(self) -> int:
        return len(self.items)

    @behaviour
    def boom(self) -> int:
        raise KeyError("boom")

    @behaviour
    def leak(self) -> list[int]:
        return self.items  # a mutable reply: refused by the reply check

    @behaviour
    def forward(self, to: Tag[Store]) -> int:
        to.send(Store.put, 1)
        return 0


class StoreStop(Store):
    supervision = Supervision("stop")


class Client(Agent):
    def __init__(self, store: Tag[Store]) -> None:
        self.store = store

    @behaviour
    async def put_then_count(self, n: int) -> int:
        for i in range(n):
            self.store.send(Store.put, i)  # queued: the ask must not overtake them
        return await self.store.ask(Store.count)

    @behaviour
    async def ask_many(self, n: int) -> int:
        total = 0
        for _ in range(n):
            total += await self.store.ask(Store.count)
        return total

    @behaviour
    async def ask_error(self) -> str:
        try:
            await self.store.ask(Store.boom)
        except KeyError as exc:
            return f"got {exc!r}"
        return "no error"

    @behaviour
    async def ask_leak(self) -> str:
        try:
            await self.store.ask(Store.leak)
        except NotSendableError as exc:
            return str(exc)
        return "accepted"

    @behaviour
    async def ask_forward(self, to: Tag[Store]) -> int:
        return await self.store.ask(Store.forward, to)

    @behaviour
    async def spin(self, key: str) -> int:
        asks = 0
        while not FLAGS[key].is_set():
            await self.store.ask(Store.count)
            asks += 1
        return asks


FLAGS: dict[str, threading.Event] = {}


@pytest.mark.parametrize("workers", [1, 2])
async def test_an_ask_never_overtakes_messages_already_queued(workers: int) -> None:
    async with Runtime(workers=workers) as rt:
        store = rt.spawn(Store)
        client = rt.spawn(Client, store)
        assert await client.ask(Client.put_then_count, 50) == 50
        assert await client.ask(Client.ask_many, 100) == 100 * 50
        assert inline_asks(rt) >= 90  # the store was idle for (nearly) all of them
        assert await store.ask(Store.count) == 50


async def test_a_failing_behaviour_is_supervised_and_the_asker_gets_the_error() -> None:
    async with Runtime(workers=1) as rt:
        store = rt.spawn(Store)
        client = rt.spawn(Client, store)
        store.send(Store.put, 7)
        assert await client.ask(Client.put_then_count, 0) == 1
        before = inline_asks(rt)
        assert await client.ask(Client.ask_error) == "got KeyError('boom')"
        assert inline_asks(rt) == before  # it raised: counted as handled, not answered
        assert rt.stats().restarts == 1
        assert await client.ask(Client.put_then_count, 0) == 0  # a fresh Store()

        stopping = rt.spawn(StoreStop)
        stopped_client = rt.spawn(Client, stopping)
        assert await stopped_client.ask(Client.ask_error) == "got KeyError('boom')"
        with pytest.raises(AgentStopped):
            await stopping.ask(Store.count)


async def test_a_mutable_reply_is_refused_and_the_target_lives_on() -> None:
    async with Runtime(workers=1) as rt:
        store = rt.spawn(Store)
        client = rt.spawn(Client, store)
        store.send(Store.put, 1)
        message = await client.ask(Client.ask_leak)
        assert "reply of Store.leak" in message
        assert await store.ask(Store.count) == 1


async def test_sends_made_during_an_inline_turn_come_from_the_target() -> None:
    async with Runtime(workers=1) as rt:
        store = rt.spawn(Store)
        gone = rt.spawn(Store)
        await rt.stop(gone)
        client = rt.spawn(Client, store)
        assert await client.ask(Client.ask_forward, gone) == 0
        assert inline_asks(rt) == 1
    assert [(d.sender, d.receiver, d.behaviour) for d in rt.dead_letters.recent] == [
        ("Store#1", "Store#2", "Store.put")
    ]


async def test_a_loop_of_inline_asks_lets_the_rest_of_the_worker_run() -> None:
    FLAGS["spin"] = flag = threading.Event()
    async with Runtime(workers=1) as rt:
        store = rt.spawn(Store)
        other = rt.spawn(Store)
        client = rt.spawn(Client, store)
        result: list[Any] = []

        async def spin() -> None:
            result.append(await client.ask(Client.spin, "spin"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(spin)
            while inline_asks(rt) < 100:
                await anyio.sleep(0.001)
            with anyio.fail_after(10):  # one worker, hogged if the spinning task never yields
                other.send(Store.put, 1)
                assert await other.ask(Store.count) == 1
            flag.set()
        assert result[0] >= 100
