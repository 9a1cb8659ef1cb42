"""Soak: a million messages across many agents, with failing behaviours and random
stops. Every message is either handled exactly once or a dead letter."""

from __future__ import annotations

import itertools
import logging
import random

import anyio
import pytest

from capsys import Agent, Tag, behaviour
from runtime import Runtime, Supervision

pytestmark = pytest.mark.anyio

DRIVERS = 10
PER_DRIVER = 100_000
NODES = 200
CHUNK = 250

SEEN: set[tuple[int, int]] = set()  # set.add is atomic under the GIL
HITS = itertools.count()


class Node(Agent):
    supervision = Supervision("restart", max_restarts=4, within=60.0)

    def __init__(self, idx: int) -> None:
        self.idx = idx

    @behaviour
    def hit(self, driver: int, seq: int) -> None:
        SEEN.add((driver, seq))
        next(HITS)
        if (seq * 31 + self.idx) % 4001 == 0:
            raise RuntimeError(f"node {self.idx} fails on {seq}")


class Driver(Agent):
    def __init__(self, idx: int, nodes: tuple[Tag[Node], ...]) -> None:
        self.idx = idx
        self.nodes = nodes
        self.rng = random.Random(idx)
        self.next = 0

    @behaviour
    def go(self) -> None:
        end = min(self.next + CHUNK, PER_DRIVER)
        for seq in range(self.next, end):
            self.rng.choice(self.nodes).send(Node.hit, self.idx, seq)
        self.next = end
        if end < PER_DRIVER:
            self.me.send(Driver.go)


async def test_soak_million_messages(caplog: pytest.LogCaptureFixture) -> None:
    global HITS
    SEEN.clear()
    HITS = itertools.count()
    caplog.set_level(logging.CRITICAL, logger="runtime")
    rng = random.Random(1)
    async with Runtime(workers=2) as rt:
        nodes = tuple(rt.spawn(Node, i) for i in range(NODES))
        drivers = [rt.spawn(Driver, i, nodes) for i in range(DRIVERS)]
        for d in drivers:
            d.send(Driver.go)
        for _ in range(10):
            await anyio.sleep(0.02)
            rt.stop(rng.choice(nodes))
    stats = rt.stats()
    handled_twice = next(HITS) - len(SEEN)
    assert handled_twice == 0
    assert len(SEEN) + rt.dead_letters.count == DRIVERS * PER_DRIVER
    assert stats.sent == stats.handled + stats.dead_letters
    assert stats.sent >= DRIVERS * PER_DRIVER
    assert rt.dead_letters.count > 0  # the random stops did hit queued messages
    assert stats.restarts > 0
