"""The engine's public behaviour: send/ask, ordering, lifecycle, run(), checks, cleanup."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Generic, TypeVar

import anyio
import pytest

import runtime
from capsys import Agent, Iso, MovedError, NotSendableError, Tag, behaviour, iso, message
from runtime import AgentStopped, Runtime

pytestmark = pytest.mark.anyio


def threads() -> set[threading.Thread]:
    """The live threads, without trio's idle thread cache (the I/O thread of the
    anyio pytest plugin's trio guest run starts and parks there, not ours)."""
    return {t for t in threading.enumerate() if not t.name.startswith("Trio thread")}


class Counter(Agent):
    def __init__(self, start: int) -> None:
        self.n = start

    @behaviour
    def add(self, k: int) -> None:
        self.n += k

    @behaviour
    def get(self) -> int:
        return self.n

    @behaviour
    async def slow_get(self) -> int:
        await anyio.sleep(0.001)
        return self.n

    @behaviour
    def whoami(self) -> Tag[Counter]:
        return self.me


class Recorder(Agent):
    """Remembers, per sender, the sequence numbers in the order they arrived."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}

    @behaviour
    def record(self, sender: str, seq: int) -> None:
        self.seen.setdefault(sender, []).append(seq)

    @behaviour
    def in_order(self) -> tuple[tuple[str, int, bool], ...]:
        return tuple((s, len(v), v == sorted(v)) for s, v in sorted(self.seen.items()))


class Sender(Agent):
    def __init__(self, name: str, target: Tag[Recorder]) -> None:
        self.name = name
        self.target = target
        self.next = 0

    @behaviour
    def burst(self, n: int) -> None:
        for _ in range(n):
            self.target.send(Recorder.record, self.name, self.next)
            self.next += 1


async def test_send_and_ask() -> None:
    async with Runtime() as rt:
        c = rt.spawn(Counter, 5)
        for _ in range(100):
            c.send(Counter.add, 1)
        assert await c.ask(Counter.get) == 105
        assert await c.ask(Counter.slow_get) == 105
        assert await c.ask(Counter.whoami) == c
        assert "Counter#" in repr(c)


async def test_a_plain_tag_over_an_agent_address_delivers_the_same() -> None:
    """The runtime's tags send by themselves; the ``Address`` protocol they wrap
    (``post``, ``request``) still delivers for any plain ``Tag`` built on it."""
    async with Runtime() as rt:
        c = rt.spawn(Counter, 0)
        plain: Tag[Counter] = Tag(c._address)
        assert type(plain) is Tag and type(c) is not Tag
        plain.send(Counter.add, 2)
        c.send(Counter.add, 3)
        assert await plain.ask(Counter.get) == 5
        assert plain == c and hash(plain) == hash(c)
        with pytest.raises(NotSendableError, match=r"argument 1 of Counter\.add"):
            plain.send(Counter.add, [1])  # type: ignore[arg-type]


class Calls(Agent):
    """Records how each behaviour was called."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, ...]] = []

    @behaviour
    def none(self) -> None:
        self.seen.append(())

    @behaviour
    def one(self, arg: int) -> None:
        self.seen.append((arg,))

    @behaviour
    def two(self, a: int, b: str = "-", *, c: int = 0) -> None:
        self.seen.append((a, b, c))

    @behaviour
    def named(self, behaviour: str, arg: str) -> None:
        self.seen.append((behaviour, arg))

    @behaviour
    def packed(self, values: tuple[int, ...]) -> None:
        self.seen.append(values)

    @behaviour
    def get(self) -> tuple[tuple[object, ...], ...]:
        return tuple(self.seen)


