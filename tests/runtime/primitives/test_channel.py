"""channel(): FIFO, bounds, closing, sendability, and hand-offs across threads/loops."""

from __future__ import annotations

import threading

import anyio
import pytest

from capsys import Agent, Iso, MovedError, NotSendableError, Tag, behaviour, iso
from capsys.errors import CapabilityUsageError
from runtime import Runtime
from runtime.primitives.channel import (
    Channel,
    ChannelClosed,
    ChannelEmpty,
    ChannelFull,
    channel,
)

pytestmark = pytest.mark.anyio


async def test_fifo_and_bounds() -> None:
    ch: Channel[int] = channel(2)
    ch.send(1)
    await ch.put(2)
    with pytest.raises(ChannelFull, match=r"await channel\.put"):
        ch.send(3)
    assert len(ch) == 2
    assert [ch.get_nowait(), await ch.get()] == [1, 2]
    with pytest.raises(ChannelEmpty):
        ch.get_nowait()
    for bad in (0, -1, 1.5, None, True):
        with pytest.raises(CapabilityUsageError, match="capacity must be an int of at least 1"):
            channel(bad)  # type: ignore[arg-type]


async def test_put_waits_for_room_and_get_waits_for_items() -> None:
    ch: Channel[int] = channel(1)
    got: list[int] = []

    async def consumer() -> None:
        for _ in range(5):
            got.append(await ch.get())

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        for i in range(5):
            await ch.put(i)  # blocks while the single slot is taken
    assert got == [0, 1, 2, 3, 4]


async def test_close_drains_then_stops_iteration() -> None:
    ch: Channel[str] = channel(4)
    for word in ("a", "b"):
        ch.send(word)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.send("c")
    assert [item async for item in ch] == ["a", "b"]
    with pytest.raises(ChannelClosed):
        await ch.get()


async def test_close_wakes_waiting_getter() -> None:
    ch: Channel[int] = channel(1)
    outcome: list[str] = []

    async def getter() -> None:
        try:
            await ch.get()
        except ChannelClosed:
            outcome.append("closed")

    async with anyio.create_task_group() as tg:
        tg.start_soon(getter)
        await anyio.sleep(0.01)
        ch.close()
    assert outcome == ["closed"]


async def test_items_must_be_sendable_and_iso_is_moved() -> None:
    ch: Channel[object] = channel(4)
    with pytest.raises(NotSendableError, match=r"Channel\.send"):
        ch.send([1, 2])
    handle: Iso[list[int]] = iso([1, 2])
    await ch.put(handle)
    with pytest.raises(MovedError):
        handle.take()
    received = await ch.get()
    assert isinstance(received, Iso)
    assert received.take() == [1, 2]


async def test_a_refused_put_keeps_the_iso() -> None:
    ch: Channel[object] = channel(1)
    ch.send(0)
    handle: Iso[list[int]] = iso([1])
    with pytest.raises(ChannelFull):
        ch.send(handle)
    with anyio.move_on_after(0.01):
        await ch.put(handle)  # waits for room, then is cancelled
    assert ch.get_nowait() == 0
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.send(handle)
    assert handle.take() == [1]  # never taken by the channel: still the caller's


async def test_cancelled_getter_loses_nothing() -> None:
    ch: Channel[int] = channel(4)
    with anyio.move_on_after(0.01):
        await ch.get()  # nothing arrives: cancelled while parked
    ch.send(7)
    assert await ch.get() == 7


@pytest.mark.parametrize("producer_backend", ["asyncio", "trio"])
async def test_cross_thread_producer_wakes_consumer(producer_backend: str) -> None:
    """A producer on another thread's event loop wakes a consumer parked on this loop."""
    ch: Channel[int] = channel(3)
    count = 200

    async def produce() -> None:
        for i in range(count):
            await ch.put(i)

    thread = threading.Thread(
        target=anyio.run, args=(produce,), kwargs={"backend": producer_backend}
    )
    thread.start()
    try:
        got = [await ch.get() for _ in range(count)]
    finally:
        await anyio.to_thread.run_sync(thread.join)
    assert got == list(range(count))


class Producer(Agent):
    def __init__(self, out: Channel[int]) -> None:
        self.out = out

    @behaviour
    async def make(self, n: int) -> None:
        for i in range(n):
            await self.out.put(i)


