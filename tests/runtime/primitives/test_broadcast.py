"""broadcast(): a gossip tree delivers once to every live agent, whatever the fanout;
payloads are checked as a send checks them, and failures go through supervision."""

from __future__ import annotations

import anyio
import pytest

from capsys import Agent, Iso, Tag, behaviour, iso
from capsys.errors import CapabilityUsageError, MovedError, NotSendableError
from runtime import Runtime, Supervision
from runtime.primitives import broadcast

pytestmark = pytest.mark.anyio


class Node(Agent):
    def __init__(self) -> None:
        self.heard: list[str] = []

    @behaviour
    def hear(self, news: str) -> None:
        if news == "boom":
            raise ValueError("cannot take it")
        self.heard.append(news)

    @behaviour
    def log(self) -> tuple[str, ...]:
        return tuple(self.heard)


@pytest.mark.parametrize(("n", "fanout"), [(1, 3), (7, 1), (40, 3), (100, 4)])
async def test_every_agent_hears_exactly_once(n: int, fanout: int) -> None:
    async with Runtime() as rt:
        nodes = [rt.spawn(Node) for _ in range(n)]
        result = await broadcast(nodes, Node.hear, "news", fanout=fanout)
        assert sorted(map(repr, result.delivered)) == sorted(map(repr, nodes))
        assert result.complete and result.failed == ()
        for node in nodes:
            assert await node.ask(Node.log) == ("news",)


class Announcer(Node):
    @behaviour
    async def announce(self, everyone: tuple[Tag[Node], ...], fanout: int) -> int:
        result = await broadcast(everyone, Node.hear, "news", fanout=fanout)
        return len(result.delivered) if result.complete and not result.failed else -1


@pytest.mark.parametrize(("position", "fanout"), [(0, 3), (3, 2), (6, 2), (10, 3)])
async def test_an_agent_broadcasting_to_a_group_it_belongs_to_hears_once_too(
    position: int, fanout: int
) -> None:
    # The caller cannot be asked (it is busy running the broadcast): before, a relay
    # asking it waited for ever, or the self-ask surfaced as an ExceptionGroup.
    async with Runtime(workers=2) as rt:
        nodes = [rt.spawn(Announcer) for _ in range(max(7, position + 1))]
        everyone = tuple(nodes)
        with anyio.fail_after(10):
            assert await nodes[position].ask(Announcer.announce, everyone, fanout) == len(nodes)
            for node in nodes:
                assert await node.ask(Node.log) == ("news",)


async def test_stopped_agents_are_skipped_and_their_share_still_served() -> None:
    async with Runtime() as rt:
        nodes = [rt.spawn(Node) for _ in range(30)]
        stopped = {nodes[0], nodes[1], nodes[10], nodes[29]}
        for tag in stopped:
            await rt.stop(tag)
        result = await broadcast(nodes, Node.hear, "hello")
        assert set(result.unreachable) == stopped
        assert set(result.delivered) == set(nodes) - stopped
        assert len(result.delivered) == len(set(result.delivered))
        for node in set(nodes) - stopped:
            assert await node.ask(Node.log) == ("hello",)


async def test_a_raising_behaviour_is_reported_and_relaying_goes_on() -> None:
    async with Runtime() as rt:
        nodes = [rt.spawn(Node) for _ in range(12)]
        result = await broadcast(nodes, Node.hear, "boom", fanout=2)
        assert set(result.delivered) == set(nodes)
        assert {tag for tag, _ in result.failed} == set(nodes)
        assert all("ValueError: cannot take it" in text for _, text in result.failed)


async def test_bad_arguments_are_clear_errors() -> None:
    async with Runtime() as rt:
        nodes = [rt.spawn(Node) for _ in range(3)]
        with pytest.raises(TypeError, match="takes Tags of agents, got 1"):
            await broadcast([1, 2], Node.hear, "x")  # type: ignore[list-item]
        with pytest.raises(TypeError, match=r"fanout must be an int, got 1\.5"):
            await broadcast(nodes, Node.hear, "x", fanout=1.5)  # type: ignore[call-arg]
        assert [await n.ask(Node.log) for n in nodes] == [(), (), ()]


async def test_empty_broadcast() -> None:
    result = await broadcast([], Node.hear, "nobody")
    assert result.delivered == () and result.complete


class Holder(Agent):
    """Keeps what it is given, to show whether a broadcast shared a mutable object."""

    supervision = Supervision("stop")

    def __init__(self) -> None:
        self.got: list[object] = []

    @behaviour
    def keep(self, item: object) -> None:
        self.got.append(item)

    @behaviour
    def take(self, handle: Iso[list[int]]) -> int:
        return len(handle.take())

    @behaviour
    def count(self) -> int:
        return len(self.got)

    def _private(self, item: object) -> None:
        self.got.append(item)