async def test_every_argument_shape_reaches_the_behaviour() -> None:
    """Messages carry no arguments, one bare argument, an args tuple or keyword
    arguments; keywords that share a name with send's own parameters (``behaviour``,
    ``arg``) are the behaviour's, and a tuple argument stays one argument."""
    async with Runtime(workers=1) as rt:
        c = rt.spawn(Calls)
        c.send(Calls.none)
        c.send(Calls.one, 1)
        c.send(Calls.one, arg=2)
        c.send(Calls.two, 3)
        c.send(Calls.two, 4, "x")
        c.send(Calls.two, 5, c=6)
        c.send(Calls.two, a=7, b="y", c=8)
        c.send(Calls.named, "b", arg="a")
        c.send(Calls.named, behaviour="b", arg="a")
        c.send(Calls.packed, (9, 10))
        c.send(Calls.packed, ())
        assert await c.ask(Calls.get) == (
            (),
            (1,),
            (2,),
            (3, "-", 0),
            (4, "x", 0),
            (5, "-", 6),
            (7, "y", 8),
            ("b", "a"),
            ("b", "a"),
            (9, 10),
            (),
        )
        with pytest.raises(NotSendableError, match=r"argument 2 of Calls\.two"):
            c.send(Calls.two, 1, [2])  # type: ignore[arg-type]


async def test_names_are_unique_and_readable() -> None:
    async with Runtime() as rt:
        tags = [rt.spawn(Counter, 0) for _ in range(3)]
        assert [repr(t) for t in tags] == ["Tag[Counter#1]", "Tag[Counter#2]", "Tag[Counter#3]"]
        assert len(set(tags)) == 3


async def test_order_per_sender_with_two_workers() -> None:
    async with Runtime(workers=2) as rt:
        rec = rt.spawn(Recorder)
        senders = [rt.spawn(Sender, f"s{i}", rec) for i in range(6)]
        for _ in range(20):
            for s in senders:
                s.send(Sender.burst, 50)
        for i in range(300):  # an outside sender interleaved with the agents
            rec.send(Recorder.record, "outside", i)
        result = await rec.ask(Recorder.in_order)
        while sum(n for _, n, _ in result) < 6 * 20 * 50 + 300:
            await anyio.sleep(0.01)
            result = await rec.ask(Recorder.in_order)
    assert len(result) == 7
    assert all(ordered for _, _, ordered in result)
    assert dict((s, n) for s, n, _ in result) == {
        **{f"s{i}": 1000 for i in range(6)},
        "outside": 300,
    }


events: list[str] = []


class Hooked(Agent):
    def __init__(self, label: str) -> None:
        self.label = label
        events.append(f"init {label}")

    def on_start(self) -> None:
        events.append(f"start {self.label}")

    @behaviour
    def hello(self) -> None:
        events.append(f"hello {self.label}")

    async def on_stop(self) -> None:
        await anyio.sleep(0)
        events.append(f"stop {self.label}")


class Chain(Agent):
    """Forwards a countdown along a chain: messages sent by handlers while draining."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.next: Tag[Chain] | None = None

    @behaviour
    def link(self, nxt: Tag[Chain]) -> None:
        self.next = nxt

    @behaviour
    def count(self, n: int) -> None:
        events.append(f"{self.log} {n}")
        if n and self.next is not None:
            self.next.send(Chain.count, n - 1)

    def on_stop(self) -> None:
        events.append(f"stop {self.log}")


async def test_lifecycle_hooks_and_drain_on_exit() -> None:
    events.clear()
    async with Runtime() as rt:
        h = rt.spawn(Hooked, "a")
        h.send(Hooked.hello)
        a = rt.spawn(Chain, "a")
        b = rt.spawn(Chain, "b")
        a.send(Chain.link, b)
        b.send(Chain.link, a)
        a.send(Chain.count, 500)  # leave at once: the whole chain must still run
    assert events[:3] == ["init a", "start a", "hello a"]
    counts = [e for e in events if e[0] in "ab" and e.split()[1].isdigit()]
    assert len(counts) == 501
    assert counts[-1].endswith(" 0")
    assert "stop a" in events and "stop b" in events
    assert events.index("stop a") > events.index(counts[-1])


class Tally(Agent):
    """Spawned first; its own on_stop reports what the later agents' hooks sent it."""

    def __init__(self) -> None:
        self.total = 0

    @behaviour
    def add(self, n: int) -> None:
        self.total += n

    def on_stop(self) -> None:
        events.append(f"tally {self.total}")