class Consumer(Agent):
    @behaviour
    async def drain(self, source: Channel[int], n: int) -> tuple[int, ...]:
        return tuple([await source.get() for _ in range(n)])

    @behaviour
    def total(self, items: tuple[int, ...]) -> int:
        return sum(items)


class Putter(Agent):
    @behaviour
    async def put(self, out: Channel[object], nested: bool) -> str:
        try:
            await out.put((1, [2]) if nested else (1, 2))
        except NotSendableError:
            return "refused"
        return "accepted"


async def test_debug_mode_checks_channel_items_deeply_as_sends() -> None:
    """A tuple holding a list passes the shallow check (as a send's does) and is refused
    by the deep one of debug mode, from outside code and from agents alike."""
    nested = (1, [2])
    ch: Channel[object] = channel(8)
    ch.send(nested)  # no runtime in debug mode: shallow
    async with Runtime(debug=True) as rt:
        with pytest.raises(NotSendableError, match=r"Channel\.send"):
            ch.send(nested)
        with pytest.raises(NotSendableError, match=r"Channel\.put"):
            await ch.put(nested)
        putter = rt.spawn(Putter)
        assert await putter.ask(Putter.put, ch, True) == "refused"
        assert await putter.ask(Putter.put, ch, False) == "accepted"
    async with Runtime() as rt:
        ch.send(nested)  # the debug runtime has closed
        putter = rt.spawn(Putter)
        assert await putter.ask(Putter.put, ch, True) == "accepted"


async def test_agents_share_a_channel_passed_at_spawn_and_in_a_message() -> None:
    """A channel crosses agent boundaries by reference (thread-safe, items checked on the
    way in): spawned with one, handed to another in an ask, the two agents meet in it."""
    async with Runtime() as rt:
        ch: Channel[int] = channel(3)  # smaller than the stream: the producer must wait
        producer = rt.spawn(Producer, ch)
        consumer = rt.spawn(Consumer)
        producer.send(Producer.make, 10)
        got = await consumer.ask(Consumer.drain, ch, 10)
        assert got == tuple(range(10))
        assert await consumer.ask(Consumer.total, got) == 45


async def test_a_channel_is_never_copied() -> None:
    import copy
    import pickle

    ch: Channel[int] = channel(1)
    for clone in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(CapabilityUsageError, match="shared by reference"):
            clone(ch)


class Looper(Agent):
    @behaviour
    async def take_all(self, source: Channel[int]) -> tuple[int, ...]:
        return tuple([x async for x in source])


@pytest.mark.parametrize("seed", range(4))
async def test_consumers_of_one_channel_take_turns(seed: int) -> None:
    # An item put while getters wait goes to the longest-waiting one: a consumer looping
    # over the channel cannot take every item before the getters it woke run (on
    # asyncio one consumer used to get all 60, for every seed).
    async with Runtime(deterministic=True, seed=seed) as rt:
        ch: Channel[int] = channel(2)
        for _ in range(3):
            rt.spawn(Producer, ch).send(Producer.make, 20)
        loopers = [rt.spawn(Looper) for _ in range(2)]
        got: list[tuple[int, ...]] = []

        async def take(looper: Tag[Looper]) -> None:
            got.append(await looper.ask(Looper.take_all, ch))

        async with anyio.create_task_group() as tg:
            for looper in loopers:
                tg.start_soon(take, looper)
            with anyio.fail_after(20):  # every item put (the makes ended), then taken
                while rt.stats().handled < 3 or len(ch):
                    await anyio.sleep(0.01)
            ch.close()
    assert sorted(x for items in got for x in items) == sorted(list(range(20)) * 3)
    assert min(len(items) for items in got) >= 10, [len(items) for items in got]


async def test_a_put_handed_to_a_getter_passes_the_room_on_to_a_parked_putter() -> None:
    # Capacity 1, two putters parked on a full buffer, getters waiting: each hand-over
    # takes no room, so the next putter must be woken by it (it once waited for ever).
    ch: Channel[int] = channel(1)
    got: list[int] = []

    async def put(x: int) -> None:
        await ch.put(x)

    async def get() -> None:
        got.append(await ch.get())

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            ch.send(0)  # full
            tg.start_soon(put, 1)
            tg.start_soon(put, 2)
            await anyio.sleep(0.05)  # both putters parked
            for _ in range(3):
                tg.start_soon(get)
    assert sorted(got) == [0, 1, 2]
