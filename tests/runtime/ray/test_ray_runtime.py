"""``runtime.ray.RayRuntime``: capsys programs with each agent a Ray actor.

One local Ray on loopback serves the whole module. The agent classes live in this module
(and in ``spec_program``), which Ray's worker processes cannot import, so they are
registered to be pickled by value: that is what a script's ``__main__`` gets anyway.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

# tests/runtime is on sys.path under pytest's prepend import mode, where this very
# directory would pass for a namespace package named "ray": require the real one.
_spec = importlib.util.find_spec("ray")
if _spec is None or _spec.origin is None:
    pytest.skip("ray is not installed (pip install 'capsys[ray]')", allow_module_level=True)
ray = pytest.importorskip("ray")

import spec_program  # noqa: E402  (after the skip: it is only useful with Ray)

from capsys import (  # noqa: E402
    Agent,
    Iso,
    MovedError,
    NotSendableError,
    Tag,
    behaviour,
    iso,
    message,
)
from capsys.errors import CapabilityUsageError  # noqa: E402
from runtime import (  # noqa: E402
    AgentStopped,
    AskTimeout,
    MailboxFull,
    Supervision,
    broadcast,
    channel,
)
from runtime.ray import RayRuntime  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(spec_program)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # one backend for most tests; trio has its own test below


# ------------------------------------------------------------------------- agents


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
    async def slow_get(self, seconds: float) -> int:
        await anyio.sleep(seconds)
        return self.n

    @behaviour
    def whoami(self) -> Tag[Counter]:
        return self.me

    @behaviour
    def fail(self, why: str) -> int:
        raise ValueError(why)

    @behaviour
    def leak(self) -> list[int]:
        return [self.n]  # a list is not sendable: the asker gets NotSendableError

    @behaviour
    def boxed(self) -> Iso[list[int]]:
        return iso([self.n, self.n])


class StoppingCounter(Counter):
    supervision = Supervision("stop")


class EscalatingCounter(Counter):
    supervision = Supervision("escalate")


class Recorder(Agent):
    """Remembers, per sender, the sequence numbers in the order they arrived."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}

    @behaviour
    def record(self, sender: str, seq: int) -> None:
        self.seen.setdefault(sender, []).append(seq)

    @behaviour
    def report(self, sender: str) -> tuple[int, bool]:
        got = self.seen.get(sender, [])
        return len(got), got == list(range(len(got)))


class Sender(Agent):
    def __init__(self, name: str, target: Tag[Recorder]) -> None:
        self.name = name
        self.target = target

    @behaviour
    async def burst(self, n: int) -> tuple[int, bool]:
        for seq in range(n):
            self.target.send(Recorder.record, self.name, seq)
        # Asked after the sends by the same sender: the reply covers all of them.
        return await self.target.ask(Recorder.report, self.name)


class Sink(Agent):
    def __init__(self) -> None:
        self.items: list[int] = []

    @behaviour
    def put(self, batch: Iso[list[int]]) -> int:
        self.items.extend(batch.take())
        return len(self.items)

    @behaviour
    def total(self) -> int:
        return sum(self.items)


@message
class Batch:
    label: str
    items: Iso[list[int]]


class Packer(Agent):
    @behaviour
    def unpack(self, batch: Batch, more: tuple[Iso[list[int]], ...]) -> tuple[str, int]:
        items = batch.items.take()
        for handle in more:
            items.extend(handle.take())
        return batch.label, sum(items)

    @behaviour
    def pack(self, n: int) -> tuple[Batch, Iso[list[int]]]:
        return Batch("back", iso([n])), iso([n, n])


class Pong(Agent):
    @behaviour
    def ping(self, reply_to: Tag[Ping], k: int) -> None:
        reply_to.send(Ping.pong, self.me, k)