class Reporter(Agent):
    def __init__(self, tally: Tag[Tally]) -> None:
        self.tally = tally
        self.n = 0

    @behaviour
    def work(self) -> None:
        self.n += 1

    async def on_stop(self) -> None:
        await anyio.sleep(0)
        self.tally.send(Tally.add, self.n)
        events.append("reported")


async def test_on_stop_reports_reach_agents_spawned_earlier() -> None:
    events.clear()
    async with Runtime(workers=2) as rt:
        tally = rt.spawn(Tally)
        reporters = [rt.spawn(Reporter, tally) for _ in range(50)]
        for r in reporters:
            r.send(Reporter.work)
            r.send(Reporter.work)
    # every report was handled before the tally stopped, and none was dead-lettered
    assert events.count("reported") == 50
    assert events[-1] == "tally 100"
    assert rt.dead_letters.count == 0


class Parent(Agent):
    """Spawns a reporter from its on_stop: an agent born during shutdown."""

    def __init__(self, tally: Tag[Tally]) -> None:
        self.tally = tally

    def on_stop(self) -> None:
        self.runtime.spawn(Reporter, self.tally)
        events.append("parent stopped")


async def test_an_agent_spawned_by_an_on_stop_hook_stops_before_earlier_ones() -> None:
    # It is the latest of all: it stops next, so its own report reaches the tally
    # (it used to stop last, after the tally, and its report was a dead letter).
    events.clear()
    async with Runtime(workers=2) as rt:
        tally = rt.spawn(Tally)
        rt.spawn(Parent, tally)
        rt.spawn(Reporter, tally).send(Reporter.work)
    assert events == ["reported", "parent stopped", "reported", "tally 1"]
    assert rt.dead_letters.count == 0


async def test_on_start_async_runs_before_first_message() -> None:
    order: list[str] = []

    class Starter(Agent):
        async def on_start(self) -> None:
            await anyio.sleep(0.01)
            order.append("start")

        @behaviour
        def go(self) -> None:
            order.append("go")

    async with Runtime(workers=2) as rt:
        s = rt.spawn(Starter)
        s.send(Starter.go)
    assert order == ["start", "go"]


async def test_nothing_left_running_after_exit() -> None:
    before = threads()
    tasks_before = len(asyncio.all_tasks()) if _on_asyncio() else 0
    async with Runtime(workers=3) as rt:
        c = rt.spawn(Counter, 0)
        for _ in range(1000):
            c.send(Counter.add, 1)
        await c.ask(Counter.slow_get)
        assert len(threads() - before) >= 3
    assert threads() == before
    if _on_asyncio():
        assert len(asyncio.all_tasks()) == tasks_before
    # and no agent: Counter has no on_stop, yet it reads as stopped like the rest
    assert not rt.is_alive(c)
    assert rt.agent_stats(c).stopped
    assert (rt.stats().agents, rt.stats().stopped) == (0, 1)
    with pytest.raises(AgentStopped):
        await c.ask(Counter.slow_get)


def _on_asyncio() -> bool:
    import sniffio

    return sniffio.current_async_library() == "asyncio"


async def test_error_in_body_shuts_down_and_propagates() -> None:
    before = threads()
    with pytest.raises(KeyError):
        async with Runtime() as rt:
            c = rt.spawn(Counter, 0)
            c.send(Counter.add, 1)
            raise KeyError("boom")
    assert threads() == before


async def test_not_sendable_argument_is_named() -> None:
    async with Runtime() as rt:
        c = rt.spawn(Counter, 0)
        with pytest.raises(NotSendableError, match=r"argument 1 of Counter\.add"):
            c.send(Counter.add, [1, 2])  # type: ignore[arg-type]
        with pytest.raises(NotSendableError):
            rt.spawn(Counter, {"a": 1})  # type: ignore[arg-type]
        assert await c.ask(Counter.get) == 0


class Keeper(Agent):
    def __init__(self) -> None:
        self.items: list[int] = []

    @behaviour
    def put(self, batch: Iso[list[int]]) -> int:
        self.items.extend(batch.take())
        return len(self.items)

    @behaviour
    def leak(self) -> list[int]:
        return self.items