async def _counts(tags: list[Tag[Holder]]) -> list[int]:
    return [await tag.ask(Holder.count) for tag in tags]


async def test_unsendable_payload_is_refused_as_by_send_before_any_delivery() -> None:
    async with Runtime() as rt:
        holders = [rt.spawn(Holder) for _ in range(4)]
        shared = [1]
        with pytest.raises(NotSendableError, match="list"):
            holders[0].send(Holder.keep, shared)
        with pytest.raises(NotSendableError, match=r"argument 1 of broadcast\(Holder.keep\)"):
            await broadcast(holders, Holder.keep, shared)
        assert await _counts(holders) == [0, 0, 0, 0]


async def test_debug_mode_checks_the_payload_deeply_and_raises() -> None:
    async with Runtime(debug=True) as rt:
        holders = [rt.spawn(Holder) for _ in range(4)]
        with pytest.raises(NotSendableError):
            await broadcast(holders, Holder.keep, ([1],))
        assert await _counts(holders) == [0, 0, 0, 0]


async def test_an_iso_goes_to_a_single_agent_only() -> None:
    async with Runtime() as rt:
        holders = [rt.spawn(Holder) for _ in range(3)]
        handle = iso([1, 2])
        with pytest.raises(NotSendableError, match="one agent only, not to 3"):
            await broadcast(holders, Holder.take, handle)
        assert handle.take() == [1, 2]  # refused before it was moved
        with pytest.raises(NotSendableError, match="one agent only"):
            await broadcast(holders, Holder.keep, (iso([3]),))
        alone = iso([4, 5, 6])
        result = await broadcast(holders[:1], Holder.take, alone)
        assert result.delivered == (holders[0],) and result.failed == ()
        with pytest.raises(MovedError):
            alone.take()
        with pytest.raises(MovedError):
            await broadcast(holders[:1], Holder.take, alone)


async def test_only_behaviours_can_be_broadcast() -> None:
    async with Runtime() as rt:
        holders = [rt.spawn(Holder) for _ in range(3)]
        with pytest.raises(CapabilityUsageError, match="not a behaviour"):
            holders[0].send(Holder._private, 7)
        with pytest.raises(CapabilityUsageError, match="not a behaviour"):
            await broadcast(holders, Holder._private, 7)
        assert await _counts(holders) == [0, 0, 0]


class Flaky(Agent):
    def __init__(self) -> None:
        self.calls = 0

    @behaviour
    def bump(self) -> None:
        self.calls += 1

    @behaviour
    def bad(self, n: int) -> None:
        raise ValueError(f"bad {n}")

    @behaviour
    def calls_seen(self) -> int:
        return self.calls


class FlakyEscalate(Flaky):
    supervision = Supervision("escalate")


class FlakyStop(Flaky):
    supervision = Supervision("stop")


async def test_a_raising_behaviour_goes_through_restart_supervision() -> None:
    async with Runtime() as rt:
        agents = [rt.spawn(Flaky) for _ in range(5)]
        await broadcast(agents, Flaky.bump)
        result = await broadcast(agents, Flaky.bad, 1, fanout=2)
        assert set(result.delivered) == set(agents) and result.complete
        assert all(text == "ValueError: bad 1" for _, text in result.failed)
        assert rt.stats().restarts == 5
        assert [await a.ask(Flaky.calls_seen) for a in agents] == [0] * 5  # fresh objects


async def test_a_raising_behaviour_stops_stop_policy_agents_and_the_rest_still_hears() -> None:
    async with Runtime() as rt:
        agents = [rt.spawn(FlakyStop) for _ in range(9)]
        result = await broadcast(agents, FlakyStop.bad, 2, fanout=2)
        assert set(result.delivered) == set(agents) and result.unreachable == ()
        assert {tag for tag, _ in result.failed} == set(agents)
        assert not any(rt.is_alive(a) for a in agents)


async def test_a_raising_behaviour_escalates_under_escalate_policy() -> None:
    with pytest.raises(ValueError, match="bad 3"):
        async with Runtime() as rt:
            agents = [rt.spawn(FlakyEscalate) for _ in range(4)]
            await broadcast(agents, FlakyEscalate.bad, 3)
            await anyio.sleep(30)  # cancelled by the escalation


class Asker(Agent):
    @behaviour
    async def poke(self, other: Tag[Node]) -> None:
        await other.ask(Node.log)


async def test_an_agent_stopped_error_from_the_behaviour_is_a_failure_not_unreachable() -> None:
    async with Runtime() as rt:
        gone = rt.spawn(Node)
        await rt.stop(gone)
        askers = [rt.spawn(Asker) for _ in range(4)]
        result = await broadcast(askers, Asker.poke, gone, fanout=1)
        assert set(result.delivered) == set(askers) and result.unreachable == ()
        assert {tag for tag, _ in result.failed} == set(askers)
        assert all(text.startswith("AgentStopped: Node#") for _, text in result.failed)