class Ping(Agent):
    def __init__(self) -> None:
        self.got: list[int] = []
        self.partner_ok = True
        self.pong_tag: Tag[Pong] | None = None

    @behaviour
    async def play(self, rounds: int) -> Tag[Pong]:
        partner = self.runtime.spawn(Pong)  # spawned from inside an actor
        self.pong_tag = partner
        for k in range(rounds):
            partner.send(Pong.ping, self.me, k)
        return partner

    @behaviour
    def pong(self, sender: Tag[Pong], k: int) -> None:
        self.partner_ok = self.partner_ok and sender == self.pong_tag
        self.got.append(k)

    @behaviour
    def result(self) -> tuple[tuple[int, ...], bool]:
        return tuple(self.got), self.partner_ok


class Journal(Agent):
    """Writes its count to a file in on_stop, so a test can look after the runtime ended."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0

    @behaviour
    def note(self, k: int) -> None:
        self.count += k

    def on_stop(self) -> None:
        Path(self.path).write_text(str(self.count))


class Relay(Agent):
    """Forwards every note to the journal: messages still in flight between agents when
    the program leaves ``async with``."""

    def __init__(self, journal: Tag[Journal]) -> None:
        self.journal = journal

    @behaviour
    def note(self, k: int) -> None:
        self.journal.send(Journal.note, k)


class Reporter(Agent):
    """Reports its total to the journal from on_stop; ``spawn_child`` makes one more
    reporter of its own (stopped before its parent)."""

    def __init__(self, journal: Tag[Journal], k: int) -> None:
        self.journal = journal
        self.k = k

    @behaviour
    def spawn_child(self, k: int) -> None:
        self.runtime.spawn(Reporter, self.journal, k)

    def on_stop(self) -> None:
        self.journal.send(Journal.note, self.k)


class Broken(Agent):
    def __init__(self, fail: bool) -> None:
        if fail:
            raise RuntimeError("cannot start")

    @behaviour
    def hello(self) -> str:
        return "hello"


# -------------------------------------------------------------------------- tests


async def test_spec_example_runs_unmodified_on_both_runtimes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await spec_program.main() == 2  # the local runtime
    monkeypatch.setattr(spec_program, "Runtime", RayRuntime)
    assert await spec_program.main() == 2  # the same source, agents as Ray actors


async def test_send_ask_and_identity() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 5)
        for _ in range(100):
            c.send(Counter.add, 1)
        assert await c.ask(Counter.get) == 105
        assert await c.ask(Counter.slow_get, 0.01) == 105
        me = await c.ask(Counter.whoami)
        assert me == c and hash(me) == hash(c)  # a Tag crossing back is the same address
        assert repr(c) == "Tag[Counter#1]"
        assert repr(rt.spawn(Counter, 0)) == "Tag[Counter#2]"


async def test_per_sender_ordering() -> None:
    async with RayRuntime() as rt:
        recorder = rt.spawn(Recorder)
        senders = [rt.spawn(Sender, f"s{i}", recorder) for i in range(3)]
        for seq in range(300):
            recorder.send(Recorder.record, "outside", seq)
        with anyio.fail_after(60):  # a hang guard, not a performance assertion
            reports = [await s.ask(Sender.burst, 200) for s in senders]
            mine = await recorder.ask(Recorder.report, "outside")
        assert reports == [(200, True)] * 3
        assert mine == (300, True)


async def test_iso_is_moved_across_the_process_boundary() -> None:
    async with RayRuntime() as rt:
        sink = rt.spawn(Sink)
        batch = iso([1, 2, 3])
        assert await sink.ask(Sink.put, batch) == 3
        with pytest.raises(MovedError):
            batch.take()  # the sender's handle died when it was sent
        second = iso([4])
        sink.send(Sink.put, batch=second)  # keyword arguments move too
        with pytest.raises(MovedError):
            second.take()
        assert await sink.ask(Sink.total) == 10
        c = rt.spawn(Counter, 7)
        reply = await c.ask(Counter.boxed)  # an Iso reply arrives as a fresh Iso
        assert isinstance(reply, Iso)
        assert reply.take() == [7, 7]


async def test_an_iso_inside_a_message_or_a_tuple_moves_across_too() -> None:
    # as on the local runtime: before, Ray refused an Iso anywhere but as an argument
    async with RayRuntime() as rt:
        packer = rt.spawn(Packer)
        inner, extra = iso([1, 2]), iso([3])
        batch = Batch("b", inner)
        assert await packer.ask(Packer.unpack, batch, (extra,)) == ("b", 6)
        for dead in (inner, extra, batch.items):
            with pytest.raises(MovedError):
                dead.take()
        back, handle = await packer.ask(Packer.pack, 5)
        assert (back.label, back.items.take(), handle.take()) == ("back", [5], [5, 5])


async def test_not_sendable_is_refused_before_serialization() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 0)
        with pytest.raises(NotSendableError, match=r"Counter\.add"):
            c.send(Counter.add, [1])  # type: ignore[arg-type]
        with pytest.raises(NotSendableError):
            await c.ask(Counter.slow_get, {"s": 1.0})  # type: ignore[arg-type]
        with pytest.raises(NotSendableError, match="spawn"):
            rt.spawn(Counter, [0])  # type: ignore[arg-type]
        with pytest.raises(NotSendableError, match="reply"):
            await c.ask(Counter.leak)
        with pytest.raises(
            NotSendableError, match=r"\[1\] in argument 1 of Counter\.add is a list"
        ):
            # deep checks by default on Ray: the list would be silently copied
            c.send(Counter.add, (1, [2]))  # type: ignore[arg-type]
        moved = iso([1])
        moved.take()
        with pytest.raises(MovedError):
            c.send(Counter.add, moved)  # type: ignore[arg-type]
        with pytest.raises(NotSendableError, match="Channel given to spawn"):
            rt.spawn(Counter, channel(3))  # type: ignore[arg-type]  # local to a process
        with pytest.raises(NotSendableError, match=r"Channel given to Counter\.add"):
            c.send(Counter.add, channel(3))  # type: ignore[arg-type]
        assert await c.ask(Counter.get) == 0  # nothing above reached the agent
        packer = rt.spawn(Packer)
        unpicklable = iso([threading.Lock()])  # an Iso's content is pickled to move
        with pytest.raises(NotSendableError, match=r"cannot be serialized to reach its Ray"):
            await packer.ask(Packer.unpack, Batch("b", iso([1])), (unpicklable,))  # type: ignore[arg-type]


async def test_ask_timeout_leaves_the_agent_working() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 3)
        with pytest.raises(AskTimeout, match="Counter#1"):
            await c.ask(Counter.slow_get, 1.0, timeout=0.1)
        assert await c.ask(Counter.get) == 3


async def test_behaviour_exceptions_reach_the_asker_and_supervision_applies() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 1)
        c.send(Counter.add, 10)
        with pytest.raises(ValueError, match="boom"):
            await c.ask(Counter.fail, "boom")
        assert await c.ask(Counter.get) == 1  # default policy: restarted from spawn args
        s = rt.spawn(StoppingCounter, 1)
        with pytest.raises(ValueError, match="boom"):
            await s.ask(StoppingCounter.fail, "boom")
        with pytest.raises(AgentStopped, match="StoppingCounter#1"):
            await s.ask(StoppingCounter.get)


class HookLog(Agent):
    def __init__(self) -> None:
        self.lines: list[str] = []

    @behaviour
    def note(self, line: str) -> None:
        self.lines.append(line)

    @behaviour
    def seen(self) -> tuple[str, ...]:
        return tuple(self.lines)


class Hooked(Agent):
    generation = 0  # per actor process: counts the objects a restart made

    def __init__(self, log: Tag[HookLog]) -> None:
        Hooked.generation += 1
        self.log = log
        self.gen = Hooked.generation

    def on_start(self) -> None:
        self.log.send(HookLog.note, f"start {self.gen}")

    def on_stop(self) -> None:
        self.log.send(HookLog.note, f"stop {self.gen}")

    @behaviour
    def fail(self) -> None:
        raise ValueError("boom")

    @behaviour
    def current(self) -> int:
        return self.gen


async def test_a_restart_pairs_the_hooks_as_locally() -> None:
    async with RayRuntime() as rt:
        log = rt.spawn(HookLog)
        hooked = rt.spawn(Hooked, log)
        for _ in range(2):
            with pytest.raises(ValueError, match="boom"):
                await hooked.ask(Hooked.fail)
        assert await hooked.ask(Hooked.current) == 3
        expected = ("start 1", "stop 1", "start 2", "stop 2", "start 3")
        with anyio.fail_after(30):
            while len(seen := await log.ask(HookLog.seen)) < len(expected):
                await anyio.sleep(0.05)
        assert seen == expected


async def test_escalation_is_raised_when_the_runtime_exits() -> None:
    with pytest.raises(ValueError, match="up"):
        async with RayRuntime() as rt:
            e = rt.spawn(EscalatingCounter, 0)
            e.send(EscalatingCounter.fail, "up")


async def test_init_error_surfaces_on_ask() -> None:
    async with RayRuntime() as rt:
        ok = rt.spawn(Broken, False)
        bad = rt.spawn(Broken, True)
        assert await ok.ask(Broken.hello) == "hello"
        with pytest.raises(RuntimeError, match="cannot start"):
            await bad.ask(Broken.hello)


async def test_stop_dead_letters_and_agent_stopped(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    async with RayRuntime() as rt:
        j = rt.spawn(Journal, str(path))
        j.send(Journal.note, 5)
        await j.ask(Journal.note, 0)  # handled: a stop drops what is still queued
        await rt.stop(j)
        assert path.read_text() == "5"  # on_stop has run when the stop is awaited
        j.send(Journal.note, 1)
        with pytest.raises(AgentStopped, match="Journal#1"):
            await j.ask(Journal.note, 1)
        # An agent sending to the stopped one: dead-lettered by the stopped actor.
        relay = rt.spawn(Relay, j)
        await relay.ask(Relay.note, 2)
        assert rt.dead_letters.count >= 2  # the relay's note may still be in flight
    letters = rt.dead_letters  # final once the runtime has exited: every letter is in
    assert letters.count == 3
    assert {(d.sender, d.receiver, d.behaviour) for d in letters.recent} == {
        ("outside", "Journal#1", "Journal.note"),
        ("Relay#1", "Journal#1", "Journal.note"),
    }
    assert path.read_text() == "5"


async def test_exit_handles_every_message_already_sent(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    async with RayRuntime() as rt:
        j = rt.spawn(Journal, str(path))
        relays = [rt.spawn(Relay, j) for _ in range(2)]
        for k in range(1, 101):
            relays[k % 2].send(Relay.note, k)
    assert path.read_text() == str(sum(range(1, 101)))  # on_stop ran after all notes


async def test_what_on_stop_sends_to_an_earlier_agent_is_handled_on_exit(
    tmp_path: Path,
) -> None:
    # As locally: the latest spawned stop first, so the reports reach a journal that is
    # still running (they used to be lost: neither handled nor dead letters).
    path = tmp_path / "journal"
    async with RayRuntime() as rt:
        j = rt.spawn(Journal, str(path))
        pool = [rt.spawn(Reporter, j, k) for k in (1, 2, 4)]
        await pool[0].ask(Reporter.spawn_child, 8)
    assert path.read_text() == "15"
    assert rt.dead_letters.count == 0


async def test_a_message_that_does_not_fit_is_refused_without_a_restart() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 3)
        c.send(Counter.add, 4)
        with pytest.raises(TypeError, match="positional argument"):
            await c.ask(Counter.add, 1, 2)  # type: ignore[call-arg]
        c.send(Counter.add)  # type: ignore[call-arg]
        assert await c.ask(Counter.get) == 7  # the same object: not restarted


async def test_an_error_in_the_body_still_stops_every_agent(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with pytest.raises(KeyError):
        async with RayRuntime() as rt:
            j = rt.spawn(Journal, str(path))
            await j.ask(Journal.note, 4)
            raise KeyError("body failed")
    assert path.read_text() == "4"  # on_stop ran before the actors were killed
    assert ray.is_initialized()  # Ray was running before: the runtime leaves it running


async def test_agents_spawn_and_talk_through_tags() -> None:
    async with RayRuntime() as rt:
        ping = rt.spawn(Ping)
        pong = await ping.ask(Ping.play, 20)
        assert repr(pong) == "Tag[Pong#1@Ping#1]"  # named after its parent
        with anyio.fail_after(60):  # hang guard: the pongs travel agent to agent
            while len((await ping.ask(Ping.result))[0]) < 20:
                await anyio.sleep(0.01)
        got, partner_ok = await ping.ask(Ping.result)
        assert got == tuple(range(20))  # ping->pong and pong->ping both kept their order
        assert partner_ok  # the Tag the pong sent is equal to the one ping spawned


async def test_mailbox_capacity_bounds_pending_calls_per_caller() -> None:
    async with RayRuntime(mailbox_capacity=1) as rt:
        c = rt.spawn(Counter, 0)
        assert await c.ask(Counter.get) == 0  # started; nothing pending any more

        async def slow() -> None:
            assert await c.ask(Counter.slow_get, 1.0) == 0

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            await anyio.sleep(0.1)  # the ask is submitted: this caller's one pending call
            with pytest.raises(MailboxFull, match="Counter#1"):
                c.send(Counter.add, 1)
            await c.send_wait(Counter.add, 2)  # waits for room instead
        assert await c.ask(Counter.get) == 2

        async def slow_again() -> None:
            assert await c.ask(Counter.slow_get, 1.0) == 2

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_again)
            await anyio.sleep(0.1)
            # A timed ask's timeout covers its wait for room: nothing is sent.
            with pytest.raises(AskTimeout, match=r"Counter#1 was not asked Counter\.add"):
                await c.ask(Counter.add, 5, timeout=0.2)
        assert await c.ask(Counter.get) == 2


class Flooder(Agent):
    supervision = Supervision("stop")

    @behaviour
    def flood(self, target: Tag[Counter], n: int) -> int:
        for _ in range(n):
            target.send(Counter.add, 1)
        return n


async def test_a_full_capacity_delays_the_runtimes_own_calls_and_crosses_as_itself() -> None:
    # The runtime's control calls (counters, dead letters, stop) count against Ray's
    # per-caller pending limit too: with the mailbox full, reading the dead letters and
    # leaving the block raised PendingCallsLimitExceeded (no on_stop, no drain).
    async with RayRuntime(mailbox_capacity=1) as rt:
        c = rt.spawn(Counter, 0)
        assert await c.ask(Counter.get) == 0
        c.send(Counter.slow_get, 0.5)  # this caller's one pending call
        with pytest.raises(MailboxFull):
            c.send(Counter.add, 1)
        assert rt.dead_letters.count == 0  # waits for room
        # An agent's send past the limit fails its behaviour: the asker gets the
        # MailboxFull itself (it arrived as a RuntimeError naming it).
        slow = rt.spawn(Counter, 0)
        slow.send(Counter.slow_get, 2.0)
        flooder = rt.spawn(Flooder)
        with pytest.raises(MailboxFull, match=r"Counter#2"):
            await flooder.ask(Flooder.flood, slow, 50)
    assert rt.dead_letters.count == 0


async def test_broadcast_reaches_every_agent() -> None:
    # The caller asks each agent itself: a Ray actor cannot run the local relay.
    async with RayRuntime() as rt:
        counters = [rt.spawn(Counter, 0) for _ in range(5)]
        result = await broadcast(counters, Counter.add, 2, fanout=2)
        assert set(result.delivered) == set(counters) and result.complete
        assert [await c.ask(Counter.get) for c in counters] == [2] * 5


async def test_use_outside_the_block_is_refused() -> None:
    rt = RayRuntime()
    with pytest.raises(CapabilityUsageError, match="running runtime"):
        rt.spawn(Counter, 0)
    async with rt:
        c = rt.spawn(Counter, 0)
    c.send(Counter.add, 1)  # after exit: a dead letter, never a silent drop
    assert rt.dead_letters.count == 1
    with pytest.raises(AgentStopped):
        await c.ask(Counter.get)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_backend() -> None:
    async with RayRuntime() as rt:
        c = rt.spawn(Counter, 1)
        c.send(Counter.add, 2)
        assert await c.ask(Counter.get) == 3
        with pytest.raises(AskTimeout):
            await c.ask(Counter.slow_get, 1.0, timeout=0.1)
        await rt.stop(c)
        with pytest.raises(AgentStopped):
            await c.ask(Counter.get)
