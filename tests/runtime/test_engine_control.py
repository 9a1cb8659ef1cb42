"""Backpressure, supervision, dead letters, stop, ask timeouts, determinism, blocking."""

from __future__ import annotations

import contextlib
import threading
import time

import anyio
import pytest

from capsys import Agent, Iso, Tag, behaviour, iso
from capsys.errors import CapabilityUsageError
from runtime import (
    AgentStopped,
    AskTimeout,
    DeadLetter,
    MailboxFull,
    Priority,
    Runtime,
    Supervision,
    quorum,
)

pytestmark = pytest.mark.anyio


def threads() -> set[threading.Thread]:
    """The live threads, without trio's idle thread cache (the I/O thread of the
    anyio pytest plugin's trio guest run starts and parks there, not ours)."""
    return {t for t in threading.enumerate() if not t.name.startswith("Trio thread")}


@pytest.fixture(autouse=True)
def _fresh_events() -> None:
    EVENTS.clear()


# Thread events are not sendable: agents find them here by a string key.
EVENTS: dict[str, threading.Event] = {}


def event(key: str) -> threading.Event:
    return EVENTS.setdefault(key, threading.Event())


class Gate(Agent):
    """Blocks its worker thread in `hold` until the test opens the gate."""

    def __init__(self, opened: str, entered: str) -> None:
        self.opened = event(opened)
        self.entered = event(entered)
        self.count = 0
        self.kept_data: list[int] = []

    @behaviour
    def hold(self) -> None:
        self.entered.set()
        assert self.opened.wait(30)

    @behaviour
    def tick(self) -> None:
        self.count += 1

    @behaviour
    def get(self) -> int:
        return self.count

    @behaviour
    def keep(self, data: Iso[list[int]]) -> None:
        self.kept_data = data.take()

    @behaviour
    def kept(self) -> tuple[int, ...]:
        return tuple(self.kept_data)


async def _wait_thread_event(event: threading.Event) -> None:
    while not event.is_set():
        await anyio.sleep(0.005)


async def _blocked_and_full(rt: Runtime, key: str) -> tuple[Tag[Gate], threading.Event]:
    """A Gate blocked in ``hold`` (until the event returned is set) with its mailbox
    filled to the runtime's capacity."""
    g = rt.spawn(Gate, f"{key}-open", f"{key}-entered")
    g.send(Gate.hold)
    await _wait_thread_event(event(f"{key}-entered"))
    for _ in range(rt.capacity):
        g.send(Gate.tick)
    return g, event(f"{key}-open")


async def test_mailbox_full_and_send_wait() -> None:
    async with Runtime(workers=2, mailbox_capacity=20, high_water=15, low_water=5) as rt:
        g, opened = await _blocked_and_full(rt, "full")
        with pytest.raises(MailboxFull, match=r"Gate#1.*send_wait"):
            g.send(Gate.tick)
        # a refused send or a cancelled wait keeps an Iso: the caller can retry
        handle = iso([1, 2])
        with pytest.raises(MailboxFull):
            g.send(Gate.keep, handle)
        with anyio.move_on_after(0.01):
            await g.send_wait(Gate.keep, handle)
        with anyio.move_on_after(0.01):
            await g.ask(Gate.keep, handle)
        done = anyio.Event()

        async def waiter() -> None:
            await g.send_wait(Gate.tick)
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            assert not done.is_set()  # cannot finish while the receiver is blocked
            opened.set()
        assert done.is_set()
        assert await g.ask(Gate.get) == 21
        await g.send_wait(Gate.keep, handle)
        assert await g.ask(Gate.kept) == (1, 2)
    assert rt.dead_letters.count == 0


async def test_a_timed_ask_that_waits_for_room_times_out_without_sending() -> None:
    # The timeout covers the outside caller's wait for room in a full mailbox: it used
    # to wait for the drain, however long, before the timeout began.
    async with Runtime(workers=2, mailbox_capacity=10, high_water=8, low_water=2) as rt:
        g, opened = await _blocked_and_full(rt, "room")
        handle = iso([3])
        started = anyio.current_time()
        with pytest.raises(AskTimeout, match=r"Gate#1 was not asked Gate.keep.*high water"):
            await g.ask(Gate.keep, handle, timeout=0.05)
        assert anyio.current_time() - started < 5  # not the 30 s the gate may hold
        opened.set()
        assert await g.ask(Gate.get, timeout=10) == 10
        await g.send_wait(Gate.keep, handle)  # nothing was sent: the Iso is still ours
        assert await g.ask(Gate.kept) == (3,)
    assert rt.dead_letters.count == 0


class Slow(Agent):
    def __init__(self) -> None:
        self.got: list[int] = []

    @behaviour
    def take(self, i: int) -> None:
        time.sleep(0.0002)
        self.got.append(i)

    @behaviour
    def summary(self) -> tuple[int, bool]:
        return len(self.got), self.got == sorted(self.got)


class Forwarder(Agent):
    def __init__(self, target: Tag[Slow]) -> None:
        self.target = target
        self.i = 0

    @behaviour
    def forward(self, n: int) -> None:
        for _ in range(n):
            self.target.send(Slow.take, self.i)
            self.i += 1


