"""Topology builders spawn the agents and wire each one before any later message."""

from __future__ import annotations

import pytest

from capsys import Agent, Tag, behaviour
from runtime import Runtime
from runtime.topology import hierarchical, mesh, ring, star

pytestmark = pytest.mark.anyio


class Peer(Agent):
    def __init__(self) -> None:
        self.peers: tuple[Tag[Peer], ...] = ()

    @behaviour
    def connect(self, peers: tuple[Tag[Peer], ...]) -> None:
        self.peers = peers

    @behaviour
    def known(self) -> tuple[Tag[Peer], ...]:
        return self.peers


async def test_mesh_ring_star() -> None:
    async with Runtime() as rt:
        m = mesh(rt, Peer, 5, connect=Peer.connect)
        assert len(m) == 5
        for node in m:
            assert set(await node.ask(Peer.known)) == set(m.nodes) - {node}
        r = ring(rt, Peer, 4, connect=Peer.connect)
        assert [await r[i].ask(Peer.known) for i in range(4)] == [
            (r[1],),
            (r[2],),
            (r[3],),
            (r[0],),
        ]
        s = star(rt, Peer, 4, connect=Peer.connect)
        assert s.root == s[0]
        assert await s[0].ask(Peer.known) == s.nodes[1:]
        assert await s[3].ask(Peer.known) == (s[0],)


async def test_hierarchical_tree() -> None:
    async with Runtime() as rt:
        tree = hierarchical(rt, Peer, 3, 2, connect=Peer.connect)
        assert len(tree) == 7 and tree.root == tree[0]
        assert await tree[0].ask(Peer.known) == (tree[1], tree[2])
        assert await tree[1].ask(Peer.known) == (tree[3], tree[4], tree[0])
        assert await tree[6].ask(Peer.known) == (tree[2],)
        assert tree.neighbours(tree[2]) == (tree[5], tree[6], tree[0])
