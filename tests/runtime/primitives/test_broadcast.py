"""broadcast(): a gossip tree delivers once to every live agent, whatever the fanout."""

from __future__ import annotations

import pytest

from capsys import Agent, behaviour
from runtime import Runtime
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


async def test_empty_broadcast() -> None:
    result = await broadcast([], Node.hear, "nobody")
    assert result.delivered == () and result.complete