async def test_sender_is_muted_and_released() -> None:
    async with Runtime(workers=2, mailbox_capacity=200, high_water=40, low_water=10) as rt:
        slow = rt.spawn(Slow)
        fwd = rt.spawn(Forwarder, slow)
        for _ in range(300):
            await fwd.send_wait(Forwarder.forward, 5)
    assert rt.stats().mutes > 0
    stats = rt.stats()
    assert stats.sent == stats.handled and stats.dead_letters == 0


class Asking(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    def noop(self, i: int) -> None:
        self.n += 1

    @behaviour
    async def consult(self, flooder: Tag[Flooding]) -> int:
        await anyio.sleep(0.1)  # meanwhile the flooder fills this mailbox: it is muted
        return await flooder.ask(Flooding.answer)


class Flooding(Agent):
    @behaviour
    def flood(self, target: Tag[Asking], n: int, linger: float) -> None:
        for i in range(n):
            target.send(Asking.noop, i)
        time.sleep(linger)  # the ask may arrive before this turn ends (no mute then)

    @behaviour
    def answer(self) -> int:
        return 42


@pytest.mark.parametrize("linger", [0.0, 0.3])
async def test_an_agent_muted_on_its_asker_still_answers(linger: float) -> None:
    # The asker's async behaviour keeps its own mailbox over high water while it waits:
    # a muted flooder held until that drains would never answer (both waited for ever),
    # whether the ask came after the mute or was queued before it.
    async with Runtime(workers=2, mailbox_capacity=1000, high_water=80, low_water=20) as rt:
        asking, flooding = rt.spawn(Asking), rt.spawn(Flooding)
        async with anyio.create_task_group() as tg:

            async def consult() -> None:
                assert await asking.ask(Asking.consult, flooding, timeout=10) == 42

            tg.start_soon(consult)
            await anyio.sleep(0.02)
            flooding.send(Flooding.flood, asking, 300, linger)
        assert await asking.ask(Asking.noop, 0) is None
    stats = rt.stats()
    assert stats.sent == stats.handled and stats.dead_letters == 0


async def test_slow_receiver_mailbox_stays_bounded_under_muting() -> None:
    async with Runtime(workers=2, mailbox_capacity=500, high_water=40, low_water=10) as rt:
        slow = rt.spawn(Slow)
        fwd = rt.spawn(Forwarder, slow)
        for _ in range(1500):
            await fwd.send_wait(Forwarder.forward, 1)
        _, ordered = await slow.ask(Slow.summary)
        assert ordered
        # Muting holds the sender back: the receiver's queue never grows past high
        # water by more than one turn of the sender.
        assert rt.agent_stats(slow).mailbox_depth <= 40 + 64


class Flaky(Agent):
    def __init__(self, label: str) -> None:
        self.label = label
        self.ok = 0

    @behaviour
    def work(self, fail: bool) -> int:
        if fail:
            raise ValueError(f"{self.label} failed")
        self.ok += 1
        return self.ok


class FlakyStop(Flaky):
    supervision = Supervision("stop")


class FlakyLimited(Flaky):
    supervision = Supervision("restart", max_restarts=2, within=60.0)


class FlakyEscalate(Flaky):
    supervision = Supervision("escalate")


async def test_restart_reinitialises_and_ask_gets_the_error() -> None:
    async with Runtime() as rt:
        f = rt.spawn(Flaky, "f")
        assert await f.ask(Flaky.work, False) == 1
        assert await f.ask(Flaky.work, False) == 2
        with pytest.raises(ValueError, match="f failed"):
            await f.ask(Flaky.work, True)
        assert await f.ask(Flaky.work, False) == 1  # a fresh object from __init__("f")
        assert rt.stats().restarts == 1
        assert rt.is_alive(f)


HOOKS_SEEN: list[str] = []


class Paired(Agent):
    """Opens a resource in on_start and closes it in on_stop (the pairing a restart
    must keep: a leak on every restart otherwise)."""

    generation = 0

    def __init__(self) -> None:
        Paired.generation += 1
        self.me_gen = Paired.generation

    def on_start(self) -> None:
        HOOKS_SEEN.append(f"start {self.me_gen}")

    def on_stop(self) -> None:
        HOOKS_SEEN.append(f"stop {self.me_gen}")
        if self.me_gen == 2:
            raise OSError("close failed")  # logged; the new object is not restarted again

    @behaviour
    def fail(self) -> None:
        raise ValueError("boom")

    @behaviour
    def gen(self) -> int:
        return self.me_gen


class PairedAsync(Paired):
    async def on_stop(self) -> None:  # type: ignore[override]
        await anyio.sleep(0)
        HOOKS_SEEN.append(f"async stop {self.me_gen}")


@pytest.mark.parametrize("cls", [Paired, PairedAsync])
async def test_a_restart_stops_the_replaced_object_before_starting_the_new_one(
    cls: type[Paired],
) -> None:
    HOOKS_SEEN.clear()
    Paired.generation = 0
    stop = "stop" if cls is Paired else "async stop"
    async with Runtime(workers=1) as rt:
        agent = rt.spawn(cls)
        for _ in range(2):
            with pytest.raises(ValueError, match="boom"):
                await agent.ask(cls.fail)
        assert await agent.ask(cls.gen) == 3
        assert rt.stats().restarts == 2
    expected = ["start 1", f"{stop} 1", "start 2", f"{stop} 2", "start 3", f"{stop} 3"]
    assert expected == HOOKS_SEEN


async def test_restart_intensity_limit_stops_the_agent() -> None:
    async with Runtime() as rt:
        f = rt.spawn(FlakyLimited, "lim")
        for _ in range(2):
            with pytest.raises(ValueError):
                await f.ask(Flaky.work, True)
        assert await f.ask(Flaky.work, False) == 1
        with pytest.raises(ValueError):
            await f.ask(Flaky.work, True)  # third failure: over the limit
        with pytest.raises(AgentStopped, match="FlakyLimited#1"):
            await f.ask(Flaky.work, False)
        assert not rt.is_alive(f)


async def test_stop_policy_and_dead_letters() -> None:
    async with Runtime() as rt:
        f = rt.spawn(FlakyStop, "s")
        f.send(Flaky.work, True)
        f.send(Flaky.work, False)  # queued behind the failure or sent after the stop
        with pytest.raises(AgentStopped):
            await f.ask(Flaky.work, False)
        f.send(Flaky.work, False)
    assert rt.dead_letters.count == 3
    assert len(rt.dead_letters) == 3
    letter = rt.dead_letters.recent[-1]
    assert isinstance(letter, DeadLetter)
    assert letter == DeadLetter("outside", "FlakyStop#1", "FlakyStop.work")


class Feeder(Agent):
    """Sends a failing message and then more in one turn: on one worker the target
    runs only after the turn, so these sends take the agent-to-agent fast path."""

    @behaviour
    def feed(self, target: Tag[FlakyStop], n: int) -> None:
        target.send(Flaky.work, True)
        for _ in range(n):
            target.send(Flaky.work, False)

    @behaviour
    async def feed_async(self, target: Tag[FlakyStop], n: int) -> None:
        await anyio.sleep(0)
        self.feed(target, n)


async def test_sends_between_agents_name_their_sender_and_count_the_deepest_mailbox() -> None:
    async with Runtime(workers=1) as rt:
        sync_target = rt.spawn(FlakyStop, "a")
        async_target = rt.spawn(FlakyStop, "b")
        feeder = rt.spawn(Feeder)
        await feeder.ask(Feeder.feed, sync_target, 30)
        await feeder.ask(Feeder.feed_async, async_target, 5)
        assert rt.stats().max_mailbox_depth == 31  # the failing message and 30 more
    recent = [(d.sender, d.receiver) for d in rt.dead_letters.recent]
    assert rt.dead_letters.count == 35
    assert recent.count(("Feeder#1", "FlakyStop#1")) == 30
    assert recent.count(("Feeder#1", "FlakyStop#2")) == 5


async def test_escalate_ends_the_runtime_with_the_error() -> None:
    before = threads()
    with pytest.raises(ValueError, match="esc failed"):
        async with Runtime(workers=2) as rt:
            f = rt.spawn(FlakyEscalate, "esc")
            f.send(Flaky.work, True)
            await anyio.sleep(30)  # cancelled by the escalation
    assert threads() == before


class Halt(BaseException):
    """A program's own BaseException: not an error a supervisor handles."""


class Halting(Agent):
    @behaviour
    def now(self) -> None:
        raise Halt("sync")

    @behaviour
    async def later(self) -> None:
        await anyio.sleep(0)
        raise Halt("async")

    @behaviour
    def interrupt(self) -> None:
        raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["now", "later"])