async def test_iso_moved_into_send_kills_the_handle() -> None:
    async with Runtime(debug=True) as rt:
        k = rt.spawn(Keeper)
        h = iso([1, 2, 3])
        k.send(Keeper.put, h)
        with pytest.raises(MovedError):
            h.take()
        assert await k.ask(Keeper.put, iso([4])) == 4
        with pytest.raises(NotSendableError, match=r"reply of Keeper\.leak"):
            await k.ask(Keeper.leak)


@message
class Parcel:
    batch: Iso[list[int]]
    note: str


class Receiver(Agent):
    def __init__(self) -> None:
        self.items: list[int] = []

    @behaviour
    def parcel(self, p: Parcel) -> int:
        self.items.extend(p.batch.take())
        return len(self.items)

    @behaviour
    def pair(self, p: tuple[Iso[list[int]], int]) -> int:
        self.items.extend(p[0].take())
        return len(self.items)


async def test_an_iso_inside_a_message_or_tuple_moves_with_the_send() -> None:
    async with Runtime() as rt:
        r = rt.spawn(Receiver)
        h = iso([1, 2])
        r.send(Receiver.parcel, Parcel(h, "first"))
        with pytest.raises(MovedError):
            h.take()
        h2 = iso([3])
        assert await r.ask(Receiver.pair, (h2, 0)) == 3  # the receiver took both batches
        with pytest.raises(MovedError):
            h2.take()


async def test_not_a_behaviour_is_refused() -> None:
    from capsys.errors import CapabilityUsageError

    async with Runtime() as rt:
        c = rt.spawn(Counter, 0)
        with pytest.raises(CapabilityUsageError, match="not a behaviour"):
            c.send(Recorder.record, "x", 1)  # type: ignore[arg-type]


async def test_spawn_outside_the_block_is_refused() -> None:
    from capsys.errors import CapabilityUsageError

    rt = Runtime()
    with pytest.raises(CapabilityUsageError):
        rt.spawn(Counter, 0)


T = TypeVar("T")


class Bag(Agent, Generic[T]):
    def __init__(self, first: T) -> None:
        self.items: tuple[T, ...] = (first,)

    @behaviour
    def add(self, item: T) -> None:
        self.items = (*self.items, item)

    @behaviour
    def count(self) -> int:
        return len(self.items)


async def test_a_generic_agent_is_spawned_with_its_type_arguments() -> None:
    from capsys.errors import CapabilityUsageError

    async with Runtime() as rt:
        bag = rt.spawn(Bag[int], 1)  # type-checks as Bag: it must run as one
        bag.send(Bag.add, 2)
        assert await bag.ask(Bag.count) == 2
        assert str(bag).startswith("Tag[Bag#")
        with pytest.raises(CapabilityUsageError, match="spawn takes an Agent subclass"):
            rt.spawn(list[int])  # type: ignore[type-var]


async def _main_for_run(k: int) -> tuple[int, int]:
    async with Runtime() as rt:
        c = rt.spawn(Counter, k)
        c.send(Counter.add, 1)
        return rt.n_workers, await c.ask(Counter.get)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_on_both_backends(backend: str) -> None:
    before = threads()
    assert runtime.run(_main_for_run, 41, backend=backend, workers=1) == (1, 42)
    assert runtime.run(_main_for_run, 1, backend=backend, workers=3) == (3, 2)
    assert threads() == before
    with pytest.raises(TypeError, match="unknown Runtime option"):
        runtime.run(_main_for_run, 1, backend=backend, wrokers=3)


async def test_stats_snapshot() -> None:
    async with Runtime() as rt:
        c = rt.spawn(Counter, 0)
        for _ in range(10):
            c.send(Counter.add, 1)
        await c.ask(Counter.get)
        st = rt.agent_stats(c)
        assert st.handled == 11 and st.name == "Counter#1" and not st.stopped
    stats = rt.stats()
    assert stats.spawned == 1 and stats.sent == stats.handled + stats.dead_letters
    assert stats.handled == 11
    assert stats.max_mailbox_depth >= 1