async def test_a_base_exception_from_a_behaviour_ends_the_runtime_as_itself(how: str) -> None:
    # From an async behaviour it used to end only its task: the agent stayed busy for
    # ever and the runtime never finished (asyncio), or a worker crashed (trio). From a
    # sync one trio wrapped it in a BaseExceptionGroup. Now: the exception itself, once,
    # on both backends, and an ask of it gets it too.
    before = threads()
    with pytest.raises(Halt, match="sync" if how == "now" else "async"):
        async with Runtime(workers=2) as rt:
            h = rt.spawn(Halting)
            with anyio.fail_after(20):
                await h.ask(getattr(Halting, how))
    assert threads() == before


async def test_keyboard_interrupt_from_a_behaviour_is_raised_bare() -> None:
    with pytest.raises(KeyboardInterrupt):
        async with Runtime(workers=1) as rt:
            rt.spawn(Halting).send(Halting.interrupt)
            await anyio.sleep(30)  # cancelled by the escalation


stops: list[str] = []


class Stoppable(Agent):
    def __init__(self, opened: str) -> None:
        self.opened = event(opened)
        self.n = 0

    @behaviour
    def hold(self) -> None:
        event("stop-entered").set()
        assert self.opened.wait(30)

    @behaviour
    def tick(self) -> None:
        self.n += 1

    def on_stop(self) -> None:
        stops.append(f"stopped after {self.n}")


async def test_stop_after_message_in_progress_both_forms() -> None:
    stops.clear()
    opened = event("stop-open")
    async with Runtime(workers=2) as rt:
        a = rt.spawn(Stoppable, "stop-open")
        a.send(Stoppable.tick)
        a.send(Stoppable.hold)
        for _ in range(5):
            a.send(Stoppable.tick)
        await _wait_thread_event(event("stop-entered"))
        rt.stop(a)  # plain call: requests the stop; `hold` is in progress
        opened.set()
        await rt.stop(a)  # awaited: returns once on_stop ran
        assert stops == ["stopped after 1"]
        b = rt.spawn(Stoppable, "stop-open")
        await b.ask(Stoppable.tick)
        await rt.stop(b)
        b.send(Stoppable.tick)
        with pytest.raises(AgentStopped):
            await b.ask(Stoppable.tick)
    assert stops == ["stopped after 1", "stopped after 1"]
    assert rt.dead_letters.count == 5 + 2
    assert all(d.receiver in ("Stoppable#1", "Stoppable#2") for d in rt.dead_letters.recent)


class FailsWhileStopping(Agent):
    def __init__(self) -> None:
        stops.append("started")

    @behaviour
    def hold_then_fail(self) -> None:
        event("failing-entered").set()
        assert event("failing-open").wait(30)
        raise ValueError("failed after the stop was requested")

    def on_stop(self) -> None:
        stops.append("stopped")


async def test_a_failure_of_an_agent_being_stopped_does_not_restart_it() -> None:
    # Its supervisor's restart would build a new object (and run its hooks) only for
    # the stop to end it at once: the agent stops instead.
    stops.clear()
    async with Runtime(workers=2) as rt:
        a = rt.spawn(FailsWhileStopping)
        a.send(FailsWhileStopping.hold_then_fail)
        await _wait_thread_event(event("failing-entered"))
        rt.stop(a)
        event("failing-open").set()
        await rt.stop(a)
    assert stops == ["started", "stopped"]
    assert rt.stats().restarts == 0


class Sleepy(Agent):
    @behaviour
    async def nap(self, seconds: float) -> str:
        await anyio.sleep(seconds)
        return "rested"

    @behaviour
    def ping(self) -> str:
        return "pong"


async def test_ask_timeout_and_cancellation_do_not_harm_the_target() -> None:
    async with Runtime() as rt:
        s = rt.spawn(Sleepy)
        with pytest.raises(AskTimeout, match="Sleepy#1") as info:
            await s.ask(Sleepy.nap, 0.2, timeout=0.01)
        assert isinstance(info.value, TimeoutError)
        with anyio.move_on_after(0.01) as scope:
            await s.ask(Sleepy.nap, 0.2)
        assert scope.cancelled_caught
        assert await s.ask(Sleepy.ping) == "pong"
        assert await s.ask(Sleepy.nap, 0.0) == "rested"
    assert rt.dead_letters.count == 0