class PingPong(Agent):
    def __init__(self) -> None:
        self.seen = 0

    @behaviour
    def ping(self, peer: Tag[PingPong], n: int) -> None:
        self.seen += 1
        if n:
            peer.send(PingPong.ping, self.me, n - 1)

    @behaviour
    def count(self) -> int:
        return self.seen


async def test_sync_ping_pong_stays_on_one_worker() -> None:
    async with Runtime(workers=2) as rt:
        a, b = rt.spawn(PingPong), rt.spawn(PingPong)
        a.send(PingPong.ping, b, 20_000)
    assert rt.stats().steals == 0  # the LIFO slot kept the pair on one thread
    assert rt.stats().handled == 20_001


def test_watermarks_follow_a_small_capacity() -> None:
    rt = Runtime(mailbox_capacity=10)
    assert (rt.capacity, rt.high_water, rt.low_water) == (10, 8, 2)
    rt = Runtime(mailbox_capacity=10, high_water=9)
    assert (rt.high_water, rt.low_water) == (9, 2)
    with pytest.raises(ValueError, match="low_water < high_water <= mailbox_capacity"):
        Runtime(mailbox_capacity=10, high_water=20)


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("workers", 1.5, TypeError),
        ("workers", True, TypeError),
        ("batch", 0, ValueError),
        ("mailbox_capacity", "10", TypeError),
        ("dead_letters_kept", -1, ValueError),
        ("shutdown_timeout", -1, ValueError),
        ("shutdown_timeout", float("nan"), ValueError),
        ("block_threshold", 0, ValueError),
        ("max_spare_workers", -1, ValueError),
        ("max_spare_workers", 2.0, TypeError),
    ],
)
def test_an_option_of_the_wrong_type_or_range_is_refused_by_name(
    option: str, value: object, error: type[Exception]
) -> None:
    # (batch=0 was accepted, and then no message was ever handled)
    with pytest.raises(error, match=f"Runtime\\({option}="):
        Runtime(**{option: value})  # type: ignore[arg-type]


async def test_a_runtime_that_fails_to_start_undoes_what_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = threads()
    started = Runtime.add_worker

    def second_fails(rt: Runtime, index: int | None = None) -> None:
        if index == 1:
            raise OSError("can't start new thread")
        started(rt, index=index)

    monkeypatch.setattr(Runtime, "add_worker", second_fails)
    with pytest.raises(OSError, match="can't start new thread"):
        async with Runtime(workers=2):
            pass
    monkeypatch.undo()
    assert threads() == before  # the first worker was joined
    # On asyncio the signal wakeup socket was left set, and closed: the next Runtime
    # failed with OSError (bad file descriptor).
    async with Runtime(workers=1) as rt:
        assert await rt.spawn(Counter, 1).ask(Counter.get) == 1


class Flood(Agent):
    @behaviour
    def queued_and_tracked(self, target: Tag[Counter], n: int) -> tuple[int, int]:
        """Send n one-int messages; on one worker none is handled before we return."""
        for _ in range(n):
            target.send(Counter.add, 1)
        gc.collect(0)  # where they are (a full collection is slow after a long test run)
        mailbox = target._address.mailbox  # type: ignore[attr-defined]
        return len(mailbox), sum(gc.is_tracked(m) for m in mailbox)


async def test_queued_messages_cost_the_garbage_collector_nothing() -> None:
    # A one-argument message of atoms is a flat tuple the GC untracks, latency-sampled
    # ones included (their stamp is an int), so a long mailbox never makes a full
    # collection walk every queued message.
    async with Runtime(workers=1) as rt:
        counter = rt.spawn(Counter, 0)
        flood = rt.spawn(Flood)
        assert await flood.ask(Flood.queued_and_tracked, counter, 200) == (200, 0)
        assert await counter.ask(Counter.get) == 200


def test_sampling_rate_agrees_with_metrics() -> None:
    from runtime.cell import STAMP_EVERY
    from runtime.metrics import SAMPLE_EVERY

    assert STAMP_EVERY == SAMPLE_EVERY  # runtime.cell cannot import it (a cycle)