class Tally(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    def add(self) -> int:
        self.n += 1
        return self.n


async def test_an_ask_timeout_that_cannot_be_waited_sends_nothing() -> None:
    async with Runtime() as rt:
        t = rt.spawn(Tally)
        for bad, error in (("1", TypeError), (float("nan"), ValueError), (True, TypeError)):
            with pytest.raises(error, match=r"ask of Tally#1 \(Tally.add\): timeout"):
                await t.ask(Tally.add, timeout=bad)
        # No time left: an AskTimeout on both backends, before anything is sent (on
        # asyncio the answer used to win the race against a zero-second wait).
        for spent in (0, -1.0):
            with pytest.raises(AskTimeout, match="nothing was sent"):
                await t.ask(Tally.add, timeout=spent)
        assert await t.ask(Tally.add, timeout=5) == 1  # none of the above ran
        # from a behaviour, too
        asker = rt.spawn(Asker, rt.spawn(Sleepy))
        assert await asker.ask(Asker.relay_zero) == "AskTimeout"
    assert rt.stats().handled == rt.stats().sent


class Asker(Agent):
    def __init__(self, target: Tag[Sleepy]) -> None:
        self.target = target

    @behaviour
    async def relay(self) -> str:
        return await self.target.ask(Sleepy.ping)

    @behaviour
    async def relay_timeout(self) -> bool:
        try:
            await self.target.ask(Sleepy.nap, 0.5, timeout=0.01)
        except AskTimeout:
            return True
        return False

    @behaviour
    async def relay_zero(self) -> str:
        try:
            await self.target.ask(Sleepy.ping, timeout=0)
        except AskTimeout:
            return "AskTimeout"
        return "answered"


async def test_ask_from_inside_an_async_behaviour() -> None:
    async with Runtime(workers=2) as rt:
        s = rt.spawn(Sleepy)
        a = rt.spawn(Asker, s)
        assert await a.ask(Asker.relay) == "pong"
        assert await a.ask(Asker.relay_timeout) is True


class Player(Agent):
    def __init__(self, label: str) -> None:
        self.label = label
        self.peers: tuple[Tag[Player], ...] = ()

    @behaviour
    def meet(self, peers: tuple[Tag[Player], ...]) -> None:
        self.peers = peers

    @behaviour
    def hit(self, n: int) -> None:
        if n > 0:
            for p in self.peers:
                p.send(Player.hit, n - 1)


async def _trace(seed: int) -> list[tuple[str, str]]:
    async with Runtime(deterministic=True, seed=seed) as rt:
        players = [rt.spawn(Player, str(i)) for i in range(4)]
        for p in players:
            p.send(Player.meet, tuple(q for q in players if q != p))
        for p in players:
            p.send(Player.hit, 3)
    return rt.trace


async def test_deterministic_replay() -> None:
    first = await _trace(7)
    assert len(first) == 4 + 4 * (1 + 3 + 9 + 27)
    assert await _trace(7) == first
    assert await _trace(8) != first
    assert await _trace(9) != first


def test_deterministic_order_is_the_same_on_asyncio_and_trio() -> None:
    """Sync behaviours handled in one order per seed, whichever backend runs them (trio's
    own scheduler is seeded from a generator apart from the one the picks come from)."""
    for seed in (7, 8):
        on_asyncio = anyio.run(_trace, seed, backend="asyncio")
        assert anyio.run(_trace, seed, backend="trio") == on_asyncio


async def _trace_with_asks_and_stops(seed: int) -> list[tuple[str, str]]:
    """The caller asks between sends, one of them an agent it has just stopped."""
    async with Runtime(deterministic=True, seed=seed) as rt:
        players = [rt.spawn(Player, str(i)) for i in range(4)]
        for p in players:
            p.send(Player.meet, tuple(q for q in players if q != p))
        await rt.stop(players[3])
        for p in players[:3]:
            p.send(Player.hit, 2)
            with contextlib.suppress(AgentStopped):
                await players[3].ask(Player.hit, 0)  # refused at once
    return rt.trace


def test_deterministic_order_with_the_caller_asking_is_the_same_on_both() -> None:
    # An ask refused at once (its agent stopped) checkpointed on trio only, so the
    # agents ran a turn more there before the caller went on.
    for seed in (3, 4):
        on_asyncio = anyio.run(_trace_with_asks_and_stops, seed, backend="asyncio")
        assert anyio.run(_trace_with_asks_and_stops, seed, backend="trio") == on_asyncio


class Stepper(Agent):
    def __init__(self, i: int) -> None:
        self.i = i

    @behaviour
    async def step(self, k: int) -> None:
        await anyio.sleep(0)  # resumes among the other awaiting behaviours
        EVENTS_ORDER.append((self.i, k))


EVENTS_ORDER: list[tuple[int, int]] = []


async def _awaiting_order(seed: int) -> list[tuple[int, int]]:
    EVENTS_ORDER.clear()
    async with Runtime(deterministic=True, seed=seed) as rt:
        steppers = [rt.spawn(Stepper, i) for i in range(4)]
        for k in range(3):
            for s in steppers:
                s.send(Stepper.step, k)
    return list(EVENTS_ORDER)


async def test_deterministic_replay_with_awaiting_behaviours() -> None:
    # On trio the order in which awaiting tasks resume comes from trio's own
    # generator: the runtime seeds it, or this varies run to run.
    first = await _awaiting_order(42)
    assert sorted(first) == [(i, k) for i in range(4) for k in range(3)]
    for _ in range(5):
        assert await _awaiting_order(42) == first


class Voter(Agent):
    def __init__(self, name: str) -> None:
        self.name = name

    @behaviour
    async def vote(self) -> str:
        await anyio.sleep(0)
        EVENTS_ORDER.append((ord(self.name), 0))
        return self.name


async def _quorum_order(seed: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    EVENTS_ORDER.clear()
    async with Runtime(deterministic=True, seed=seed) as rt:
        voters = [rt.spawn(Voter, name) for name in "abcdef"]
        result = await quorum(voters, 6, Voter.vote, timeout=10)
    return "".join(result.values), tuple(EVENTS_ORDER)


async def test_deterministic_replay_of_a_quorum_asked_from_outside() -> None:
    # The caller's own task group (quorum's asks) is scheduled by trio's generator too:
    # the runtime seeds it when entered, before those tasks exist.
    first = await _quorum_order(3)
    for _ in range(4):
        assert await _quorum_order(3) == first
    assert len({await _quorum_order(seed) for seed in range(6)}) > 1


class Beat(Agent):
    priority = Priority.HIGH

    @behaviour
    def ping(self) -> str:
        return "beat"


async def test_blocked_behaviour_does_not_stall_others() -> None:
    for workers in (1, 2):
        opened, entered = event(f"block-open{workers}"), event(f"block-entered{workers}")
        async with Runtime(workers=workers, block_threshold=0.02) as rt:
            gate = rt.spawn(Gate, f"block-open{workers}", f"block-entered{workers}")
            others = [rt.spawn(Gate, f"block-open{workers}", "unused") for _ in range(4)]
            beat = rt.spawn(Beat)
            gate.send(Gate.hold)
            await _wait_thread_event(entered)
            # The gate's worker thread is stuck; every other agent must still answer,
            # well before the gate gives up waiting (30 s).
            with anyio.fail_after(10):
                for _ in range(50):
                    for o in others:
                        o.send(Gate.tick)
                assert [await o.ask(Gate.get) for o in others] == [50] * 4
                assert await beat.ask(Beat.ping) == "beat"
            assert not opened.is_set()
            opened.set()
            assert await gate.ask(Gate.get) == 0


async def test_more_blocked_agents_than_workers_do_not_stall_others() -> None:
    # Three agents blocked at once on one worker: each stuck worker gets a spare beside
    # it (the spares used to be capped at the worker count, so two blocked agents on
    # workers=1 stalled every other agent until a blocking call returned).
    async with Runtime(workers=1, block_threshold=0.02) as rt:
        beat = rt.spawn(Beat)
        for i in range(3):
            gate = rt.spawn(Gate, "many-open", f"many-entered{i}")
            gate.send(Gate.hold)
            with anyio.fail_after(10):  # the next gate runs on a spare, or never
                await _wait_thread_event(event(f"many-entered{i}"))
        with anyio.fail_after(10):
            assert await beat.ask(Beat.ping) == "beat"
        assert rt.stats().workers == 4
        event("many-open").set()


async def test_spare_workers_are_bounded_and_the_stall_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Runtime(workers=1, block_threshold=0.02, max_spare_workers=1) as rt:
        beat = rt.spawn(Beat)
        gates = [rt.spawn(Gate, "cap-open", f"cap-entered{i}") for i in range(2)]
        for i, gate in enumerate(gates):
            gate.send(Gate.hold)
            await _wait_thread_event(event(f"cap-entered{i}"))
        with anyio.move_on_after(0.5):  # both threads blocked: nobody takes the ping
            await beat.ask(Beat.ping)
            pytest.fail("answered with every worker blocked")
        assert rt.stats().workers == 2
        assert "the 1 spare workers allowed are running" in caplog.text
        assert "max_spare_workers" in caplog.text
        event("cap-open").set()
        assert await beat.ask(Beat.ping) == "beat"


class Napper(Agent):
    @behaviour
    def nap(self) -> None:
        time.sleep(0.004)  # short, and always on the same instruction

    @behaviour
    def ok(self) -> bool:
        return True


async def test_a_long_turn_of_short_blocking_calls_is_not_a_stall() -> None:
    # 50 calls of 4 ms in one turn take 200 ms, four times the threshold, but each call
    # is short: the monitor sees the turn's messages go by and starts no spare worker.
    # (The threshold leaves room for a loaded machine to wake a sleeping thread late.)
    async with Runtime(workers=1, block_threshold=0.05, batch=64) as rt:
        nappers = [rt.spawn(Napper) for _ in range(3)]
        for _ in range(50):
            for n in nappers:
                n.send(Napper.nap)
        assert [await n.ask(Napper.ok) for n in nappers] == [True] * 3
        stats = rt.stats()
        assert (stats.workers, stats.handoffs) == (1, 0)


class Spinner(Agent):
    @behaviour
    def spin(self, target: Tag[Napper], seconds: float) -> int:
        """Computes in Python (sends, and arithmetic) for ``seconds``: busy, not blocked."""
        end, n = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            target.send(Napper.ok)
            n += sum(range(50))
        return n


@pytest.mark.skipif(not hasattr(time, "pthread_getcpuclockid"), reason="no thread CPU clock")
async def test_a_long_python_computation_is_not_a_stall() -> None:
    # The GIL hands a busy thread over at the same few instructions, so the monitor
    # used to see one "stuck" instruction and start a spare worker beside it.
    async with Runtime(workers=1, block_threshold=0.02) as rt:
        napper = rt.spawn(Napper)
        spinner = rt.spawn(Spinner)
        assert await spinner.ask(Spinner.spin, napper, 0.3) > 0
        assert await napper.ask(Napper.ok)
        stats = rt.stats()
        assert (stats.workers, stats.handoffs) == (1, 0)


class AsyncGate(Agent):
    """Blocks its worker thread from an async behaviour (which CAP011 warns about)."""

    def __init__(self, opened: str, entered: str) -> None:
        self.opened = event(opened)
        self.entered = event(entered)

    @behaviour
    async def hold(self) -> None:
        self.entered.set()
        assert self.opened.wait(30)


async def test_an_async_behaviour_blocking_its_thread_does_not_stall_others() -> None:
    opened, entered = event("ablock-open"), event("ablock-entered")
    async with Runtime(workers=1, block_threshold=0.02) as rt:
        beat = rt.spawn(Beat)
        await beat.ask(Beat.ping)
        gate = rt.spawn(AsyncGate, "ablock-open", "ablock-entered")
        gate.send(AsyncGate.hold)
        await _wait_thread_event(entered)
        # The only worker thread is held by an async behaviour: the monitor must see it
        # and start a spare, well before the gate gives up (30 s).
        with anyio.fail_after(10):
            assert await beat.ask(Beat.ping) == "beat"
        assert not opened.is_set()
        opened.set()


class Dreamer(Agent):
    @behaviour
    async def dream(self) -> None:
        await anyio.sleep(60)

    def on_stop(self) -> None:
        stops.append("dreamer stopped")


async def test_error_in_body_cancels_running_async_behaviours() -> None:
    stops.clear()
    before = threads()
    with anyio.fail_after(20):  # far below the 30 s drain timeout: no waiting for it
        with pytest.raises(LookupError):
            async with Runtime(workers=2) as rt:
                d = rt.spawn(Dreamer)
                d.send(Dreamer.dream)
                await anyio.sleep(0.05)
                raise LookupError("stop everything")
    assert stops == ["dreamer stopped"]
    assert rt.dead_letters.count == 1  # the cancelled dream
    assert threads() == before


class Urgent(Agent):
    priority = Priority.CRITICAL

    @behaviour
    def hit(self, n: int) -> None:
        pass


async def test_priority_is_honoured_by_the_scheduler() -> None:
    async with Runtime(deterministic=True, seed=3) as rt:
        normal = [rt.spawn(Player, str(i)) for i in range(3)]
        urgent = rt.spawn(Urgent)
        for p in normal:
            p.send(Player.hit, 0)
        for i in range(5):
            urgent.send(Urgent.hit, i)
    order = [name for name, _ in rt.trace]
    assert order[:5] == ["Urgent#1"] * 5
    assert sorted(order[5:]) == ["Player#1", "Player#2", "Player#3"]


HANDLED: list[str] = []  # handling order, appended by the agents below (one worker)


class Ranked(Agent):
    def __init__(self, label: str) -> None:
        self.label = label

    @behaviour
    def hit(self) -> None:
        HANDLED.append(self.label)


class Low(Ranked):
    priority = Priority.LOW


class High(Ranked):
    priority = Priority.HIGH


class Critical(Ranked):
    priority = Priority.CRITICAL


class Dispatcher(Agent):
    @behaviour
    def fan(self, targets: tuple[Tag[Ranked], ...]) -> None:
        for t in targets:
            t.send(Ranked.hit)


@pytest.mark.parametrize("from_agent", [False, True], ids=["outside", "from-an-agent"])
async def test_all_four_priority_levels_order_the_runnable_agents(from_agent: bool) -> None:
    """Queued behind a busy worker in the order LOW, NORMAL, HIGH, CRITICAL, the agents
    run best first; and the LOW ones still run."""
    HANDLED.clear()
    async with Runtime(workers=1) as rt:
        gate = rt.spawn(Gate, "ranked-open", "ranked-in")
        gate.send(Gate.hold)
        await _wait_thread_event(event("ranked-in"))
        targets = (
            *(rt.spawn(Low, f"low{i}") for i in range(3)),
            *(rt.spawn(Ranked, f"normal{i}") for i in range(3)),
            *(rt.spawn(High, f"high{i}") for i in range(3)),
            *(rt.spawn(Critical, f"critical{i}") for i in range(3)),
        )
        if from_agent:
            rt.spawn(Dispatcher).send(Dispatcher.fan, targets)
        else:
            for t in targets:
                t.send(Ranked.hit)
        event("ranked-open").set()
    kinds = [label.rstrip("0123456789") for label in HANDLED]
    assert kinds == ["critical"] * 3 + ["high"] * 3 + ["normal"] * 3 + ["low"] * 3, HANDLED
    assert sorted(HANDLED[:3]) == ["critical0", "critical1", "critical2"]


class Quitter(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    async def quit(self) -> int:
        await self.runtime.stop(self.me)  # must not wait for itself
        return self.n

    @behaviour
    def tick(self) -> None:
        self.n += 1


async def test_agent_can_stop_itself() -> None:
    async with Runtime() as rt:
        q = rt.spawn(Quitter)
        q.send(Quitter.tick)
        assert await q.ask(Quitter.quit) == 1
        with pytest.raises(AgentStopped):
            await q.ask(Quitter.tick)


class Keeper(Agent):
    def __init__(self) -> None:
        self.total = 0

    @behaviour
    def add(self, n: int) -> None:
        self.total += n

    @behaviour
    async def add_later(self, n: int) -> None:
        await anyio.sleep(0)
        self.total += n

    @behaviour
    def get(self) -> int:
        return self.total


async def test_a_message_with_wrong_arguments_is_refused_not_supervised() -> None:
    async with Runtime(workers=2) as rt:
        k = rt.spawn(Keeper)
        await k.ask(Keeper.add, 10)
        k.send(Keeper.add, 1, 2)  # type: ignore[call-arg]
        k.send(Keeper.add_later)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="positional argument"):
            await k.ask(Keeper.add)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected keyword"):
            await k.ask(Keeper.add_later, 1, m=2)  # type: ignore[call-arg]
        # the agent was not restarted (its state would be gone) and still works
        assert await k.ask(Keeper.get) == 10
        assert rt.stats().restarts == 0


class Relay(Agent):
    def __init__(self) -> None:
        self.next: Tag[Relay] | None = None

    @behaviour
    def link(self, nxt: Tag[Relay]) -> None:
        self.next = nxt

    @behaviour
    def token(self, hops: int) -> None:
        if hops and self.next is not None:
            self.next.send(Relay.token, hops - 1)


@pytest.mark.parametrize("workers", [1, 2])
async def test_two_agents_flooding_each_other_are_never_both_muted(workers: int) -> None:
    # Each forwards to the other: muting both would leave them waiting for each other
    # for ever (the mailboxes hold 16 + 16 above high water, 30 tokens are in flight).
    with anyio.fail_after(60):
        async with Runtime(workers=workers, mailbox_capacity=20) as rt:
            a, b = rt.spawn(Relay), rt.spawn(Relay)
            a.send(Relay.link, b)
            b.send(Relay.link, a)
            for i in range(30):
                await (a if i % 2 else b).send_wait(Relay.token, 50)
            await a.ask(Relay.link, b)
    stats = rt.stats()
    assert stats.handled == stats.sent == 2 + 30 * 51 + 1
    assert rt.dead_letters.count == 0


class Flooder(Agent):
    def __init__(self, sink: Tag[Gate]) -> None:
        self.sink = sink

    @behaviour
    def flood(self, n: int) -> None:
        for _ in range(n):
            self.sink.send(Gate.tick)

    @behaviour
    def again(self) -> None:
        pass


async def test_a_muted_sender_left_at_a_forced_exit_is_drained_to_dead_letters() -> None:
    opened, entered = event("mute-open"), event("mute-entered")
    with pytest.raises(KeyError):
        async with Runtime(workers=2, mailbox_capacity=20, shutdown_timeout=1) as rt:
            g = rt.spawn(Gate, "mute-open", "mute-entered")
            g.send(Gate.hold)
            await _wait_thread_event(entered)
            f = rt.spawn(Flooder, g)
            f.send(Flooder.flood, 17)  # over high water: muted at the end of this turn
            for _ in range(5):
                f.send(Flooder.again)  # queued behind the mute
            while rt.stats().mutes == 0:
                await anyio.sleep(0.01)
            opened.set()  # the gate finishes `hold` as the runtime stops
            raise KeyError("leave at once")
    stats = rt.stats()
    assert stats.sent == stats.handled + rt.dead_letters.count  # nothing silently lost
    assert any(d.receiver.startswith("Flooder") for d in rt.dead_letters.recent)


class Narcissus(Agent):
    @behaviour
    def value(self) -> int:
        return 1

    @behaviour
    async def ask_myself(self) -> int:
        return await self.me.ask(Narcissus.value)

    @behaviour
    async def flood_myself(self, k: int) -> int:
        for _ in range(k):  # room below high water: these are plain sends
            await self.me.send_wait(Narcissus.value)
        return k


async def test_an_agent_asking_itself_is_a_clear_error_not_a_hang() -> None:
    with anyio.fail_after(20):
        async with Runtime() as rt:
            n = rt.spawn(Narcissus)
            with pytest.raises(CapabilityUsageError, match=r"Narcissus#1 asked itself"):
                await n.ask(Narcissus.ask_myself)
            assert await n.ask(Narcissus.value) == 1  # and it still answers
    assert rt.dead_letters.count == 0


async def test_an_agent_waiting_for_room_in_its_own_mailbox_is_a_clear_error() -> None:
    # Only its own handling makes room: it used to wait for ever, and asks to it too.
    with anyio.fail_after(20):
        async with Runtime(mailbox_capacity=50, high_water=40, low_water=10) as rt:
            n = rt.spawn(Narcissus)
            assert await n.ask(Narcissus.flood_myself, 39) == 39
            with pytest.raises(CapabilityUsageError, match=r"Narcissus#1 used send_wait to itself"):
                await n.ask(Narcissus.flood_myself, 100)
            assert await n.ask(Narcissus.value) == 1  # it handles its queue again
    assert rt.dead_letters.count == 0


async def test_a_tag_of_a_local_runtime_cannot_be_pickled() -> None:
    import pickle

    async with Runtime() as rt:
        n = rt.spawn(Narcissus)
        with pytest.raises(CapabilityUsageError, match=r"Narcissus#1 cannot be pickled"):
            pickle.dumps(n)


hooks_seen: list[tuple[str, int]] = []


class Phoenix(Agent):
    supervision = Supervision("restart")

    def on_start(self) -> None:
        hooks_seen.append(("start", id(self)))

    def on_stop(self) -> None:
        hooks_seen.append(("stop", id(self)))

    @behaviour
    def boom(self) -> None:
        raise ValueError("boom")


class Stopper(Agent):
    @behaviour
    def stop_it(self, target: Tag[Phoenix]) -> None:
        self.runtime.stop(target)


async def test_a_stop_that_overtakes_a_restart_keeps_the_hooks_paired() -> None:
    # Seeds pick whether the stop comes before the first on_start, between a restart and
    # the hooks it queued, or after: in every case each object that started stops once,
    # none stops without having started, and the queued hooks are no dead letters.
    overtaken = 0
    for seed in range(30):
        hooks_seen.clear()
        async with Runtime(deterministic=True, seed=seed) as rt:
            p = rt.spawn(Phoenix)
            p.send(Phoenix.boom)
            rt.spawn(Stopper).send(Stopper.stop_it, p)
        started = [who for what, who in hooks_seen if what == "start"]
        stopped = [who for what, who in hooks_seen if what == "stop"]
        assert sorted(started) == sorted(stopped), (seed, hooks_seen)
        assert {d.behaviour for d in rt.dead_letters.recent} <= {"Phoenix.boom"}
        overtaken += rt.dead_letters.hooks > 0
        # a hook that a stop overtook never happened: not sent, not a dead letter
        stats = rt.stats()
        assert stats.sent == stats.handled + stats.dead_letters, (seed, stats)
    assert overtaken  # the race happened in some of the seeds


starts_and_stops: list[str] = []


class ShakyStart(Agent):
    supervision = Supervision("restart", max_restarts=2, within=60.0)

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def on_start(self) -> None:
        starts_and_stops.append("start")
        if self.fail:
            raise RuntimeError("cannot start")

    def on_stop(self) -> None:
        starts_and_stops.append("stop")

    @behaviour
    def ping(self) -> int:
        return 1


async def test_an_object_whose_on_start_raised_gets_no_on_stop() -> None:
    starts_and_stops.clear()
    async with Runtime() as rt:
        shaky = rt.spawn(ShakyStart, True)
        with pytest.raises(AgentStopped):  # restarted twice, each start failed: stopped
            await shaky.ask(ShakyStart.ping)
        assert rt.stats().restarts == 2
        fine = rt.spawn(ShakyStart, False)
        assert await fine.ask(ShakyStart.ping) == 1
    # three starts that raised (no stop for them), then one that started and stopped
    assert starts_and_stops == ["start", "start", "start", "start", "stop"]
